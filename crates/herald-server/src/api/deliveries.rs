//! `/v1/deliveries` across endpoints, by filter (what the console's deliveries page shows),
//! bulk retry of what a filter matches, and `/v1/stats`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::endpoints::ListView;
use super::error::{ApiError, ApiResult};
use super::events::DeliveryView;
use super::extract::{page_limit, ApiJson, ApiQuery, Caller, PageParams};
use super::AppState;
use crate::domain::{parse_rfc3339, rfc3339, valid_type_pattern, DeliveryState, Millis};
use crate::store::{DeliveryFilter, DeliveryQuery, TypeFilter};

/// Most deliveries one bulk retry sends again (ask again for the rest).
pub const MAX_BULK_RETRY: usize = 10_000;

/// The filters, as query parameters or as the `filter` of a bulk retry (where unknown
/// fields are refused by name, as in every body).
#[derive(Deserialize, Serialize, Default, Clone, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// `pending`, `delivering`, `succeeded`, `failed` or `skipped`.
    #[param(pattern = "^(pending|delivering|succeeded|failed|skipped)$")]
    #[schema(pattern = "^(pending|delivering|succeeded|failed|skipped)$")]
    pub state: Option<String>,
    pub endpoint_id: Option<String>,
    /// A type pattern: `ticket.created`, `ticket.*` or `*`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    #[schema(rename = "type")]
    pub event_type: Option<String>,
    /// Deliveries of events received by this inbound source.
    pub source_id: Option<String>,
    /// The last response status: a class such as `5xx`, or a code such as `503`.
    #[param(pattern = "^([1-5]xx|[1-5][0-9][0-9])$")]
    #[schema(pattern = "^([1-5]xx|[1-5][0-9][0-9])$")]
    pub status: Option<String>,
    /// Created at or after this time (RFC 3339).
    #[param(format = DateTime)]
    #[schema(format = DateTime)]
    pub since: Option<String>,
    /// Created before this time (RFC 3339).
    #[param(format = DateTime)]
    #[schema(format = DateTime)]
    pub until: Option<String>,
}

fn time(field: &str, v: Option<&str>) -> ApiResult<Option<Millis>> {
    v.map(|s| {
        parse_rfc3339(s)
            .ok_or_else(|| ApiError::invalid(field, "must be an RFC 3339 time such as 2026-05-11T09:00:00Z"))
    })
    .transpose()
}

fn status_range(v: &str) -> Option<(u16, u16)> {
    let class = v.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok());
    match (class, v.parse::<u16>()) {
        (Some(c), _) if (1..=5).contains(&c) => Some((c * 100, c * 100 + 99)),
        (None, Ok(code)) if (100..=599).contains(&code) => Some((code, code)),
        _ => None,
    }
}

fn type_filter(v: &str) -> ApiResult<Option<TypeFilter>> {
    if !valid_type_pattern(v) {
        return Err(ApiError::invalid(
            "type",
            "must be a type pattern: `ticket.created`, `ticket.*` or `*`",
        ));
    }
    Ok(match v.strip_suffix('*') {
        Some("") => None,
        Some(prefix) => Some(TypeFilter::Prefix(prefix.to_string())),
        None => Some(TypeFilter::Exact(v.to_string())),
    })
}

impl FilterParams {
    pub fn parse(&self) -> ApiResult<DeliveryFilter> {
        let state = self
            .state
            .as_deref()
            .map(|s| {
                DeliveryState::parse(s).ok_or_else(|| {
                    ApiError::invalid(
                        "state",
                        "must be pending, delivering, succeeded, failed or skipped",
                    )
                })
            })
            .transpose()?;
        let status = self
            .status
            .as_deref()
            .map(|s| {
                status_range(s).ok_or_else(|| {
                    ApiError::invalid("status", "must be a class such as `5xx` or a code such as `503`")
                })
            })
            .transpose()?;
        Ok(DeliveryFilter {
            state,
            endpoint_id: self.endpoint_id.clone(),
            event_type: self.event_type.as_deref().map(type_filter).transpose()?.flatten(),
            source_id: self.source_id.clone(),
            status,
            since: time("since", self.since.as_deref())?,
            until: time("until", self.until.as_deref())?,
        })
    }
}

#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries", summary = "Search deliveries across endpoints, newest first", params(FilterParams, PageParams), responses((status = 200, body = ListView<DeliveryView>)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(filter): ApiQuery<FilterParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListView<DeliveryView>>> {
    let query = DeliveryQuery {
        filter: filter.parse()?,
        cursor: page.cursor,
        limit: page_limit(page.limit.as_deref())?,
        examine: None,
    };
    let page = state.store.search_deliveries(&scope, query).await?;
    Ok(Json(ListView {
        data: page.items.into_iter().map(DeliveryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRetry {
    /// Which deliveries; without `state`, the failed ones. Pending and in-flight ones are
    /// never retried (they are queued already).
    #[serde(default)]
    #[schema(value_type = Option<FilterParams>)]
    filter: Option<Box<serde_json::value::RawValue>>,
    /// Only count what would be retried.
    #[serde(default)]
    dry_run: bool,
}

/// The `filter` of a bulk retry: a JSON object of the filter fields, none unknown.
fn bulk_filter(raw: &str) -> ApiResult<DeliveryFilter> {
    if let Some(field) = super::known_fields::first_unknown::<FilterParams>(raw.as_bytes()) {
        return Err(ApiError::invalid(
            &format!("filter.{field}"),
            super::known_fields::unknown_message::<FilterParams>(),
        ));
    }
    let params: FilterParams = serde_json::from_str(raw)
        .map_err(|e| ApiError::invalid("filter", format!("must be an object of filter fields ({e})")))?;
    params.parse()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkRetryView {
    /// With `dry_run`: how many would be retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    matched: Option<usize>,
    /// Without: how many were queued again.
    #[serde(skip_serializing_if = "Option::is_none")]
    retried: Option<usize>,
    /// The most one call retries; ask again for the rest.
    limit: usize,
}

#[utoipa::path(post, path = "/v1/deliveries/retry", tag = "deliveries", summary = "Retry every finished delivery a filter matches (or count them)", request_body = BulkRetry, responses((status = 200, body = BulkRetryView, description = "dry_run: the count"), (status = 202, body = BulkRetryView, description = "Queued again")))]
pub async fn retry(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiJson(body): ApiJson<BulkRetry>,
) -> ApiResult<(StatusCode, Json<BulkRetryView>)> {
    let filter = match body.filter {
        None => DeliveryFilter::default(),
        Some(raw) => bulk_filter(raw.get())?,
    };
    let n = bulk_retry(&state, &scope, filter, body.dry_run).await?;
    if body.dry_run {
        return Ok((
            StatusCode::OK,
            Json(BulkRetryView {
                matched: Some(n),
                retried: None,
                limit: MAX_BULK_RETRY,
            }),
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(BulkRetryView {
            matched: None,
            retried: Some(n),
            limit: MAX_BULK_RETRY,
        }),
    ))
}

/// Retries (or, with `dry_run`, counts) the finished deliveries a filter matches; without
/// a state in the filter, the failed ones.
pub async fn bulk_retry(
    state: &AppState,
    scope: &crate::domain::Scope,
    mut filter: DeliveryFilter,
    dry_run: bool,
) -> ApiResult<usize> {
    filter.state.get_or_insert(DeliveryState::Failed);
    let n = state
        .store
        .retry_matching(scope, filter, dry_run, MAX_BULK_RETRY)
        .await?;
    if n > 0 && !dry_run {
        state.work_arrived();
    }
    Ok(n)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Count what was created at or after this time [default: 24 hours ago].
    #[param(format = DateTime)]
    since: Option<String>,
}

/// Deliveries by state.
#[derive(Serialize, Default, Clone, utoipa::ToSchema)]
pub struct StateCounts {
    pending: u64,
    delivering: u64,
    succeeded: u64,
    failed: u64,
    skipped: u64,
}

impl StateCounts {
    fn add(&mut self, state: DeliveryState, n: u64) {
        let slot = match state {
            DeliveryState::Pending => &mut self.pending,
            DeliveryState::Delivering => &mut self.delivering,
            DeliveryState::Succeeded => &mut self.succeeded,
            DeliveryState::Failed => &mut self.failed,
            DeliveryState::Skipped => &mut self.skipped,
        };
        *slot += n;
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointCounts {
    endpoint_id: String,
    #[serde(flatten)]
    counts: StateCounts,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StatsView {
    since: String,
    /// Events published (or received) since then.
    events: u64,
    deliveries: StateCounts,
    /// Per endpoint, those with deliveries since then.
    endpoints: Vec<EndpointCounts>,
}

#[utoipa::path(get, path = "/v1/stats", tag = "deliveries", summary = "Counts of events and deliveries per state and per endpoint", params(StatsParams), responses((status = 200, body = StatsView)))]
pub async fn stats(
    State(state): State<AppState>,
    Caller(scope): Caller,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> ApiResult<Json<StatsView>> {
    let since = time("since", p.since.as_deref())?.unwrap_or_else(|| state.now_ms() - 24 * 3600 * 1000);
    let stats = state.store.delivery_stats(&scope, since).await?;
    let mut total = StateCounts::default();
    let mut per: BTreeMap<String, StateCounts> = BTreeMap::new();
    for (endpoint, st, n) in stats.by_endpoint {
        total.add(st, n);
        per.entry(endpoint).or_default().add(st, n);
    }
    Ok(Json(StatsView {
        since: rfc3339(since),
        events: stats.events,
        deliveries: total,
        endpoints: per
            .into_iter()
            .map(|(endpoint_id, counts)| EndpointCounts { endpoint_id, counts })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_and_codes() {
        assert_eq!(status_range("5xx"), Some((500, 599)));
        assert_eq!(status_range("2xx"), Some((200, 299)));
        assert_eq!(status_range("503"), Some((503, 503)));
        for bad in ["6xx", "0xx", "xx", "99", "600", "5XX5", ""] {
            assert_eq!(status_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn type_patterns_become_filters() {
        assert_eq!(type_filter("*").unwrap(), None);
        assert_eq!(
            type_filter("ticket.*").unwrap(),
            Some(TypeFilter::Prefix("ticket.".into()))
        );
        assert_eq!(
            type_filter("ticket.created").unwrap(),
            Some(TypeFilter::Exact("ticket.created".into()))
        );
        assert!(type_filter("ti*et").is_err());
    }
}
