//! `/v1/endpoints`: create, list, read, change, delete subscribers.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Deserializer, Serialize};

use super::destinations::{one_target, validate_destination, DestinationBody, DestinationView};
use super::error::{ApiError, ApiResult};
use super::extract::{page_limit, tenant_filter, ApiJson, ApiQuery, Caller};
use super::fields::{
    check_https_only, range, validate_description, validate_headers, validate_patterns, validate_secret,
    validate_url,
};
use super::ordering::{validate_ordering, OrderingBody, OrderingView};
use super::AppState;
use crate::domain::breaker::{DEFAULT_CIRCUIT_AFTER, MAX_CIRCUIT_AFTER};
use crate::domain::{
    new_id, rfc3339, valid_tenant, Endpoint, EndpointPatch, EndpointSecret, Scope, SignatureScheme,
};
use crate::store::EndpointQuery;

pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 16;

/// Present-and-null is `Some(None)`, absent is `None`.
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where to POST deliveries (http or https, no credentials); omit for a pull endpoint.
    #[schema(
        pattern = r"^https?://[A-Za-z][A-Za-z0-9_-]{0,62}(\.[A-Za-z][A-Za-z0-9_-]{0,62}){0,5}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~!$&'()*+,;=:@-]{0,64}){0,8}(\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]{0,256})?$",
        max_length = 2048
    )]
    url: Option<String>,
    #[schema(pattern = r"^[A-Za-z0-9_.:@-]{1,128}$")]
    tenant: Option<String>,
    /// Type patterns: `*`, `ticket.*` or exact types [default: ["*"]].
    #[schema(min_items = 1, max_items = 100)]
    event_types: Option<Vec<TypePattern>>,
    #[schema(max_length = 1024)]
    description: Option<String>,
    /// Extra headers sent with every delivery (herald's own headers cannot be overridden).
    headers: Option<BTreeMap<String, String>>,
    /// `whsec_` + base64 of 24 to 64 random bytes [default: generated].
    #[schema(pattern = r"^whsec_([A-Za-z0-9+/]{4}){8,21}$")]
    secret: Option<String>,
    #[schema(value_type = Option<SignatureName>)]
    signature: Option<String>,
    #[schema(minimum = 10, maximum = 300000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    timeout_ms: Option<u64>,
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    max_in_flight: Option<u32>,
    #[schema(minimum = 1, maximum = 100000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    rate_limit_per_s: Option<u32>,
    disabled: Option<bool>,
    /// This endpoint's own retry schedule, same syntax and bounds as `--retry-schedule`
    /// (e.g. `10s,1m,10m`; `""` for no retries) [default: the global one].
    retry_schedule: Option<String>,
    /// Consecutive failed attempts that open the circuit; `0` never opens it [default: 5].
    #[schema(minimum = 0, maximum = 10000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    circuit_after: Option<u32>,
    /// Ordered keys: per key, one delivery at a time, in publish order [default: none].
    ordering: Option<OrderingBody>,
    /// A broker to publish to, in place of `url` (give one of the two, or neither for a
    /// pull endpoint).
    destination: Option<DestinationBody>,
}

/// A type pattern: `*`, an exact type such as `ticket.created`, or a prefix such as `ticket.*`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(pattern = r"^(\*|[A-Za-z0-9_:-]{1,40}(\.[A-Za-z0-9_:-]{1,40}){0,4}(\.\*)?)$")]
pub struct TypePattern(String);

/// How deliveries are signed.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum SignatureName {
    #[schema(rename = "standard")]
    Standard,
    #[schema(rename = "hmac-sha256-hex")]
    HmacSha256Hex,
    #[schema(rename = "v1a")]
    V1a,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpoint {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(
        pattern = r"^https?://[A-Za-z][A-Za-z0-9_-]{0,62}(\.[A-Za-z][A-Za-z0-9_-]{0,62}){0,5}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~!$&'()*+,;=:@-]{0,64}){0,8}(\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]{0,256})?$",
        max_length = 2048
    )]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(max_length = 1024)]
    description: Option<Option<String>>,
    #[schema(min_items = 1, max_items = 100)]
    event_types: Option<Vec<TypePattern>>,
    headers: Option<BTreeMap<String, String>>,
    #[schema(minimum = 10, maximum = 300000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    timeout_ms: Option<u64>,
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    max_in_flight: Option<u32>,
    #[serde(default, deserialize_with = "super::integers::nullable")]
    #[schema(minimum = 1, maximum = 100000)]
    rate_limit_per_s: Option<Option<u32>>,
    disabled: Option<bool>,
    /// `null` goes back to the global schedule.
    #[serde(default, deserialize_with = "nullable")]
    retry_schedule: Option<Option<String>>,
    #[schema(minimum = 0, maximum = 10000)]
    #[serde(default, deserialize_with = "super::integers::opt")]
    circuit_after: Option<u32>,
    /// `null` removes ordering (deliveries already keyed keep their order).
    #[serde(default, deserialize_with = "nullable")]
    ordering: Option<Option<OrderingBody>>,
    /// Setting a destination clears `url` and the other way round; `null` removes it.
    /// Credentials sent back masked, as a read shows them, keep the stored ones.
    #[serde(default, deserialize_with = "nullable")]
    destination: Option<Option<DestinationBody>>,
}

/// An endpoint as the API shows it (secrets are never listed).
#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    id: String,
    url: Option<String>,
    tenant: Option<String>,
    description: Option<String>,
    event_types: Vec<String>,
    headers: BTreeMap<String, String>,
    #[schema(value_type = String)]
    signature: &'static str,
    timeout_ms: u64,
    max_in_flight: u32,
    rate_limit_per_s: Option<u32>,
    disabled: bool,
    disabled_reason: Option<String>,
    /// `null`: the global schedule.
    retry_schedule: Option<String>,
    circuit_after: u32,
    /// `null`: deliveries go in any order.
    ordering: Option<OrderingView>,
    /// `null`: an HTTP endpoint (`url`) or a pull endpoint.
    destination: Option<DestinationView>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        EndpointView {
            id: e.id.clone(),
            url: e.url.clone(),
            tenant: e.tenant.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            headers: e
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), mask_header(value)))
                .collect(),
            signature: e.signature.as_str(),
            timeout_ms: e.timeout_ms,
            max_in_flight: e.max_in_flight,
            rate_limit_per_s: e.rate_limit_per_s,
            disabled: e.disabled,
            disabled_reason: e.disabled_reason.clone(),
            retry_schedule: e.retry_schedule.clone(),
            circuit_after: e.circuit_after,
            ordering: e.ordering.as_ref().map(OrderingView::from),
            destination: e.destination.as_ref().map(DestinationView::from),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
            secret: None,
        }
    }
}

fn circuit_after(n: u32) -> ApiResult<u32> {
    range("circuit_after", n, 0, MAX_CIRCUIT_AFTER)
}

/// A retry schedule as `--retry-schedule` takes it (bounded the same way), in canonical form.
fn validate_schedule(s: String) -> ApiResult<String> {
    let steps =
        crate::config::parse_schedule(&s).map_err(|e| ApiError::invalid("retry_schedule", e.message))?;
    Ok(steps
        .iter()
        .map(|d| humantime::format_duration(*d).to_string().replace(' ', ""))
        .collect::<Vec<_>>()
        .join(","))
}

/// How a custom header value is shown: it may be a credential, so never in clear. Long
/// values keep their last four characters, so one can be told from another.
pub fn mask_header(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 12 {
        return "****".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("****{tail}")
}

/// A PATCH that sends back a header value as it was shown (masked) keeps the stored one,
/// so reading an endpoint and writing it back changes nothing.
fn keep_masked(
    sent: BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    sent.into_iter()
        .map(|(name, value)| match current.get(&name) {
            Some(old) if mask_header(old) == value => (name, old.clone()),
            _ => (name, value),
        })
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ListView<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The tenant of a new object: a tenant key forces its own.
pub fn owning_tenant(scope: &Scope, asked: Option<String>) -> ApiResult<Option<String>> {
    match (scope, asked) {
        (Scope::Admin, Some(t)) if !valid_tenant(&t) => Err(ApiError::invalid(
            "tenant",
            "must be 1-128 characters of letters, digits, `_`, `-`, `.`, `:`, `@`",
        )),
        (Scope::Admin, t) => Ok(t),
        (Scope::Tenant(own), Some(t)) if &t != own => Err(ApiError::forbidden(
            "a tenant key can only act for its own tenant",
        )),
        (Scope::Tenant(own), _) => Ok(Some(own.clone())),
    }
}

#[utoipa::path(post, path = "/v1/endpoints", tag = "endpoints", summary = "Create an endpoint (the secret is shown once here)", request_body = CreateEndpoint, responses((status = 201, body = EndpointView)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointView>)> {
    let signature = match body.signature.as_deref() {
        None => SignatureScheme::Standard,
        Some(s) => SignatureScheme::parse(s).ok_or_else(|| {
            ApiError::invalid("signature", "must be `standard`, `hmac-sha256-hex` or `v1a`")
        })?,
    };
    one_target(body.url.is_some(), body.destination.is_some())?;
    let now = state.now_ms();
    let endpoint = Endpoint {
        id: new_id("ep"),
        tenant: owning_tenant(&scope, body.tenant)?,
        url: body.url.as_deref().map(validate_url).transpose()?,
        description: validate_description(body.description)?,
        event_types: validate_patterns(
            body.event_types
                .map_or_else(|| vec!["*".into()], |v| v.into_iter().map(|p| p.0).collect()),
        )?,
        headers: validate_headers(body.headers.unwrap_or_default())?,
        signature,
        secrets: vec![EndpointSecret {
            secret: validate_secret(signature, body.secret)?,
            expires_at: None,
        }],
        timeout_ms: range(
            "timeout_ms",
            body.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            10,
            300_000,
        )?,
        max_in_flight: range(
            "max_in_flight",
            body.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            1,
            1000,
        )?,
        rate_limit_per_s: body
            .rate_limit_per_s
            .map(|r| range("rate_limit_per_s", r, 1, 100_000))
            .transpose()?,
        retry_schedule: body.retry_schedule.map(validate_schedule).transpose()?,
        circuit_after: circuit_after(body.circuit_after.unwrap_or(DEFAULT_CIRCUIT_AFTER))?,
        paused_until: None,
        breaker: Default::default(),
        ordering: body.ordering.map(validate_ordering).transpose()?,
        destination: body.destination.map(validate_destination).transpose()?,
        disabled: body.disabled.unwrap_or(false),
        disabled_reason: body
            .disabled
            .unwrap_or(false)
            .then(|| "created disabled".to_string()),
        created_at: now,
        updated_at: now,
    };
    if let Some(url) = &endpoint.url {
        check_https_only(&state, url).await?;
    }
    state.store.create_endpoint(endpoint.clone()).await?;
    let mut view = EndpointView::from(&endpoint);
    view.secret = Some(endpoint.signature.for_receiver(&endpoint.secrets[0].secret));
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(pattern = r"^[A-Za-z0-9_.:@-]{1,128}$")]
    tenant: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 250 [default: 50].
    #[param(value_type = Option<u32>, minimum = 1, maximum = 250)]
    limit: Option<String>,
}

#[utoipa::path(get, path = "/v1/endpoints", tag = "endpoints", summary = "List endpoints", params(ListParams), responses((status = 200, body = ListView<EndpointView>)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<ListView<EndpointView>>> {
    let query = EndpointQuery {
        tenant: tenant_filter(p.tenant)?,
        cursor: p.cursor,
        limit: page_limit(p.limit.as_deref())?,
    };
    let page = state.store.list_endpoints(&scope, query).await?;
    Ok(Json(ListView {
        data: page.items.iter().map(EndpointView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The endpoint if the caller may see it, else 404.
pub async fn visible(state: &AppState, scope: &Scope, id: &str) -> ApiResult<Endpoint> {
    state
        .store
        .get_endpoint(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))
}

#[utoipa::path(get, path = "/v1/endpoints/{id}", tag = "endpoints", summary = "Read an endpoint", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = EndpointView)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    let ep = visible(&state, &scope, &id).await?;
    Ok(Json(EndpointView::from(&ep)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SecretView {
    secret: String,
}

/// `GET /v1/endpoints/{id}/secret`: the newest signing secret.
#[utoipa::path(get, path = "/v1/endpoints/{id}/secret", tag = "endpoints", summary = "Read the current signing secret", params(("id" = String, Path, description = "The object's id")), responses((status = 200, body = SecretView)))]
pub async fn secret(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SecretView>> {
    let ep = visible(&state, &scope, &id).await?;
    let secret = ep
        .secrets
        .first()
        .map(|s| ep.signature.for_receiver(&s.secret))
        .ok_or_else(ApiError::internal)?;
    Ok(Json(SecretView { secret }))
}

#[utoipa::path(patch, path = "/v1/endpoints/{id}", tag = "endpoints", summary = "Change an endpoint", params(("id" = String, Path, description = "The object's id")), request_body = PatchEndpoint, responses((status = 200, body = EndpointView)))]
pub async fn update(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchEndpoint>,
) -> ApiResult<Json<EndpointView>> {
    one_target(
        matches!(body.url, Some(Some(_))),
        matches!(body.destination, Some(Some(_))),
    )?;
    let destination = match body.destination {
        Some(Some(sent)) => {
            let sent = validate_destination(sent)?;
            let current = visible(&state, &scope, &id).await?;
            Some(Some(match &current.destination {
                Some(stored) => sent.keeping_masked(stored),
                None => sent,
            }))
        }
        Some(None) => Some(None),
        None => None,
    };
    let patch = EndpointPatch {
        destination,
        url: body
            .url
            .map(|u| u.as_deref().map(validate_url).transpose())
            .transpose()?,
        description: body.description.map(validate_description).transpose()?,
        event_types: body
            .event_types
            .map(|v| validate_patterns(v.into_iter().map(|p| p.0).collect()))
            .transpose()?,
        headers: match body.headers {
            None => None,
            Some(sent) => {
                let current = visible(&state, &scope, &id).await?;
                Some(validate_headers(keep_masked(sent, &current.headers))?)
            }
        },
        timeout_ms: body
            .timeout_ms
            .map(|v| range("timeout_ms", v, 10, 300_000))
            .transpose()?,
        max_in_flight: body
            .max_in_flight
            .map(|v| range("max_in_flight", v, 1, 1000))
            .transpose()?,
        rate_limit_per_s: body
            .rate_limit_per_s
            .map(|r| r.map(|v| range("rate_limit_per_s", v, 1, 100_000)).transpose())
            .transpose()?,
        disabled: body.disabled,
        retry_schedule: body
            .retry_schedule
            .map(|s| s.map(validate_schedule).transpose())
            .transpose()?,
        circuit_after: body.circuit_after.map(circuit_after).transpose()?,
        ordering: body
            .ordering
            .map(|o| o.map(validate_ordering).transpose())
            .transpose()?,
    };
    if let Some(Some(url)) = &patch.url {
        check_https_only(&state, url).await?;
    }
    let ep = state
        .store
        .update_endpoint(&scope, &id, patch)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    state.work_arrived();
    Ok(Json(EndpointView::from(&ep)))
}

#[utoipa::path(delete, path = "/v1/endpoints/{id}", tag = "endpoints", summary = "Delete an endpoint", params(("id" = String, Path, description = "The object's id")), responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if state.store.delete_endpoint(&scope, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("endpoint"))
    }
}
