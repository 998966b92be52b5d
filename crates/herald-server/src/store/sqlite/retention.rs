//! Retention: deletes what is older than the configured age, in small batches so the
//! writer is never held for long. Events that still owe a delivery are kept.

use rusqlite::{params, Connection};

use super::writer::backend;
use crate::domain::Millis;
use crate::store::{Purged, StoreResult};

pub fn purge(conn: &Connection, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
    let ids: Vec<(String, Option<String>)> = conn
        .prepare_cached(
            "DELETE FROM events WHERE seq IN (SELECT seq FROM events e WHERE e.created_at < ?1 AND NOT EXISTS \
             (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND coalesce(d.tenant, '') = coalesce(e.tenant, '') \
                 AND d.state IN ('pending', 'delivering')) \
             ORDER BY seq LIMIT ?2) RETURNING id, tenant",
        )
        .and_then(|mut st| {
            st.query_map(params![cutoff, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(backend)?;
    let mut attempts = 0;
    {
        let mut drop_attempts = conn
            .prepare_cached(
                "DELETE FROM attempts WHERE delivery_id IN \
                 (SELECT id FROM deliveries WHERE event_id = ?1 AND coalesce(tenant, '') = coalesce(?2, ''))",
            )
            .map_err(backend)?;
        let mut drop_deliveries = conn
            .prepare_cached(
                "DELETE FROM deliveries WHERE event_id = ?1 AND coalesce(tenant, '') = coalesce(?2, '')",
            )
            .map_err(backend)?;
        for (id, tenant) in &ids {
            attempts += drop_attempts.execute(params![id, tenant]).map_err(backend)?;
            drop_deliveries.execute(params![id, tenant]).map_err(backend)?;
        }
    }
    let by_age = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute(params![cutoff, limit as i64]))
            .map_err(backend)
    };
    attempts += by_age(
        "DELETE FROM attempts WHERE rowid IN (SELECT rowid FROM attempts WHERE attempted_at < ?1 LIMIT ?2)",
    )?;
    let requests = by_age(
        "DELETE FROM inbound_requests WHERE rowid IN \
         (SELECT rowid FROM inbound_requests WHERE received_at < ?1 LIMIT ?2)",
    )?;
    by_age("DELETE FROM inbound_dedup WHERE rowid IN (SELECT rowid FROM inbound_dedup WHERE seen_at < ?1 LIMIT ?2)")?;
    Ok(Purged {
        events: ids.len(),
        attempts,
        requests,
    })
}
