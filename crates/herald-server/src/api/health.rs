//! `GET /v1/endpoints/{id}/health`: how delivery to one endpoint is going (design section
//! 8): its adaptive limit, what is in flight and waiting, the circuit and any pause.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use super::endpoints::visible;
use super::error::ApiResult;
use super::extract::Caller;
use super::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// The adaptive concurrency limit (this node's; the ceiling where it has not delivered).
    limit: u32,
    max_in_flight: u32,
    /// Attempts in flight now, on every node.
    in_flight: u64,
    /// `closed`, `open` or `half_open` (a probe may go or is out).
    #[schema(value_type = String)]
    circuit: &'static str,
    /// No attempt starts before this instant (unix ms), when a `Retry-After` paused it.
    paused_until: Option<i64>,
    consecutive_failures: u32,
    /// Deliveries waiting to be sent (due or scheduled).
    pending: u64,
    /// Age of the oldest pending delivery, in seconds (0 when none).
    oldest_pending_age_s: u64,
    /// Ordering keys waiting behind a delivery in flight or retrying.
    blocked_keys: u64,
    /// Ordering keys parked after their head ran out of retries.
    parked_keys: u64,
}

#[utoipa::path(get, path = "/v1/endpoints/{id}/health", tag = "endpoints", summary = "Read an endpoint's delivery health", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = HealthView)))]
pub async fn health(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<HealthView>> {
    let ep = visible(&state, &scope, &id).await?;
    health_of(&state, &ep).await.map(Json)
}

/// An endpoint's health (section 8): its limit, circuit, backlog and blocked keys.
pub async fn health_of(state: &AppState, ep: &crate::domain::Endpoint) -> ApiResult<HealthView> {
    let queue = state.store.endpoint_queue(&ep.id).await?;
    let now = state.now_ms();
    Ok(HealthView {
        limit: state.concurrency.limit(&ep.id).unwrap_or(ep.max_in_flight),
        max_in_flight: ep.max_in_flight,
        in_flight: queue.in_flight,
        circuit: ep.breaker.circuit(now, queue.in_flight > 0).as_str(),
        paused_until: ep.paused_until.filter(|t| *t > now),
        consecutive_failures: ep.breaker.consecutive_failures,
        pending: queue.pending,
        oldest_pending_age_s: queue
            .oldest_pending_at
            .map_or(0, |t| ((now - t).max(0) / 1000) as u64),
        blocked_keys: queue.blocked_keys,
        parked_keys: queue.parked_keys,
    })
}
