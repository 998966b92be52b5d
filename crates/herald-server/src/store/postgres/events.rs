//! Event, delivery and attempt queries, and the publish transaction.

use super::db::{
    self, all, exec, get, query, query_opt, Tx, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, EVENT_COLUMNS,
};
use super::endpoints;
use crate::domain::ordering::KeySource;
use crate::domain::subscribers::{FanOut, Subscriber};
use crate::domain::{
    new_id_at, Attempt, Delivery, DeliveryState, Event, Millis, NewEvent, Page, PublishOutcome,
    PublishSummary, Scope,
};
use crate::store::{EventQuery, StoreError, StoreResult};

/// The outcome of a publish seen before under the same id or idempotency key.
async fn earlier(tx: &Tx<'_>, ev: &NewEvent) -> StoreResult<Option<PublishOutcome>> {
    let mut found = None;
    if ev.caller_id {
        found = query_opt(
            tx,
            "SELECT request_hash, id, type, deliveries FROM events \
             WHERE id = $1 AND coalesce(tenant, '') = coalesce($2, '')",
            &[&ev.id, &ev.tenant],
        )
        .await?;
    }
    if let (None, Some(key)) = (&found, &ev.idempotency_key) {
        found = query_opt(
            tx,
            "SELECT e.request_hash, e.id, e.type, e.deliveries FROM idempotency_keys k \
             JOIN events e ON e.id = k.event_id AND coalesce(e.tenant, '') = k.tenant \
             WHERE k.tenant = coalesce($1, '') AND k.key = $2",
            &[&ev.tenant, key],
        )
        .await?;
    }
    let Some(row) = found else { return Ok(None) };
    let hash: String = get(&row, 0)?;
    if hash != ev.request_hash {
        return Ok(Some(PublishOutcome::KeyConflict));
    }
    Ok(Some(PublishOutcome::Repeated(PublishSummary {
        id: get(&row, 1)?,
        event_type: get(&row, 2)?,
        deliveries: get::<i64>(&row, 3)? as u32,
    })))
}

/// Stores an event and its deliveries. A concurrent publish of the same id or key on
/// another node is caught by the unique indexes and answered as a repeat.
pub async fn publish(tx: &Tx<'_>, ev: NewEvent) -> StoreResult<PublishOutcome> {
    if let Some(outcome) = earlier(tx, &ev).await? {
        return Ok(outcome);
    }
    let index = endpoints::subscribers(tx, ev.tenant.as_deref()).await?;
    let FanOut {
        due: mut targets,
        mut skipped,
    } = index.fan_out(&ev.event_type);
    if !insert_event(tx, &ev, targets.len()).await? {
        // Another transaction stored the same id or key first and has committed.
        return earlier(tx, &ev)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("event {} conflicted with no stored event", ev.id)));
    }
    let owed = NewDeliveries {
        event_id: &ev.id,
        tenant: ev.tenant.as_deref(),
        now: ev.created_at,
        keys: ev.key_source(),
    };
    owed.insert(tx, &mut targets, DeliveryState::Pending).await?;
    owed.insert(tx, &mut skipped, DeliveryState::Skipped).await?;
    Ok(PublishOutcome::Created(PublishSummary {
        id: ev.id,
        event_type: ev.event_type,
        deliveries: targets.len() as u32,
    }))
}

/// The event row, owed to `deliveries` endpoints; false when its id or idempotency key
/// was taken meanwhile.
pub async fn insert_event(tx: &Tx<'_>, ev: &NewEvent, deliveries: usize) -> StoreResult<bool> {
    if let Some(key) = &ev.idempotency_key {
        if !claim_key(tx, ev, key).await? {
            return Ok(false);
        }
    }
    let inserted = query_opt(
        tx,
        "INSERT INTO events (id, type, tenant, payload, content_type, idempotency_key, request_hash, \
         deliveries, created_at, source_id, headers, ordering_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING seq",
        &[
            &ev.id,
            &ev.event_type,
            &ev.tenant,
            &ev.payload,
            &ev.content_type,
            &ev.idempotency_key,
            &ev.request_hash,
            &(deliveries as i64),
            &ev.created_at,
            &ev.source_id,
            &ev.headers,
            &ev.ordering_key,
        ],
    )
    .await?;
    if inserted.is_none() && ev.idempotency_key.is_some() {
        // The id was taken: the key stays with whatever it named before, or with nothing.
        exec(
            tx,
            "DELETE FROM idempotency_keys WHERE tenant = coalesce($1, '') AND key = $2 AND event_id = $3",
            &[&ev.tenant, &ev.idempotency_key, &ev.id],
        )
        .await?;
    }
    Ok(inserted.is_some())
}

/// Takes an idempotency key for the event: false when a stored event holds it. Keys are
/// unique in their own table because `events` is partitioned by id; a concurrent publish
/// with the same key waits on this row and then sees it taken. Retention deletes a key
/// with its event, in the same transaction.
async fn claim_key(tx: &Tx<'_>, ev: &NewEvent, key: &str) -> StoreResult<bool> {
    let claimed = query_opt(
        tx,
        "INSERT INTO idempotency_keys (tenant, key, event_id) VALUES (coalesce($1, ''), $2, $3) \
         ON CONFLICT DO NOTHING RETURNING 1",
        &[&ev.tenant, &key, &ev.id],
    )
    .await?;
    Ok(claimed.is_some())
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
    /// Inserts one delivery per endpoint: `Pending` ones are due now (and wake every
    /// node), `Skipped` ones wait for a recovery. A pull endpoint's delivery takes the next
    /// position of its stream under the endpoint's row lock, so positions follow commit
    /// order and a stream cursor never passes a delivery that commits later.
    pub async fn insert(
        &self,
        tx: &Tx<'_>,
        subs: &mut [Subscriber],
        state: DeliveryState,
    ) -> StoreResult<()> {
        if subs.is_empty() {
            return Ok(());
        }
        // One lock order for every transaction, so two publishes cannot deadlock.
        subs.sort_by(|a, b| a.id.cmp(&b.id));
        let due = (state == DeliveryState::Pending).then_some(self.now);
        for sub in subs.iter() {
            let key = sub.key_of(self.keys);
            let sequence = match &key {
                Some(k) => Some(next_sequence(tx, &sub.id, k).await?),
                None => None,
            };
            let pos: i64 = if sub.pull {
                let row = query_opt(
                    tx,
                    "UPDATE endpoints SET stream_pos = stream_pos + 1 WHERE id = $1 RETURNING stream_pos",
                    &[&sub.id],
                )
                .await?;
                row.map(|r| get(&r, 0)).transpose()?.unwrap_or(0)
            } else {
                0
            };
            exec(
                tx,
                "INSERT INTO deliveries (id, event_id, endpoint_id, tenant, state, attempts, next_attempt_at, \
                 pos, created_at, updated_at, ordering_key, sequence) \
                 VALUES ($1, $2, $3, $4, $5, 0, CASE WHEN $6::BIGINT IS NULL THEN NULL ELSE GREATEST($6::BIGINT, \
                     (SELECT GREATEST(circuit_until, paused_until) FROM endpoints WHERE id = $3)) END, \
                 $7, $8, $8, $9, $10)",
                &[
                    &new_id_at("dlv", self.now),
                    &self.event_id,
                    &sub.id,
                    &self.tenant,
                    &state.as_str(),
                    &due,
                    &pos,
                    &self.now,
                    &key,
                    &sequence,
                ],
            )
            .await?;
        }
        if due.is_some() {
            db::notify(tx).await?;
        }
        Ok(())
    }
}

/// The next sequence number of an endpoint's key (1 for a new key). The key's row stays
/// locked until the transaction ends, so a key's sequence numbers commit in their order.
pub async fn next_sequence(tx: &Tx<'_>, endpoint_id: &str, key: &str) -> StoreResult<i64> {
    let row = query_opt(
        tx,
        "INSERT INTO ordering_keys (endpoint_id, key, last_sequence) VALUES ($1, $2, 1) \
         ON CONFLICT (endpoint_id, key) DO UPDATE SET last_sequence = ordering_keys.last_sequence + 1 \
         RETURNING last_sequence",
        &[&endpoint_id, &key],
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("an upsert returned no row".into()))?;
    get(&row, 0)
}

/// Locks the keys a group of publishes will number, in one order, so two groups that
/// share keys cannot deadlock.
pub async fn lock_keys(tx: &Tx<'_>, mut keys: Vec<(String, String)>) -> StoreResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort();
    keys.dedup();
    let (endpoints, names): (Vec<String>, Vec<String>) = keys.into_iter().unzip();
    exec(
        tx,
        "INSERT INTO ordering_keys (endpoint_id, key, last_sequence) \
         SELECT e, k, 0 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS u(e, k) ORDER BY e, k \
         ON CONFLICT (endpoint_id, key) DO UPDATE SET last_sequence = ordering_keys.last_sequence",
        &[&endpoints, &names],
    )
    .await?;
    Ok(())
}

/// Moves re-queued deliveries of a pull endpoint to the end of its stream, in the order
/// given (nothing to do for a push endpoint).
pub async fn to_stream_end(tx: &Tx<'_>, endpoint_id: &str, ids: &[String]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let n = ids.len() as i64;
    let Some(row) = query_opt(
        tx,
        concat!(
            "UPDATE endpoints SET stream_pos = stream_pos + $2 WHERE id = $1 AND NOT ",
            pushes!(""),
            " RETURNING stream_pos"
        ),
        &[&endpoint_id, &n],
    )
    .await?
    else {
        return Ok(());
    };
    let end: i64 = get(&row, 0)?;
    let positions: Vec<i64> = (end - n + 1..=end).collect();
    exec(
        tx,
        "UPDATE deliveries d SET pos = u.pos FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS u(id, pos) WHERE d.id = u.id",
        &[&ids, &positions],
    )
    .await?;
    Ok(())
}

/// Publishes an operational event (`herald.…`) inside the transaction of the change it
/// reports.
pub async fn publish_internal(
    tx: &Tx<'_>,
    event_type: &str,
    tenant: Option<&str>,
    payload: serde_json::Value,
    now: Millis,
) -> StoreResult<()> {
    for ev in NewEvent::operational(event_type, tenant, payload, now) {
        Box::pin(publish(tx, ev)).await?;
    }
    Ok(())
}

pub async fn get_visible(tx: &Tx<'_>, scope: &Scope, id: &str) -> StoreResult<Option<Event>> {
    // Ids are unique per tenant; an admin asking for one that several tenants used gets the
    // operator's own event first, then the oldest.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND ($2::TEXT IS NULL OR tenant = $2) \
         ORDER BY tenant IS NOT NULL, seq LIMIT 1"
    );
    query_opt(tx, &sql, &[&id, &scope.tenant()])
        .await?
        .as_ref()
        .map(db::event)
        .transpose()
}

/// Newest first; the cursor is the position of the last event returned.
pub async fn list(tx: &Tx<'_>, scope: &Scope, q: &EventQuery) -> StoreResult<Page<Event>> {
    let Some(tenant) = scope.list_filter(q.tenant.as_deref()) else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let cursor: Option<i64> = q.cursor.as_deref().and_then(|c| c.parse().ok());
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE ($1::TEXT IS NULL OR tenant = $1) \
         AND ($2::TEXT IS NULL OR type = $2) AND ($3::BIGINT IS NULL OR created_at >= $3) \
         AND ($4::BIGINT IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5"
    );
    let rows = query(
        tx,
        &sql,
        &[&tenant, &q.event_type, &q.since, &cursor, &((q.limit + 1) as i64)],
    )
    .await?;
    let items = all(&rows, db::event)?;
    Ok(Page::from_overfetch(items, q.limit, |e| e.seq.to_string()))
}

pub async fn deliveries(tx: &Tx<'_>, scope: &Scope, event_id: &str) -> StoreResult<Option<Vec<Delivery>>> {
    let Some(event) = get_visible(tx, scope, event_id).await? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 \
         AND tenant IS NOT DISTINCT FROM $2 ORDER BY id"
    );
    let rows = query(tx, &sql, &[&event_id, &event.tenant]).await?;
    all(&rows, db::delivery).map(Some)
}

pub async fn delivery(tx: &Tx<'_>, scope: &Scope, id: &str) -> StoreResult<Option<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND ($2::TEXT IS NULL OR tenant = $2)"
    );
    query_opt(tx, &sql, &[&id, &scope.tenant()])
        .await?
        .as_ref()
        .map(db::delivery)
        .transpose()
}

pub async fn attempts(tx: &Tx<'_>, scope: &Scope, delivery_id: &str) -> StoreResult<Option<Vec<Attempt>>> {
    if delivery(tx, scope, delivery_id).await?.is_none() {
        return Ok(None);
    }
    let sql =
        format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = $1 ORDER BY attempted_at, id");
    let rows = query(tx, &sql, &[&delivery_id]).await?;
    all(&rows, db::attempt).map(Some)
}
