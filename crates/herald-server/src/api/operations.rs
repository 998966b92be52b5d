//! Operations on what exists: rotate a secret, recover an endpoint, replay an event,
//! retry a delivery.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::endpoints::visible;
use super::error::{ApiError, ApiResult};
use super::events::DeliveryView;
use super::extract::{body_bytes, parse_json, ApiJson, Caller};
use super::fields::{generate_secret, validate_secret};
use super::AppState;
use crate::domain::{parse_rfc3339, rfc3339, Millis};
use crate::store::{ReplayOutcome, RetryOutcome};

/// Default time an old secret keeps signing after a rotation.
pub const DEFAULT_GRACE_S: u64 = 24 * 3600;
const MAX_GRACE_S: u64 = 30 * 24 * 3600;

/// A body that may be absent: an empty body means the defaults.
async fn optional_body<T: for<'de> Deserialize<'de> + Default>(
    req: Request,
    state: &AppState,
) -> ApiResult<T> {
    let bytes = body_bytes(req, state).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::malformed("the request body is not UTF-8 JSON"))?
        .trim();
    if text.is_empty() || text == "null" {
        return Ok(T::default());
    }
    parse_json(&bytes)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// How long the old secret keeps signing [default: 86400].
    #[schema(minimum = 0, maximum = 2592000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    grace_period_s: Option<u64>,
    /// The new secret [default: generated].
    #[schema(pattern = r"^whsec_([A-Za-z0-9+/]{4}){8,21}$")]
    secret: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RotateView {
    pub id: String,
    pub secret: String,
    /// Until when the previous secret(s) keep signing.
    pub previous_secret_expires_at: Option<String>,
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/secret/rotate", tag = "endpoints", summary = "Rotate an endpoint's secret", params(("id" = String, Path, description = "The object's id")), request_body = Option<RotateBody>, responses((status = 200, body = RotateView)))]
pub async fn rotate(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Json<RotateView>> {
    let body: RotateBody = optional_body(req, &state).await?;
    rotate_secret(&state, &scope, &id, body).await.map(Json)
}

/// Rotates an endpoint's secret; the old one keeps signing for the grace period.
pub async fn rotate_secret(
    state: &AppState,
    scope: &crate::domain::Scope,
    id: &str,
    body: RotateBody,
) -> ApiResult<RotateView> {
    let grace = body.grace_period_s.unwrap_or(DEFAULT_GRACE_S);
    if grace > MAX_GRACE_S {
        return Err(ApiError::invalid(
            "grace_period_s",
            format!("must be at most {MAX_GRACE_S}"),
        ));
    }
    let current = visible(state, scope, id).await?;
    let secret = match body.secret {
        Some(s) => validate_secret(current.signature, Some(s))?,
        None => generate_secret(current.signature),
    };
    let now = state.now_ms();
    let grace_until = now + (grace * 1000) as Millis;
    let ep = state
        .store
        .rotate_secret(scope, id, secret.clone(), grace_until)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    let previous = ep.secrets.iter().skip(1).filter_map(|s| s.expires_at).max();
    Ok(RotateView {
        id: ep.id,
        secret: current.signature.for_receiver(&secret),
        previous_secret_expires_at: previous.map(rfc3339),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverBody {
    /// Re-queue deliveries created at or after this time.
    #[schema(required = true, nullable = false, format = DateTime)]
    since: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoverView {
    endpoint_id: String,
    since: String,
    recovered: usize,
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/recover", tag = "endpoints", summary = "Re-queue an endpoint's failed and skipped deliveries", params(("id" = String, Path, description = "The object's id")), request_body = RecoverBody, responses((status = 202, body = RecoverView)))]
pub async fn recover(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecoverBody>,
) -> ApiResult<(StatusCode, Json<RecoverView>)> {
    let since_s = body
        .since
        .ok_or_else(|| ApiError::invalid("since", "is required (an RFC 3339 time)"))?;
    let since = parse_rfc3339(&since_s)
        .ok_or_else(|| ApiError::invalid("since", "must be an RFC 3339 time such as 2026-05-11T09:00:00Z"))?;
    let recovered = recover_since(&state, &scope, &id, since).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RecoverView {
            endpoint_id: id,
            since: rfc3339(since),
            recovered,
        }),
    ))
}

/// Re-queues an endpoint's failed and skipped deliveries created since then; how many.
pub async fn recover_since(
    state: &AppState,
    scope: &crate::domain::Scope,
    id: &str,
    since: Millis,
) -> ApiResult<usize> {
    let recovered = state
        .store
        .recover_endpoint(scope, id, since)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    state.work_arrived();
    Ok(recovered)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    endpoint_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayView {
    event_id: String,
    deliveries: u32,
}

#[utoipa::path(post, path = "/v1/events/{id}/replay", tag = "events", summary = "Deliver an event again", params(("id" = String, Path, description = "The object's id")), request_body = Option<ReplayBody>, responses((status = 202, body = ReplayView)))]
pub async fn replay(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<ReplayView>)> {
    let body: ReplayBody = optional_body(req, &state).await?;
    let n = replay_event(&state, &scope, &id, body.endpoint_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayView {
            event_id: id,
            deliveries: n,
        }),
    ))
}

/// Replays an event (to one endpoint, or all it was delivered to); how many deliveries.
pub async fn replay_event(
    state: &AppState,
    scope: &crate::domain::Scope,
    id: &str,
    endpoint_id: Option<String>,
) -> ApiResult<u32> {
    match state.store.replay_event(scope, id, endpoint_id).await? {
        ReplayOutcome::Replayed(n) => {
            state.work_arrived();
            Ok(n)
        }
        ReplayOutcome::EventNotFound => Err(ApiError::not_found("event")),
        ReplayOutcome::EndpointNotFound => Err(ApiError::not_found("endpoint")),
    }
}

#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "deliveries", summary = "Retry a finished delivery", params(("id" = String, Path, description = "The object's id")), responses((status = 202, body = DeliveryView)))]
pub async fn retry(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let d = retry_delivery(&state, &scope, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(d))))
}

/// Queues a finished delivery again.
pub async fn retry_delivery(
    state: &AppState,
    scope: &crate::domain::Scope,
    id: &str,
) -> ApiResult<crate::domain::Delivery> {
    match state.store.retry_delivery(scope, id).await? {
        RetryOutcome::Queued(d) => {
            state.work_arrived();
            Ok(d)
        }
        RetryOutcome::AlreadyQueued => {
            Err(ApiError::conflict("the delivery is already pending or in flight"))
        }
        RetryOutcome::NotFound => Err(ApiError::not_found("delivery")),
    }
}

/// The type of a test delivery when none is given.
pub const DEFAULT_TEST_TYPE: &str = "webhook.test";

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// The event type [default: `webhook.test`].
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub event_type: Option<String>,
    /// Any JSON [default: a small example naming the endpoint].
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Box<serde_json::value::RawValue>>,
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/test", tag = "endpoints", summary = "Send a signed test delivery to this endpoint only (recorded like any other)", params(("id" = String, Path, description = "The object's id")), request_body = Option<TestBody>, responses((status = 202, body = crate::domain::PublishSummary)))]
pub async fn test(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<crate::domain::PublishSummary>)> {
    let body: TestBody = optional_body(req, &state).await?;
    let summary = send_test(&state, &scope, &id, body).await?;
    Ok((StatusCode::ACCEPTED, Json(summary)))
}

/// Sends a signed test delivery to one endpoint.
pub async fn send_test(
    state: &AppState,
    scope: &crate::domain::Scope,
    id: &str,
    body: TestBody,
) -> ApiResult<crate::domain::PublishSummary> {
    let ep = visible(state, scope, id).await?;
    let event_type = body.event_type.unwrap_or_else(|| DEFAULT_TEST_TYPE.into());
    if !crate::domain::valid_event_type(&event_type)
        || event_type.starts_with(crate::domain::OPERATIONAL_PREFIX)
    {
        return Err(ApiError::invalid(
            "type",
            "must be a dotted type such as `ticket.created`, outside the reserved `herald.` prefix",
        ));
    }
    let now = state.now_ms();
    let payload = match body.payload {
        Some(p) if p.get() == "null" => return Err(ApiError::invalid("payload", "must not be null")),
        Some(p) => p.get().as_bytes().to_vec(),
        None => serde_json::to_vec(&serde_json::json!({
            "test": true, "endpoint_id": ep.id, "sent_at": rfc3339(now),
        }))
        .expect("JSON values serialize"),
    };
    if payload.len() > state.config.max_payload {
        return Err(ApiError::too_large(state.config.max_payload));
    }
    let event = crate::domain::NewEvent::generated(&event_type, ep.tenant.clone(), payload, now);
    let summary = state
        .store
        .publish_to(event, &ep.id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    state.work_arrived();
    Ok(summary)
}
