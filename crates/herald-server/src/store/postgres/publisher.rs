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
use crate::domain::{new_id_at, DeliveryState, NewEvent, PublishOutcome, PublishSummary};
use crate::store::{StoreError, StoreResult};

const MAX_BATCH: usize = 128;
/// Publisher tasks (connections) working at once.
const WORKERS: usize = 2;

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

/// Each tenant's subscribers, read once for the group.
async fn subscribers_of(
    tx: &Tx<'_>,
    group: &[&NewEvent],
) -> StoreResult<HashMap<Option<String>, SubscriberIndex>> {
    let mut subscribers = HashMap::new();
    for &ev in group {
        if !subscribers.contains_key(&ev.tenant) {
            let subs = endpoints::subscribers(tx, ev.tenant.as_deref()).await?;
            subscribers.insert(ev.tenant.clone(), subs);
        }
    }
    Ok(subscribers)
}

async fn store_group(pool: &Pool, group: &[&NewEvent]) -> StoreResult<Vec<PublishOutcome>> {
    let mut client = pool.get().await.map_err(|e| StoreError::Backend(Box::new(e)))?;
    let tx = client.transaction().await.map_err(pg)?;
    // The settings go out first, the subscriber lookups behind them (one round trip).
    let (_, subscribers) = tokio::try_join!(db::plan_by_key(&tx), subscribers_of(&tx, group))?;
    let mut outcomes = Vec::with_capacity(group.len());
    events::lock_keys(&tx, keys_of(group, &subscribers)).await?;
    let mut plain = Vec::new();
    for (i, &ev) in group.iter().enumerate() {
        let matching: Vec<&Subscriber> = subscribers[&ev.tenant].matching(&ev.event_type);
        // Repeats (ids, idempotency keys), pull endpoints' stream positions and ordered
        // keys' sequences take the careful path, one by one; the plain publishes to push
        // endpoints are one statement for the whole group.
        let careful = ev.caller_id
            || ev.idempotency_key.is_some()
            || matching.iter().any(|s| s.pull || s.ordering.is_some());
        if careful {
            outcomes.push((i, events::publish(&tx, ev.clone()).await?));
        } else {
            plain.push((i, (ev, matching)));
        }
    }
    if !plain.is_empty() {
        let (at, rows): (Vec<usize>, Vec<_>) = plain.into_iter().unzip();
        outcomes.extend(at.into_iter().zip(insert_plain(&tx, &rows).await?));
    }
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<PublishOutcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    let due = outcomes
        .iter()
        .any(|o| matches!(o, PublishOutcome::Created(s) if s.deliveries > 0));
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

/// A group's plain publishes (new ids, push endpoints only) and their deliveries, in one
/// statement whatever the group's size; the events take their sequence in the group's
/// order.
async fn insert_plain(
    tx: &Tx<'_>,
    plain: &[(&NewEvent, Vec<&Subscriber>)],
) -> StoreResult<Vec<PublishOutcome>> {
    let mut ev = PlainEvents::default();
    let mut dl = PlainDeliveries::default();
    let mut outcomes = Vec::with_capacity(plain.len());
    for (e, subs) in plain {
        let targets = subs
            .iter()
            .filter(|s| s.owed_state() == DeliveryState::Pending)
            .count();
        ev.push(e, targets as i64);
        for s in subs {
            dl.push(e, s);
        }
        outcomes.push(PublishOutcome::Created(PublishSummary {
            id: e.id.clone(),
            event_type: e.event_type.clone(),
            deliveries: targets as u32,
        }));
    }
    exec(
        tx,
        "WITH ev AS ( \
             INSERT INTO events (id, type, tenant, payload, content_type, idempotency_key, request_hash, \
             deliveries, created_at, source_id, headers, ordering_key) \
             SELECT id, type, tenant, payload, content_type, NULL, request_hash, deliveries, created_at, \
                 source_id, headers, ordering_key \
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BYTEA[], $5::TEXT[], $6::TEXT[], $7::BIGINT[], \
                 $8::BIGINT[], $9::TEXT[], $10::TEXT[], $11::TEXT[]) WITH ORDINALITY \
                 AS u(id, type, tenant, payload, content_type, request_hash, deliveries, created_at, source_id, \
                 headers, ordering_key, n) \
             ORDER BY n) \
         INSERT INTO deliveries (id, event_id, endpoint_id, tenant, state, attempts, next_attempt_at, pos, \
             created_at, updated_at) \
         SELECT d.id, d.event_id, d.endpoint_id, d.tenant, d.state, 0, \
             CASE WHEN d.state = 'pending' THEN GREATEST(d.at, \
                 (SELECT GREATEST(e.circuit_until, e.paused_until) FROM endpoints e WHERE e.id = d.endpoint_id)) END, \
             0, d.at, d.at \
         FROM UNNEST($12::TEXT[], $13::TEXT[], $14::TEXT[], $15::TEXT[], $16::TEXT[], $17::BIGINT[]) \
             AS d(id, event_id, endpoint_id, tenant, state, at)",
        &[
            &ev.ids, &ev.types, &ev.tenants, &ev.payloads, &ev.content_types, &ev.hashes, &ev.deliveries,
            &ev.created_at, &ev.sources, &ev.headers, &ev.keys, &dl.ids, &dl.events, &dl.endpoints,
            &dl.tenants, &dl.states, &dl.at,
        ],
    )
    .await?;
    Ok(outcomes)
}

/// The columns of a group's plain events, as arrays.
#[derive(Default)]
struct PlainEvents<'a> {
    ids: Vec<&'a str>,
    types: Vec<&'a str>,
    tenants: Vec<Option<&'a str>>,
    payloads: Vec<&'a [u8]>,
    content_types: Vec<&'a str>,
    hashes: Vec<&'a str>,
    deliveries: Vec<i64>,
    created_at: Vec<i64>,
    sources: Vec<Option<&'a str>>,
    headers: Vec<Option<&'a str>>,
    keys: Vec<Option<&'a str>>,
}

impl<'a> PlainEvents<'a> {
    fn push(&mut self, e: &'a NewEvent, deliveries: i64) {
        self.ids.push(&e.id);
        self.types.push(&e.event_type);
        self.tenants.push(e.tenant.as_deref());
        self.payloads.push(&e.payload);
        self.content_types.push(&e.content_type);
        self.hashes.push(&e.request_hash);
        self.deliveries.push(deliveries);
        self.created_at.push(e.created_at);
        self.sources.push(e.source_id.as_deref());
        self.headers.push(e.headers.as_deref());
        self.keys.push(e.ordering_key.as_deref());
    }
}

/// The columns of the deliveries a group's plain events owe, as arrays.
#[derive(Default)]
struct PlainDeliveries<'a> {
    ids: Vec<String>,
    events: Vec<&'a str>,
    endpoints: Vec<&'a str>,
    tenants: Vec<Option<&'a str>>,
    states: Vec<&'static str>,
    at: Vec<i64>,
}

impl<'a> PlainDeliveries<'a> {
    fn push(&mut self, e: &'a NewEvent, s: &'a Subscriber) {
        self.ids.push(new_id_at("dlv", e.created_at));
        self.events.push(&e.id);
        self.endpoints.push(&s.id);
        self.tenants.push(e.tenant.as_deref());
        self.states.push(s.owed_state().as_str());
        self.at.push(e.created_at);
    }
}
