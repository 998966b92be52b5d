//! Endpoint queries.

use super::db::{self, all, exec, get, query, query_opt, to_json, Tx, ENDPOINT_COLUMNS};
use crate::domain::breaker::{held_until, Breaker};
use crate::domain::{Endpoint, EndpointPatch, Millis, Page, Scope};

use crate::domain::subscribers::{Subscriber, SubscriberIndex};
use crate::store::{EndpointQuery, SecretParts, StoreError, StoreResult};

pub async fn insert(tx: &Tx<'_>, ep: &Endpoint) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO endpoints (id, tenant, url, description, event_types, headers, signature, secrets, \
         timeout_ms, max_in_flight, rate_limit_per_s, disabled, disabled_reason, created_at, updated_at, \
         retry_schedule, circuit_after, ordering, destination) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        &[
            &ep.id,
            &ep.tenant,
            &ep.url,
            &ep.description,
            &to_json(&ep.event_types),
            &to_json(&ep.headers),
            &ep.signature.as_str(),
            &to_json(&ep.secrets),
            &(ep.timeout_ms as i64),
            &(ep.max_in_flight as i64),
            &ep.rate_limit_per_s.map(i64::from),
            &ep.disabled,
            &ep.disabled_reason,
            &ep.created_at,
            &ep.updated_at,
            &ep.retry_schedule,
            &(ep.circuit_after as i32),
            &ep.ordering.as_ref().map(to_json),
            &ep.destination.as_ref().map(to_json),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_visible(tx: &Tx<'_>, scope: &Scope, id: &str) -> StoreResult<Option<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1 AND ($2::TEXT IS NULL OR tenant = $2)"
    );
    query_opt(tx, &sql, &[&id, &scope.tenant()])
        .await?
        .as_ref()
        .map(db::endpoint)
        .transpose()
}

/// The same, locking the row until the transaction ends (for read-modify-write).
async fn get_for_update(tx: &Tx<'_>, scope: &Scope, id: &str) -> StoreResult<Option<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1 AND ($2::TEXT IS NULL OR tenant = $2) FOR UPDATE"
    );
    query_opt(tx, &sql, &[&id, &scope.tenant()])
        .await?
        .as_ref()
        .map(db::endpoint)
        .transpose()
}

pub async fn list(tx: &Tx<'_>, scope: &Scope, q: &EndpointQuery) -> StoreResult<Page<Endpoint>> {
    let Some(tenant) = scope.list_filter(q.tenant.as_deref()) else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints \
         WHERE ($1::TEXT IS NULL OR tenant = $1) AND ($2::TEXT IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );
    let rows = query(tx, &sql, &[&tenant, &q.cursor, &((q.limit + 1) as i64)]).await?;
    let items = all(&rows, db::endpoint)?;
    Ok(Page::from_overfetch(items, q.limit, |e| e.id.clone()))
}

async fn replace(tx: &Tx<'_>, ep: &Endpoint) -> StoreResult<()> {
    exec(
        tx,
        "UPDATE endpoints SET url = $2, description = $3, event_types = $4, headers = $5, secrets = $6, \
         timeout_ms = $7, max_in_flight = $8, rate_limit_per_s = $9, disabled = $10, disabled_reason = $11, \
         updated_at = $12, retry_schedule = $13, circuit_after = $14, ordering = $15, destination = $16 WHERE id = $1",
        &[
            &ep.id,
            &ep.url,
            &ep.description,
            &to_json(&ep.event_types),
            &to_json(&ep.headers),
            &to_json(&ep.secrets),
            &(ep.timeout_ms as i64),
            &(ep.max_in_flight as i64),
            &ep.rate_limit_per_s.map(i64::from),
            &ep.disabled,
            &ep.disabled_reason,
            &ep.updated_at,
            &ep.retry_schedule,
            &(ep.circuit_after as i32),
            &ep.ordering.as_ref().map(to_json),
            &ep.destination.as_ref().map(to_json),
        ],
    )
    .await?;
    Ok(())
}

pub async fn update(
    tx: &Tx<'_>,
    scope: &Scope,
    id: &str,
    patch: EndpointPatch,
    now: Millis,
) -> StoreResult<Option<Endpoint>> {
    let Some(mut ep) = get_for_update(tx, scope, id).await? else {
        return Ok(None);
    };
    let re_enabled = ep.disabled && patch.disabled == Some(false);
    patch.apply(&mut ep, now);
    replace(tx, &ep).await?;
    if re_enabled {
        // A fresh start: the failure streak that disabled it no longer counts.
        exec(
            tx,
            concat!(
                "UPDATE endpoints SET ",
                clean_standing!(),
                ", paused_until = NULL WHERE id = $1"
            ),
            &[&id],
        )
        .await?;
        db::notify(tx).await?;
    }
    Ok(Some(ep))
}

pub async fn rotate(
    tx: &Tx<'_>,
    scope: &Scope,
    id: &str,
    secret: String,
    grace_until: Millis,
    now: Millis,
) -> StoreResult<Option<Endpoint>> {
    let Some(mut ep) = get_for_update(tx, scope, id).await? else {
        return Ok(None);
    };
    ep.rotate(secret, now, grace_until);
    replace(tx, &ep).await?;
    Ok(Some(ep))
}

/// Fails every pending delivery of an endpoint with a reason.
pub async fn fail_pending(tx: &Tx<'_>, endpoint_id: &str, reason: &str, now: Millis) -> StoreResult<u64> {
    exec(
        tx,
        "UPDATE deliveries SET state = 'failed', next_attempt_at = NULL, lease_until = NULL, \
         last_error = $2, updated_at = $3 WHERE endpoint_id = $1 AND state IN ('pending', 'delivering')",
        &[&endpoint_id, &reason, &now],
    )
    .await
}

pub async fn delete(tx: &Tx<'_>, scope: &Scope, id: &str, now: Millis) -> StoreResult<bool> {
    let n = exec(
        tx,
        "DELETE FROM endpoints WHERE id = $1 AND ($2::TEXT IS NULL OR tenant = $2)",
        &[&id, &scope.tenant()],
    )
    .await?;
    if n == 0 {
        return Ok(false);
    }
    fail_pending(tx, id, "endpoint deleted", now).await?;
    Ok(true)
}

/// Disables an endpoint with a reason; its pending deliveries wait for it.
pub async fn disable(tx: &Tx<'_>, id: &str, reason: &str, now: Millis) -> StoreResult<()> {
    exec(
        tx,
        "UPDATE endpoints SET disabled = TRUE, disabled_reason = $2, updated_at = $3 WHERE id = $1",
        &[&id, &reason, &now],
    )
    .await?;
    Ok(())
}

/// Keeps an endpoint's breaker state and pause.
pub async fn set_control(
    tx: &Tx<'_>,
    id: &str,
    breaker: &Breaker,
    paused_until: Option<Millis>,
) -> StoreResult<()> {
    let open = breaker.open;
    exec(
        tx,
        "UPDATE endpoints SET consecutive_failures = $2, circuit_wait_ms = $3, circuit_until = $4, \
         paused_until = $5 WHERE id = $1",
        &[
            &id,
            &(breaker.consecutive_failures as i32),
            &open.map(|o| o.wait_ms),
            &open.map(|o| o.probe_at),
            &paused_until,
        ],
    )
    .await?;
    if let Some(until) = held_until(open, paused_until) {
        exec(
            tx,
            "UPDATE deliveries SET next_attempt_at = $2 WHERE endpoint_id = $1 AND state = 'pending' \
             AND next_attempt_at < $2",
            &[&id, &until],
        )
        .await?;
    }
    Ok(())
}

/// The endpoints of a tenant (exact match; none = none), indexed by their type filters.
pub async fn subscribers(tx: &Tx<'_>, tenant: Option<&str>) -> StoreResult<SubscriberIndex> {
    let rows = query(
        tx,
        concat!(
            "SELECT id, event_types, disabled, NOT ",
            pushes!(""),
            ", ordering FROM endpoints WHERE tenant IS NOT DISTINCT FROM $1"
        ),
        &[&tenant],
    )
    .await?;
    let subs = rows
        .iter()
        .map(|r| {
            let types: String = get(r, 1)?;
            Ok(Subscriber {
                id: get(r, 0)?,
                patterns: serde_json::from_str(&types)
                    .map_err(|e| StoreError::Corrupt(format!("event_types: {e}")))?,
                disabled: get(r, 2)?,
                pull: get(r, 3)?,
                ordering: get::<Option<String>>(r, 4)?
                    .map(|o| serde_json::from_str(&o))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("ordering: {e}")))?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(SubscriberIndex::new(subs))
}

/// Writes an endpoint's secrets and headers as given; false when there is no such endpoint.
pub async fn replace_secrets(tx: &Tx<'_>, id: &str, parts: &SecretParts) -> StoreResult<bool> {
    exec(
        tx,
        "UPDATE endpoints SET secrets = $2, headers = $3, destination = $4 WHERE id = $1",
        &[
            &id,
            &to_json(&parts.secrets),
            &to_json(&parts.headers),
            &parts.destination.as_ref().map(to_json),
        ],
    )
    .await
    .map(|n| n > 0)
}
