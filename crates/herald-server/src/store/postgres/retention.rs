//! Retention row by row: deletes what is older than the cutoff, in batches, from each
//! table's default partition and from the spans past retention that `partitions` had to
//! keep because something in them is owed. (Every other span is dropped whole.)

use super::db::{exec, exec_planned, get, query_planned, Tx};
use super::partitions;
use crate::domain::Millis;
use crate::store::{Purged, StoreResult};

/// Deletes up to `limit` of each kind of record older than `cutoff` in each place rows are
/// purged one by one; events only when they owe nothing.
pub async fn purge(tx: &Tx<'_>, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
    let limit = limit as i64;
    let kept = partitions::expired(tx, cutoff).await?;
    let places = std::iter::once(None).chain(kept.into_iter().map(Some));
    let mut purged = Purged::default();
    for span in places {
        let part = |table: &str| span.map_or(partitions::Span::default_table(table), |s| s.table(table));
        let (events, attempts) = purge_events(tx, &part("events"), cutoff, limit).await?;
        purged.events += events;
        purged.attempts += attempts;
        let attempts = part("attempts");
        purged.attempts += exec_planned(
            tx,
            &format!("DELETE FROM {attempts} WHERE id IN (SELECT id FROM {attempts} WHERE attempted_at < $1 LIMIT $2)"),
            &[&cutoff, &limit],
        )
        .await? as usize;
    }
    purged.requests = exec(
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
    Ok(purged)
}

/// Deletes up to `limit` events of the partition `events` older than `cutoff` that owe
/// nothing, with their deliveries and attempts wherever those are; how many events and
/// attempts went.
async fn purge_events(tx: &Tx<'_>, events: &str, cutoff: Millis, limit: i64) -> StoreResult<(usize, usize)> {
    let rows = query_planned(
        tx,
        &format!(
            "DELETE FROM {events} WHERE seq IN (SELECT seq FROM {events} e WHERE e.created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
                 AND coalesce(d.tenant, '') = coalesce(e.tenant, '') AND d.state IN ('pending', 'delivering')) \
             ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, coalesce(tenant, ''), idempotency_key"
        ),
        &[&cutoff, &limit],
    )
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?;
    let tenants: Vec<String> = rows.iter().map(|r| get(r, 1)).collect::<StoreResult<_>>()?;
    let keys: Vec<Option<String>> = rows.iter().map(|r| get(r, 2)).collect::<StoreResult<_>>()?;
    exec(
        tx,
        "DELETE FROM idempotency_keys k USING UNNEST($1::TEXT[], $2::TEXT[]) AS u(tenant, key) \
         WHERE k.tenant = u.tenant AND k.key = u.key",
        &[&tenants, &keys],
    )
    .await?;
    let owned = "SELECT d.id FROM deliveries d JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS k(id, tenant) \
                 ON d.event_id = k.id AND coalesce(d.tenant, '') = k.tenant";
    let attempts = exec(
        tx,
        &format!("DELETE FROM attempts WHERE delivery_id IN ({owned})"),
        &[&ids, &tenants],
    )
    .await?;
    exec(
        tx,
        &format!("DELETE FROM deliveries WHERE id IN ({owned})"),
        &[&ids, &tenants],
    )
    .await?;
    Ok((ids.len(), attempts as usize))
}
