//! What the pages show, formatted once: rows of the tables, times absolute and relative.

use crate::domain::source::Source;
use crate::domain::{rfc3339, Attempt, Delivery, Endpoint, Event, Millis};
use crate::store::RequestRecord;

/// A time as RFC 3339 (shown in a tooltip and to scripts) and as "3 min ago".
#[derive(Clone)]
pub struct When {
    pub iso: String,
    pub ago: String,
}

pub fn when(ms: Millis, now: Millis) -> When {
    When {
        iso: rfc3339(ms),
        ago: ago(now - ms),
    }
}

fn ago(ms: Millis) -> String {
    let s = ms / 1000;
    match s {
        i64::MIN..=-1 => "in the future".into(),
        0..=4 => "just now".into(),
        5..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub state: &'static str,
    pub status: String,
    pub attempts: u32,
    pub created: When,
    pub error: String,
    pub finished: bool,
}

impl DeliveryRow {
    pub fn of(d: &Delivery, now: Millis) -> Self {
        DeliveryRow {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            state: d.state.as_str(),
            status: d.last_status.map_or_else(|| "—".into(), |s| s.to_string()),
            attempts: d.attempts,
            created: when(d.created_at, now),
            error: d.last_error.clone().unwrap_or_default(),
            finished: d.state.retryable(),
        }
    }
}

pub struct AttemptRow {
    pub at: When,
    pub status: String,
    pub ok: bool,
    pub duration_ms: u64,
    pub error: String,
    pub response: String,
}

impl AttemptRow {
    pub fn of(a: &Attempt, now: Millis) -> Self {
        AttemptRow {
            at: when(a.attempted_at, now),
            status: a.status_code.map_or_else(|| "—".into(), |s| s.to_string()),
            ok: a.error.is_none() && a.status_code.is_some_and(|s| (200..300).contains(&s)),
            duration_ms: a.duration_ms,
            error: a.error.clone().unwrap_or_default(),
            response: a.response_body.clone().unwrap_or_default(),
        }
    }
}

pub struct EventRow {
    pub id: String,
    pub event_type: String,
    pub deliveries: u32,
    pub source_id: String,
    pub created: When,
}

impl EventRow {
    pub fn of(e: &Event, now: Millis) -> Self {
        EventRow {
            id: e.id.clone(),
            event_type: e.event_type.clone(),
            deliveries: e.deliveries,
            source_id: e.source_id.clone().unwrap_or_default(),
            created: when(e.created_at, now),
        }
    }
}

pub struct EndpointRow {
    pub id: String,
    /// The URL, the broker destination's address, or "pull".
    pub target: String,
    pub description: String,
    pub disabled: bool,
    pub tenant: String,
    pub created: When,
}

impl EndpointRow {
    pub fn of(e: &Endpoint, now: Millis) -> Self {
        let target = match (&e.url, &e.destination) {
            (Some(url), _) => url.clone(),
            (None, Some(d)) => match d.address() {
                Some((host, port)) => format!("{} {host}:{port}", d.kind()),
                None => d.kind().to_string(),
            },
            (None, None) => "pull (no URL)".into(),
        };
        EndpointRow {
            id: e.id.clone(),
            target,
            description: e.description.clone().unwrap_or_default(),
            disabled: e.disabled,
            tenant: e.tenant.clone().unwrap_or_default(),
            created: when(e.created_at, now),
        }
    }
}

pub struct SourceRow {
    pub id: String,
    pub name: String,
    pub scheme: String,
    pub tenant: String,
    pub created: When,
}

impl SourceRow {
    pub fn of(s: &Source, now: Millis) -> Self {
        SourceRow {
            id: s.id.clone(),
            name: s.name.clone(),
            scheme: s.spec.verify.fields().scheme.clone(),
            tenant: s.tenant.clone().unwrap_or_default(),
            created: when(s.created_at, now),
        }
    }
}

pub struct RequestRow {
    pub received: When,
    pub outcome: String,
    pub status: u16,
    pub reason: String,
    pub event_id: String,
    pub remote_ip: String,
    pub accepted: bool,
}

impl RequestRow {
    pub fn of(r: &RequestRecord, now: Millis) -> Self {
        RequestRow {
            received: when(r.received_at, now),
            outcome: r.outcome.clone(),
            status: r.status,
            reason: r.reason.clone().unwrap_or_default(),
            event_id: r.event_id.clone().unwrap_or_default(),
            remote_ip: r.remote_ip.clone(),
            accepted: (200..300).contains(&r.status),
        }
    }
}

/// A payload for reading: pretty JSON when it is JSON, else the text as it came.
pub fn pretty(payload: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(payload).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(ago(1_000), "just now");
        assert_eq!(ago(42_000), "42 s ago");
        assert_eq!(ago(3 * 60_000 + 5), "3 min ago");
        assert_eq!(ago(5 * 3_600_000), "5 h ago");
        assert_eq!(ago(3 * 86_400_000), "3 d ago");
        assert_eq!(ago(-5_000), "in the future");
    }
}
