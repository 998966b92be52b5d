//! `POST /v1/endpoints/{id}/keys/{key}/resume|skip`: an operator moves a stuck ordered key
//! on (design section 8). Resume retries the key's head now, in a new round; skip gives the
//! head up (`failed`, replayable) and lets the deliveries waiting behind it go. Also the
//! `ordering` setting of an endpoint as the API takes and shows it.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use super::events::DeliveryView;
use super::extract::Caller;
use super::AppState;
use crate::domain::ordering::{KeyAction, KeyRefusal, KeyRule, OnStuck, Ordering};
use crate::store::KeyOutcome;

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    endpoint_id: String,
    key: String,
    /// The key's head, as the action left it.
    head: DeliveryView,
}

async fn act(
    state: AppState,
    scope: crate::domain::Scope,
    id: String,
    key: String,
    action: KeyAction,
) -> ApiResult<Json<KeyView>> {
    let outcome = state
        .store
        .key_action(&scope, &id, &key, action)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    match outcome {
        KeyOutcome::Done(head) => {
            state.work_arrived();
            Ok(Json(KeyView {
                endpoint_id: id,
                key,
                head: head.into(),
            }))
        }
        KeyOutcome::Refused(KeyRefusal::NothingOwed) => Err(ApiError::with_status(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("nothing of key `{key}` is owed to this endpoint"),
        )),
        KeyOutcome::Refused(KeyRefusal::InFlight) => Err(ApiError::conflict(format!(
            "the head of key `{key}` is being attempted right now; try again when it settles"
        ))),
    }
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/keys/{key}/resume", tag = "endpoints", summary = "Retry an ordered key's head now", params(("id" = String, Path, description = "The endpoint's id"), ("key" = String, Path, description = "The ordering key (percent-encoded)")), responses((status = 200, body = KeyView)))]
pub async fn resume(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Json<KeyView>> {
    act(state, scope, id, key, KeyAction::Resume).await
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/keys/{key}/skip", tag = "endpoints", summary = "Give up an ordered key's head and let the key move on", params(("id" = String, Path, description = "The endpoint's id"), ("key" = String, Path, description = "The ordering key (percent-encoded)")), responses((status = 200, body = KeyView)))]
pub async fn skip(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Json<KeyView>> {
    act(state, scope, id, key, KeyAction::Skip).await
}

/// `{"key": "endpoint" | "json:/pointer" | "header:Name", "on_stuck": "skip" | "park"}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderingBody {
    /// `endpoint` (one key for the whole endpoint), `json:/pointer` into the payload, or
    /// `header:Name` of an inbound provider's request.
    pub key: Option<String>,
    /// When a key's head exhausts its retries: `skip` (fail it, go on) or `park` (hold the
    /// key until resumed or skipped) [default: skip].
    pub on_stuck: Option<String>,
}

/// An ordering setting as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrderingView {
    key: String,
    on_stuck: &'static str,
}

impl From<&Ordering> for OrderingView {
    fn from(o: &Ordering) -> Self {
        OrderingView {
            key: o.key.to_spec(),
            on_stuck: match o.on_stuck {
                OnStuck::Skip => "skip",
                OnStuck::Park => "park",
            },
        }
    }
}

pub fn validate_ordering(o: OrderingBody) -> ApiResult<Ordering> {
    let spec = o.key.ok_or_else(|| {
        ApiError::invalid(
            "ordering.key",
            "is required (endpoint, json:/pointer or header:Name)",
        )
    })?;
    let key = KeyRule::parse(&spec).ok_or_else(|| {
        ApiError::invalid(
            "ordering.key",
            format!("`{spec}` is not endpoint, json:/pointer or header:Name"),
        )
    })?;
    let on_stuck = match o.on_stuck.as_deref() {
        None | Some("skip") => OnStuck::Skip,
        Some("park") => OnStuck::Park,
        Some(other) => {
            return Err(ApiError::invalid(
                "ordering.on_stuck",
                format!("`{other}` is not skip or park"),
            ))
        }
    };
    Ok(Ordering { key, on_stuck })
}
