//! The overview: what happened in the last hour and day, the backlog, failing and disabled
//! endpoints. Counted over the store's newest deliveries only ([`RECENT`] of them), so the
//! page costs the same on a store of a thousand deliveries or of a hundred million; a count
//! that may miss older ones is shown as a lower bound ("10000+").

use std::collections::{HashMap, HashSet};

use axum::extract::{Query, State};
use axum::http::StatusCode;

use super::page::{render, PageResult};
use super::pages::{frame, Paging};
use super::session::Viewer;
use super::templates::{Count, Overview};
use super::view::EndpointRow;
use crate::api::AppState;
use crate::domain::{DeliveryState, Millis};
use crate::store::{EndpointQuery, RecentDeliveries};

/// How many of the newest deliveries the overview looks at.
pub const RECENT: usize = 10_000;
/// Pending and in-flight deliveries are counted up to this many in each state.
const BACKLOG_CAP: usize = 10_000;
const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 24 * HOUR_MS;

/// The newest deliveries, counted for one period.
struct Period<'a> {
    recent: &'a RecentDeliveries,
    since: Millis,
}

impl Period<'_> {
    /// Whether the period may hold deliveries older than those looked at.
    fn more(&self) -> bool {
        self.recent.examined >= RECENT && self.recent.reached.is_some_and(|t| t >= self.since)
    }

    fn rows(&self) -> impl Iterator<Item = &crate::store::RecentDelivery> {
        self.recent
            .rows
            .iter()
            .filter(move |r| r.created_at >= self.since)
    }

    fn count(&self, label: &'static str, state: DeliveryState, class: &'static str) -> Count {
        Count {
            label,
            n: self.rows().filter(|r| r.state == state).count() as u64,
            more: self.more(),
            class,
        }
    }

    fn tiles(&self) -> Vec<Count> {
        let events: HashSet<&str> = self.rows().map(|r| r.event_id.as_str()).collect();
        vec![
            Count {
                label: "events",
                n: events.len() as u64,
                more: self.more(),
                class: "",
            },
            self.count("delivered", DeliveryState::Succeeded, "ok"),
            self.count("failed", DeliveryState::Failed, "bad"),
            self.count("skipped", DeliveryState::Skipped, ""),
        ]
    }

    /// Endpoints by failed deliveries in the period, most first (20 at most).
    fn failing(&self) -> Vec<(String, u64)> {
        let mut by_endpoint: HashMap<&str, u64> = HashMap::new();
        for r in self.rows().filter(|r| r.state == DeliveryState::Failed) {
            *by_endpoint.entry(r.endpoint_id.as_str()).or_default() += 1;
        }
        let mut failing: Vec<(String, u64)> =
            by_endpoint.into_iter().map(|(e, n)| (e.to_string(), n)).collect();
        failing.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        failing.truncate(20);
        failing
    }
}

pub async fn overview(State(state): State<AppState>, viewer: Viewer, Query(p): Query<Paging>) -> PageResult {
    let now = state.now_ms();
    let recent = state.store.recent_deliveries(&viewer.scope, RECENT).await?;
    let hour = Period {
        recent: &recent,
        since: now - HOUR_MS,
    };
    let day = Period {
        recent: &recent,
        since: now - DAY_MS,
    };
    let queued = state.store.queued_count(&viewer.scope, BACKLOG_CAP).await?;
    let endpoints = state
        .store
        .list_endpoints(
            &viewer.scope,
            EndpointQuery {
                tenant: None,
                cursor: None,
                limit: 250,
            },
        )
        .await?;
    let disabled = endpoints
        .items
        .iter()
        .filter(|e| e.disabled)
        .map(|e| EndpointRow::of(e, now))
        .collect();
    Ok(render(
        StatusCode::OK,
        &Overview {
            f: frame(&viewer, "overview", p.notice),
            hour: hour.tiles(),
            day: day.tiles(),
            backlog: Count {
                label: "waiting to be delivered (backlog)",
                n: queued,
                more: queued >= BACKLOG_CAP as u64,
                class: "",
            },
            failing: day.failing(),
            failing_more: day.more(),
            examined: recent.examined,
            disabled,
        },
    ))
}
