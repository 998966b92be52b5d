//! Pull endpoints: deliveries read by consumers instead of pushed. Long-poll claims with a
//! lease and explicit acks; the stream reads in stream order (`pos`, the cursor: a
//! delivery sent again moves to the end) and treats a resume cursor as an ack of
//! everything up to it.

use rusqlite::{params, Connection};

use super::rows::{self, EVENT_COLUMNS};
use super::writer::backend;
use crate::domain::ordering::KeyPosition;
use crate::domain::{Millis, Scope};
use crate::store::{PulledDelivery, StoreResult};

fn owns(conn: &Connection, scope: &Scope, endpoint_id: &str) -> StoreResult<bool> {
    Ok(super::endpoints::get(conn, scope, endpoint_id)?.is_some())
}

fn event_columns_prefixed() -> String {
    EVENT_COLUMNS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pulled(r: &rusqlite::Row<'_>) -> rusqlite::Result<PulledDelivery> {
    // Columns: cursor, delivery id, attempts, ordering key and sequence, then the event's.
    let event = rows::event_at(r, 5)?;
    Ok(PulledDelivery {
        cursor: r.get(0)?,
        delivery_id: r.get(1)?,
        attempts: r.get::<_, i64>(2)? as u32,
        event,
        ordering: KeyPosition::from_columns(r.get(3)?, r.get(4)?),
    })
}

/// A leased row: (cursor, delivery id, attempts, event id, tenant, place in its key).
type LeasedRow = (i64, String, u32, String, Option<String>, Option<KeyPosition>);

/// Leases up to `max` due deliveries of a pull endpoint, oldest first. `None` when the
/// endpoint is not visible in `scope`.
pub fn claim(
    conn: &Connection,
    scope: &Scope,
    endpoint_id: &str,
    max: usize,
    lease_until: Millis,
    now: Millis,
) -> StoreResult<Option<Vec<PulledDelivery>>> {
    if !owns(conn, scope, endpoint_id)? {
        return Ok(None);
    }
    conn.prepare_cached(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL, updated_at = ?2 \
         WHERE endpoint_id = ?1 AND state = 'delivering' AND lease_until <= ?2",
    )
    .and_then(|mut st| st.execute(params![endpoint_id, now]))
    .map_err(backend)?;
    // An ordered key's deliveries are leased one at a time, in order (`key_is_free!`).
    let claimed: Vec<LeasedRow> = conn
        .prepare_cached(concat!(
            "UPDATE deliveries SET state = 'delivering', lease_until = ?3, attempts = attempts + 1, \
             last_attempt_at = ?2, updated_at = ?2 WHERE rowid IN ( \
                 SELECT d.rowid FROM deliveries d WHERE d.endpoint_id = ?1 AND d.state = 'pending' \
                 AND d.next_attempt_at <= ?2 AND ",
            key_is_free!(),
            " ORDER BY d.pos LIMIT ?4) \
             RETURNING pos, id, attempts, event_id, tenant, ordering_key, sequence"
        ))
        .and_then(|mut st| {
            st.query_map(params![endpoint_id, now, lease_until, max as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u32,
                    r.get(3)?,
                    r.get(4)?,
                    KeyPosition::from_columns(r.get(5)?, r.get(6)?),
                ))
            })?
            .collect()
        })
        .map_err(backend)?;
    let mut out = Vec::with_capacity(claimed.len());
    for (cursor, delivery_id, attempts, event_id, tenant, ordering) in claimed {
        let event = super::queue::load_event(conn, &event_id, tenant.as_deref())?;
        out.push(PulledDelivery {
            cursor,
            delivery_id,
            attempts,
            event,
            ordering,
        });
    }
    out.sort_by_key(|p| p.cursor);
    Ok(Some(out))
}

/// Marks leased or pending deliveries of the endpoint as delivered. `None` when the
/// endpoint is not visible.
pub fn ack(
    conn: &Connection,
    scope: &Scope,
    endpoint_id: &str,
    ids: &[String],
    now: Millis,
) -> StoreResult<Option<usize>> {
    if !owns(conn, scope, endpoint_id)? {
        return Ok(None);
    }
    let mut st = conn
        .prepare_cached(
            "UPDATE deliveries SET state = 'succeeded', lease_until = NULL, next_attempt_at = NULL, \
             last_error = NULL, updated_at = ?3 WHERE id = ?1 AND endpoint_id = ?2 AND state IN ('pending', 'delivering')",
        )
        .map_err(backend)?;
    let mut n = 0;
    for id in ids {
        n += st.execute(params![id, endpoint_id, now]).map_err(backend)?;
    }
    Ok(Some(n))
}

/// Extends the leases of the endpoint's deliveries that are still being delivered. `None`
/// when the endpoint is not visible.
pub fn extend(
    conn: &Connection,
    scope: &Scope,
    endpoint_id: &str,
    ids: &[String],
    lease_until: Millis,
    now: Millis,
) -> StoreResult<Option<usize>> {
    if !owns(conn, scope, endpoint_id)? {
        return Ok(None);
    }
    let mut st = conn
        .prepare_cached(
            "UPDATE deliveries SET lease_until = ?3, updated_at = ?4 \
             WHERE id = ?1 AND endpoint_id = ?2 AND state = 'delivering'",
        )
        .map_err(backend)?;
    let mut n = 0;
    for id in ids {
        n += st
            .execute(params![id, endpoint_id, lease_until, now])
            .map_err(backend)?;
    }
    Ok(Some(n))
}

/// A stream consumer that resumes after `cursor` has received everything up to it; `None`
/// when no delivery of the endpoint ever had that position.
pub fn ack_upto(
    conn: &Connection,
    endpoint_id: &str,
    cursor: i64,
    now: Millis,
) -> StoreResult<Option<usize>> {
    let last: i64 = conn
        .prepare_cached("SELECT coalesce(max(pos), 0) FROM deliveries WHERE endpoint_id = ?1 AND pos > 0")
        .and_then(|mut st| st.query_row(params![endpoint_id], |r| r.get(0)))
        .map_err(backend)?;
    if cursor > last {
        return Ok(None);
    }
    conn.prepare_cached(
        "UPDATE deliveries SET state = 'succeeded', lease_until = NULL, next_attempt_at = NULL, \
         attempts = attempts + 1, last_attempt_at = ?3, updated_at = ?3 \
         WHERE endpoint_id = ?1 AND pos > 0 AND pos <= ?2 AND state IN ('pending', 'delivering')",
    )
    .and_then(|mut st| st.execute(params![endpoint_id, cursor, now]))
    .map(Some)
    .map_err(backend)
}

/// The next pending deliveries of the endpoint after `cursor`, in insertion order.
pub fn read_after(
    conn: &Connection,
    endpoint_id: &str,
    cursor: i64,
    limit: usize,
) -> StoreResult<Vec<PulledDelivery>> {
    let sql = format!(
        "SELECT d.pos, d.id, d.attempts, d.ordering_key, d.sequence, {} FROM deliveries d JOIN events e ON e.id = d.event_id AND coalesce(e.tenant, '') = coalesce(d.tenant, '') \
         WHERE d.endpoint_id = ?1 AND d.pos > ?2 AND d.state = 'pending' ORDER BY d.pos LIMIT ?3",
        event_columns_prefixed()
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params![endpoint_id, cursor, limit as i64], pulled)?
                .collect()
        })
        .map_err(backend)
}
