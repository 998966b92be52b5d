//! `/v1/keys`: admins mint, list and revoke API keys (shown once, stored hashed).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};

use super::endpoints::ListView;
use super::error::{ApiError, ApiResult};
use super::extract::{hash_key, ApiJson, ApiQuery, Caller};
use super::AppState;
use crate::domain::{new_id, rfc3339, valid_tenant, Scope};
use crate::store::ApiKey;

/// A new random key: `hk_` + 40 letters and digits (about 238 bits).
pub fn generate_key() -> String {
    format!("hk_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 40))
}

fn admin_only(scope: &Scope) -> ApiResult<()> {
    match scope {
        Scope::Admin => Ok(()),
        Scope::Tenant(_) => Err(ApiError::forbidden("only an admin key can manage API keys")),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// The tenant the key is limited to. Required unless `admin` is true.
    #[schema(pattern = r"^[A-Za-z0-9_.:@-]{1,128}$")]
    tenant: Option<String>,
    /// `true` mints an admin key (every tenant, key management); only when asked this way.
    admin: Option<bool>,
}

/// Whom the new key serves: an admin key only when asked for explicitly, so a script with
/// an unset tenant variable (`{}` or `"tenant": null`) gets a refusal, not admin rights.
fn key_tenant(body: &CreateKey) -> ApiResult<Option<String>> {
    match (body.admin, &body.tenant) {
        (Some(true), None) => Ok(None),
        (Some(true), Some(_)) => Err(ApiError::invalid(
            "admin",
            "an admin key has no tenant; give either `tenant` or `\"admin\": true`",
        )),
        (_, None) => Err(ApiError::invalid(
            "tenant",
            "is required (the tenant the key is limited to); to mint an admin key send `{\"admin\": true}`",
        )),
        (_, Some(t)) if !valid_tenant(t) => Err(ApiError::invalid(
            "tenant",
            "must be 1-128 characters of letters, digits, `_`, `-`, `.`, `:`, `@`",
        )),
        (_, Some(t)) => Ok(Some(t.clone())),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    id: String,
    tenant: Option<String>,
    created_at: String,
    revoked_at: Option<String>,
    /// Only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        KeyView {
            id: k.id,
            tenant: k.tenant,
            created_at: rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339),
            key: None,
        }
    }
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", summary = "Mint an API key (shown once)", request_body = CreateKey, responses((status = 201, body = KeyView)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    admin_only(&scope)?;
    let tenant = key_tenant(&body)?;
    let key = generate_key();
    let id = new_id("key");
    state
        .store
        .insert_key(id.clone(), hash_key(&key), tenant.clone())
        .await?;
    let view = KeyView {
        id,
        tenant,
        created_at: rfc3339(state.now_ms()),
        revoked_at: None,
        key: Some(key),
    };
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyParams {
    tenant: Option<String>,
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", summary = "List API keys", params(KeyParams), responses((status = 200, body = ListView<KeyView>)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(p): ApiQuery<KeyParams>,
) -> ApiResult<Json<ListView<KeyView>>> {
    admin_only(&scope)?;
    let keys = state.store.list_keys(p.tenant).await?;
    Ok(Json(ListView {
        data: keys.into_iter().map(KeyView::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", summary = "Revoke an API key", params(("id" = String, Path, description = "The object's id")), responses((status = 204, description = "Revoked")))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin_only(&scope)?;
    if state.store.revoke_key(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("key"))
    }
}
