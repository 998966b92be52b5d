//! `/v1/sources`: inbound sources and their request logs.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

use super::endpoints::{owning_tenant, ListView};
use super::error::{ApiError, ApiResult};
use super::extract::{page_limit, ApiJson, ApiQuery, Caller, PageParams};
use super::AppState;
use crate::domain::source::{
    default_dedupe, default_event_type, default_type_prefix, Dedupe, Extract, Source, SourcePatch,
    SourceSpec, VerifyConfig, VerifyFields, DEFAULT_DEDUPE_WINDOW_S,
};
use crate::domain::{new_id, rfc3339, valid_event_type, OPERATIONAL_PREFIX};
use crate::store::RequestRecord;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    scheme: Option<String>,
    secret: Option<String>,
    secrets: Option<Vec<String>>,
    header: Option<String>,
    algorithm: Option<String>,
    encoding: Option<String>,
    prefix: Option<String>,
    #[serde(default, deserialize_with = "super::integers::opt")]
    tolerance_s: Option<i64>,
    /// `meta` only: the verify token typed into Meta's dashboard.
    verify_token: Option<String>,
    /// twilio, hubspot, square: the URL the provider was given, if not `ingest_url`.
    url: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupeBody {
    key: Option<String>,
    #[serde(default, deserialize_with = "super::integers::opt")]
    window_s: Option<u64>,
    /// Only retries are duplicates: the same key and the same body; a request without the
    /// key is accepted, not refused.
    retries_only: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    #[schema(required = true, nullable = false, pattern = r"\S", max_length = 200)]
    name: Option<String>,
    tenant: Option<String>,
    verify: Option<VerifyBody>,
    allow_ips: Option<Vec<String>>,
    /// Absent: the preset's default (its delivery id, when it sends one); `null`: none.
    #[serde(default, deserialize_with = "nullable")]
    dedupe: Option<Option<DedupeBody>>,
    /// Absent: where the preset says the event type is.
    event_type: Option<String>,
    /// Absent: the preset's prefix (e.g. `twitch.`); `null`: none.
    #[serde(default, deserialize_with = "nullable")]
    type_prefix: Option<Option<String>>,
}

fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSource {
    #[schema(nullable = false, pattern = r"\S", max_length = 200)]
    name: Option<String>,
    verify: Option<VerifyBody>,
    allow_ips: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    dedupe: Option<Option<DedupeBody>>,
    event_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    type_prefix: Option<Option<String>>,
}

fn validate_name(name: Option<String>) -> ApiResult<String> {
    match name {
        Some(n) if !n.trim().is_empty() && n.len() <= 200 => Ok(n),
        Some(_) => Err(ApiError::invalid("name", "must be 1 to 200 characters")),
        None => Err(ApiError::invalid("name", "is required")),
    }
}

fn validate_verify(v: Option<VerifyBody>) -> ApiResult<VerifyConfig> {
    let v = v.ok_or_else(|| {
        ApiError::invalid(
            "verify",
            "is required, e.g. {\"scheme\": \"stripe\", \"secret\": \"whsec_…\"}",
        )
    })?;
    let scheme = v
        .scheme
        .ok_or_else(|| ApiError::invalid("verify.scheme", "is required"))?;
    let secrets = match (v.secret, v.secrets) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "verify.secrets",
                "give `secret` or `secrets`, not both",
            ))
        }
        (Some(s), None) => vec![s],
        (None, Some(list)) => list,
        (None, None) => vec![],
    };
    if secrets.len() > 10 {
        return Err(ApiError::invalid("verify.secrets", "at most 10 secrets"));
    }
    if secrets.iter().any(|s| s.len() > 512) {
        return Err(ApiError::invalid(
            "verify.secrets",
            "a secret is at most 512 characters",
        ));
    }
    if v.prefix.as_ref().is_some_and(|p| p.len() > 32) {
        return Err(ApiError::invalid("verify.prefix", "at most 32 characters"));
    }
    let fields = VerifyFields {
        scheme: scheme.to_ascii_lowercase(),
        secrets,
        header: v.header,
        algorithm: v.algorithm,
        encoding: v.encoding,
        prefix: v.prefix,
        tolerance_s: v.tolerance_s,
        verify_token: v.verify_token,
        url: v.url,
    };
    VerifyConfig::new(fields).map_err(|(field, e)| ApiError::invalid(&field, e))
}

/// Parses a source's `allow_ips`: CIDR networks (host bits cleared) or single addresses.
pub fn validate_ips(ips: Vec<String>) -> ApiResult<Vec<IpNet>> {
    ips.iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ApiError::invalid(
                        &format!("allow_ips[{i}]"),
                        format!("`{s}` is not a CIDR network or address"),
                    )
                })
        })
        .collect()
}

fn validate_dedupe(d: DedupeBody) -> ApiResult<Dedupe> {
    let spec = d
        .key
        .ok_or_else(|| ApiError::invalid("dedupe.key", "is required (header:NAME, json:/pointer or body)"))?;
    let key = match Extract::parse(&spec) {
        Some(Extract::Const(_)) | None => {
            return Err(ApiError::invalid(
                "dedupe.key",
                format!("`{spec}` is not header:NAME, json:/pointer or body"),
            ))
        }
        Some(k) => k,
    };
    let window_s = d.window_s.unwrap_or(DEFAULT_DEDUPE_WINDOW_S);
    if !(1..=30 * 86_400).contains(&window_s) {
        return Err(ApiError::invalid(
            "dedupe.window_s",
            "must be between 1 and 2592000 (30 days)",
        ));
    }
    Ok(Dedupe {
        key,
        window_s,
        retries_only: d.retries_only.unwrap_or(false),
    })
}

fn validate_type_rule(spec: &str) -> ApiResult<Extract> {
    match Extract::parse(spec) {
        Some(Extract::Body) | None => Err(ApiError::invalid(
            "event_type",
            format!("`{spec}` is not header:NAME, json:/pointer or const:TYPE"),
        )),
        Some(Extract::Const(t)) if t.starts_with(OPERATIONAL_PREFIX) => Err(ApiError::invalid(
            "event_type",
            "the `herald.` prefix is reserved for herald's own events",
        )),
        Some(e) => Ok(e),
    }
}

fn validate_prefix(p: Option<String>) -> ApiResult<Option<String>> {
    match p {
        Some(p) if !valid_event_type(&format!("{p}x")) => Err(ApiError::invalid(
            "type_prefix",
            "must be letters, digits, `_`, `-`, `:` and dots, e.g. `stripe.`",
        )),
        Some(p) if format!("{p}x").starts_with(OPERATIONAL_PREFIX) => Err(ApiError::invalid(
            "type_prefix",
            "the `herald.` prefix is reserved for herald's own events",
        )),
        p => Ok(p),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyView {
    scheme: String,
    secrets_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    tolerance_s: i64,
    /// `meta`: whether a verify token is set (it is never shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    verify_token_set: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SourceView {
    id: String,
    name: String,
    tenant: Option<String>,
    ingest_url: String,
    verify: VerifyView,
    allow_ips: Vec<String>,
    #[schema(value_type = Option<Object>)]
    dedupe: Option<Dedupe>,
    #[schema(value_type = String)]
    event_type: Extract,
    type_prefix: Option<String>,
    created_at: String,
    updated_at: String,
}

/// Where providers should send requests: `--public-url` if set, else this request's host.
pub(super) fn ingest_url(state: &AppState, headers: &HeaderMap, id: &str) -> String {
    let base = match &state.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8787");
            format!("http://{host}")
        }
    };
    format!("{base}/in/{id}")
}

fn view(s: Source, url: String) -> SourceView {
    let tolerance_s = s.spec.verify.tolerance();
    let is_meta = s.spec.verify.scheme().preset().handshake == Some(herald_signing::Handshake::MetaSubscribe);
    let v = s.spec.verify.into_fields();
    SourceView {
        verify: VerifyView {
            tolerance_s,
            verify_token_set: is_meta.then_some(v.verify_token.is_some()),
            url: v.url,
            scheme: v.scheme,
            secrets_count: v.secrets.len(),
            header: v.header,
            algorithm: v.algorithm,
            encoding: v.encoding,
            prefix: v.prefix,
        },
        id: s.id,
        name: s.name,
        tenant: s.tenant,
        ingest_url: url,
        allow_ips: s.spec.allow_ips.iter().map(ToString::to_string).collect(),
        dedupe: s.spec.dedupe,
        event_type: s.spec.event_type,
        type_prefix: s.spec.type_prefix,
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
    }
}

#[utoipa::path(post, path = "/v1/sources", tag = "sources", summary = "Create an inbound source", request_body = CreateSource, responses((status = 201, body = SourceView)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(scope): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateSource>,
) -> ApiResult<(StatusCode, Json<SourceView>)> {
    let name = validate_name(body.name)?;
    let tenant = owning_tenant(&scope, body.tenant)?;
    let verify = validate_verify(body.verify)?;
    let event_type = match body.event_type {
        Some(spec) => validate_type_rule(&spec)?,
        None => default_event_type(verify.scheme()),
    };
    let dedupe = match body.dedupe {
        Some(given) => given.map(validate_dedupe).transpose()?,
        None => default_dedupe(verify.scheme()),
    };
    let type_prefix = match body.type_prefix {
        Some(given) => validate_prefix(given)?,
        None => default_type_prefix(verify.scheme()),
    };
    let spec = SourceSpec {
        allow_ips: validate_ips(body.allow_ips.unwrap_or_default())?,
        dedupe,
        type_prefix,
        verify,
        event_type,
    };
    let now = state.now_ms();
    let source = Source {
        id: new_id("src"),
        name,
        tenant,
        spec,
        created_at: now,
        updated_at: now,
    };
    state.store.create_source(source.clone()).await?;
    let url = ingest_url(&state, &headers, &source.id);
    Ok((StatusCode::CREATED, Json(view(source, url))))
}

#[utoipa::path(get, path = "/v1/sources", tag = "sources", summary = "List sources", params(PageParams), responses((status = 200, body = ListView<SourceView>)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(scope): Caller,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListView<SourceView>>> {
    let page = state
        .store
        .list_sources(&scope, p.cursor, page_limit(p.limit.as_deref())?)
        .await?;
    let data = page
        .items
        .into_iter()
        .map(|s| {
            let url = ingest_url(&state, &headers, &s.id);
            view(s, url)
        })
        .collect();
    Ok(Json(ListView {
        data,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/sources/{id}", tag = "sources", summary = "Read a source", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = SourceView)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(scope): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<SourceView>> {
    let s = state
        .store
        .get_source(&scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("source"))?;
    let url = ingest_url(&state, &headers, &s.id);
    Ok(Json(view(s, url)))
}

#[utoipa::path(patch, path = "/v1/sources/{id}", tag = "sources", summary = "Change a source", params(("id" = String, Path, description = "The object's id")), request_body = PatchSource, responses((status = 200, body = SourceView)))]
pub async fn update(
    State(state): State<AppState>,
    Caller(scope): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchSource>,
) -> ApiResult<Json<SourceView>> {
    let patch = SourcePatch {
        name: body.name.map(|n| validate_name(Some(n))).transpose()?,
        verify: body.verify.map(|v| validate_verify(Some(v))).transpose()?,
        allow_ips: body.allow_ips.map(validate_ips).transpose()?,
        dedupe: body
            .dedupe
            .map(|d| d.map(validate_dedupe).transpose())
            .transpose()?,
        event_type: body.event_type.as_deref().map(validate_type_rule).transpose()?,
        type_prefix: body.type_prefix.map(validate_prefix).transpose()?,
    };
    let s = state
        .store
        .update_source(&scope, &id, patch)
        .await?
        .ok_or_else(|| ApiError::not_found("source"))?;
    let url = ingest_url(&state, &headers, &s.id);
    Ok(Json(view(s, url)))
}

#[utoipa::path(delete, path = "/v1/sources/{id}", tag = "sources", summary = "Delete a source", params(("id" = String, Path, description = "The object's id")), responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_source(&scope, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("source"))
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestView {
    id: String,
    source_id: String,
    received_at: String,
    outcome: String,
    status: u16,
    reason: Option<String>,
    event_id: Option<String>,
    remote_ip: String,
    headers: serde_json::Value,
    /// Rejected requests only: the body as text (truncated), or base64 if not UTF-8.
    body: Option<String>,
    body_size: u64,
}

impl From<RequestRecord> for RequestView {
    fn from(r: RequestRecord) -> Self {
        let body = r.body.map(|b| match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => format!(
                "base64:{}",
                base64::engine::general_purpose::STANDARD.encode(e.as_bytes())
            ),
        });
        RequestView {
            id: r.id,
            source_id: r.source_id,
            received_at: rfc3339(r.received_at),
            outcome: r.outcome,
            status: r.status,
            reason: r.reason,
            event_id: r.event_id,
            remote_ip: r.remote_ip,
            headers: serde_json::from_str(&r.headers).unwrap_or_default(),
            body,
            body_size: r.body_size,
        }
    }
}

#[utoipa::path(get, path = "/v1/sources/{id}/requests", tag = "sources", summary = "A source's request log, newest first", params(("id" = String, Path, description = "The object's id"), PageParams), responses((status = 200, body = ListView<RequestView>)))]
pub async fn requests(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<ListView<RequestView>>> {
    let page = state
        .store
        .list_requests(&scope, &id, p.cursor, page_limit(p.limit.as_deref())?)
        .await?
        .ok_or_else(|| ApiError::not_found("source"))?;
    Ok(Json(ListView {
        data: page.items.into_iter().map(RequestView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
