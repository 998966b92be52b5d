//! Publishes committed in groups. Every publish goes through one channel; a few publisher
//! tasks (each with its own connection) take all that are waiting and store them in one
//! transaction, reading each tenant's subscribers once per group, so one commit (one WAL
//! flush) and a few round trips serve many publishes. Callers are answered after the
//! commit. A group that fails is stored again publish by publish.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::db::{self, exec, pg, Tx};
use super::endpoints;
use super::events;
use crate::domain::subscribers::{Subscriber, SubscriberIndex};
use crate::domain::{new_id, DeliveryState, NewEvent, PublishOutcome, PublishSummary};
use crate::store::{StoreError, StoreResult};

const MAX_BATCH: usize = 128;
/// Publisher tasks (connections) working at once.
const WORKERS: usize = 4;

type Pending = (NewEvent, oneshot::Sender<StoreResult<PublishOutcome>>);

#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Pending>,
}

impl Publisher {
    pub fn start(pool: Pool) -> Publisher {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            tokio::spawn(run(pool.clone(), rx.clone()));
        }
        Publisher { tx }
    }

    /// Resolves once the event and its deliveries are committed.
    pub async fn publish(&self, event: NewEvent) -> StoreResult<PublishOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(pool: Pool, rx: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
        }
        let events: Vec<&NewEvent> = batch.iter().map(|(e, _)| e).collect();
        match store_group(&pool, &events).await {
            Ok(outcomes) => {
                for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "group of publishes failed; storing them one by one");
                for (event, reply) in batch {
                    let _ = reply.send(store_one(&pool, event).await);
                }
            }
        }
    }
}

async fn store_one(pool: &Pool, event: NewEvent) -> StoreResult<PublishOutcome> {
    let mut client = pool.get().await.map_err(|e| StoreError::Backend(Box::new(e)))?;
    let tx = client.transaction().await.map_err(pg)?;
    let outcome = events::publish(&tx, event).await?;
    tx.commit().await.map_err(pg)?;
    Ok(outcome)
}

async fn store_group(pool: &Pool, group: &[&NewEvent]) -> StoreResult<Vec<PublishOutcome>> {
    let mut client = pool.get().await.map_err(|e| StoreError::Backend(Box::new(e)))?;
    let tx = client.transaction().await.map_err(pg)?;
    let mut subscribers: HashMap<Option<String>, SubscriberIndex> = HashMap::new();
    let mut outcomes = Vec::with_capacity(group.len());
    let mut due = false;
    for &ev in group {
        if !subscribers.contains_key(&ev.tenant) {
            let subs = endpoints::subscribers(&tx, ev.tenant.as_deref()).await?;
            subscribers.insert(ev.tenant.clone(), subs);
        }
    }
    events::lock_keys(&tx, keys_of(group, &subscribers)).await?;
    for &ev in group {
        let matching: Vec<&Subscriber> = subscribers[&ev.tenant].matching(&ev.event_type);
        // Repeats (ids, idempotency keys), pull endpoints' stream positions and ordered
        // keys' sequences take the careful path; a plain publish to push endpoints is one
        // statement.
        let careful = ev.caller_id
            || ev.idempotency_key.is_some()
            || matching.iter().any(|s| s.pull || s.ordering.is_some());
        let outcome = if careful {
            events::publish(&tx, ev.clone()).await?
        } else {
            insert_plain(&tx, ev, &matching).await?
        };
        if let PublishOutcome::Created(s) = &outcome {
            due |= s.deliveries > 0;
        }
        outcomes.push(outcome);
    }
    if due {
        db::notify(&tx).await?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(outcomes)
}

/// The (endpoint, key) pairs a group of publishes will number.
fn keys_of(
    group: &[&NewEvent],
    subscribers: &HashMap<Option<String>, SubscriberIndex>,
) -> Vec<(String, String)> {
    group
        .iter()
        .flat_map(|ev| {
            subscribers[&ev.tenant]
                .matching(&ev.event_type)
                .into_iter()
                .filter_map(|s| Some((s.id.clone(), s.key_of(ev.key_source())?)))
        })
        .collect()
}

/// The event and its deliveries to push endpoints in one statement.
async fn insert_plain(tx: &Tx<'_>, ev: &NewEvent, subs: &[&Subscriber]) -> StoreResult<PublishOutcome> {
    let targets = subs
        .iter()
        .filter(|s| s.owed_state() == DeliveryState::Pending)
        .count();
    let ids: Vec<String> = subs.iter().map(|_| new_id("dlv")).collect();
    let endpoint_ids: Vec<&str> = subs.iter().map(|s| s.id.as_str()).collect();
    let states: Vec<&str> = subs.iter().map(|s| s.owed_state().as_str()).collect();
    exec(
        tx,
        "WITH ev AS ( \
             INSERT INTO events (id, type, tenant, payload, content_type, idempotency_key, request_hash, \
             deliveries, created_at, source_id, headers, ordering_key) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10, $14) \
             RETURNING id) \
         INSERT INTO deliveries (id, event_id, endpoint_id, tenant, state, attempts, next_attempt_at, pos, \
             created_at, updated_at) \
         SELECT d.id, ev.id, d.endpoint_id, $3, d.state, 0, \
             CASE WHEN d.state = 'pending' THEN GREATEST($8::BIGINT, \
                 (SELECT GREATEST(e.circuit_until, e.paused_until) FROM endpoints e WHERE e.id = d.endpoint_id)) END, \
             0, $8, $8 \
         FROM ev, UNNEST($11::TEXT[], $12::TEXT[], $13::TEXT[]) AS d(id, endpoint_id, state)",
        &[
            &ev.id,
            &ev.event_type,
            &ev.tenant,
            &ev.payload,
            &ev.content_type,
            &ev.request_hash,
            &(targets as i64),
            &ev.created_at,
            &ev.source_id,
            &ev.headers,
            &ids,
            &endpoint_ids,
            &states,
            &ev.ordering_key,
        ],
    )
    .await?;
    Ok(PublishOutcome::Created(PublishSummary {
        id: ev.id.clone(),
        event_type: ev.event_type.clone(),
        deliveries: targets as u32,
    }))
}
