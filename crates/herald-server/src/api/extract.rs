//! Request extractors that answer in the API's error format: a JSON body whose errors
//! name the field, the caller's scope from the Bearer key, and list query parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::domain::Scope;

/// A JSON body. Malformed JSON is a 400; a well-formed body with a wrong or missing field
/// is a 422 whose message starts with the field's path; an oversized body is a 413.
pub struct ApiJson<T>(pub T);

/// Room for the JSON envelope around a payload of the maximum size, in API bodies.
pub const ENVELOPE_ALLOWANCE: usize = 64 * 1024;

/// Reads an API request's JSON body: at most `--max-payload` plus room for the envelope.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    read_limited(req, state, state.config.max_payload + ENVELOPE_ALLOWANCE).await
}

/// Reads the raw body, refusing (413) one over `limit` bytes. A declared
/// `Content-Length` over the limit is refused before anything is read, so a client
/// that sent `Expect: 100-continue` gets the 413 instead of `100 Continue`.
pub async fn read_limited(req: Request, state: &AppState, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::too_large(state.config.max_payload);
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(
        state.config.read_timeout,
        axum::body::to_bytes(req.into_body(), limit),
    );
    let body = read
        .await
        .map_err(|_| ApiError::request_timeout(state.config.read_timeout))?;
    body.map_err(|e| {
        if is_length_limit(&e) {
            too_large()
        } else {
            ApiError::malformed(format!("cannot read the request body: {e}"))
        }
    })
}

/// Whether reading a body failed on its length limit (found by type in the error chain).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Parses JSON, telling syntax errors (400) from field errors (422).
pub fn parse_json<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed(
            "the request body is empty; a JSON object is expected",
        ));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => ApiError::invalid("body", "must be a JSON object"),
            Err(e) => ApiError::malformed(format!("malformed JSON: {e}")),
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    result.map_err(|e| {
        // Bodies deny unknown fields; name the first one (serde's message names the struct).
        if let Some(field) = super::known_fields::first_unknown::<T>(bytes) {
            return ApiError::invalid(&field, super::known_fields::unknown_message::<T>());
        }
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_string() } else { path };
                ApiError::invalid(&field, strip_position(&inner.to_string()))
            }
            _ => ApiError::malformed(format!("malformed JSON: {inner}")),
        }
    })
}

/// serde_json appends " at line 1 column 17"; the field path says more.
fn strip_position(msg: &str) -> &str {
    msg.rfind(" at line ").map_or(msg, |i| &msg[..i])
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The caller, authenticated by `Authorization: Bearer <key>`.
pub struct Caller(pub Scope);

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The key of `Authorization: Bearer <key>`, if the header carries one.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(ApiError::unauthorized)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let hash = hash_key(bearer(parts)?);
        let caller = authenticate(state, &hash).await?;
        if let Some(limit) = &state.limits.per_key {
            limit.check(state.store.as_ref(), &hash).await?;
        }
        Ok(caller)
    }
}

fn is_fixed_admin(state: &AppState, hash: &str) -> bool {
    state
        .admin_hash
        .as_ref()
        .is_some_and(|admin| bool::from(admin.as_bytes().ct_eq(hash.as_bytes())))
}

/// The scope of the key with this hash: 401 when no live key has it.
pub async fn scope_of(state: &AppState, hash: &str) -> Result<Scope, ApiError> {
    authenticate(state, hash).await.map(|c| c.0)
}

async fn authenticate(state: &AppState, hash: &str) -> Result<Caller, ApiError> {
    if is_fixed_admin(state, hash) {
        return Ok(Caller(Scope::Admin));
    }
    match state.store.find_key(hash.to_string()).await? {
        Some(k) => Ok(Caller(k.tenant.map_or(Scope::Admin, Scope::Tenant))),
        None => Err(ApiError::unauthorized()),
    }
}

/// The key a request was made with, for what outlives the request (an SSE stream): it
/// checks again and again that the key is live, so revoking a key ends what it opened.
/// Use it beside [`Caller`], which authenticates.
#[derive(Clone)]
pub struct CallerKey {
    hash: String,
    /// `HERALD_ADMIN_KEY`, which lives in the configuration and cannot be revoked.
    fixed: bool,
}

impl CallerKey {
    /// False once the key is revoked. A store that cannot answer is not a revocation
    /// (the stream's own reads fail then).
    pub async fn is_live(&self, state: &AppState) -> bool {
        if self.fixed {
            return true;
        }
        !matches!(state.store.find_key(self.hash.clone()).await, Ok(None))
    }
}

impl FromRequestParts<AppState> for CallerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let hash = hash_key(bearer(parts)?);
        let fixed = is_fixed_admin(state, &hash);
        Ok(CallerKey { hash, fixed })
    }
}

/// A tenant filter of a list: absent, or a valid tenant.
pub fn tenant_filter(t: Option<String>) -> Result<Option<String>, ApiError> {
    match t {
        Some(t) if !crate::domain::valid_tenant(&t) => Err(ApiError::invalid(
            "tenant",
            "must be 1-128 characters of letters, digits, `_`, `-`, `.`, `:`, `@`",
        )),
        t => Ok(t),
    }
}

/// `cursor` and `limit` of a list that pages by an opaque cursor.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 250 [default: 50].
    #[param(value_type = Option<u32>, minimum = 1, maximum = 250)]
    pub limit: Option<String>,
}

/// Paging parameters shared by the list routes.
pub fn page_limit(limit: Option<&str>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(50),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=250).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid("limit", "must be a whole number from 1 to 250")),
        },
    }
}

/// Query parameters; a malformed query string is a 400 in the API's error format.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rej| ApiError::malformed(format!("invalid query string: {}", rej.body_text())))
    }
}

/// Middleware for routes served by another service (`/mcp`): refuses a request without a
/// valid key (401 in the API's shape) before the service sees it.
pub async fn require_key(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (mut parts, body) = req.into_parts();
    if let Err(e) = Caller::from_request_parts(&mut parts, &state).await {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
