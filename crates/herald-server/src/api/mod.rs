//! The HTTP API (v1, JSON): routes, auth, and errors as responses.

mod endpoints;
mod error;
pub mod event_types;
mod events;
pub mod extract;
mod inbound;
pub mod keys;
mod operations;
mod pull;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

pub use self::error::ApiError;
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
}

impl AppState {
    /// New deliveries are stored: wake the dispatcher and every waiting pull consumer.
    pub fn work_arrived(&self) {
        self.wake.notify_one();
        self.pull_wake.notify_waiters();
    }
}

/// Room for the JSON envelope around a payload of the maximum size.
const ENVELOPE_ALLOWANCE: usize = 64 * 1024;

pub fn router(state: AppState, with_api: bool) -> Router {
    let health = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    let mut app = health;
    if with_api {
        let v1 = Router::new()
            .route("/endpoints", post(endpoints::create).get(endpoints::list))
            .route(
                "/endpoints/{id}",
                get(endpoints::get)
                    .patch(endpoints::update)
                    .delete(endpoints::delete),
            )
            .route("/endpoints/{id}/secret", get(endpoints::secret))
            .route("/endpoints/{id}/secret/rotate", post(operations::rotate))
            .route("/endpoints/{id}/recover", post(operations::recover))
            .route("/events/{id}/replay", post(operations::replay))
            .route("/deliveries/{id}/retry", post(operations::retry))
            .route("/event-types", post(event_types::create).get(event_types::list))
            .route(
                "/event-types/{name}",
                get(event_types::get)
                    .patch(event_types::update)
                    .delete(event_types::archive),
            )
            .route("/sources", post(sources::create).get(sources::list))
            .route(
                "/sources/{id}",
                get(sources::get).patch(sources::update).delete(sources::delete),
            )
            .route("/sources/{id}/requests", get(sources::requests))
            .route("/keys", post(keys::create).get(keys::list))
            .route("/keys/{id}", axum::routing::delete(keys::revoke))
            .route("/endpoints/{id}/poll", post(pull::poll))
            .route("/endpoints/{id}/ack", post(pull::ack))
            .route("/endpoints/{id}/stream", get(pull::stream))
            .route("/events", post(events::publish).get(events::list))
            .route("/events/{id}", get(events::get))
            .route("/events/{id}/deliveries", get(events::deliveries))
            .route("/deliveries/{id}", get(events::delivery))
            .route("/deliveries/{id}/attempts", get(events::attempts));
        app = app
            .nest("/v1", v1)
            .route("/in/{source_id}", post(inbound::receive));
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(
            state.config.max_payload + ENVELOPE_ALLOWANCE,
        ))
        .with_state(state)
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ready()).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ready"}))),
        _ => Err(ApiError::not_ready()),
    }
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let stats = state.store.queue_stats().await?;
    let body = state.metrics.render(&stats);
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(&format!("route {method} {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
