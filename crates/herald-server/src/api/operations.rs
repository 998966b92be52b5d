//! Operations on what exists: rotate a secret, recover an endpoint, replay an event,
//! retry a delivery.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::endpoints::{generate_secret, validate_secret};
use super::error::{ApiError, ApiResult};
use super::events::DeliveryView;
use super::extract::{body_bytes, parse_json, ApiJson, Caller};
use super::AppState;
use crate::domain::{now_ms, parse_rfc3339, rfc3339, Millis};
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
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(&bytes)
}

#[derive(Deserialize, Default)]
pub struct RotateBody {
    grace_period_s: Option<u64>,
    secret: Option<String>,
}

#[derive(Serialize)]
pub struct RotateView {
    id: String,
    secret: String,
    /// Until when the previous secret(s) keep signing.
    previous_secret_expires_at: Option<String>,
}

pub async fn rotate(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Json<RotateView>> {
    let body: RotateBody = optional_body(req, &state).await?;
    let grace = body.grace_period_s.unwrap_or(DEFAULT_GRACE_S);
    if grace > MAX_GRACE_S {
        return Err(ApiError::invalid(
            "grace_period_s",
            format!("must be at most {MAX_GRACE_S}"),
        ));
    }
    let current = state
        .store
        .get_endpoint(&scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    let secret = match body.secret {
        Some(s) => validate_secret(current.signature, Some(s))?,
        None => generate_secret(),
    };
    let now = now_ms();
    let grace_until = now + (grace * 1000) as Millis;
    let ep = state
        .store
        .rotate_secret(&scope, &id, secret.clone(), grace_until)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    let previous = ep.secrets.iter().skip(1).filter_map(|s| s.expires_at).max();
    Ok(Json(RotateView {
        id: ep.id,
        secret,
        previous_secret_expires_at: previous.map(rfc3339),
    }))
}

#[derive(Deserialize)]
pub struct RecoverBody {
    since: Option<String>,
}

#[derive(Serialize)]
pub struct RecoverView {
    endpoint_id: String,
    since: String,
    recovered: usize,
}

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
    let recovered = state
        .store
        .recover_endpoint(&scope, &id, since)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    state.work_arrived();
    Ok((
        StatusCode::ACCEPTED,
        Json(RecoverView {
            endpoint_id: id,
            since: rfc3339(since),
            recovered,
        }),
    ))
}

#[derive(Deserialize, Default)]
pub struct ReplayBody {
    endpoint_id: Option<String>,
}

#[derive(Serialize)]
pub struct ReplayView {
    event_id: String,
    deliveries: u32,
}

pub async fn replay(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<ReplayView>)> {
    let body: ReplayBody = optional_body(req, &state).await?;
    match state.store.replay_event(&scope, &id, body.endpoint_id).await? {
        ReplayOutcome::Replayed(n) => {
            state.work_arrived();
            Ok((
                StatusCode::ACCEPTED,
                Json(ReplayView {
                    event_id: id,
                    deliveries: n,
                }),
            ))
        }
        ReplayOutcome::EventNotFound => Err(ApiError::not_found("event")),
        ReplayOutcome::EndpointNotFound => Err(ApiError::not_found("endpoint")),
    }
}

pub async fn retry(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    match state.store.retry_delivery(&scope, &id).await? {
        RetryOutcome::Queued(d) => {
            state.work_arrived();
            Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(d))))
        }
        RetryOutcome::AlreadyQueued => {
            Err(ApiError::conflict("the delivery is already pending or in flight"))
        }
        RetryOutcome::NotFound => Err(ApiError::not_found("delivery")),
    }
}
