//! Pull endpoints: long-poll claims with a lease and explicit acks, and the stream read in
//! stream-position order (`pos`, the cursor; see `NewDeliveries::insert`).

use super::db::{self, event_columns_of, exec, get, query, Tx};
use super::endpoints;
use crate::domain::ordering::KeyPosition;
use crate::domain::{Millis, Scope};
use crate::store::{PulledDelivery, StoreResult};

fn pulled(r: &tokio_postgres::Row) -> StoreResult<PulledDelivery> {
    // Columns: cursor, delivery id, attempts, ordering key and sequence, then the event's.
    Ok(PulledDelivery {
        cursor: get(r, 0)?,
        delivery_id: get(r, 1)?,
        attempts: get::<i64>(r, 2)? as u32,
        event: db::event_at(r, 5)?,
        ordering: KeyPosition::from_columns(get(r, 3)?, get(r, 4)?),
    })
}

/// Leases up to `max` due deliveries of a pull endpoint, oldest first; consumers on any
/// node skip each other's rows. `None` when the endpoint is not visible in `scope`.
pub async fn claim(
    tx: &Tx<'_>,
    scope: &Scope,
    endpoint_id: &str,
    max: usize,
    lease_until: Millis,
    now: Millis,
) -> StoreResult<Option<Vec<PulledDelivery>>> {
    if endpoints::get_visible(tx, scope, endpoint_id).await?.is_none() {
        return Ok(None);
    }
    // Not SKIP LOCKED: a lease another transaction is expiring right now (a worker's
    // claim expires every lease that ran out) is waited for, so a consumer is never told
    // "nothing" while what it is owed is being put back.
    exec(
        tx,
        "UPDATE deliveries SET state = 'pending', lease_until = NULL, updated_at = $2 \
         WHERE id IN (SELECT id FROM deliveries WHERE endpoint_id = $1 AND state = 'delivering' \
             AND lease_until <= $2 FOR UPDATE)",
        &[&endpoint_id, &now],
    )
    .await?;
    // An ordered key's deliveries are leased one at a time, in order (`key_is_free!`).
    let sql = format!(
        concat!(
            "WITH picked AS ( \
             SELECT d.id FROM deliveries d WHERE d.endpoint_id = $1 AND d.pos > 0 AND d.state = 'pending' \
             AND d.next_attempt_at <= $2 AND ",
            key_is_free!(),
            " ORDER BY d.pos LIMIT $4 FOR UPDATE SKIP LOCKED), \
         leased AS ( \
             UPDATE deliveries d SET state = 'delivering', lease_until = $3, attempts = attempts + 1, \
             last_attempt_at = $2, updated_at = $2 FROM picked WHERE d.id = picked.id \
             RETURNING d.pos, d.id, d.attempts, d.event_id, d.tenant, d.ordering_key, d.sequence) \
         SELECT l.pos, l.id, l.attempts, l.ordering_key, l.sequence, {} FROM leased l \
         JOIN events e ON e.id = l.event_id AND coalesce(e.tenant, '') = coalesce(l.tenant, '') ORDER BY l.pos"
        ),
        event_columns_of("e")
    );
    let rows = query(tx, &sql, &[&endpoint_id, &now, &lease_until, &(max as i64)]).await?;
    db::all(&rows, pulled).map(Some)
}

/// Marks leased or pending deliveries of the endpoint as delivered. `None` when the
/// endpoint is not visible.
pub async fn ack(
    tx: &Tx<'_>,
    scope: &Scope,
    endpoint_id: &str,
    ids: &[String],
    now: Millis,
) -> StoreResult<Option<usize>> {
    if endpoints::get_visible(tx, scope, endpoint_id).await?.is_none() {
        return Ok(None);
    }
    let n = exec(
        tx,
        "UPDATE deliveries SET state = 'succeeded', lease_until = NULL, next_attempt_at = NULL, \
         last_error = NULL, updated_at = $3 \
         WHERE id = ANY($1) AND endpoint_id = $2 AND state IN ('pending', 'delivering')",
        &[&ids, &endpoint_id, &now],
    )
    .await?;
    Ok(Some(n as usize))
}

/// Extends the leases of the endpoint's deliveries that are still being delivered. `None`
/// when the endpoint is not visible.
pub async fn extend(
    tx: &Tx<'_>,
    scope: &Scope,
    endpoint_id: &str,
    ids: &[String],
    lease_until: Millis,
    now: Millis,
) -> StoreResult<Option<usize>> {
    if endpoints::get_visible(tx, scope, endpoint_id).await?.is_none() {
        return Ok(None);
    }
    let n = exec(
        tx,
        "UPDATE deliveries SET lease_until = $3, updated_at = $4 \
         WHERE id = ANY($1) AND endpoint_id = $2 AND state = 'delivering'",
        &[&ids, &endpoint_id, &lease_until, &now],
    )
    .await?;
    Ok(Some(n as usize))
}

/// A stream consumer that resumes after `cursor` has received everything up to it; `None`
/// when the endpoint's stream never reached that position.
pub async fn ack_upto(
    tx: &Tx<'_>,
    endpoint_id: &str,
    cursor: i64,
    now: Millis,
) -> StoreResult<Option<usize>> {
    let last = query(
        tx,
        "SELECT stream_pos FROM endpoints WHERE id = $1",
        &[&endpoint_id],
    )
    .await?;
    let last: i64 = match last.first() {
        Some(row) => get(row, 0)?,
        None => 0,
    };
    if cursor > last {
        return Ok(None);
    }
    let n = exec(
        tx,
        "UPDATE deliveries SET state = 'succeeded', lease_until = NULL, next_attempt_at = NULL, \
         attempts = attempts + 1, last_attempt_at = $3, updated_at = $3 \
         WHERE endpoint_id = $1 AND pos > 0 AND pos <= $2 AND state IN ('pending', 'delivering')",
        &[&endpoint_id, &cursor, &now],
    )
    .await?;
    Ok(Some(n as usize))
}

/// The next pending deliveries of the endpoint after `cursor`, in stream order.
pub async fn read_after(
    tx: &Tx<'_>,
    endpoint_id: &str,
    cursor: i64,
    limit: usize,
) -> StoreResult<Vec<PulledDelivery>> {
    let sql = format!(
        "SELECT d.pos, d.id, d.attempts, d.ordering_key, d.sequence, {} FROM deliveries d \
         JOIN events e ON e.id = d.event_id AND coalesce(e.tenant, '') = coalesce(d.tenant, '') \
         WHERE d.endpoint_id = $1 AND d.pos > 0 AND d.pos > $2 AND d.state = 'pending' ORDER BY d.pos LIMIT $3",
        event_columns_of("e")
    );
    let rows = query(tx, &sql, &[&endpoint_id, &cursor, &(limit as i64)]).await?;
    db::all(&rows, pulled)
}
