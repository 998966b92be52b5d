//! Attempt results committed in groups: every worker's finished attempt goes through one
//! channel, and a recorder task writes all that are waiting (up to [`MAX_BATCH`]) in one
//! transaction of a few set-based statements, so one commit (one WAL flush) serves many
//! deliveries. Each caller is answered after the commit. If a group fails, its records
//! are written again one by one, so one bad record cannot fail the others.

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::db::{exec, id_bounds, pg, plan_by_key, Tx};
use super::queue;
use crate::domain::{Clock, Millis};
use crate::store::{AttemptRecord, NextStep, StoreError, StoreResult};

const MAX_BATCH: usize = 256;

type Pending = (AttemptRecord, oneshot::Sender<StoreResult<()>>);

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Pending>,
}

impl Recorder {
    pub fn start(pool: Pool, clock: Clock) -> Recorder {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, clock, rx));
        Recorder { tx }
    }

    /// Resolves once the record is committed.
    pub async fn record(&self, record: AttemptRecord) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((record, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(pool: Pool, clock: Clock, mut rx: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let records: Vec<&AttemptRecord> = batch.iter().map(|(r, _)| r).collect();
        match write_group(&pool, &records, clock.now_ms()).await {
            Ok(()) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), "group of attempt records failed; writing them one by one");
                for (record, reply) in batch.drain(..) {
                    let _ = reply.send(write_one(&pool, &record, clock.now_ms()).await);
                }
            }
        }
    }
}

async fn write_one(pool: &Pool, record: &AttemptRecord, now: Millis) -> StoreResult<()> {
    let mut client = pool.get().await.map_err(|e| StoreError::Backend(Box::new(e)))?;
    let tx = client.transaction().await.map_err(pg)?;
    queue::record_attempt(&tx, record, now).await?;
    tx.commit().await.map_err(pg)
}

async fn write_group(pool: &Pool, records: &[&AttemptRecord], now: Millis) -> StoreResult<()> {
    let mut client = pool.get().await.map_err(|e| StoreError::Backend(Box::new(e)))?;
    let tx = client.transaction().await.map_err(pg)?;
    // Sent together: one round trip (see queue::claim).
    tokio::try_join!(
        plan_by_key(&tx),
        insert_attempts(&tx, records),
        advance_deliveries(&tx, records, now)
    )?;
    for record in records.iter().filter(|r| r.ordering.is_some()) {
        queue::move_waiting(&tx, record, now).await?;
    }
    let mut healthy: Vec<&str> = records
        .iter()
        .filter(|r| r.next == NextStep::Succeeded)
        .map(|r| r.endpoint_id.as_str())
        .collect();
    healthy.sort_unstable();
    healthy.dedup();
    exec(
        &tx,
        concat!(
            "UPDATE endpoints SET ",
            clean_standing!(),
            " WHERE id = ANY($1) AND ",
            standing_not_clean!()
        ),
        &[&healthy],
    )
    .await?;
    for record in records
        .iter()
        .filter(|r| r.probe && r.next == NextStep::Succeeded)
    {
        queue::release_held(&tx, &record.endpoint_id, now).await?;
    }
    // Failures are rarer and may disable endpoints and publish operational events.
    for record in records.iter().filter(|r| r.next != NextStep::Succeeded) {
        queue::after_failure(&tx, record, now).await?;
    }
    tx.commit().await.map_err(pg)
}

async fn insert_attempts(tx: &Tx<'_>, records: &[&AttemptRecord]) -> StoreResult<()> {
    let col = |f: fn(&AttemptRecord) -> Option<String>| records.iter().map(|r| f(r)).collect::<Vec<_>>();
    let ids = col(|r| Some(r.attempt.id.clone()));
    let deliveries = col(|r| Some(r.attempt.delivery_id.clone()));
    let errors = col(|r| r.attempt.error.clone());
    let bodies = col(|r| r.attempt.response_body.clone());
    let at: Vec<Millis> = records.iter().map(|r| r.attempt.attempted_at).collect();
    let status: Vec<Option<i64>> = records
        .iter()
        .map(|r| r.attempt.status_code.map(i64::from))
        .collect();
    let duration: Vec<i64> = records.iter().map(|r| r.attempt.duration_ms as i64).collect();
    exec(
        tx,
        "INSERT INTO attempts (id, delivery_id, attempted_at, status_code, duration_ms, error, response_body) \
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[])",
        &[&ids, &deliveries, &at, &status, &duration, &errors, &bodies],
    )
    .await?;
    Ok(())
}

/// Moves each delivery on; one finished meanwhile (endpoint deleted or gone) keeps its
/// final state, as in [`queue::record_attempt`].
async fn advance_deliveries(tx: &Tx<'_>, records: &[&AttemptRecord], now: Millis) -> StoreResult<()> {
    let ids: Vec<&str> = records.iter().map(|r| r.attempt.delivery_id.as_str()).collect();
    let states: Vec<&str> = records.iter().map(|r| r.next.state_after().0.as_str()).collect();
    let next_at: Vec<Option<Millis>> = records.iter().map(|r| r.next.state_after().1).collect();
    let at: Vec<Millis> = records.iter().map(|r| r.attempt.attempted_at).collect();
    let status: Vec<Option<i64>> = records
        .iter()
        .map(|r| r.attempt.status_code.map(i64::from))
        .collect();
    let errors: Vec<Option<&str>> = records.iter().map(|r| r.attempt.error.as_deref()).collect();
    let (lo, hi) = id_bounds(ids.iter().copied());
    exec(
        tx,
        "UPDATE deliveries d SET \
         state = CASE WHEN d.state IN ('pending', 'delivering') THEN u.state ELSE d.state END, \
         next_attempt_at = CASE WHEN d.state IN ('pending', 'delivering') THEN u.next_at ELSE d.next_attempt_at END, \
         attempts = d.attempts + 1, round_attempts = d.round_attempts + 1, lease_until = NULL, \
         last_attempt_at = u.at, last_status = u.status, \
         last_error = CASE WHEN d.state IN ('pending', 'delivering') THEN u.error ELSE d.last_error END, \
         updated_at = $7 \
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[]) \
             AS u(id, state, next_at, at, status, error) \
         WHERE d.id = u.id AND d.id BETWEEN $8 AND $9",
        &[&ids, &states, &next_at, &at, &status, &errors, &now, &lo, &hi],
    )
    .await?;
    Ok(())
}
