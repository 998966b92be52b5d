//! The HTTP API (v1, JSON): routes, auth, and errors as responses.

pub mod deliveries;
mod destinations;
pub mod endpoints;
mod error;
pub mod event_types;
pub mod events;
pub mod extract;
mod fields;
pub mod health;
mod inbound;
mod integers;
pub mod keys;
mod known_fields;
pub mod limits;
pub mod openapi;
pub mod operations;
mod ordering;
mod presets;
mod pull;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::error::ApiError;
pub use self::events::{parse_publish, ParsedPublish};
pub use self::sources::validate_ips;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    /// Wakes the delivery dispatcher when new work is stored.
    pub wake: Arc<Notify>,
    /// Hash of the admin key given by `HERALD_ADMIN_KEY`, if any.
    pub admin_hash: Option<String>,
    pub metrics: Arc<Metrics>,
    pub schemas: Arc<event_types::SchemaCache>,
    /// Wakes pull consumers (long polls and streams) when deliveries are stored.
    pub pull_wake: Arc<Notify>,
    /// Becomes true when shutdown starts, so open streams end and let the server stop.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    pub limits: Arc<limits::Limits>,
    /// Each endpoint's adaptive limit on this node (the delivery workers keep it).
    pub concurrency: crate::delivery::load::Board,
}

impl AppState {
    /// Business time now (see [`crate::domain::Clock`]).
    pub fn now_ms(&self) -> crate::domain::Millis {
        self.config.clock.now_ms()
    }

    /// New deliveries are stored: wake the dispatcher and every waiting pull consumer.
    pub fn work_arrived(&self) {
        self.config.queue_idle.work_arrived();
        self.wake.notify_one();
        self.pull_wake.notify_waiters();
    }
}

pub fn router(state: AppState, with_api: bool) -> Router {
    let mut api = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics));
    if with_api {
        api = api
            .routes(routes!(endpoints::create, endpoints::list))
            .routes(routes!(endpoints::get, endpoints::update, endpoints::delete))
            .routes(routes!(endpoints::secret))
            .routes(routes!(health::health))
            .routes(routes!(ordering::resume))
            .routes(routes!(ordering::skip))
            .routes(routes!(operations::rotate))
            .routes(routes!(operations::recover))
            .routes(routes!(pull::poll))
            .routes(routes!(pull::ack))
            .routes(routes!(pull::lease))
            .routes(routes!(pull::stream))
            .routes(routes!(events::publish, events::list))
            .routes(routes!(events::get))
            .routes(routes!(events::deliveries))
            .routes(routes!(operations::replay))
            .routes(routes!(events::delivery))
            .routes(routes!(events::attempts))
            .routes(routes!(operations::retry))
            .routes(routes!(deliveries::list))
            .routes(routes!(deliveries::retry))
            .routes(routes!(deliveries::stats))
            .routes(routes!(operations::test))
            .routes(routes!(event_types::create, event_types::list))
            .routes(routes!(event_types::get, event_types::update))
            .routes(routes!(sources::create, sources::list))
            .routes(routes!(sources::get, sources::update, sources::delete))
            .routes(routes!(sources::requests))
            .routes(routes!(keys::create, keys::list))
            .routes(routes!(keys::revoke))
            .routes(routes!(presets::list))
            .routes(routes!(inbound::receive, inbound::subscribe));
    }
    let (router, doc) = api.split_for_parts();
    let doc = Arc::new(openapi::finish(doc));
    router
        .route(
            "/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(request_limits))
        .layer(axum::middleware::from_fn(request_id))
        .layer(DefaultBodyLimit::max(
            state.config.max_payload + extract::ENVELOPE_ALLOWANCE,
        ))
        .with_state(state)
}

#[utoipa::path(get, path = "/healthz", tag = "health", summary = "Liveness", responses((status = 200, body = Object)))]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "health", summary = "Readiness: the store answers", responses((status = 200, body = Object)))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ready()).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ready"}))),
        _ => Err(ApiError::not_ready()),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "health", summary = "Prometheus metrics", responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let stats = state.store.queue_stats().await?;
    let body = state
        .metrics
        .render(&stats, &state.concurrency.all(), state.now_ms());
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

/// Gives every request an id (the caller's `x-request-id` if it sent a sane one), runs it in
/// a tracing span carrying that id, and returns the id in `x-request-id`. Logged: method,
/// path, status and duration, never bodies, headers or query strings.
async fn request_id(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| crate::domain::new_id("rid"));
    let value = axum::http::HeaderValue::from_str(&id).expect("checked characters");
    req.headers_mut().insert("x-request-id", value.clone());
    let span =
        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = resp.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "request done"
        )
    });
    resp.headers_mut().insert("x-request-id", value);
    resp
}

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Longest request target (path and query) and total size of the headers.
const MAX_URI: usize = 8 * 1024;
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Refuses requests over the protocol limits in the API's error shape (the HTTP parser's
/// own, higher limits answer with empty bodies).
async fn request_limits(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI {
        return ApiError::with_status(
            axum::http::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is longer than {MAX_URI} bytes"),
        )
        .into_response();
    }
    let headers = req.headers();
    let bytes: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::with_status(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes in all"),
        )
        .into_response();
    }
    next.run(req).await
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(&format!("route {method} {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
