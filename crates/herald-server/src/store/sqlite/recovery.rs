//! Sending again: replay an event, retry a delivery, recover an endpoint's failures.

use rusqlite::{params, Connection};

use super::events::{self, publish_internal, NewDeliveries};
use super::{endpoints, writer::backend};
use crate::domain::subscribers::replay_targets;
use crate::domain::{health, DeliveryState, Millis, Scope};
use crate::store::{ReplayOutcome, RetryOutcome, StoreResult};

/// New deliveries of an event: to every endpoint that now subscribes to it, or to one.
pub fn replay(
    conn: &Connection,
    scope: &Scope,
    event_id: &str,
    endpoint_id: Option<&str>,
    now: Millis,
) -> StoreResult<ReplayOutcome> {
    let Some(event) = events::get(conn, scope, event_id)? else {
        return Ok(ReplayOutcome::EventNotFound);
    };
    let asked = endpoint_id
        .map(|id| endpoints::get(conn, scope, id))
        .transpose()?;
    let subscribers = match asked {
        None => Some(endpoints::subscribers(conn, event.tenant.as_deref())?),
        Some(_) => None,
    };
    let fan_out = || {
        subscribers
            .map(|s| s.fan_out(&event.event_type))
            .unwrap_or_default()
    };
    let Some(targets) = replay_targets(
        event.tenant.as_deref(),
        asked.as_ref().map(Option::as_ref),
        fan_out,
    ) else {
        return Ok(ReplayOutcome::EndpointNotFound);
    };
    let owed = NewDeliveries {
        event_id: &event.id,
        tenant: event.tenant.as_deref(),
        now,
        keys: event.key_source(),
    };
    owed.insert(conn, &targets, DeliveryState::Pending)?;
    Ok(ReplayOutcome::Replayed(targets.len() as u32))
}

/// Puts a finished delivery back in the queue for a new round of the retry schedule.
pub fn retry(conn: &Connection, scope: &Scope, delivery_id: &str, now: Millis) -> StoreResult<RetryOutcome> {
    let Some(d) = events::delivery(conn, scope, delivery_id)? else {
        return Ok(RetryOutcome::NotFound);
    };
    if !d.state.retryable() {
        return Ok(RetryOutcome::AlreadyQueued);
    }
    conn.prepare_cached(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = ?2, round_attempts = 0, lease_until = NULL, \
         updated_at = ?2 WHERE id = ?1",
    )
    .and_then(|mut st| st.execute(params![delivery_id, now]))
    .map_err(backend)?;
    events::to_stream_end(conn, &d.endpoint_id, &[delivery_id.to_string()])?;
    let d = events::delivery(conn, scope, delivery_id)?.expect("the row was just updated");
    Ok(RetryOutcome::Queued(d))
}

/// Re-queues an endpoint's failed and skipped deliveries created since `since`, and
/// reports it as a `herald.endpoint.recovered` event. `None` when the endpoint is unknown.
pub fn recover(
    conn: &Connection,
    scope: &Scope,
    endpoint_id: &str,
    since: Millis,
    now: Millis,
) -> StoreResult<Option<usize>> {
    let Some(ep) = endpoints::get(conn, scope, endpoint_id)? else {
        return Ok(None);
    };
    let sql = format!(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = ?3, round_attempts = 0, lease_until = NULL, \
         updated_at = ?3 WHERE endpoint_id = ?1 AND state IN ({}) AND created_at >= ?2 RETURNING id, pos",
        DeliveryState::sql_list(&DeliveryState::RECOVERABLE)
    );
    let mut requeued: Vec<(String, i64)> = conn
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params![endpoint_id, since, now], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(backend)?;
    let n = requeued.len();
    requeued.sort_by_key(|(_, pos)| *pos);
    let ids: Vec<String> = requeued.into_iter().map(|(id, _)| id).collect();
    events::to_stream_end(conn, endpoint_id, &ids)?;
    let (event_type, payload) = health::recovered(&ep.id, since, n);
    publish_internal(conn, event_type, ep.tenant.as_deref(), payload, now)?;
    Ok(Some(n))
}
