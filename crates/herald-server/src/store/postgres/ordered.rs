//! Ordered keys: an endpoint's blocked and parked keys, and an operator's resume or skip
//! of a key's head (the rule is `domain::ordering::key_action`).

use super::db::{self, exec, get, query, query_opt, Tx, DELIVERY_COLUMNS};
use crate::domain::ordering::{key_action, KeyAction, KeyChange};
use crate::domain::{Delivery, Millis, Scope};
use crate::store::{KeyOutcome, StoreError, StoreResult};

/// (blocked keys, parked keys) of an endpoint.
pub async fn key_counts(tx: &Tx<'_>, endpoint_id: &str) -> StoreResult<(u64, u64)> {
    let row = query_opt(
        tx,
        concat!(key_counts!(), " AND d.endpoint_id = $1 GROUP BY d.endpoint_id"),
        &[&endpoint_id],
    )
    .await?;
    match row {
        Some(r) => Ok((get::<i64>(&r, 1)? as u64, get::<i64>(&r, 2)? as u64)),
        None => Ok((0, 0)),
    }
}

/// The endpoints with blocked or parked keys (at most 100), for the metrics.
pub async fn all_key_counts(tx: &Tx<'_>) -> StoreResult<Vec<(String, u64, u64)>> {
    query(
        tx,
        concat!(
            key_counts!(),
            " GROUP BY d.endpoint_id ORDER BY d.endpoint_id LIMIT 100"
        ),
        &[],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u64, get::<i64>(r, 2)? as u64)))
    .collect()
}

/// Makes the deliveries waiting behind `after` in a key due at `due` (never, for `None`).
pub async fn set_waiting(
    tx: &Tx<'_>,
    endpoint_id: &str,
    key: &str,
    after: i64,
    due: Option<Millis>,
) -> StoreResult<u64> {
    exec(
        tx,
        concat!(
            "UPDATE deliveries SET next_attempt_at = $4 WHERE endpoint_id = $1 AND ordering_key = $2 \
             AND sequence > $3 AND ",
            waiting!()
        ),
        &[&endpoint_id, &key, &after, &due],
    )
    .await
}

/// The head of a key: a delivery of it in flight, else its lowest-sequence owed one. Its
/// row is locked, so two operators' actions on one key take turns.
async fn head(tx: &Tx<'_>, endpoint_id: &str, key: &str) -> StoreResult<Option<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = $1 AND ordering_key = $2 \
         AND state IN ('pending', 'delivering') ORDER BY state = 'delivering' DESC, sequence LIMIT 1 FOR UPDATE"
    );
    query_opt(tx, &sql, &[&endpoint_id, &key])
        .await?
        .map(|r| db::delivery(&r))
        .transpose()
}

pub async fn act(
    tx: &Tx<'_>,
    scope: &Scope,
    endpoint_id: &str,
    key: &str,
    action: KeyAction,
    now: Millis,
) -> StoreResult<Option<KeyOutcome>> {
    if super::endpoints::get_visible(tx, scope, endpoint_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let found = head(tx, endpoint_id, key).await?;
    let change = match key_action(action, found.as_ref()) {
        Ok(c) => c,
        Err(refusal) => return Ok(Some(KeyOutcome::Refused(refusal))),
    };
    let head = found.expect("key_action refuses a missing head");
    let sequence = head.ordering.as_ref().map_or(0, |p| p.sequence);
    match change {
        KeyChange::RetryNow => {
            exec(
                tx,
                "UPDATE deliveries SET next_attempt_at = $2, round_attempts = 0, updated_at = $2 WHERE id = $1",
                &[&head.id, &now],
            )
            .await?;
        }
        KeyChange::Fail(error) => {
            exec(
                tx,
                "UPDATE deliveries SET state = 'failed', next_attempt_at = NULL, last_error = $3, \
                 updated_at = $2 WHERE id = $1",
                &[&head.id, &now, &error],
            )
            .await?;
            set_waiting(tx, endpoint_id, key, sequence, Some(now)).await?;
        }
    }
    db::notify(tx).await?;
    let now_head = super::events::delivery(tx, scope, &head.id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a delivery just updated is gone".into()))?;
    Ok(Some(KeyOutcome::Done(now_head)))
}
