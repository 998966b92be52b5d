//! Sending again: replay an event, retry a delivery, recover an endpoint's failures.

use serde_json::json;

use super::db::{self, exec, get, query, Tx};
use super::endpoints;
use super::events::{self, publish_internal, NewDeliveries};
use crate::domain::{rfc3339, DeliveryState, Millis, Scope};
use crate::store::subscribers::Subscriber;
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
    let mut targets: Vec<Subscriber> = match endpoint_id {
        Some(id) => match endpoints::get_visible(tx, scope, id).await? {
            Some(ep) if ep.tenant == event.tenant => vec![Subscriber {
                pull: ep.url.is_none(),
                id: ep.id,
                patterns: ep.event_types,
                disabled: ep.disabled,
            }],
            _ => return Ok(ReplayOutcome::EndpointNotFound),
        },
        None => endpoints::subscribers(tx, event.tenant.as_deref())
            .await?
            .matching(&event.event_type)
            .into_iter()
            .filter(|s| !s.disabled)
            .cloned()
            .collect(),
    };
    let owed = NewDeliveries {
        event_id: &event.id,
        tenant: event.tenant.as_deref(),
        now,
    };
    owed.insert(tx, &mut targets, DeliveryState::Pending).await?;
    Ok(ReplayOutcome::Replayed(targets.len() as u32))
}

/// Puts a finished delivery back in the queue for a new round of the retry schedule.
pub async fn retry(tx: &Tx<'_>, scope: &Scope, delivery_id: &str, now: Millis) -> StoreResult<RetryOutcome> {
    let Some(d) = events::delivery(tx, scope, delivery_id).await? else {
        return Ok(RetryOutcome::NotFound);
    };
    if matches!(d.state, DeliveryState::Pending | DeliveryState::Delivering) {
        return Ok(RetryOutcome::AlreadyQueued);
    }
    let n = exec(
        tx,
        "UPDATE deliveries SET state = 'pending', next_attempt_at = $2, round_attempts = 0, lease_until = NULL, \
         updated_at = $2 WHERE id = $1 AND state NOT IN ('pending', 'delivering')",
        &[&delivery_id, &now],
    )
    .await?;
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
    let mut requeued: Vec<(String, i64)> = query(
        tx,
        "UPDATE deliveries SET state = 'pending', next_attempt_at = $3, round_attempts = 0, lease_until = NULL, \
         updated_at = $3 WHERE endpoint_id = $1 AND state IN ('failed', 'skipped') AND created_at >= $2 \
         RETURNING id, pos",
        &[&endpoint_id, &since, &now],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
    .collect::<StoreResult<_>>()?;
    let n = requeued.len() as u64;
    requeued.sort_by_key(|(_, pos)| *pos);
    let ids: Vec<String> = requeued.into_iter().map(|(id, _)| id).collect();
    events::to_stream_end(tx, endpoint_id, &ids).await?;
    if n > 0 {
        db::notify(tx).await?;
    }
    let payload = json!({"endpoint_id": ep.id, "since": rfc3339(since), "recovered": n});
    publish_internal(
        tx,
        "herald.endpoint.recovered",
        ep.tenant.as_deref(),
        payload,
        now,
    )
    .await?;
    Ok(Some(n as usize))
}
