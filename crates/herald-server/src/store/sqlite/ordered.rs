//! Ordered keys: an endpoint's blocked and parked keys, and an operator's resume or skip
//! of a key's head (the rule is `domain::ordering::key_action`).

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, DELIVERY_COLUMNS};
use super::writer::backend;
use crate::domain::ordering::{key_action, KeyAction, KeyChange};
use crate::domain::{Delivery, Millis, Scope};
use crate::store::{KeyOutcome, StoreResult};

/// (blocked keys, parked keys) of an endpoint.
pub fn key_counts(conn: &Connection, endpoint_id: &str) -> StoreResult<(u64, u64)> {
    conn.prepare_cached(concat!(
        key_counts!(),
        " AND d.endpoint_id = ?1 GROUP BY d.endpoint_id"
    ))
    .and_then(|mut st| {
        st.query_row(params![endpoint_id], |r| {
            Ok((r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
        })
        .optional()
    })
    .map(|found| found.unwrap_or((0, 0)))
    .map_err(backend)
}

/// The endpoints with blocked or parked keys (at most 100), for the metrics.
pub fn all_key_counts(conn: &Connection) -> StoreResult<Vec<(String, u64, u64)>> {
    conn.prepare_cached(concat!(
        key_counts!(),
        " GROUP BY d.endpoint_id ORDER BY d.endpoint_id LIMIT 100"
    ))
    .and_then(|mut st| {
        st.query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
        })?
        .collect()
    })
    .map_err(backend)
}

/// The head of a key: a delivery of it in flight, else its lowest-sequence owed one.
fn head(conn: &Connection, endpoint_id: &str, key: &str) -> StoreResult<Option<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = ?1 AND ordering_key = ?2 \
         AND state IN ('pending', 'delivering') ORDER BY state = 'delivering' DESC, sequence LIMIT 1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row(params![endpoint_id, key], rows::delivery).optional())
        .map_err(backend)
}

/// Makes the deliveries waiting behind `after` in a key due at `due` (never, for `None`).
pub fn set_waiting(
    conn: &Connection,
    endpoint_id: &str,
    key: &str,
    after: i64,
    due: Option<Millis>,
) -> StoreResult<usize> {
    conn.prepare_cached(concat!(
        "UPDATE deliveries SET next_attempt_at = ?4 WHERE endpoint_id = ?1 AND ordering_key = ?2 \
         AND sequence > ?3 AND ",
        waiting!()
    ))
    .and_then(|mut st| st.execute(params![endpoint_id, key, after, due]))
    .map_err(backend)
}

pub fn act(
    conn: &Connection,
    scope: &Scope,
    endpoint_id: &str,
    key: &str,
    action: KeyAction,
    now: Millis,
) -> StoreResult<Option<KeyOutcome>> {
    if super::endpoints::get(conn, scope, endpoint_id)?.is_none() {
        return Ok(None);
    }
    let found = head(conn, endpoint_id, key)?;
    let change = match key_action(action, found.as_ref()) {
        Ok(c) => c,
        Err(refusal) => return Ok(Some(KeyOutcome::Refused(refusal))),
    };
    let head = found.expect("key_action refuses a missing head");
    let sequence = head.ordering.as_ref().map_or(0, |p| p.sequence);
    match change {
        KeyChange::RetryNow => conn.prepare_cached(
            "UPDATE deliveries SET next_attempt_at = ?2, round_attempts = 0, updated_at = ?2 WHERE id = ?1",
        )
        .and_then(|mut st| st.execute(params![head.id, now]))
        .map_err(backend),
        KeyChange::Fail(error) => conn
            .prepare_cached(
                "UPDATE deliveries SET state = 'failed', next_attempt_at = NULL, last_error = ?3, \
                 updated_at = ?2 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![head.id, now, error]))
            .map_err(backend)
            .and_then(|_| set_waiting(conn, endpoint_id, key, sequence, Some(now))),
    }?;
    let now_head = super::events::delivery(conn, scope, &head.id)?.expect("the row was just updated");
    Ok(Some(KeyOutcome::Done(now_head)))
}
