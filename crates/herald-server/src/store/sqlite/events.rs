//! Event, delivery and attempt queries.

use rusqlite::{params, Connection, OptionalExtension};

use super::endpoints;
use super::rows::{self, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, EVENT_COLUMNS};
use crate::domain::ordering::KeySource;
use crate::domain::subscribers::Subscriber;
use crate::domain::{
    new_id_at, Attempt, Delivery, DeliveryState, Event, Millis, NewEvent, Page, PublishOutcome,
    PublishSummary, Scope,
};
use crate::store::sqlite::writer::backend;
use crate::store::{EventQuery, StoreResult};

/// A publish seen before under the same key.
fn earlier(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Option<(String, PublishSummary)>> {
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            st.query_row(p, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    PublishSummary {
                        id: r.get(1)?,
                        event_type: r.get(2)?,
                        deliveries: r.get::<_, i64>(3)? as u32,
                    },
                ))
            })
            .optional()
        })
        .map_err(backend)
}

fn repeat_or_conflict(found: Option<(String, PublishSummary)>, hash: &str) -> Option<PublishOutcome> {
    found.map(|(h, summary)| {
        if h == hash {
            PublishOutcome::Repeated(summary)
        } else {
            PublishOutcome::KeyConflict
        }
    })
}

/// Stores an event and its deliveries (this runs inside the writer's transaction).
pub fn publish(conn: &Connection, ev: NewEvent) -> StoreResult<PublishOutcome> {
    if ev.caller_id {
        let found = earlier(
            conn,
            "SELECT request_hash, id, type, deliveries FROM events \
             WHERE id = ?1 AND coalesce(tenant, '') = coalesce(?2, '')",
            params![ev.id, ev.tenant],
        )?;
        if let Some(outcome) = repeat_or_conflict(found, &ev.request_hash) {
            return Ok(outcome);
        }
    }
    if let Some(key) = &ev.idempotency_key {
        let found = earlier(
            conn,
            "SELECT request_hash, id, type, deliveries FROM events \
             WHERE coalesce(tenant, '') = coalesce(?1, '') AND idempotency_key = ?2",
            params![ev.tenant, key],
        )?;
        if let Some(outcome) = repeat_or_conflict(found, &ev.request_hash) {
            return Ok(outcome);
        }
    }
    let owed_to = endpoints::subscribers(conn, ev.tenant.as_deref())?.fan_out(&ev.event_type);
    insert_event(conn, &ev, owed_to.due.len())?;
    let owed = NewDeliveries {
        event_id: &ev.id,
        tenant: ev.tenant.as_deref(),
        now: ev.created_at,
        keys: ev.key_source(),
    };
    owed.insert(conn, &owed_to.due, DeliveryState::Pending)?;
    owed.insert(conn, &owed_to.skipped, DeliveryState::Skipped)?;
    Ok(PublishOutcome::Created(PublishSummary {
        id: ev.id,
        event_type: ev.event_type,
        deliveries: owed_to.due.len() as u32,
    }))
}

/// The event row, owed to `deliveries` endpoints.
pub fn insert_event(conn: &Connection, ev: &NewEvent, deliveries: usize) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO events (id, type, tenant, payload, content_type, idempotency_key, request_hash, \
         deliveries, created_at, source_id, headers, ordering_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut st| {
        st.execute(params![
            ev.id,
            ev.event_type,
            ev.tenant,
            ev.payload,
            ev.content_type,
            ev.idempotency_key,
            ev.request_hash,
            deliveries as i64,
            ev.created_at,
            ev.source_id,
            ev.headers,
            ev.ordering_key,
        ])
    })
    .map_err(backend)?;
    Ok(())
}

/// Delivery rows owed for one event.
pub struct NewDeliveries<'a> {
    pub event_id: &'a str,
    pub tenant: Option<&'a str>,
    pub now: Millis,
    /// What the event offers ordered endpoints to find its key.
    pub keys: KeySource<'a>,
}

impl NewDeliveries<'_> {
    /// Inserts one delivery per endpoint: `Pending` ones are due now, `Skipped` ones wait
    /// for a recovery.
    pub fn insert(&self, conn: &Connection, targets: &[Subscriber], state: DeliveryState) -> StoreResult<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let due = (state == DeliveryState::Pending).then_some(self.now);
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO deliveries (id, event_id, endpoint_id, tenant, state, attempts, next_attempt_at, \
                 created_at, updated_at, pos, ordering_key, sequence) VALUES (?1, ?2, ?3, ?4, ?5, 0, \
                 CASE WHEN ?6 IS NULL THEN NULL ELSE coalesce((SELECT max(?6, coalesce(circuit_until, 0), \
                     coalesce(paused_until, 0)) FROM endpoints WHERE id = ?3), ?6) END, ?7, ?7, \
                 CASE WHEN ?8 THEN (SELECT coalesce(max(pos), 0) + 1 FROM deliveries WHERE endpoint_id = ?3 AND pos > 0) \
                 ELSE 0 END, ?9, ?10)",
            )
            .map_err(backend)?;
        for t in targets {
            let key = t.key_of(self.keys);
            let sequence = key
                .as_deref()
                .map(|k| next_sequence(conn, &t.id, k))
                .transpose()?;
            insert
                .execute(params![
                    new_id_at("dlv", self.now),
                    self.event_id,
                    t.id,
                    self.tenant,
                    state.as_str(),
                    due,
                    self.now,
                    t.pull,
                    key,
                    sequence,
                ])
                .map_err(backend)?;
        }
        Ok(())
    }
}

/// The next sequence number of an endpoint's key (1 for a new key).
fn next_sequence(conn: &Connection, endpoint_id: &str, key: &str) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO ordering_keys (endpoint_id, key, last_sequence) VALUES (?1, ?2, 1) \
         ON CONFLICT (endpoint_id, key) DO UPDATE SET last_sequence = last_sequence + 1 RETURNING last_sequence",
    )
    .and_then(|mut st| st.query_row(params![endpoint_id, key], |r| r.get(0)))
    .map_err(backend)
}

/// Moves re-queued deliveries of a pull endpoint to the end of its stream, in their order.
pub fn to_stream_end(conn: &Connection, endpoint_id: &str, delivery_ids: &[String]) -> StoreResult<()> {
    let mut st = conn
        .prepare_cached(
            "UPDATE deliveries SET pos = (SELECT coalesce(max(pos), 0) + 1 FROM deliveries \
             WHERE endpoint_id = ?1 AND pos > 0) WHERE id = ?2 AND pos > 0",
        )
        .map_err(backend)?;
    for id in delivery_ids {
        st.execute(params![endpoint_id, id]).map_err(backend)?;
    }
    Ok(())
}

/// Publishes an operational event (`herald.…`) from inside a store transaction, so it
/// commits with the change it reports.
pub fn publish_internal(
    conn: &Connection,
    event_type: &str,
    tenant: Option<&str>,
    payload: serde_json::Value,
    now: Millis,
) -> StoreResult<()> {
    for ev in NewEvent::operational(event_type, tenant, payload, now) {
        publish(conn, ev)?;
    }
    Ok(())
}

pub fn get(conn: &Connection, scope: &Scope, id: &str) -> StoreResult<Option<Event>> {
    // Ids are unique per tenant; an admin asking for one that several tenants used gets the
    // operator's own event first, then the oldest.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2) \
         ORDER BY tenant IS NOT NULL, seq LIMIT 1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row(params![id, scope.tenant()], rows::event).optional())
        .map_err(backend)
}

/// Newest first; the cursor is the position of the last event returned.
pub fn list(conn: &Connection, scope: &Scope, q: &EventQuery) -> StoreResult<Page<Event>> {
    let Some(tenant) = scope.list_filter(q.tenant.as_deref()) else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let cursor: Option<i64> = q.cursor.as_deref().and_then(|c| c.parse().ok());
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR type = ?2) \
         AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR seq < ?4) ORDER BY seq DESC LIMIT ?5"
    );
    let items: Vec<Event> = conn
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(
                params![tenant, q.event_type, q.since, cursor, (q.limit + 1) as i64],
                rows::event,
            )?
            .collect()
        })
        .map_err(backend)?;
    Ok(Page::from_overfetch(items, q.limit, |e| e.seq.to_string()))
}

pub fn deliveries(conn: &Connection, scope: &Scope, event_id: &str) -> StoreResult<Option<Vec<Delivery>>> {
    let Some(event) = get(conn, scope, event_id)? else {
        return Ok(None);
    };
    let sql =
        format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ?1 AND coalesce(tenant, '') = coalesce(?2, '') ORDER BY id");
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params![event_id, event.tenant], rows::delivery)?
                .collect()
        })
        .map(Some)
        .map_err(backend)
}

pub fn delivery(conn: &Connection, scope: &Scope, id: &str) -> StoreResult<Option<Delivery>> {
    let sql =
        format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)");
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_row(params![id, scope.tenant()], rows::delivery)
                .optional()
        })
        .map_err(backend)
}

pub fn attempts(conn: &Connection, scope: &Scope, delivery_id: &str) -> StoreResult<Option<Vec<Attempt>>> {
    if delivery(conn, scope, delivery_id)?.is_none() {
        return Ok(None);
    }
    let sql =
        format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ?1 ORDER BY attempted_at, id");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_map(params![delivery_id], rows::attempt)?.collect())
        .map(Some)
        .map_err(backend)
}
