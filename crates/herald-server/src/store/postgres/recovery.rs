//! Sending again: replay an event, retry a delivery, recover an endpoint's failures.

use super::db::{self, exec, get, query, Tx};
use super::endpoints;
use super::events::{self, publish_internal, NewDeliveries};
use crate::domain::subscribers::replay_targets;
use crate::domain::{health, DeliveryState, Millis, Scope};
use crate::store::{ReplayOutcome, RetryOutcome, StoreResult};

/// New deliveries of an event: to every endpoint that now subscribes to it, or to one.
pub async fn replay(
    tx: &Tx<'_>,
    scope: &Scope,
    event_id: &str,
    endpoint_id: Option<&str>,
    now: Millis,
) -> StoreResult<ReplayOutcome> {
    let Some(event) = events::get_visible(tx, scope, event_id).await? else {
        return Ok(ReplayOutcome::EventNotFound);
    };
    let asked = match endpoint_id {
        Some(id) => Some(endpoints::get_visible(tx, scope, id).await?),
        None => None,
    };
    let subscribers = match asked {
        None => Some(endpoints::subscribers(tx, event.tenant.as_deref()).await?),
        Some(_) => None,
    };
    let fan_out = || {
        subscribers
            .map(|s| s.fan_out(&event.event_type))
            .unwrap_or_default()
    };
    let Some(mut targets) = replay_targets(
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
    owed.insert(tx, &mut targets, DeliveryState::Pending).await?;
    Ok(ReplayOutcome::Replayed(targets.len() as u32))
}

/// Puts a finished delivery back in the queue for a new round of the retry schedule.
pub async fn retry(tx: &Tx<'_>, scope: &Scope, delivery_id: &str, now: Millis) -> StoreResult<RetryOutcome> {
    let Some(d) = events::delivery(tx, scope, delivery_id).await? else {
        return Ok(RetryOutcome::NotFound);
    };
    if !d.state.retryable() {
        return Ok(RetryOutcome::AlreadyQueued);
    }
    let sql = format!(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = $2, round_attempts = 0, lease_until = NULL, \
         updated_at = $2 WHERE id = $1 AND state NOT IN ({})",
        DeliveryState::sql_list(&DeliveryState::QUEUED)
    );
    let n = exec(tx, &sql, &[&delivery_id, &now]).await?;
    if n == 0 {
        return Ok(RetryOutcome::AlreadyQueued); // another node queued it meanwhile
    }
    events::to_stream_end(tx, &d.endpoint_id, &[delivery_id.to_string()]).await?;
    db::notify(tx).await?;
    let d = events::delivery(tx, scope, delivery_id)
        .await?
        .expect("the row was just updated");
    Ok(RetryOutcome::Queued(d))
}

/// Re-queues an endpoint's failed and skipped deliveries created since `since`, and
/// reports it as a `herald.endpoint.recovered` event. `None` when the endpoint is unknown.
pub async fn recover(
    tx: &Tx<'_>,
    scope: &Scope,
    endpoint_id: &str,
    since: Millis,
    now: Millis,
) -> StoreResult<Option<usize>> {
    let Some(ep) = endpoints::get_visible(tx, scope, endpoint_id).await? else {
        return Ok(None);
    };
    let sql = format!(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = $3, round_attempts = 0, lease_until = NULL, \
         updated_at = $3 WHERE endpoint_id = $1 AND state IN ({}) AND created_at >= $2 RETURNING id, pos",
        DeliveryState::sql_list(&DeliveryState::RECOVERABLE)
    );
    let mut requeued: Vec<(String, i64)> = query(tx, &sql, &[&endpoint_id, &since, &now])
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
        .collect::<StoreResult<_>>()?;
    let n = requeued.len();
    requeued.sort_by_key(|(_, pos)| *pos);
    let ids: Vec<String> = requeued.into_iter().map(|(id, _)| id).collect();
    events::to_stream_end(tx, endpoint_id, &ids).await?;
    if n > 0 {
        db::notify(tx).await?;
    }
    let (event_type, payload) = health::recovered(&ep.id, since, n);
    publish_internal(tx, event_type, ep.tenant.as_deref(), payload, now).await?;
    Ok(Some(n))
}
