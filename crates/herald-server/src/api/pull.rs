//! Pull endpoints: consumers that cannot be reached read their deliveries by long-poll
//! (`POST …/poll` with a lease, `POST …/ack`) or as Server-Sent Events (`GET …/stream`,
//! each SSE id a cursor; `Last-Event-ID` resumes right after it and acks what came before).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use base64::Engine;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::endpoints::ListView;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Caller};
use super::AppState;
use crate::delivery::attempt::signed_headers;
use crate::domain::{now_ms, rfc3339, Endpoint, Millis, Scope};
use crate::store::{PullRequest, PulledDelivery};

/// One delivery as a pull consumer receives it: herald's signed headers and the body
/// (base64, byte for byte; `payload` repeats it as JSON when it is JSON).
#[derive(Serialize)]
pub struct PulledView {
    cursor: i64,
    delivery_id: String,
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    tenant: Option<String>,
    attempt: u32,
    created_at: String,
    content_type: String,
    headers: serde_json::Map<String, serde_json::Value>,
    body_base64: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Box<RawValue>>,
}

fn view(ep: &Endpoint, p: PulledDelivery, now: Millis) -> ApiResult<PulledView> {
    let headers = signed_headers(ep, &p.event, now)
        .map_err(|e| {
            tracing::error!(endpoint = %ep.id, error = %e, "cannot sign a pulled delivery");
            ApiError::internal()
        })?
        .into_iter()
        .map(|(n, v)| (n.to_string(), serde_json::Value::String(v)))
        .collect();
    let payload = std::str::from_utf8(&p.event.payload)
        .ok()
        .and_then(|s| RawValue::from_string(s.to_string()).ok());
    Ok(PulledView {
        cursor: p.cursor,
        delivery_id: p.delivery_id,
        event_id: p.event.id,
        event_type: p.event.event_type,
        tenant: p.event.tenant,
        attempt: p.attempts,
        created_at: rfc3339(p.event.created_at),
        content_type: p.event.content_type,
        headers,
        body_base64: base64::engine::general_purpose::STANDARD.encode(&p.event.payload),
        payload,
    })
}

/// The endpoint, if visible and a pull endpoint.
async fn pull_endpoint(state: &AppState, scope: &Scope, id: &str) -> ApiResult<Endpoint> {
    let ep = state
        .store
        .get_endpoint(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    if ep.url.is_some() {
        return Err(ApiError::conflict(
            "this endpoint pushes to its url; only endpoints without url are pulled",
        ));
    }
    Ok(ep)
}

#[derive(Deserialize, Default)]
pub struct PollBody {
    max: Option<usize>,
    wait_ms: Option<u64>,
    lease_ms: Option<u64>,
}

pub async fn poll(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PollBody>,
) -> ApiResult<Json<ListView<PulledView>>> {
    let max = body.max.unwrap_or(10);
    if !(1..=100).contains(&max) {
        return Err(ApiError::invalid("max", "must be between 1 and 100"));
    }
    let wait = body.wait_ms.unwrap_or(0);
    if wait > 30_000 {
        return Err(ApiError::invalid("wait_ms", "must be at most 30000"));
    }
    let lease = body.lease_ms.unwrap_or(30_000);
    if !(100..=3_600_000).contains(&lease) {
        return Err(ApiError::invalid("lease_ms", "must be between 100 and 3600000"));
    }
    let ep = pull_endpoint(&state, &scope, &id).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
    loop {
        let notified = state.pull_wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = now_ms();
        let request = PullRequest {
            endpoint_id: id.clone(),
            max,
            lease_until: now + lease as i64,
        };
        let batch = state
            .store
            .pull_claim(&scope, request)
            .await?
            .ok_or_else(|| ApiError::not_found("endpoint"))?;
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline || *state.stopping.borrow() {
            let data = batch
                .into_iter()
                .map(|p| view(&ep, p, now))
                .collect::<ApiResult<Vec<_>>>()?;
            return Ok(Json(ListView {
                data,
                next_cursor: None,
            }));
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

#[derive(Deserialize)]
pub struct AckBody {
    ids: Option<Vec<String>>,
    delivery_ids: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct AckView {
    acked: usize,
}

pub async fn ack(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AckBody>,
) -> ApiResult<Json<AckView>> {
    let ids = body
        .ids
        .or(body.delivery_ids)
        .ok_or_else(|| ApiError::invalid("ids", "is required: the delivery ids to acknowledge"))?;
    if ids.len() > 1000 {
        return Err(ApiError::invalid("ids", "at most 1000 per call"));
    }
    let acked = state
        .store
        .pull_ack(&scope, &id, ids)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    Ok(Json(AckView { acked }))
}

#[derive(Deserialize)]
pub struct StreamParams {
    /// Same as the `Last-Event-ID` header.
    after: Option<String>,
}

struct Tail {
    state: AppState,
    scope: Scope,
    endpoint: Arc<Endpoint>,
    cursor: i64,
    buffer: VecDeque<PulledDelivery>,
}

impl Tail {
    /// The next SSE event, waiting for new deliveries; `None` ends the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(p) = self.buffer.pop_front() {
                self.cursor = p.cursor;
                let view = view(&self.endpoint, p, now_ms()).ok()?;
                let data = serde_json::to_string(&view).ok()?;
                return Some(SseEvent::default().id(self.cursor.to_string()).data(data));
            }
            let notified = self.state.pull_wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch = self
                .state
                .store
                .stream_read(&self.endpoint.id, self.cursor, 100)
                .await
                .ok()?;
            if !batch.is_empty() {
                // Re-read the endpoint per batch so rotated secrets sign what follows.
                let ep = self
                    .state
                    .store
                    .get_endpoint(&self.scope, &self.endpoint.id)
                    .await
                    .ok()??;
                self.endpoint = Arc::new(ep);
                self.buffer.extend(batch);
                continue;
            }
            let mut stopping = self.state.stopping.clone();
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                _ = notified => {}
                _ = stopping.changed() => return None,
                // A safety net in case a wake-up was missed (e.g. a retry became due).
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }
}

pub async fn stream(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(p): Query<StreamParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let endpoint = pull_endpoint(&state, &scope, &id).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(p.after);
    let cursor = match resume {
        None => 0,
        Some(c) => c
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("Last-Event-ID", "is not a cursor of this stream"))?,
    };
    if cursor > 0 {
        state.store.stream_ack_upto(&id, cursor).await?;
    }
    let tail = Tail {
        state,
        scope,
        endpoint: Arc::new(endpoint),
        cursor,
        buffer: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(tail, |mut tail| async move {
        let event = tail.next().await?;
        Some((Ok(event), tail))
    });
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    ))
}
