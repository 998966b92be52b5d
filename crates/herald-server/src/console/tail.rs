//! `/ui/tail`: new events and attempts, live over server-sent events. The stream reads the
//! newest events and deliveries in the viewer's scope every second (sooner when new work is
//! stored) and sends what changed; it ends when the session or its key does.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::page::render;
use super::pages::frame;
use super::session::Viewer;
use super::templates::TailPage;
use crate::api::AppState;
use crate::domain::{rfc3339, Delivery, Event};
use crate::store::{DeliveryQuery, EventQuery};

const EVERY: Duration = Duration::from_secs(1);
/// How many of the newest events and deliveries each read looks at.
const WINDOW: usize = 50;

pub async fn page(viewer: Viewer) -> Response {
    render(
        StatusCode::OK,
        &TailPage {
            f: frame(&viewer, "tail", None),
        },
    )
}

struct Watch {
    state: AppState,
    viewer: Viewer,
    seen_events: HashSet<String>,
    /// Delivery id → attempts already reported.
    attempts: HashMap<String, u32>,
    out: VecDeque<SseEvent>,
    first: bool,
}

fn line(kind: &str, id: &str, href: String, at: i64, text: String) -> SseEvent {
    let data = json!({"id": id, "href": href, "at": rfc3339(at), "text": text});
    SseEvent::default().event(kind).data(data.to_string())
}

fn event_line(e: &Event) -> SseEvent {
    let text = format!("{} ({} deliveries)", e.event_type, e.deliveries);
    line("event", &e.id, format!("/ui/events/{}", e.id), e.created_at, text)
}

fn attempt_line(d: &Delivery) -> SseEvent {
    let status = d
        .last_status
        .map_or_else(|| "no response".to_string(), |s| s.to_string());
    let error = d
        .last_error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    let text = format!(
        "attempt {} to {} → {} ({}){error}",
        d.attempts,
        d.endpoint_id,
        status,
        d.state.as_str()
    );
    let at = d.last_attempt_at.unwrap_or(d.updated_at);
    line("attempt", &d.id, format!("/ui/deliveries/{}", d.id), at, text)
}

impl Watch {
    /// Reads the newest events and deliveries and queues what is new, oldest first.
    async fn read(&mut self) {
        let scope = &self.viewer.scope;
        let query = EventQuery {
            limit: WINDOW,
            ..Default::default()
        };
        if let Ok(page) = self.state.store.list_events(scope, query).await {
            for e in page.items.iter().rev() {
                if self.seen_events.insert(e.id.clone()) {
                    self.out.push_back(event_line(e));
                }
            }
        }
        let query = DeliveryQuery {
            filter: Default::default(),
            cursor: None,
            limit: WINDOW,
            examine: None,
        };
        if let Ok(page) = self.state.store.search_deliveries(scope, query).await {
            for d in page.items.iter().rev() {
                let known = self.attempts.insert(d.id.clone(), d.attempts).unwrap_or(0);
                if d.attempts > known && !self.first {
                    self.out.push_back(attempt_line(d));
                }
            }
        }
        self.first = false;
        if self.seen_events.len() > 10 * WINDOW {
            self.seen_events.clear();
        }
        if self.attempts.len() > 10 * WINDOW {
            self.attempts.clear();
            self.first = true;
        }
    }

    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(ev) = self.out.pop_front() {
                return Some(ev);
            }
            if *self.state.stopping.borrow() || !self.viewer.is_live(&self.state).await {
                return None;
            }
            let woken = self.state.pull_wake.clone();
            let _ = tokio::time::timeout(EVERY, woken.notified()).await;
            self.read().await;
        }
    }
}

pub async fn stream(State(state): State<AppState>, viewer: Viewer) -> impl IntoResponse {
    let mut watch = Watch {
        state,
        viewer,
        seen_events: HashSet::new(),
        attempts: HashMap::new(),
        out: VecDeque::new(),
        first: true,
    };
    watch.read().await;
    let events = futures_util::stream::unfold(watch, |mut w| async move {
        let ev = w.next().await?;
        Some((Ok::<_, Infallible>(ev), w))
    });
    Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}
