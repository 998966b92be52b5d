//! The delivery queue: claim with a lease, record an attempt, release.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::health;
use super::rows::{self, ENDPOINT_COLUMNS, EVENT_COLUMNS};
use crate::domain::ordering::{waiting_due, KeyPosition};
use crate::domain::{Endpoint, Event, Millis};
use crate::store::sqlite::writer::backend;
use crate::store::{AttemptRecord, ClaimRequest, EndpointQueue, Job, QueueStats, StoreError, StoreResult};

/// Puts deliveries whose lease ran out back in the queue (their worker died).
pub fn expire_leases(conn: &Connection, now: Millis) -> StoreResult<usize> {
    conn.prepare_cached(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL, next_attempt_at = ?1, updated_at = ?1 \
         WHERE state = 'delivering' AND lease_until <= ?1",
    )
    .and_then(|mut st| st.execute(params![now]))
    .map_err(backend)
}

/// Every lease held by an earlier process of this embedded store is orphaned at start.
pub fn release_all_leases(conn: &Connection, now: Millis) -> StoreResult<usize> {
    conn.prepare_cached(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL, next_attempt_at = ?1, updated_at = ?1 \
         WHERE state = 'delivering'",
    )
    .and_then(|mut st| st.execute(params![now]))
    .map_err(backend)
}

/// A claimed delivery row: (id, event key, endpoint id, round attempts, probe, its place
/// in its key's order).
type Claimed = (String, EventKey, String, u32, bool, Option<KeyPosition>);

/// What a claim returns of each row ([`claimed_row`] reads it).
const CLAIMED: &str = "RETURNING id, event_id, tenant, endpoint_id, round_attempts, ordering_key, sequence";

/// Leases due deliveries: first one probe per endpoint whose open circuit may be probed
/// now (its oldest due delivery; the probe's lease holds the circuit meanwhile), then due
/// deliveries of endpoints that are neither paused nor open.
pub fn claim(conn: &Connection, req: &ClaimRequest) -> StoreResult<Vec<Job>> {
    let exclude = serde_json::to_string(&req.exclude_endpoints).expect("strings serialize");
    let mut claimed = Vec::new();
    if req.sweep {
        expire_leases(conn, req.now)?;
        claimed = claim_probes(conn, req, &exclude)?;
    }
    let room = req.limit.saturating_sub(claimed.len());
    claimed.extend(
        conn.prepare_cached(&format!(
            "UPDATE deliveries SET state = 'delivering', lease_until = ?1, updated_at = ?2 \
             WHERE id IN (SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
                 WHERE d.state = 'pending' AND d.next_attempt_at <= ?2 AND e.disabled = 0 AND {} \
                 AND (e.paused_until IS NULL OR e.paused_until <= ?2) AND e.circuit_wait_ms IS NULL \
                 AND d.endpoint_id NOT IN (SELECT value FROM json_each(?3)) AND {} \
                 ORDER BY d.next_attempt_at LIMIT ?4) {CLAIMED}",
            pushes!("e."),
            key_is_free!()
        ))
        .and_then(|mut st| {
            st.query_map(params![req.lease_until, req.now, exclude, room as i64], |r| {
                claimed_row(r, false)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?,
    );
    jobs_of(conn, claimed)
}

fn claimed_row(r: &rusqlite::Row<'_>, probe: bool) -> rusqlite::Result<Claimed> {
    Ok((
        r.get(0)?,
        (r.get(1)?, r.get(2)?),
        r.get(3)?,
        r.get::<_, i64>(4)? as u32,
        probe,
        KeyPosition::from_columns(r.get(5)?, r.get(6)?),
    ))
}

/// One probe per open circuit whose wait is over.
fn claim_probes(conn: &Connection, req: &ClaimRequest, exclude: &str) -> StoreResult<Vec<Claimed>> {
    let probing: Vec<String> = conn
        .prepare_cached(concat!(
            "SELECT id FROM endpoints WHERE circuit_wait_ms IS NOT NULL AND circuit_until <= ?1 \
             AND disabled = 0 AND ",
            pushes!(""),
            " AND (paused_until IS NULL OR paused_until <= ?1) \
             AND id NOT IN (SELECT value FROM json_each(?2))",
        ))
        .and_then(|mut st| st.query_map(params![req.now, exclude], |r| r.get(0))?.collect())
        .map_err(backend)?;
    let mut out = Vec::new();
    for endpoint_id in probing.into_iter().take(req.limit) {
        let probe = conn
            .prepare_cached(&format!(
                "UPDATE deliveries SET state = 'delivering', lease_until = ?1, updated_at = ?2 \
                 WHERE id = (SELECT d.id FROM deliveries d WHERE d.endpoint_id = ?3 AND d.state = 'pending' \
                     AND d.next_attempt_at <= ?2 AND {} ORDER BY d.next_attempt_at LIMIT 1) {CLAIMED}",
                key_is_free!()
            ))
            .and_then(|mut st| {
                st.query_row(params![req.lease_until, req.now, endpoint_id], |r| {
                    claimed_row(r, true)
                })
                .optional()
            })
            .map_err(backend)?;
        if let Some(p) = probe {
            conn.prepare_cached("UPDATE endpoints SET circuit_until = ?2 WHERE id = ?1")
                .and_then(|mut st| st.execute(params![endpoint_id, req.lease_until]))
                .map_err(backend)?;
            out.push(p);
        }
    }
    Ok(out)
}

fn jobs_of(conn: &Connection, claimed: Vec<Claimed>) -> StoreResult<Vec<Job>> {
    let mut events: HashMap<EventKey, Arc<Event>> = HashMap::new();
    let mut eps: HashMap<String, Arc<Endpoint>> = HashMap::new();
    let mut jobs = Vec::with_capacity(claimed.len());
    for (delivery_id, event_id, endpoint_id, attempts, probe, ordering) in claimed {
        let event = match events.get(&event_id) {
            Some(e) => e.clone(),
            None => {
                let e = Arc::new(load_event(conn, &event_id.0, event_id.1.as_deref())?);
                events.insert(event_id, e.clone());
                e
            }
        };
        let endpoint = match eps.get(&endpoint_id) {
            Some(e) => e.clone(),
            None => {
                let e = Arc::new(load_endpoint(conn, &endpoint_id)?);
                eps.insert(endpoint_id, e.clone());
                e
            }
        };
        jobs.push(Job {
            delivery_id,
            round_attempts: attempts,
            event,
            endpoint,
            probe,
            ordering,
        });
    }
    // RETURNING gives no order: start the batch in publish order.
    jobs.sort_by_key(|j| j.event.seq);
    Ok(jobs)
}

/// An event as a delivery names it: ids are unique per tenant.
type EventKey = (String, Option<String>);

/// Finds an event by (id, tenant) through the `events_by_id` index on
/// `(id, coalesce(tenant, ''))`; `tenant IS ?2` would let the planner scan by tenant.
const EVENT_BY_KEY: &str = "FROM events WHERE id = ?1 AND coalesce(tenant, '') = coalesce(?2, '')";

pub(super) fn load_event(conn: &Connection, id: &str, tenant: Option<&str>) -> StoreResult<Event> {
    let sql = format!("SELECT {EVENT_COLUMNS} {EVENT_BY_KEY}");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row(params![id, tenant], rows::event).optional())
        .map_err(backend)?
        .ok_or_else(|| StoreError::Corrupt(format!("delivery refers to missing event {id}")))
}

fn load_endpoint(conn: &Connection, id: &str) -> StoreResult<Endpoint> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row(params![id], rows::endpoint).optional())
        .map_err(backend)?
        .ok_or_else(|| StoreError::Corrupt(format!("claimed delivery of missing endpoint {id}")))
}

pub fn record_attempt(conn: &Connection, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    let a = &rec.attempt;
    conn.prepare_cached(
        "INSERT INTO attempts (id, delivery_id, attempted_at, status_code, duration_ms, error, response_body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.id,
            a.delivery_id,
            a.attempted_at,
            a.status_code.map(i64::from),
            a.duration_ms as i64,
            a.error,
            a.response_body,
        ])
    })
    .map_err(backend)?;
    let (state, next_at) = rec.next.state_after();
    let state = state.as_str();
    conn.prepare_cached(
        // A delivery finished while the attempt was in flight (its endpoint was deleted or
        // answered 410) keeps its final state; the attempt is still counted and logged.
        "UPDATE deliveries SET \
         state = CASE WHEN state IN ('pending', 'delivering') THEN ?2 ELSE state END, \
         next_attempt_at = CASE WHEN state IN ('pending', 'delivering') THEN ?3 ELSE next_attempt_at END, \
         attempts = attempts + 1, round_attempts = round_attempts + 1, lease_until = NULL, \
         last_attempt_at = ?4, last_status = ?5, \
         last_error = CASE WHEN state IN ('pending', 'delivering') THEN ?6 ELSE last_error END, \
         updated_at = ?7 WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.delivery_id,
            state,
            next_at,
            a.attempted_at,
            a.status_code.map(i64::from),
            a.error,
            now,
        ])
    })
    .map_err(backend)?;
    move_waiting(conn, rec, now)?;
    health::after_attempt(conn, rec, now)
}

/// Moves the deliveries waiting behind a keyed delivery to when they may go
/// (`ordering::waiting_due`): with its retry, now, or (parked) not until a resume.
fn move_waiting(conn: &Connection, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    let (Some(position), Some(due)) = (&rec.ordering, waiting_due(&rec.next, now)) else {
        return Ok(());
    };
    super::ordered::set_waiting(conn, &rec.endpoint_id, &position.key, position.sequence, due)?;
    Ok(())
}

pub fn release(conn: &Connection, ids: &[String], now: Millis) -> StoreResult<()> {
    let mut st = conn
        .prepare_cached(
            "UPDATE deliveries SET state = 'pending', lease_until = NULL, updated_at = ?2 \
             WHERE id = ?1 AND state = 'delivering'",
        )
        .map_err(backend)?;
    for id in ids {
        st.execute(params![id, now]).map_err(backend)?;
    }
    Ok(())
}

pub fn next_due_at(conn: &Connection) -> StoreResult<Option<Millis>> {
    conn.prepare_cached(concat!(
        "SELECT d.next_attempt_at FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
         WHERE d.state = 'pending' AND d.next_attempt_at IS NOT NULL AND e.disabled = 0 AND ",
        pushes!("e."),
        " ORDER BY d.next_attempt_at LIMIT 1",
    ))
    .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
    .map_err(backend)
}

pub fn endpoint_queue(conn: &Connection, endpoint_id: &str) -> StoreResult<EndpointQueue> {
    let (blocked_keys, parked_keys) = super::ordered::key_counts(conn, endpoint_id)?;
    conn.prepare_cached(
        "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'delivering'), \
         min(created_at) FILTER (WHERE state = 'pending') \
         FROM deliveries WHERE endpoint_id = ?1 AND state IN ('pending', 'delivering')",
    )
    .and_then(|mut st| {
        st.query_row(params![endpoint_id], |r| {
            Ok(EndpointQueue {
                pending: r.get::<_, i64>(0)? as u64,
                in_flight: r.get::<_, i64>(1)? as u64,
                oldest_pending_at: r.get(2)?,
                blocked_keys,
                parked_keys,
            })
        })
    })
    .map_err(backend)
}

pub fn stats(conn: &Connection, now: Millis) -> StoreResult<QueueStats> {
    let by_state = conn
        .prepare_cached("SELECT state, count(*) FROM deliveries GROUP BY state")
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
        .map_err(backend)?;
    let oldest_due_at = conn
        .prepare_cached(
            "SELECT min(next_attempt_at) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?1",
        )
        .and_then(|mut st| st.query_row(params![now], |r| r.get(0)))
        .map_err(backend)?;
    let top_failing = conn
        .prepare_cached(
            "SELECT endpoint_id, count(*) AS n FROM deliveries WHERE state = 'failed' \
             GROUP BY endpoint_id ORDER BY n DESC LIMIT 20",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
        .map_err(backend)?;
    let held = conn
        .prepare_cached(
            "SELECT id, circuit_wait_ms IS NOT NULL, coalesce(paused_until > ?1, 0) FROM endpoints \
             WHERE circuit_wait_ms IS NOT NULL OR paused_until > ?1 ORDER BY id LIMIT 100",
        )
        .and_then(|mut st| {
            st.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(backend)?;
    Ok(QueueStats {
        by_state,
        oldest_due_at,
        top_failing,
        held,
        keys: super::ordered::all_key_counts(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of a query with bound (not literal) parameters, as the statements run.
    fn plan(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows: Vec<String> = st
            .query_map(args, |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows.join("; ")
    }

    #[test]
    fn a_claimed_delivery_finds_its_event_by_the_id_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("plan.db")).unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let by_key = plan(
            &conn,
            &format!("SELECT id {EVENT_BY_KEY}"),
            params!["evt_1", None::<String>],
        );
        assert!(by_key.contains("events_by_id (id=? AND <expr>=?)"), "{by_key}");
        let bad = plan(
            &conn,
            "SELECT id FROM events WHERE id = ?1 AND tenant IS ?2",
            params!["evt_1", None::<String>],
        );
        assert!(
            !bad.contains("<expr>"),
            "the form this guards against plans otherwise: {bad}"
        );
    }
}
