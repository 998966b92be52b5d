//! Pull endpoints: consumers that cannot be reached read their deliveries by long-poll
//! (`POST …/poll` with a lease, `POST …/ack`) or as Server-Sent Events (`GET …/stream`,
//! each SSE id a cursor; `Last-Event-ID` resumes right after it and acks what came before).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use base64::Engine;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::endpoints::ListView;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery, Caller, CallerKey};
use super::AppState;
use crate::delivery::attempt::{ordering_headers, signed_headers};
use crate::domain::{rfc3339, Endpoint, Millis, Scope};
use crate::store::{PullRequest, PulledDelivery};

/// One delivery as a pull consumer receives it: herald's signed headers and the body
/// (base64, byte for byte; `payload` repeats it as JSON when it is JSON).
#[derive(Serialize, utoipa::ToSchema)]
pub struct PulledView {
    cursor: i64,
    delivery_id: String,
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    tenant: Option<String>,
    /// The inbound source it came from; `null` when it was published.
    source_id: Option<String>,
    attempt: u32,
    created_at: String,
    content_type: String,
    #[schema(value_type = Object)]
    headers: serde_json::Map<String, serde_json::Value>,
    body_base64: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    payload: Option<Box<RawValue>>,
}

fn view(ep: &Endpoint, p: PulledDelivery, now: Millis) -> ApiResult<PulledView> {
    let mut signed = signed_headers(ep, &p.event, now).map_err(|e| {
        tracing::error!(endpoint = %ep.id, error = %e, "cannot sign a pulled delivery");
        ApiError::internal()
    })?;
    signed.extend(ordering_headers(p.ordering.as_ref()));
    let headers = signed
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
        source_id: p.event.source_id,
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
    let ep = super::endpoints::visible(state, scope, id).await?;
    if !ep.is_pull() {
        return Err(ApiError::conflict(
            "this endpoint pushes (to its url or its broker destination); only endpoints without url or destination are pulled",
        ));
    }
    Ok(ep)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollBody {
    /// Most deliveries to return [default: 10].
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    max: Option<usize>,
    /// How long to wait when nothing is due [default: 0].
    #[schema(minimum = 0, maximum = 30000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    wait_ms: Option<u64>,
    /// How long the returned deliveries stay leased [default: 30000].
    #[schema(minimum = 100, maximum = 3600000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    lease_ms: Option<u64>,
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/poll", tag = "pull", summary = "Long-poll a pull endpoint (deliveries are leased)", params(("id" = String, Path, description = "The object's id")), request_body = PollBody, responses((status = 200, body = ListView<PulledView>)))]
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
    let mut stopping = state.stopping.clone();
    loop {
        let notified = state.pull_wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = state.now_ms();
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
            // Shutdown answers waiting polls at once (empty), so the server drains quickly.
            _ = stopping.changed() => {}
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// The delivery ids to acknowledge.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, nullable = false, max_items = 1000)]
    ids: Option<Option<Vec<String>>>,
    /// The same, under another name (both may be given: their union is acknowledged).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, nullable = false, max_items = 1000)]
    delivery_ids: Option<Option<Vec<String>>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AckView {
    acked: usize,
}

/// Present-and-null is `Some(None)`, absent is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/ack", tag = "pull", summary = "Acknowledge pulled deliveries", params(("id" = String, Path, description = "The object's id")), request_body = AckBody, responses((status = 200, body = AckView)))]
pub async fn ack(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AckBody>,
) -> ApiResult<Json<AckView>> {
    let has_list = body.ids.is_some() || body.delivery_ids.is_some();
    let mut ids = Vec::new();
    for (field, list) in [("ids", body.ids), ("delivery_ids", body.delivery_ids)] {
        match list {
            None => {}
            Some(None) => {
                return Err(ApiError::invalid(
                    field,
                    "must be an array of delivery ids, not null",
                ))
            }
            Some(Some(list)) if list.len() > 1000 => {
                return Err(ApiError::invalid(field, "at most 1000 ids in each list"))
            }
            Some(Some(list)) => ids.extend(list),
        }
    }
    if ids.is_empty() && !has_list {
        return Err(ApiError::invalid(
            "ids",
            "is required: the delivery ids to acknowledge",
        ));
    }
    let acked = state
        .store
        .pull_ack(&scope, &id, ids)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    Ok(Json(AckView { acked }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseBody {
    /// Deliveries this consumer polled and is still working on.
    #[schema(max_items = 1000)]
    ids: Vec<String>,
    /// The new lease, from now [default: 30000].
    #[schema(minimum = 100, maximum = 3600000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    lease_ms: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LeaseView {
    /// How many of the ids were still leased and now run to the new lease.
    extended: usize,
}

#[utoipa::path(post, path = "/v1/endpoints/{id}/lease", tag = "pull", summary = "Extend the lease of polled deliveries still being worked on", params(("id" = String, Path, description = "The object's id")), request_body = LeaseBody, responses((status = 200, body = LeaseView)))]
pub async fn lease(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LeaseBody>,
) -> ApiResult<Json<LeaseView>> {
    if body.ids.len() > 1000 {
        return Err(ApiError::invalid("ids", "at most 1000 ids"));
    }
    let lease = body.lease_ms.unwrap_or(30_000);
    if !(100..=3_600_000).contains(&lease) {
        return Err(ApiError::invalid("lease_ms", "must be between 100 and 3600000"));
    }
    pull_endpoint(&state, &scope, &id).await?;
    let extended = state
        .store
        .pull_extend(&scope, &id, body.ids, state.now_ms() + lease as i64)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    Ok(Json(LeaseView { extended }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Same as the `Last-Event-ID` header.
    #[param(pattern = r"^[0-9]{1,18}$")]
    after: Option<String>,
}

/// How often an open stream checks that its key was not revoked.
const KEY_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often an idle stream reads the store in case a wake-up was missed.
const IDLE_REREAD: Duration = Duration::from_secs(5);

struct Tail {
    state: AppState,
    scope: Scope,
    key: CallerKey,
    key_checked: tokio::time::Instant,
    endpoint: Arc<Endpoint>,
    cursor: i64,
    buffer: VecDeque<PulledDelivery>,
}

impl Tail {
    /// False once the stream's key is revoked (checked at most every [`KEY_CHECK_EVERY`]).
    async fn key_is_live(&mut self) -> bool {
        if self.key_checked.elapsed() < KEY_CHECK_EVERY {
            return true;
        }
        self.key_checked = tokio::time::Instant::now();
        self.key.is_live(&self.state).await
    }

    /// The next SSE event, waiting for new deliveries; `None` ends the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if !self.key_is_live().await {
                return None;
            }
            if let Some(p) = self.buffer.pop_front() {
                self.cursor = p.cursor;
                let view = view(&self.endpoint, p, self.state.now_ms()).ok()?;
                let data = serde_json::to_string(&view).ok()?;
                return Some(SseEvent::default().id(self.cursor.to_string()).data(data));
            }
            let wake = self.state.pull_wake.clone();
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let batch = self
                .state
                .store
                .stream_read(&self.endpoint.id, self.cursor, 100)
                .await
                .ok()?;
            if !batch.is_empty() {
                // Nothing new goes out under a key revoked since the last look.
                self.key_checked = tokio::time::Instant::now();
                if !self.key.is_live(&self.state).await {
                    return None;
                }
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
            // Idle: look at the key every second, read the store again when woken or,
            // as a safety net for a missed wake-up (a retry became due), every 5 s.
            let idle_since = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = notified.as_mut() => break,
                    _ = stopping.changed() => return None,
                    _ = tokio::time::sleep(KEY_CHECK_EVERY) => {
                        if !self.key_is_live().await {
                            return None;
                        }
                        if idle_since.elapsed() >= IDLE_REREAD {
                            break;
                        }
                    }
                }
            }
        }
    }
}

#[utoipa::path(get, path = "/v1/endpoints/{id}/stream", tag = "pull", summary = "Stream a pull endpoint as Server-Sent Events", params(("id" = String, Path, description = "The object's id"), StreamParams, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this cursor")), responses((status = 200, content_type = "text/event-stream", description = "One SSE event per delivery; its id is the resume cursor")))]
pub async fn stream(
    State(state): State<AppState>,
    Caller(scope): Caller,
    key: CallerKey,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<StreamParams>,
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
    if cursor > 0 && state.store.stream_ack_upto(&id, cursor).await?.is_none() {
        return Err(ApiError::invalid(
            "Last-Event-ID",
            "is beyond the last position of this stream: it was never issued, so nothing was acknowledged",
        ));
    }
    let tail = Tail {
        state,
        scope,
        key,
        key_checked: tokio::time::Instant::now(),
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
