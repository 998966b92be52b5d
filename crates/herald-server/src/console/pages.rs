//! The pages: each reads through the same store operations as the API, in the viewer's
//! scope (another tenant's ids answer 404, as in the API).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::page::{render, PageResult, Problem};
use super::session::Viewer;
use super::templates::{
    Deliveries, DeliveryPage, EndpointPage, Endpoints, EventPage, Events, FilterForm, Frame, SourcePage,
    Sources,
};
use super::view::{pretty, when, AttemptRow, DeliveryRow, EndpointRow, EventRow, RequestRow, SourceRow};
use crate::api::deliveries::FilterParams;
use crate::api::AppState;
use crate::domain::Scope;
use crate::store::{DeliveryQuery, EndpointQuery, EventQuery};

/// How many rows a list page shows.
const PAGE: usize = 50;
/// How many deliveries one page of a search looks at, at most: a filter that matches
/// little stops there with a link to search on (the page stays fast on any store).
const EXAMINE: usize = 20_000;

/// `?cursor=` of a list and `?notice=` left by the action that led here.
#[derive(Deserialize, Default)]
pub struct Paging {
    pub cursor: Option<String>,
    pub notice: Option<String>,
}

pub fn frame(viewer: &Viewer, nav: &'static str, notice: Option<String>) -> Frame {
    Frame {
        nav,
        csrf: viewer.csrf.clone(),
        notice: notice.filter(|n| !n.is_empty()),
        scope: match &viewer.scope {
            Scope::Admin => "admin".into(),
            Scope::Tenant(t) => format!("tenant {t}"),
        },
    }
}

/// `cursor=…` for a next-page link.
fn cursor_param(cursor: String) -> String {
    serde_urlencoded::to_string([("cursor", cursor)]).unwrap_or_default()
}

fn not_found(what: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("{what} not found"))
}

/// A filter as the form sent it: empty fields mean "any".
pub fn cleaned(mut f: FilterParams) -> FilterParams {
    for field in [
        &mut f.state,
        &mut f.endpoint_id,
        &mut f.event_type,
        &mut f.source_id,
        &mut f.status,
        &mut f.since,
        &mut f.until,
    ] {
        if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *field = None;
        }
    }
    f
}

pub fn filter_form(f: &FilterParams) -> FilterForm {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    FilterForm {
        state: text(&f.state),
        endpoint_id: text(&f.endpoint_id),
        event_type: text(&f.event_type),
        source_id: text(&f.source_id),
        status: text(&f.status),
        since: text(&f.since),
        until: text(&f.until),
        query: serde_urlencoded::to_string(f).unwrap_or_default(),
    }
}

pub async fn deliveries(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filter): Query<FilterParams>,
    Query(p): Query<Paging>,
) -> PageResult {
    let filter = cleaned(filter);
    let query = DeliveryQuery {
        filter: filter.parse()?,
        cursor: p.cursor,
        limit: PAGE,
        examine: Some(EXAMINE),
    };
    let page = state.store.search_deliveries(&viewer.scope, query).await?;
    let now = state.now_ms();
    let window_ended = page.items.len() < PAGE && page.next_cursor.is_some();
    Ok(render(
        StatusCode::OK,
        &Deliveries {
            f: frame(&viewer, "deliveries", p.notice),
            rows: page.items.iter().map(|d| DeliveryRow::of(d, now)).collect(),
            filter: filter_form(&filter),
            next: page.next_cursor.map(cursor_param),
            searched: window_ended.then_some(EXAMINE),
        },
    ))
}

pub async fn delivery(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(p): Query<Paging>,
) -> PageResult {
    let d = state
        .store
        .get_delivery(&viewer.scope, &id)
        .await?
        .ok_or_else(|| not_found("delivery"))?;
    let attempts = state
        .store
        .list_attempts(&viewer.scope, &id)
        .await?
        .unwrap_or_default();
    let event = state.store.get_event(&viewer.scope, &d.event_id).await?;
    let now = state.now_ms();
    Ok(render(
        StatusCode::OK,
        &DeliveryPage {
            f: frame(&viewer, "deliveries", p.notice),
            event_type: event.map(|e| e.event_type).unwrap_or_default(),
            next_attempt: d
                .next_attempt_at
                .filter(|_| !d.state.retryable())
                .map(|t| when(t, now)),
            attempts: attempts.iter().rev().map(|a| AttemptRow::of(a, now)).collect(),
            d: DeliveryRow::of(&d, now),
        },
    ))
}

#[derive(Deserialize, Default)]
pub struct EventFilter {
    #[serde(rename = "type")]
    pub event_type: Option<String>,
}

pub async fn events(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filter): Query<EventFilter>,
    Query(p): Query<Paging>,
) -> PageResult {
    let event_type = filter.event_type.filter(|t| !t.trim().is_empty());
    let query = EventQuery {
        event_type: event_type.clone(),
        cursor: p.cursor,
        limit: PAGE,
        ..Default::default()
    };
    let page = state.store.list_events(&viewer.scope, query).await?;
    let now = state.now_ms();
    Ok(render(
        StatusCode::OK,
        &Events {
            f: frame(&viewer, "events", p.notice),
            rows: page.items.iter().map(|e| EventRow::of(e, now)).collect(),
            type_query: serde_urlencoded::to_string([("type", event_type.as_deref().unwrap_or(""))])
                .unwrap_or_default(),
            event_type: event_type.unwrap_or_default(),
            next: page.next_cursor.map(cursor_param),
        },
    ))
}

pub async fn event(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(p): Query<Paging>,
) -> PageResult {
    let e = state
        .store
        .get_event(&viewer.scope, &id)
        .await?
        .ok_or_else(|| not_found("event"))?;
    let deliveries = state
        .store
        .list_deliveries(&viewer.scope, &id)
        .await?
        .unwrap_or_default();
    let now = state.now_ms();
    Ok(render(
        StatusCode::OK,
        &EventPage {
            f: frame(&viewer, "events", p.notice),
            content_type: e.content_type.clone(),
            payload: pretty(&e.payload),
            ordering_key: e.ordering_key.clone().unwrap_or_default(),
            deliveries: deliveries.iter().map(|d| DeliveryRow::of(d, now)).collect(),
            e: EventRow::of(&e, now),
        },
    ))
}

pub async fn endpoints(State(state): State<AppState>, viewer: Viewer, Query(p): Query<Paging>) -> PageResult {
    let query = EndpointQuery {
        tenant: None,
        cursor: p.cursor,
        limit: PAGE,
    };
    let page = state.store.list_endpoints(&viewer.scope, query).await?;
    let now = state.now_ms();
    Ok(render(
        StatusCode::OK,
        &Endpoints {
            f: frame(&viewer, "endpoints", p.notice),
            rows: page.items.iter().map(|e| EndpointRow::of(e, now)).collect(),
            next: page.next_cursor.map(cursor_param),
        },
    ))
}

pub async fn endpoint(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(p): Query<Paging>,
) -> PageResult {
    endpoint_page(&state, &viewer, &id, p.notice, None).await
}

/// An object's fields as (name, value) pairs, for a settings or health list.
fn pairs(value: serde_json::Value, skip: &[&str]) -> Vec<(String, String)> {
    let serde_json::Value::Object(map) = value else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(k, v)| !skip.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| {
            let shown = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, shown)
        })
        .collect()
}

/// The endpoint page, with the secret shown when the viewer asked to reveal it.
pub async fn endpoint_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    notice: Option<String>,
    secret: Option<String>,
) -> PageResult {
    let ep = crate::api::endpoints::visible(state, &viewer.scope, id).await?;
    let health = crate::api::health::health_of(state, &ep).await?;
    let recent = DeliveryQuery {
        filter: crate::store::DeliveryFilter {
            endpoint_id: Some(ep.id.clone()),
            ..Default::default()
        },
        cursor: None,
        limit: 20,
        examine: Some(EXAMINE),
    };
    let deliveries = state.store.search_deliveries(&viewer.scope, recent).await?;
    let now = state.now_ms();
    let view = crate::api::endpoints::EndpointView::from(&ep);
    Ok(render(
        StatusCode::OK,
        &EndpointPage {
            f: frame(viewer, "endpoints", notice),
            settings: pairs(serde_json::to_value(&view).unwrap_or_default(), &["id"]),
            health: pairs(serde_json::to_value(&health).unwrap_or_default(), &[]),
            deliveries: deliveries.items.iter().map(|d| DeliveryRow::of(d, now)).collect(),
            e: EndpointRow::of(&ep, now),
            secret,
        },
    ))
}

pub async fn sources(State(state): State<AppState>, viewer: Viewer, Query(p): Query<Paging>) -> PageResult {
    let page = state.store.list_sources(&viewer.scope, p.cursor, PAGE).await?;
    let now = state.now_ms();
    Ok(render(
        StatusCode::OK,
        &Sources {
            f: frame(&viewer, "sources", p.notice),
            rows: page.items.iter().map(|s| SourceRow::of(s, now)).collect(),
            next: page.next_cursor.map(cursor_param),
        },
    ))
}

pub async fn source(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(p): Query<Paging>,
) -> PageResult {
    let s = state
        .store
        .get_source(&viewer.scope, &id)
        .await?
        .ok_or_else(|| not_found("source"))?;
    let requests = state
        .store
        .list_requests(&viewer.scope, &id, p.cursor, PAGE)
        .await?
        .ok_or_else(|| not_found("source"))?;
    let now = state.now_ms();
    Ok(render(
        StatusCode::OK,
        &SourcePage {
            f: frame(&viewer, "sources", p.notice),
            ingest_url: format!("/in/{}", s.id),
            requests: requests.items.iter().map(|r| RequestRow::of(r, now)).collect(),
            next: requests.next_cursor.map(cursor_param),
            s: SourceRow::of(&s, now),
        },
    ))
}
