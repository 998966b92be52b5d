//! Request extractors that answer in the API's error format: a JSON body whose errors
//! name the field, the caller's scope from the Bearer key, and list query parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
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

/// Reads the raw body, mapping the size limit to 413.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let read = tokio::time::timeout(state.config.read_timeout, Bytes::from_request(req, state));
    let body = read
        .await
        .map_err(|_| ApiError::request_timeout(state.config.read_timeout))?;
    body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.config.max_payload)
        } else {
            ApiError::malformed(format!("cannot read the request body: {rej}"))
        }
    })
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let hash = hash_key(key);
        let caller = authenticate(state, &hash).await?;
        if let Some(limit) = &state.limits.per_key {
            limit.check(state.store.as_ref(), &hash).await?;
        }
        Ok(caller)
    }
}

async fn authenticate(state: &AppState, hash: &str) -> Result<Caller, ApiError> {
    if let Some(admin) = &state.admin_hash {
        if bool::from(admin.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(Caller(Scope::Admin));
        }
    }
    match state.store.find_key(hash.to_string()).await? {
        Some(k) => Ok(Caller(k.tenant.map_or(Scope::Admin, Scope::Tenant))),
        None => Err(ApiError::unauthorized()),
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
