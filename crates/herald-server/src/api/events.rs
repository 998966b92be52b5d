//! `/v1/events`, `/v1/deliveries`: publish, and read events, deliveries and attempts.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::endpoints::{owning_tenant, ListView};
use super::error::{ApiError, ApiResult};
use super::extract::{body_bytes, page_limit, parse_json, tenant_filter, ApiQuery, Caller};
use super::AppState;
use crate::domain::ordering::valid_ordering_key;
use crate::domain::{
    new_id_at, parse_rfc3339, rfc3339, valid_event_type, valid_key, Attempt, Delivery, Event, NewEvent,
    PublishOutcome, PublishSummary, OPERATIONAL_PREFIX,
};
use crate::store::EventQuery;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody<'a> {
    #[serde(rename = "type")]
    event_type: Option<String>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    tenant: Option<String>,
    id: Option<String>,
    ordering_key: Option<String>,
}

/// `POST /v1/events` as documented (the handler reads [`PublishBody`], which keeps the
/// payload's raw bytes).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PublishRequest {
    /// A dotted type such as `ticket.created` (`herald.` is reserved).
    #[serde(rename = "type")]
    #[schema(pattern = r"^(?!herald\.)[A-Za-z0-9_:-]{1,40}(\.[A-Za-z0-9_:-]{1,40}){0,4}$")]
    event_type: String,
    /// Any JSON; delivered byte for byte as sent.
    payload: serde_json::Value,
    #[schema(pattern = r"^[A-Za-z0-9_.:@-]{1,128}$")]
    tenant: Option<String>,
    /// Your own event id; also makes the publish idempotent.
    #[schema(pattern = r"^[A-Za-z0-9_.:~-]{1,128}$")]
    id: Option<String>,
    /// Orders this event's deliveries to ordered endpoints by this key, instead of the
    /// key each endpoint's rule finds (1-256 visible ASCII characters or spaces).
    #[schema(pattern = r"^[ -~]{1,256}$")]
    ordering_key: Option<String>,
}

/// A publish body after the checks that need nothing but its bytes.
pub struct ParsedPublish<'a> {
    /// A valid event type outside the `herald.` prefix.
    pub event_type: String,
    /// The payload's raw JSON: present, not `null`, at most `max_payload` bytes.
    pub payload: &'a RawValue,
    /// Not yet checked (that depends on the caller's scope).
    pub tenant: Option<String>,
    /// Not yet checked (after the payload's schema, so errors come in the same order).
    pub id: Option<String>,
    /// A valid ordering key.
    pub ordering_key: Option<String>,
}

/// The pure first step of `POST /v1/events`: parses the body and checks its type and
/// payload. The handler then checks the payload's schema, the id and the tenant.
pub fn parse_publish(bytes: &[u8], max_payload: usize) -> ApiResult<ParsedPublish<'_>> {
    let body: PublishBody = parse_json(bytes)?;
    let event_type = body
        .event_type
        .ok_or_else(|| ApiError::invalid("type", "is required"))?;
    if !valid_event_type(&event_type) {
        return Err(ApiError::invalid(
            "type",
            "must be dot-separated words of letters, digits, `_`, `-`, `:` (e.g. `ticket.created`)",
        ));
    }
    if event_type.starts_with(OPERATIONAL_PREFIX) {
        return Err(ApiError::invalid(
            "type",
            "the `herald.` prefix is reserved for herald's own events",
        ));
    }
    let payload = body
        .payload
        .ok_or_else(|| ApiError::invalid("payload", "is required"))?;
    if payload.get() == "null" {
        return Err(ApiError::invalid("payload", "must not be null"));
    }
    if payload.get().len() > max_payload {
        return Err(ApiError::too_large(max_payload));
    }
    if body
        .ordering_key
        .as_deref()
        .is_some_and(|k| !valid_ordering_key(k))
    {
        return Err(ApiError::invalid(
            "ordering_key",
            "must be 1-256 visible ASCII characters or spaces",
        ));
    }
    Ok(ParsedPublish {
        event_type,
        payload,
        tenant: body.tenant,
        id: body.id,
        ordering_key: body.ordering_key,
    })
}

/// Identifies what was asked (the caller's own id, if any, not a generated one), so a retry
/// can be told from another request with the same key. An ordering key counts only when
/// given, so the hashes of publishes without one are what they always were.
fn request_hash(p: &ParsedPublish<'_>, tenant: Option<&str>) -> String {
    let mut h = Sha256::new();
    for part in [
        p.event_type.as_bytes(),
        tenant.unwrap_or("").as_bytes(),
        p.id.as_deref().unwrap_or("").as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(p.payload.get().as_bytes());
    if let Some(k) = &p.ordering_key {
        h.update(b"\0ordering_key\0");
        h.update(k.as_bytes());
    }
    hex::encode(h.finalize())
}

#[utoipa::path(post, path = "/v1/events", tag = "events", summary = "Publish an event", params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[A-Za-z0-9_.:~-]{1,128}$", description = "Makes the publish idempotent")), request_body = PublishRequest, responses((status = 202, body = PublishSummary, description = "Stored; deliveries queued"), (status = 200, body = PublishSummary, description = "Seen before with this key: the first answer")))]
pub async fn publish(
    State(state): State<AppState>,
    Caller(scope): Caller,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<(StatusCode, Json<PublishSummary>)> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if valid_key(k) => Some(k.to_string()),
            _ => {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    "must be 1-128 URL-safe characters",
                ))
            }
        },
    };
    let bytes = body_bytes(req, &state).await?;
    let parsed = parse_publish(&bytes, state.config.max_payload)?;
    super::event_types::check_payload(&state, &parsed.event_type, parsed.payload.get()).await?;
    if let Some(id) = &parsed.id {
        if !valid_key(id) {
            return Err(ApiError::invalid("id", "must be 1-128 URL-safe characters"));
        }
    }
    let tenant = owning_tenant(&scope, parsed.tenant.clone())?;
    let now = state.now_ms();
    let event = NewEvent {
        request_hash: request_hash(&parsed, tenant.as_deref()),
        caller_id: parsed.id.is_some(),
        id: parsed.id.unwrap_or_else(|| new_id_at("evt", now)),
        event_type: parsed.event_type,
        tenant,
        payload: parsed.payload.get().as_bytes().to_vec(),
        content_type: "application/json".into(),
        idempotency_key,
        created_at: now,
        source_id: None,
        headers: None,
        ordering_key: parsed.ordering_key,
    };
    match state.store.publish(event).await? {
        PublishOutcome::Created(summary) => {
            state.metrics.event_published();
            if summary.deliveries > 0 {
                state.work_arrived();
            }
            Ok((StatusCode::ACCEPTED, Json(summary)))
        }
        PublishOutcome::Repeated(summary) => Ok((StatusCode::OK, Json(summary))),
        PublishOutcome::KeyConflict => Err(ApiError::conflict(
            "this idempotency key (or event id) was already used for a different request",
        )),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    tenant: Option<String>,
    /// The payload as published (any JSON), or the inbound body as a string.
    #[schema(value_type = Value)]
    payload: Box<RawValue>,
    content_type: String,
    deliveries: u32,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_id: Option<String>,
    /// Inbound events: the request headers, credentials redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<serde_json::Value>,
    /// The publisher's ordering key, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<String>,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        // Published payloads are JSON kept byte for byte; anything else is shown as a string.
        let text = String::from_utf8_lossy(&e.payload).into_owned();
        let payload = RawValue::from_string(text.clone()).unwrap_or_else(|_| {
            RawValue::from_string(serde_json::to_string(&text).expect("strings serialize"))
                .expect("valid JSON")
        });
        EventView {
            id: e.id,
            event_type: e.event_type,
            tenant: e.tenant,
            payload,
            content_type: e.content_type,
            deliveries: e.deliveries,
            created_at: rfc3339(e.created_at),
            source_id: e.source_id,
            headers: e.headers.and_then(|h| serde_json::from_str(&h).ok()),
            ordering_key: e.ordering_key,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    #[param(pattern = r"^[A-Za-z0-9_.:@-]{1,128}$")]
    tenant: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Only events created at or after this time.
    #[param(format = DateTime)]
    since: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,18}$")]
    cursor: Option<String>,
    /// Page size, 1 to 250 [default: 50].
    #[param(value_type = Option<u32>, minimum = 1, maximum = 250)]
    limit: Option<String>,
}

#[utoipa::path(get, path = "/v1/events", tag = "events", summary = "List events, newest first", params(EventParams), responses((status = 200, body = ListView<EventView>)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(p): ApiQuery<EventParams>,
) -> ApiResult<Json<ListView<EventView>>> {
    let since = p
        .since
        .as_deref()
        .map(|s| {
            parse_rfc3339(s).ok_or_else(|| {
                ApiError::invalid("since", "must be an RFC 3339 time such as 2026-05-11T09:00:00Z")
            })
        })
        .transpose()?;
    if p.cursor.as_deref().is_some_and(|c| c.parse::<i64>().is_err()) {
        return Err(ApiError::invalid(
            "cursor",
            "is not a cursor returned by this list",
        ));
    }
    let query = EventQuery {
        tenant: tenant_filter(p.tenant)?,
        event_type: p.event_type,
        since,
        cursor: p.cursor,
        limit: page_limit(p.limit.as_deref())?,
    };
    let page = state.store.list_events(&scope, query).await?;
    Ok(Json(ListView {
        data: page.items.into_iter().map(EventView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", summary = "Read an event", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = EventView)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EventView>> {
    let ev = state
        .store
        .get_event(&scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(EventView::from(ev)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    id: String,
    event_id: String,
    endpoint_id: String,
    #[schema(value_type = String)]
    state: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_attempt_at: Option<String>,
    last_status: Option<u16>,
    last_error: Option<String>,
    created_at: String,
    updated_at: String,
    /// On an ordered endpoint: the delivery's key and its place in the key's order (as in
    /// `x-herald-ordering-key` and `x-herald-sequence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<i64>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            event_id: d.event_id,
            endpoint_id: d.endpoint_id,
            state: d.state.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.map(rfc3339),
            last_attempt_at: d.last_attempt_at.map(rfc3339),
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
            sequence: d.ordering.as_ref().map(|p| p.sequence),
            ordering_key: d.ordering.map(|p| p.key),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    id: String,
    delivery_id: String,
    attempted_at: String,
    status_code: Option<u16>,
    duration_ms: u64,
    error: Option<String>,
    response_body: Option<String>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        AttemptView {
            id: a.id,
            delivery_id: a.delivery_id,
            attempted_at: rfc3339(a.attempted_at),
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            error: a.error,
            response_body: a.response_body,
        }
    }
}

fn all<T>(data: Vec<T>) -> ListView<T> {
    ListView {
        data,
        next_cursor: None,
    }
}

#[utoipa::path(get, path = "/v1/events/{id}/deliveries", tag = "events", summary = "An event's deliveries", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = ListView<DeliveryView>)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ListView<DeliveryView>>> {
    let list = state
        .store
        .list_deliveries(&scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(all(list.into_iter().map(DeliveryView::from).collect())))
}

#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "deliveries", summary = "Read a delivery", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = DeliveryView)))]
pub async fn delivery(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    let d = state
        .store
        .get_delivery(&scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(Json(DeliveryView::from(d)))
}

#[utoipa::path(get, path = "/v1/deliveries/{id}/attempts", tag = "deliveries", summary = "A delivery's attempts", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = ListView<AttemptView>)))]
pub async fn attempts(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ListView<AttemptView>>> {
    let list = state
        .store
        .list_attempts(&scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(Json(all(list.into_iter().map(AttemptView::from).collect())))
}
