//! How the MCP tools reach herald: every tool is a composition of HTTP API calls, made
//! through a [`Backend`]. On the server (`/mcp`) the calls go into the API router in
//! process, with the caller's own key; `herald mcp` (stdio) sends them over HTTP. Both run
//! the API's own auth, validation and tenant scoping: one set of rules.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

/// One API call.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub method: axum::http::Method,
    /// Path and query, e.g. `/v1/events?type=ticket.*`.
    pub path: String,
    pub body: Option<Value>,
    /// Extra request headers (e.g. `Idempotency-Key`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiCall {
    pub fn get(path: impl Into<String>) -> ApiCall {
        ApiCall {
            method: axum::http::Method::GET,
            path: path.into(),
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn post(path: impl Into<String>, body: Value) -> ApiCall {
        ApiCall {
            method: axum::http::Method::POST,
            path: path.into(),
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn patch(path: impl Into<String>, body: Value) -> ApiCall {
        ApiCall {
            method: axum::http::Method::PATCH,
            ..ApiCall::post(path, body)
        }
    }
}

/// What the API answered: its status and JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct ApiAnswer {
    pub status: u16,
    pub body: Value,
}

impl ApiAnswer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The API's error message, for a tool error.
    pub fn message(&self) -> String {
        let code = self.body["error"]["code"].as_str().unwrap_or("error");
        let msg = self.body["error"]["message"].as_str().unwrap_or("");
        format!("herald answered {} {code}: {msg}", self.status)
    }
}

/// Why a call got no answer (herald unreachable).
#[derive(Debug, thiserror::Error)]
#[error("cannot reach herald: {0}")]
pub struct Unreachable(pub String);

pub type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<ApiAnswer, Unreachable>> + Send + 'a>>;

/// Makes API calls as the holder of `key` (the value of a Bearer token).
pub trait Backend: Send + Sync + 'static {
    fn call<'a>(&'a self, key: &'a str, call: ApiCall) -> CallFuture<'a>;
}

/// The API router of this process, called in process.
pub struct InProcess {
    pub router: axum::Router,
}

impl Backend for InProcess {
    fn call<'a>(&'a self, key: &'a str, call: ApiCall) -> CallFuture<'a> {
        Box::pin(async move {
            use tower_service::Service;
            let mut req = axum::http::Request::builder()
                .method(call.method)
                .uri(&call.path)
                .header(axum::http::header::AUTHORIZATION, format!("Bearer {key}"));
            for (name, value) in &call.headers {
                req = req.header(*name, value);
            }
            let body = match call.body {
                Some(v) => {
                    req = req.header(axum::http::header::CONTENT_TYPE, "application/json");
                    axum::body::Body::from(v.to_string())
                }
                None => axum::body::Body::empty(),
            };
            let req = req.body(body).map_err(|e| Unreachable(e.to_string()))?;
            let resp = self
                .router
                .clone()
                .call(req)
                .await
                .map_err(|e| Unreachable(e.to_string()))?;
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
                .await
                .map_err(|e| Unreachable(e.to_string()))?;
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok(ApiAnswer { status, body })
        })
    }
}
