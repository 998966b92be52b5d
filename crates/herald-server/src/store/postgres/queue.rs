//! The delivery queue: claim with a lease (`FOR UPDATE SKIP LOCKED`, so nodes never wait
//! on each other's rows), record an attempt, release; and endpoint health after attempts.

use std::collections::HashMap;
use std::sync::Arc;

use super::db::{self, exec, get, query, query_opt, Tx, ENDPOINT_COLUMNS};
use super::endpoints;
use super::events::publish_internal;
use crate::domain::health::{self, Effect, Standing};
use crate::domain::ordering::{waiting_due, KeyPosition};
use crate::domain::{Endpoint, Event, Millis};
use crate::store::{
    AttemptRecord, Claim, ClaimRequest, EndpointQueue, Job, NextStep, QueueStats, StoreError, StoreResult,
};

/// Puts deliveries whose lease ran out back in the queue (their worker died).
async fn expire_leases(tx: &Tx<'_>, now: Millis) -> StoreResult<u64> {
    exec(
        tx,
        "UPDATE deliveries SET state = 'pending', lease_until = NULL, next_attempt_at = $1, updated_at = $1 \
         WHERE id IN (SELECT id FROM deliveries WHERE state = 'delivering' AND lease_until <= $1 \
             FOR UPDATE SKIP LOCKED)",
        &[&now],
    )
    .await
}

/// An event as a delivery names it: its id and its tenant (`""` for none); ids are
/// unique per tenant.
type EventKey = (String, String);

/// The events of a claimed batch, each loaded once.
async fn load_events<'a>(
    tx: &Tx<'_>,
    keys: impl Iterator<Item = &'a EventKey>,
) -> StoreResult<HashMap<EventKey, Arc<Event>>> {
    let (ids, tenants): (Vec<&str>, Vec<&str>) = keys.map(|(i, t)| (i.as_str(), t.as_str())).unzip();
    let sql = format!(
        "SELECT {} FROM events e JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS k(id, tenant) \
         ON e.id = k.id AND coalesce(e.tenant, '') = k.tenant WHERE e.id BETWEEN $3 AND $4",
        db::event_columns_of("e")
    );
    let (lo, hi) = db::id_bounds(ids.iter().copied());
    query(tx, &sql, &[&ids, &tenants, &lo, &hi])
        .await?
        .iter()
        .map(|r| {
            db::event(r).map(|e| {
                let key = (e.id.clone(), e.tenant.clone().unwrap_or_default());
                (key, Arc::new(e))
            })
        })
        .collect()
}

pub async fn claim(tx: &Tx<'_>, req: &ClaimRequest) -> StoreResult<Claim> {
    // A lease is disposable: if the database crashes before this commit reaches disk, the
    // rows are simply not leased and are claimed again (a delivery can then be sent twice,
    // which at-least-once allows). So the claim does not wait for its WAL flush; every
    // commit that records something a caller was told about still does.
    // The three are sent together (tokio-postgres pipelines concurrent requests on one
    // connection; the server runs them in the order sent, which is this order once their
    // statements are prepared; on the very first call the order does not matter): one
    // round trip, not three. The claim's statements keep the planner's own choices (built
    // of ordered index ranges, they need no push; told to avoid hash joins, the claim to
    // 10 endpoints took 5.9 ms and read 920 buffers a call); only the loads after it reach
    // rows by key (`db::plan_by_key`).
    let (_, expired, mut claimed) = tokio::try_join!(
        exec(tx, "SET LOCAL synchronous_commit = off", &[]),
        async {
            if !req.sweep {
                return Ok(0);
            }
            expire_leases(tx, req.now).await
        },
        async {
            if !req.sweep {
                return Ok(Vec::new());
            }
            claim_probes(tx, req).await
        },
    )?;
    if expired > 0 {
        tracing::info!(expired, "re-queued deliveries whose lease ran out");
    }
    // An endpoint's `max_in_flight` is one cap across nodes: the claim locks the endpoint
    // rows it takes work from (skipping those another node is claiming for right now),
    // counts what is already in flight for them, and takes at most the room left.
    let room = req.limit.saturating_sub(claimed.len()) as i64;
    let rows = query(
        tx,
        CLAIM,
        &[&req.lease_until, &req.now, &req.exclude_endpoints, &room],
    )
    .await?;
    let mut passed_over = false;
    for r in &rows {
        if get::<bool>(r, 7)? {
            passed_over = true;
        } else {
            claimed.push(claimed_row(r, false)?);
        }
    }
    Ok(Claim {
        jobs: jobs_of(tx, claimed).await?,
        passed_over,
    })
}

/// The claim, endpoint by endpoint, so its cost follows what it takes rather than the
/// backlog, and a busy or held endpoint's backlog is never in another's way: `heads` walks
/// the endpoints that have pending deliveries (one index probe each, with the due time of
/// each one's next), the eligible ones whose next is due are taken oldest first and
/// locked, and each gives its due deliveries in order up to its room (`max_in_flight`
/// less what is in flight). `$1` lease end, `$2` now, `$3` endpoints to skip, `$4` how
/// many to take. A last row, marked, says an endpoint with due work was passed over
/// because another node's claim holds it (that claim may have begun before the work was
/// stored, so this node must look again soon: [`Claim::passed_over`]). Every step is an
/// ordered index range, so a plan made for a small table stays right for a large one (the earlier claim's plan came to read and sort every
/// pending delivery of the claimed endpoints, per claim).
const CLAIM: &str = concat!(
    "WITH RECURSIVE heads AS ( \
         (SELECT endpoint_id, next_attempt_at FROM deliveries WHERE state = 'pending' \
          ORDER BY endpoint_id, next_attempt_at LIMIT 1) \
         UNION ALL \
         SELECT n.endpoint_id, n.next_attempt_at FROM heads h CROSS JOIN LATERAL ( \
             SELECT endpoint_id, next_attempt_at FROM deliveries \
             WHERE state = 'pending' AND endpoint_id > h.endpoint_id \
             ORDER BY endpoint_id, next_attempt_at LIMIT 1) n), \
     ready AS ( \
         SELECT e.id, h.next_attempt_at FROM heads h JOIN endpoints e ON e.id = h.endpoint_id \
         WHERE h.next_attempt_at <= $2 AND NOT e.disabled AND ", pushes!("e."), " \
         AND (e.paused_until IS NULL OR e.paused_until <= $2) AND e.circuit_wait_ms IS NULL \
         AND NOT (e.id = ANY($3))), \
     eps AS ( \
         SELECT e.id, e.max_in_flight FROM ready r JOIN endpoints e ON e.id = r.id \
         ORDER BY r.next_attempt_at LIMIT $4 FOR UPDATE OF e SKIP LOCKED), \
     picked AS ( \
         SELECT c.id, c.next_attempt_at FROM eps CROSS JOIN LATERAL ( \
             SELECT count(*) AS n FROM deliveries b WHERE b.endpoint_id = eps.id AND b.state = 'delivering') busy \
         CROSS JOIN LATERAL ( \
             SELECT d.id, d.next_attempt_at FROM deliveries d \
             WHERE d.endpoint_id = eps.id AND d.state = 'pending' AND d.next_attempt_at <= $2 AND ", key_is_free!(), " \
             ORDER BY d.next_attempt_at LIMIT GREATEST(eps.max_in_flight - busy.n, 0)) c), \
     due AS ( \
         SELECT d.id FROM deliveries d WHERE d.state = 'pending' AND d.id IN ( \
             SELECT id FROM picked ORDER BY next_attempt_at LIMIT $4) \
         FOR UPDATE SKIP LOCKED), \
     moved AS ( \
         UPDATE deliveries SET state = 'delivering', lease_until = $1, updated_at = $2 FROM due \
         WHERE deliveries.id = due.id \
         RETURNING deliveries.id, event_id, endpoint_id, round_attempts, tenant, ordering_key, sequence) \
     SELECT *, false FROM moved \
     UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, true \
     WHERE (SELECT count(*) FROM eps) < LEAST((SELECT count(*) FROM ready), $4)"
);

/// A claimed delivery row: (id, event key, endpoint id, round attempts, probe, its
/// place in its key's order).
type Claimed = (String, EventKey, String, u32, bool, Option<KeyPosition>);

fn claimed_row(r: &tokio_postgres::Row, probe: bool) -> StoreResult<Claimed> {
    let key: EventKey = (get(r, 1)?, get::<Option<String>>(r, 4)?.unwrap_or_default());
    let position = KeyPosition::from_columns(get(r, 5)?, get(r, 6)?);
    Ok((
        get(r, 0)?,
        key,
        get(r, 2)?,
        get::<i64>(r, 3)? as u32,
        probe,
        position,
    ))
}

/// One probe per open circuit whose wait is over (its oldest due delivery). The endpoint
/// row is locked, so one node takes the probe, and its circuit waits for the probe's lease.
async fn claim_probes(tx: &Tx<'_>, req: &ClaimRequest) -> StoreResult<Vec<Claimed>> {
    let rows = query(
        tx,
        concat!("WITH probing AS ( \
             SELECT e.id FROM endpoints e WHERE e.circuit_wait_ms IS NOT NULL AND e.circuit_until <= $2 \
             AND NOT e.disabled AND ", pushes!("e."), " AND (e.paused_until IS NULL OR e.paused_until <= $2) \
             AND NOT (e.id = ANY($3)) LIMIT $4 FOR UPDATE SKIP LOCKED), \
         picked AS ( \
             SELECT DISTINCT ON (d.endpoint_id) d.id, d.endpoint_id FROM deliveries d \
             JOIN probing p ON p.id = d.endpoint_id WHERE d.state = 'pending' AND d.next_attempt_at <= $2 \
             AND ", key_is_free!(), " ORDER BY d.endpoint_id, d.next_attempt_at), \
         held AS ( \
             UPDATE endpoints SET circuit_until = $1 WHERE id IN (SELECT endpoint_id FROM picked)) \
         UPDATE deliveries SET state = 'delivering', lease_until = $1, updated_at = $2 FROM picked \
         WHERE deliveries.id = picked.id \
         RETURNING deliveries.id, event_id, deliveries.endpoint_id, round_attempts, tenant, ordering_key, sequence"),
        &[&req.lease_until, &req.now, &req.exclude_endpoints, &(req.limit as i64)],
    )
    .await?;
    rows.iter().map(|r| claimed_row(r, true)).collect()
}

async fn jobs_of(tx: &Tx<'_>, claimed: Vec<Claimed>) -> StoreResult<Vec<Job>> {
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    // Everything the batch needs in two queries sent together, each event and endpoint
    // loaded once.
    let endpoint_ids: Vec<&str> = claimed.iter().map(|c| c.2.as_str()).collect();
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ANY($1)");
    let params: [db::Param<'_>; 1] = [&endpoint_ids];
    let (_, events, endpoint_rows) = tokio::try_join!(
        db::plan_by_key(tx),
        load_events(tx, claimed.iter().map(|c| &c.1)),
        query(tx, &sql, &params),
    )?;
    let endpoints: HashMap<String, Arc<Endpoint>> = endpoint_rows
        .iter()
        .map(|r| db::endpoint(r).map(|e| (e.id.clone(), Arc::new(e))))
        .collect::<StoreResult<_>>()?;
    let mut jobs = Vec::with_capacity(claimed.len());
    for (delivery_id, event_id, endpoint_id, round_attempts, probe, ordering) in claimed {
        let event = events
            .get(&event_id)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("delivery refers to missing event {}", event_id.0)))?;
        let endpoint = endpoints.get(&endpoint_id).cloned().ok_or_else(|| {
            StoreError::Corrupt(format!("claimed delivery of missing endpoint {endpoint_id}"))
        })?;
        jobs.push(Job {
            delivery_id,
            round_attempts,
            event,
            endpoint,
            probe,
            ordering,
        });
    }
    // RETURNING gives no order: start the batch in publish order.
    jobs.sort_by_key(|j| j.event.seq);
    Ok(jobs)
}

pub async fn record_attempt(tx: &Tx<'_>, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    let a = &rec.attempt;
    exec(
        tx,
        "INSERT INTO attempts (id, delivery_id, attempted_at, status_code, duration_ms, error, response_body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &a.id,
            &a.delivery_id,
            &a.attempted_at,
            &a.status_code.map(i64::from),
            &(a.duration_ms as i64),
            &a.error,
            &a.response_body,
        ],
    )
    .await?;
    let (state, next_at) = rec.next.state_after();
    let state = state.as_str();
    // A delivery finished while the attempt was in flight (its endpoint was deleted or
    // answered 410) keeps its final state; the attempt is still counted and logged.
    exec(
        tx,
        "UPDATE deliveries SET \
         state = CASE WHEN state IN ('pending', 'delivering') THEN $2 ELSE state END, \
         next_attempt_at = CASE WHEN state IN ('pending', 'delivering') THEN $3 ELSE next_attempt_at END, \
         attempts = attempts + 1, round_attempts = round_attempts + 1, lease_until = NULL, \
         last_attempt_at = $4, last_status = $5, \
         last_error = CASE WHEN state IN ('pending', 'delivering') THEN $6 ELSE last_error END, \
         updated_at = $7 WHERE id = $1",
        &[
            &a.delivery_id,
            &state,
            &next_at,
            &a.attempted_at,
            &a.status_code.map(i64::from),
            &a.error,
            &now,
        ],
    )
    .await?;
    move_waiting(tx, rec, now).await?;
    after_attempt(tx, rec, now).await
}

/// Moves the deliveries waiting behind a keyed delivery to when they may go
/// (`ordering::waiting_due`): with its retry, now, or (parked) not until a resume.
pub async fn move_waiting(tx: &Tx<'_>, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    let (Some(position), Some(due)) = (&rec.ordering, waiting_due(&rec.next, now)) else {
        return Ok(());
    };
    super::ordered::set_waiting(tx, &rec.endpoint_id, &position.key, position.sequence, due).await?;
    Ok(())
}

/// Notes since when an endpoint has been failing and applies what `domain::health`
/// decides follows a failure.
async fn after_attempt(tx: &Tx<'_>, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    if rec.next == NextStep::Succeeded {
        exec(
            tx,
            concat!(
                "UPDATE endpoints SET ",
                clean_standing!(),
                " WHERE id = $1 AND ",
                standing_not_clean!()
            ),
            &[&rec.endpoint_id],
        )
        .await?;
        if rec.probe {
            release_held(tx, &rec.endpoint_id, now).await?;
        }
        return Ok(());
    }
    after_failure(tx, rec, now).await
}

/// See `release_held!`.
pub async fn release_held(tx: &Tx<'_>, endpoint_id: &str, now: Millis) -> StoreResult<()> {
    exec(tx, release_held!("$1", "$2"), &[&endpoint_id, &now]).await?;
    Ok(())
}

/// The health bookkeeping of a failed attempt.
pub async fn after_failure(tx: &Tx<'_>, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    let Some(row) = query_opt(
        tx,
        "UPDATE endpoints SET failing_since = coalesce(failing_since, $2) WHERE id = $1 \
         RETURNING tenant, disabled, failing_since, circuit_after, consecutive_failures, circuit_wait_ms, \
         circuit_until, paused_until",
        &[&rec.endpoint_id, &rec.attempt.attempted_at],
    )
    .await?
    else {
        return Ok(()); // deleted meanwhile
    };
    let standing = Standing {
        tenant: get(&row, 0)?,
        disabled: get(&row, 1)?,
        failing_since: get(&row, 2)?,
        circuit_after: get::<i32>(&row, 3)? as u32,
        breaker: crate::domain::breaker::Breaker {
            consecutive_failures: get::<i32>(&row, 4)? as u32,
            open: crate::domain::breaker::Open::from_columns(get(&row, 5)?, get(&row, 6)?),
        },
        paused_until: get(&row, 7)?,
    };
    for effect in health::after_failure(rec, &standing, now) {
        match effect {
            Effect::Publish {
                event_type,
                tenant,
                payload,
            } => publish_internal(tx, event_type, tenant.as_deref(), payload, now).await?,
            Effect::Disable { reason, fail_pending } => {
                endpoints::disable(tx, &rec.endpoint_id, &reason, now).await?;
                if let Some(error) = fail_pending {
                    endpoints::fail_pending(tx, &rec.endpoint_id, error, now).await?;
                }
            }
            Effect::Control {
                breaker,
                paused_until,
            } => endpoints::set_control(tx, &rec.endpoint_id, &breaker, paused_until).await?,
        }
    }
    Ok(())
}

pub async fn release(tx: &Tx<'_>, ids: &[String], now: Millis) -> StoreResult<()> {
    exec(
        tx,
        "UPDATE deliveries SET state = 'pending', lease_until = NULL, updated_at = $2 \
         WHERE id = ANY($1) AND state = 'delivering'",
        &[&ids, &now],
    )
    .await?;
    Ok(())
}

pub async fn next_due_at(tx: &Tx<'_>) -> StoreResult<Option<Millis>> {
    let row = query_opt(
        tx,
        concat!(
            "SELECT d.next_attempt_at FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_attempt_at IS NOT NULL AND NOT e.disabled AND ",
            pushes!("e."),
            " ORDER BY d.next_attempt_at LIMIT 1"
        ),
        &[],
    )
    .await?;
    row.map(|r| get(&r, 0)).transpose().map(Option::flatten)
}

pub async fn endpoint_queue(tx: &Tx<'_>, endpoint_id: &str) -> StoreResult<EndpointQueue> {
    let (blocked_keys, parked_keys) = super::ordered::key_counts(tx, endpoint_id).await?;
    let row = query_opt(
        tx,
        "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'delivering'), \
         min(created_at) FILTER (WHERE state = 'pending') \
         FROM deliveries WHERE endpoint_id = $1 AND state IN ('pending', 'delivering')",
        &[&endpoint_id],
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("an aggregate returned no row".into()))?;
    Ok(EndpointQueue {
        pending: get::<i64>(&row, 0)? as u64,
        in_flight: get::<i64>(&row, 1)? as u64,
        oldest_pending_at: get(&row, 2)?,
        blocked_keys,
        parked_keys,
    })
}

pub async fn stats(tx: &Tx<'_>, now: Millis) -> StoreResult<QueueStats> {
    let by_state = query(tx, "SELECT state, count(*) FROM deliveries GROUP BY state", &[])
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u64)))
        .collect::<StoreResult<_>>()?;
    let oldest_due_at = get(
        &query(
            tx,
            "SELECT min(next_attempt_at) FROM deliveries WHERE state = 'pending' AND next_attempt_at <= $1",
            &[&now],
        )
        .await?[0],
        0,
    )?;
    let top_failing = query(
        tx,
        "SELECT endpoint_id, count(*) AS n FROM deliveries WHERE state = 'failed' \
         GROUP BY endpoint_id ORDER BY n DESC LIMIT 20",
        &[],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u64)))
    .collect::<StoreResult<_>>()?;
    let held = query(
        tx,
        "SELECT id, circuit_wait_ms IS NOT NULL, coalesce(paused_until > $1, false) FROM endpoints \
         WHERE circuit_wait_ms IS NOT NULL OR paused_until > $1 ORDER BY id LIMIT 100",
        &[&now],
    )
    .await?
    .iter()
    .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
    .collect::<StoreResult<_>>()?;
    Ok(QueueStats {
        by_state,
        oldest_due_at,
        top_failing,
        held,
        keys: super::ordered::all_key_counts(tx).await?,
    })
}
