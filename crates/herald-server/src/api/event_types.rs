//! `/v1/event-types`: declared types with an optional JSON Schema that published
//! payloads must match. Archiving (`PATCH {"archived": true}`) keeps the type and its
//! events but stops validation; types are never deleted, so history stays readable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::endpoints::ListView;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery, Caller};
use super::fields::validate_description;
use super::AppState;
use crate::domain::{rfc3339, valid_event_type, EventType, EventTypePatch, Scope, OPERATIONAL_PREFIX};

/// How long a node trusts its snapshot of the declared types (changes made through this
/// node apply at once; this bounds how late another node's changes are seen).
const SNAPSHOT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Compiled validators by type name.
type Validators = Arc<HashMap<String, Arc<jsonschema::Validator>>>;

/// The validators of the active (not archived) types that declare a schema, so a publish
/// costs no store read. Holds no secret and never grows past the number of declared types.
#[derive(Default)]
pub struct SchemaCache {
    snapshot: Mutex<Option<(std::time::Instant, Validators)>>,
}

/// Compiles a schema; remote `$ref`s are not fetched (the crate is built without it).
fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
}

impl SchemaCache {
    /// Forgets the snapshot (after a change through this node).
    fn invalidate(&self) {
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    async fn validators(&self, state: &AppState) -> ApiResult<Validators> {
        if let Some((at, map)) = self.snapshot.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if at.elapsed() < SNAPSHOT_TTL {
                return Ok(map.clone());
            }
        }
        let mut map = HashMap::new();
        for t in state.store.list_event_types(false).await? {
            let Some(text) = t.schema else { continue };
            let schema: Value = serde_json::from_str(&text).map_err(|_| ApiError::internal())?;
            map.insert(
                t.name,
                Arc::new(compile(&schema).map_err(|_| ApiError::internal())?),
            );
        }
        let map = Arc::new(map);
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), map.clone()));
        Ok(map)
    }
}

/// Checks a payload against its type's schema, if the type declares one. The error names
/// the failing place, e.g. `payload/data/ticket_id: 5 is not of type "string"`.
pub async fn check_payload(state: &AppState, event_type: &str, payload: &str) -> ApiResult<()> {
    let validators = state.schemas.validators(state).await?;
    let Some(validator) = validators.get(event_type) else {
        return Ok(());
    };
    let value: Value = serde_json::from_str(payload).map_err(|e| ApiError::invalid("payload", e))?;
    if let Err(e) = validator.validate(&value) {
        let path = e.instance_path().as_str().to_string();
        return Err(ApiError::invalid(&format!("payload{path}"), e));
    }
    Ok(())
}

fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateType {
    #[schema(
        required = true,
        nullable = false,
        pattern = r"^(?!herald\.)[A-Za-z0-9_:-]{1,40}(\.[A-Za-z0-9_:-]{1,40}){0,4}$"
    )]
    name: Option<String>,
    #[schema(max_length = 1024)]
    description: Option<String>,
    /// A JSON Schema for the payloads of this type.
    #[schema(value_type = Option<Object>)]
    schema: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchType {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 1024)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    schema: Option<Option<Value>>,
    archived: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TypeView {
    name: String,
    description: Option<String>,
    schema: Option<Value>,
    archived: bool,
    created_at: String,
    updated_at: String,
}

impl From<EventType> for TypeView {
    fn from(t: EventType) -> Self {
        TypeView {
            schema: t.schema.and_then(|s| serde_json::from_str(&s).ok()),
            name: t.name,
            description: t.description,
            archived: t.archived,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

fn admin_only(scope: &Scope) -> ApiResult<()> {
    match scope {
        Scope::Admin => Ok(()),
        Scope::Tenant(_) => Err(ApiError::forbidden("event types are managed with an admin key")),
    }
}

fn validate_schema(schema: Value) -> ApiResult<String> {
    if !schema.is_object() {
        return Err(ApiError::invalid("schema", "must be a JSON Schema (an object)"));
    }
    compile(&schema).map_err(|e| ApiError::invalid("schema", format!("not a valid JSON Schema: {e}")))?;
    Ok(schema.to_string())
}

#[utoipa::path(post, path = "/v1/event-types", tag = "event-types", summary = "Declare an event type", request_body = CreateType, responses((status = 201, body = TypeView)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateType>,
) -> ApiResult<(StatusCode, Json<TypeView>)> {
    admin_only(&scope)?;
    let name = body
        .name
        .ok_or_else(|| ApiError::invalid("name", "is required"))?;
    if !valid_event_type(&name) || name.starts_with(OPERATIONAL_PREFIX) {
        return Err(ApiError::invalid(
            "name",
            "must be a dotted type such as `ticket.created` (not `herald.…`)",
        ));
    }
    let now = state.now_ms();
    let t = EventType {
        name,
        description: validate_description(body.description)?,
        schema: body.schema.map(validate_schema).transpose()?,
        archived: false,
        created_at: now,
        updated_at: now,
    };
    let created = state.store.create_event_type(t.clone()).await?;
    state.schemas.invalidate();
    if !created {
        return Err(ApiError::conflict(format!(
            "event type `{}` already exists",
            t.name
        )));
    }
    Ok((StatusCode::CREATED, Json(TypeView::from(t))))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeParams {
    include_archived: Option<bool>,
}

#[utoipa::path(get, path = "/v1/event-types", tag = "event-types", summary = "List event types", params(TypeParams), responses((status = 200, body = ListView<TypeView>)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(_scope): Caller,
    ApiQuery(p): ApiQuery<TypeParams>,
) -> ApiResult<Json<ListView<TypeView>>> {
    let types = state
        .store
        .list_event_types(p.include_archived.unwrap_or(false))
        .await?;
    Ok(Json(ListView {
        data: types.into_iter().map(TypeView::from).collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(get, path = "/v1/event-types/{name}", tag = "event-types", summary = "Read an event type", params(("name" = String, Path, description = "The type name")), responses((status = 200, body = TypeView)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(_scope): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<TypeView>> {
    let t = state
        .store
        .get_event_type(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))?;
    Ok(Json(TypeView::from(t)))
}

#[utoipa::path(patch, path = "/v1/event-types/{name}", tag = "event-types", summary = "Change an event type", params(("name" = String, Path, description = "The type name")), request_body = PatchType, responses((status = 200, body = TypeView)))]
pub async fn update(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PatchType>,
) -> ApiResult<Json<TypeView>> {
    admin_only(&scope)?;
    let patch = EventTypePatch {
        description: body.description.map(validate_description).transpose()?,
        schema: body
            .schema
            .map(|s| s.map(validate_schema).transpose())
            .transpose()?,
        archived: body.archived,
    };
    let t = state
        .store
        .update_event_type(&name, patch)
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))?;
    state.schemas.invalidate();
    Ok(Json(TypeView::from(t)))
}
