//! The web console at `/ui` (DESIGN section 10): server-rendered pages over the API's own
//! operations, in the scope of the API key the user signed in with. Templates and static
//! files are compiled into the binary; every page reads without JavaScript.

mod actions;
mod overview;
mod page;
mod pages;
mod session;
mod tail;
mod templates;
mod view;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::AppState;

/// Where the page's scripts, styles, frames and connections may come from: this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const APP_JS: &str = include_str!("../../static/console/app.js");
const APP_CSS: &str = include_str!("../../static/console/app.css");

/// The console's routes, under `/ui`.
pub fn router() -> Router<AppState> {
    let ui = Router::new()
        .route("/", get(overview::overview))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/endpoints", get(pages::endpoints))
        .route("/endpoints/{id}", get(pages::endpoint))
        .route("/endpoints/{id}/test", post(actions::test))
        .route("/endpoints/{id}/disable", post(actions::disable))
        .route("/endpoints/{id}/enable", post(actions::enable))
        .route("/endpoints/{id}/secret", post(actions::reveal))
        .route("/endpoints/{id}/rotate", post(actions::rotate))
        .route("/endpoints/{id}/recover", post(actions::recover))
        .route("/events", get(pages::events))
        .route("/events/{id}", get(pages::event))
        .route("/events/{id}/replay", post(actions::replay))
        .route("/deliveries", get(pages::deliveries))
        .route("/deliveries/retry", post(actions::bulk_retry))
        .route("/deliveries/{id}", get(pages::delivery))
        .route("/deliveries/{id}/retry", post(actions::retry))
        .route("/sources", get(pages::sources))
        .route("/sources/{id}", get(pages::source))
        .route("/tail", get(tail::page))
        .route("/tail/stream", get(tail::stream))
        .route(
            "/static/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/static/app.css",
            get(|| asset("text/css; charset=utf-8", APP_CSS)),
        )
        .fallback(|| async {
            page::Problem::new(axum::http::StatusCode::NOT_FOUND, "no such page").into_response()
        });
    Router::new()
        .route("/ui/", get(overview::overview))
        .nest("/ui", ui)
        .layer(axum::middleware::from_fn(security_headers))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Every console response: the CSP, no framing, no sniffing, no referrer to other sites
/// (with `no-referrer`, browsers send `Origin: null` on form posts); pages and
/// actions are never cached (they show live, scoped data).
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_asset = req.method() == Method::GET && req.uri().path().starts_with("/ui/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !is_asset {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
