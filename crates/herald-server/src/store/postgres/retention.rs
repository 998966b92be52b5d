//! Retention: deletes what is older than the configured age, in batches.

use super::db::{exec, get, query, Tx};
use crate::domain::Millis;
use crate::store::{Purged, StoreResult};

/// Deletes up to `limit` of each kind of record older than `cutoff`; events only when
/// they owe nothing.
pub async fn purge(tx: &Tx<'_>, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
    let limit = limit as i64;
    let rows = query(
        tx,
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events e WHERE e.created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
             AND coalesce(d.tenant, '') = coalesce(e.tenant, '') AND d.state IN ('pending', 'delivering')) \
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, coalesce(tenant, '')",
        &[&cutoff, &limit],
    )
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?;
    let tenants: Vec<String> = rows.iter().map(|r| get(r, 1)).collect::<StoreResult<_>>()?;
    let owned = "SELECT d.id FROM deliveries d JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS k(id, tenant) \
                 ON d.event_id = k.id AND coalesce(d.tenant, '') = k.tenant";
    let mut attempts = exec(
        tx,
        &format!("DELETE FROM attempts WHERE delivery_id IN ({owned})"),
        &[&ids, &tenants],
    )
    .await? as usize;
    exec(
        tx,
        &format!("DELETE FROM deliveries WHERE id IN ({owned})"),
        &[&ids, &tenants],
    )
    .await?;
    attempts += exec(
        tx,
        "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < $1 LIMIT $2)",
        &[&cutoff, &limit],
    )
    .await? as usize;
    let requests = exec(
        tx,
        "DELETE FROM inbound_requests WHERE id IN \
         (SELECT id FROM inbound_requests WHERE received_at < $1 LIMIT $2)",
        &[&cutoff, &limit],
    )
    .await? as usize;
    exec(
        tx,
        "DELETE FROM inbound_dedup WHERE (source_id, key) IN \
         (SELECT source_id, key FROM inbound_dedup WHERE seen_at < $1 LIMIT $2)",
        &[&cutoff, &limit],
    )
    .await?;
    Ok(Purged {
        events: ids.len(),
        attempts,
        requests,
    })
}
