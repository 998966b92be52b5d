//! The PostgreSQL store: any number of herald nodes share one database. Work is divided
//! by row leases claimed with `FOR UPDATE SKIP LOCKED`; a node that dies leaves leases that
//! expire, and another node takes the work over. Commits that create due work send a
//! `NOTIFY herald_wake`, which wakes every node's workers and pull consumers; each node
//! still polls, because notifications are lost while its listener reconnects.

mod db;
mod endpoints;
mod event_types;
mod events;
mod keys;
mod ordered;
mod partitions;
mod publisher;
mod pull;
mod queue;
mod rate;
mod recorder;
mod recovery;
mod retention;
mod schema;
mod search;
mod sources;
mod tls;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

use self::db::pg;
use super::{
    ApiKey, AttemptRecord, Claim, ClaimRequest, ConsoleSession, DeliveryFilter, DeliveryQuery, DeliveryStats,
    EndpointQuery, EndpointQueue, EndpointStore, EventQuery, EventStore, EventTypeStore, InboundEvent,
    IngestOutcome, KeyOutcome, KeyStore, NodeStore, PartitionPlan, Partitioned, PullRequest, PullStore,
    PulledDelivery, Purged, QueueStats, QueueStore, RateDecision, RecentDeliveries, ReplayOutcome,
    RequestRecord, RetryOutcome, SecretParts, SourceStore, StoreError, StoreResult, WakeFn,
};
use crate::domain::ordering::KeyAction;
use crate::domain::source::{Source, SourcePatch};
use crate::domain::{
    Attempt, Clock, Delivery, Endpoint, EndpointPatch, Event, EventType, EventTypePatch, Millis, NewEvent,
    Page, PublishOutcome, PublishSummary, Scope,
};

/// Connections per node.
const POOL_SIZE: usize = 16;

/// How often partition upkeep tries a step that gave up waiting for locks.
const LOCK_TRIES: usize = 5;

pub struct PgStore {
    pool: Pool,
    config: tokio_postgres::Config,
    tls: tls::MakeRustls,
    recorder: recorder::Recorder,
    publisher: publisher::Publisher,
    clock: Clock,
}

/// The connection settings and the TLS of a store URL (libpq's `sslmode`, see `tls`).
fn parse_url(url: &str) -> StoreResult<(tokio_postgres::Config, tls::MakeRustls)> {
    let target = tls::target(url)?;
    Ok((
        tokio_postgres::Config::from_str(&target.url).map_err(pg)?,
        target.tls,
    ))
}

impl PgStore {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn connect(url: &str, clock: Clock) -> StoreResult<PgStore> {
        let (config, tls) = parse_url(url)?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let store = PgStore {
            recorder: recorder::Recorder::start(pool.clone(), clock.clone()),
            publisher: publisher::Publisher::start(pool.clone()),
            pool,
            config,
            tls,
            clock,
        };
        let mut client = store.client().await?;
        let ran = schema::migrate(&mut client).await.map_err(pg)?;
        if ran > 0 {
            tracing::info!(ran, "applied PostgreSQL migrations");
        }
        Ok(store)
    }

    /// Applies pending migrations without serving (`herald migrate`); returns how many ran.
    pub async fn migrate(url: &str) -> StoreResult<usize> {
        let (config, tls) = parse_url(url)?;
        let (mut client, conn) = config.connect(tls).await.map_err(pg)?;
        let driver = tokio::spawn(conn);
        let ran = schema::migrate(&mut client).await.map_err(pg);
        drop(client);
        let _ = driver.await;
        ran
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))
    }
}

/// Runs `$body` (which uses `$tx`) in one transaction and commits it.
macro_rules! in_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let $tx = client.transaction().await.map_err(pg)?;
        let out = $body;
        $tx.commit().await.map_err(pg)?;
        Ok(out)
    }};
}

impl PgStore {
    /// Makes one span's partitions (table by table, each tried up to [`LOCK_TRIES`]
    /// times); true when this call made it.
    async fn make_span(&self, span: partitions::Span) -> StoreResult<bool> {
        let overlaps: StoreResult<bool> = in_tx!(self, |tx| partitions::overlaps(&tx, span).await?);
        if overlaps? {
            return Ok(false);
        }
        for table in partitions::tables() {
            let name = table.0;
            let mut step = partitions::Step::Busy;
            for _ in 0..LOCK_TRIES {
                let tried: StoreResult<_> =
                    in_tx!(self, |tx| partitions::make_part(&tx, span, table).await?);
                step = tried?;
                if step == partitions::Step::Done {
                    break;
                }
            }
            if step == partitions::Step::Busy {
                return Err(StoreError::Backend(
                    format!("making partition {} kept waiting for locks", span.table(name)).into(),
                ));
            }
        }
        let recorded: StoreResult<()> = in_tx!(self, |tx| partitions::record(&tx, span).await?);
        recorded.map(|()| true)
    }
}

/// Listens for `herald_wake` until `stop`, reconnecting after errors; calls `on_wake` for
/// each notification and once after every (re)connect, to catch up on what was missed.
async fn listen(
    (config, tls): (tokio_postgres::Config, tls::MakeRustls),
    on_wake: WakeFn,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let session = async {
            let (client, mut conn) = config.connect(tls.clone()).await?;
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
            let driver = tokio::spawn(async move {
                while let Some(msg) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                    match msg {
                        Ok(AsyncMessage::Notification(_)) => {
                            if tx.send(()).is_err() {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "the wake-up listener lost its connection");
                            break;
                        }
                    }
                }
            });
            client.batch_execute("LISTEN herald_wake").await?;
            on_wake();
            while rx.recv().await.is_some() {
                on_wake();
            }
            driver.abort();
            Ok::<(), tokio_postgres::Error>(())
        };
        tokio::select! {
            r = session => if let Err(e) = r {
                tracing::warn!(error = %e, "the wake-up listener could not connect; polling meanwhile");
            },
            _ = stop.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[async_trait]
impl NodeStore for PgStore {
    async fn ready(&self) -> StoreResult<()> {
        let client = self.client().await?;
        // A standby or a read-only database cannot take a publish: not ready.
        let row = client
            .query_one("SELECT current_setting('transaction_read_only') = 'off'", &[])
            .await
            .map_err(pg)?;
        if row.get::<_, bool>(0) {
            Ok(())
        } else {
            Err(StoreError::Commit("the database is read-only".into()))
        }
    }

    fn watch_remote(&self, on_wake: WakeFn, stop: watch::Receiver<bool>) {
        tokio::spawn(listen((self.config.clone(), self.tls.clone()), on_wake, stop));
    }

    async fn take_shared_rate(&self, key: &str, per_s: u32, burst: u32) -> StoreResult<Option<RateDecision>> {
        let client = self.client().await?;
        let gcra = rate::Gcra::new(per_s, burst);
        gcra.take(&client, key, self.clock.now_ms() * 1000)
            .await
            .map(Some)
    }

    async fn purge_before(&self, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
        in_tx!(self, |tx| retention::purge(&tx, cutoff, limit).await?)
    }

    async fn tend_partitions(&self, plan: PartitionPlan) -> StoreResult<Partitioned> {
        let mut done = Partitioned::default();
        let expired: StoreResult<Vec<_>> = in_tx!(self, |tx| partitions::expired(&tx, plan.cutoff).await?);
        for span in expired? {
            for _ in 0..LOCK_TRIES {
                let expiry: StoreResult<_> = in_tx!(self, |tx| partitions::drop_settled(&tx, span).await?);
                match expiry? {
                    partitions::Expiry::Dropped => done.dropped += 1,
                    partitions::Expiry::Owed => done.kept_owed += 1,
                    partitions::Expiry::Gone => {}
                    partitions::Expiry::Busy => continue,
                }
                break;
            }
        }
        // After the drops, so a span that cannot be made does not keep old ones.
        for (starts, ends) in plan.spans() {
            if self.make_span(partitions::Span { starts, ends }).await? {
                done.made += 1;
            }
        }
        Ok(done)
    }
}

#[async_trait]
impl KeyStore for PgStore {
    async fn insert_key(&self, id: String, hash: String, tenant: Option<String>) -> StoreResult<()> {
        in_tx!(self, |tx| keys::insert_key(
            &tx,
            &id,
            &hash,
            tenant.as_deref(),
            self.clock.now_ms()
        )
        .await?)
    }

    async fn find_key(&self, hash: String) -> StoreResult<Option<ApiKey>> {
        in_tx!(self, |tx| keys::find_key(&tx, &hash).await?)
    }

    async fn insert_first_admin_key(&self, id: String, hash: String) -> StoreResult<bool> {
        in_tx!(self, |tx| keys::insert_first_admin_key(
            &tx,
            &id,
            &hash,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn list_keys(&self, tenant: Option<String>) -> StoreResult<Vec<ApiKey>> {
        in_tx!(self, |tx| keys::list_keys(&tx, tenant.as_deref()).await?)
    }

    async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        in_tx!(self, |tx| keys::revoke_key(&tx, id, self.clock.now_ms()).await?)
    }

    async fn create_session(&self, session: ConsoleSession) -> StoreResult<()> {
        in_tx!(self, |tx| keys::create_session(&tx, &session).await?)
    }

    async fn find_session(&self, id_hash: String) -> StoreResult<Option<ConsoleSession>> {
        in_tx!(self, |tx| keys::find_session(&tx, &id_hash).await?)
    }

    async fn delete_session(&self, id_hash: String) -> StoreResult<()> {
        in_tx!(self, |tx| keys::delete_session(&tx, &id_hash).await?)
    }
}

#[async_trait]
impl EndpointStore for PgStore {
    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<()> {
        in_tx!(self, |tx| endpoints::insert(&tx, &endpoint).await?)
    }

    async fn get_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<Option<Endpoint>> {
        in_tx!(self, |tx| endpoints::get_visible(&tx, scope, id).await?)
    }

    async fn list_endpoints(&self, scope: &Scope, query: EndpointQuery) -> StoreResult<Page<Endpoint>> {
        in_tx!(self, |tx| endpoints::list(&tx, scope, &query).await?)
    }

    async fn update_endpoint(
        &self,
        scope: &Scope,
        id: &str,
        patch: EndpointPatch,
    ) -> StoreResult<Option<Endpoint>> {
        in_tx!(self, |tx| endpoints::update(
            &tx,
            scope,
            id,
            patch,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn delete_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        in_tx!(self, |tx| endpoints::delete(&tx, scope, id, self.clock.now_ms())
            .await?)
    }

    async fn rotate_secret(
        &self,
        scope: &Scope,
        id: &str,
        secret: String,
        grace_until: Millis,
    ) -> StoreResult<Option<Endpoint>> {
        in_tx!(self, |tx| endpoints::rotate(
            &tx,
            scope,
            id,
            secret,
            grace_until,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn replace_endpoint_secrets(&self, id: &str, parts: SecretParts) -> StoreResult<bool> {
        in_tx!(self, |tx| endpoints::replace_secrets(&tx, id, &parts).await?)
    }

    async fn recover_endpoint(&self, scope: &Scope, id: &str, since: Millis) -> StoreResult<Option<usize>> {
        in_tx!(self, |tx| recovery::recover(
            &tx,
            scope,
            id,
            since,
            self.clock.now_ms()
        )
        .await?)
    }
}

#[async_trait]
impl EventTypeStore for PgStore {
    async fn create_event_type(&self, event_type: EventType) -> StoreResult<bool> {
        in_tx!(self, |tx| event_types::insert_type(&tx, &event_type).await?)
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>> {
        in_tx!(self, |tx| event_types::get_type(&tx, name).await?)
    }

    async fn list_event_types(&self, include_archived: bool) -> StoreResult<Vec<EventType>> {
        in_tx!(self, |tx| event_types::list_types(&tx, include_archived).await?)
    }

    async fn update_event_type(&self, name: &str, patch: EventTypePatch) -> StoreResult<Option<EventType>> {
        in_tx!(self, |tx| event_types::update_type(
            &tx,
            name,
            patch,
            self.clock.now_ms()
        )
        .await?)
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn publish(&self, event: NewEvent) -> StoreResult<PublishOutcome> {
        self.publisher.publish(event).await
    }

    async fn get_event(&self, scope: &Scope, id: &str) -> StoreResult<Option<Event>> {
        in_tx!(self, |tx| events::get_visible(&tx, scope, id).await?)
    }

    async fn list_events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Page<Event>> {
        in_tx!(self, |tx| events::list(&tx, scope, &query).await?)
    }

    async fn list_deliveries(&self, scope: &Scope, event_id: &str) -> StoreResult<Option<Vec<Delivery>>> {
        in_tx!(self, |tx| events::deliveries(&tx, scope, event_id).await?)
    }

    async fn get_delivery(&self, scope: &Scope, id: &str) -> StoreResult<Option<Delivery>> {
        in_tx!(self, |tx| events::delivery(&tx, scope, id).await?)
    }

    async fn list_attempts(&self, scope: &Scope, delivery_id: &str) -> StoreResult<Option<Vec<Attempt>>> {
        in_tx!(self, |tx| events::attempts(&tx, scope, delivery_id).await?)
    }

    async fn replay_event(
        &self,
        scope: &Scope,
        event_id: &str,
        endpoint_id: Option<String>,
    ) -> StoreResult<ReplayOutcome> {
        in_tx!(self, |tx| recovery::replay(
            &tx,
            scope,
            event_id,
            endpoint_id.as_deref(),
            self.clock.now_ms()
        )
        .await?)
    }

    async fn retry_delivery(&self, scope: &Scope, delivery_id: &str) -> StoreResult<RetryOutcome> {
        in_tx!(self, |tx| recovery::retry(
            &tx,
            scope,
            delivery_id,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn search_deliveries(&self, scope: &Scope, query: DeliveryQuery) -> StoreResult<Page<Delivery>> {
        in_tx!(self, |tx| search::search(&tx, scope, &query).await?)
    }

    async fn retry_matching(
        &self,
        scope: &Scope,
        filter: DeliveryFilter,
        dry_run: bool,
        max: usize,
    ) -> StoreResult<usize> {
        in_tx!(self, |tx| search::retry_matching(
            &tx,
            scope,
            &filter,
            dry_run,
            max,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn delivery_stats(&self, scope: &Scope, since: Millis) -> StoreResult<DeliveryStats> {
        in_tx!(self, |tx| search::stats(&tx, scope, since).await?)
    }

    async fn recent_deliveries(&self, scope: &Scope, examine: usize) -> StoreResult<RecentDeliveries> {
        in_tx!(self, |tx| search::recent(&tx, scope, examine).await?)
    }

    async fn queued_count(&self, scope: &Scope, cap: usize) -> StoreResult<u64> {
        in_tx!(self, |tx| search::queued_count(&tx, scope, cap).await?)
    }

    async fn publish_to(&self, event: NewEvent, endpoint_id: &str) -> StoreResult<Option<PublishSummary>> {
        in_tx!(self, |tx| search::publish_to(&tx, event, endpoint_id).await?)
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        in_tx!(self, |tx| queue::stats(&tx, self.clock.now_ms()).await?)
    }
}

#[async_trait]
impl QueueStore for PgStore {
    async fn claim(&self, request: ClaimRequest) -> StoreResult<Claim> {
        in_tx!(self, |tx| queue::claim(&tx, &request).await?)
    }

    async fn record_attempt(&self, record: AttemptRecord) -> StoreResult<()> {
        self.recorder.record(record).await
    }

    async fn release(&self, delivery_ids: Vec<String>) -> StoreResult<()> {
        in_tx!(self, |tx| queue::release(&tx, &delivery_ids, self.clock.now_ms())
            .await?)
    }

    async fn next_due_at(&self) -> StoreResult<Option<Millis>> {
        in_tx!(self, |tx| queue::next_due_at(&tx).await?)
    }

    async fn endpoint_queue(&self, endpoint_id: &str) -> StoreResult<EndpointQueue> {
        in_tx!(self, |tx| queue::endpoint_queue(&tx, endpoint_id).await?)
    }

    async fn key_action(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        key: &str,
        action: KeyAction,
    ) -> StoreResult<Option<KeyOutcome>> {
        in_tx!(self, |tx| ordered::act(
            &tx,
            scope,
            endpoint_id,
            key,
            action,
            self.clock.now_ms()
        )
        .await?)
    }
}

#[async_trait]
impl PullStore for PgStore {
    async fn pull_claim(
        &self,
        scope: &Scope,
        request: PullRequest,
    ) -> StoreResult<Option<Vec<PulledDelivery>>> {
        let PullRequest {
            endpoint_id,
            max,
            lease_until,
        } = request;
        in_tx!(self, |tx| pull::claim(
            &tx,
            scope,
            &endpoint_id,
            max,
            lease_until,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn pull_ack(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
    ) -> StoreResult<Option<usize>> {
        in_tx!(self, |tx| pull::ack(
            &tx,
            scope,
            endpoint_id,
            &ids,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn pull_extend(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
        lease_until: Millis,
    ) -> StoreResult<Option<usize>> {
        in_tx!(self, |tx| pull::extend(
            &tx,
            scope,
            endpoint_id,
            &ids,
            lease_until,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn stream_ack_upto(&self, endpoint_id: &str, cursor: i64) -> StoreResult<Option<usize>> {
        in_tx!(self, |tx| pull::ack_upto(
            &tx,
            endpoint_id,
            cursor,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn stream_read(
        &self,
        endpoint_id: &str,
        cursor: i64,
        limit: usize,
    ) -> StoreResult<Vec<PulledDelivery>> {
        in_tx!(self, |tx| pull::read_after(&tx, endpoint_id, cursor, limit)
            .await?)
    }
}

#[async_trait]
impl SourceStore for PgStore {
    async fn create_source(&self, source: Source) -> StoreResult<()> {
        in_tx!(self, |tx| sources::insert(&tx, &source).await?)
    }

    async fn get_source(&self, scope: &Scope, id: &str) -> StoreResult<Option<Source>> {
        in_tx!(self, |tx| sources::get_visible(&tx, scope, id).await?)
    }

    async fn list_sources(
        &self,
        scope: &Scope,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Page<Source>> {
        in_tx!(self, |tx| sources::list(&tx, scope, cursor.as_deref(), limit)
            .await?)
    }

    async fn update_source(
        &self,
        scope: &Scope,
        id: &str,
        patch: SourcePatch,
    ) -> StoreResult<Option<Source>> {
        in_tx!(self, |tx| sources::update(
            &tx,
            scope,
            id,
            patch,
            self.clock.now_ms()
        )
        .await?)
    }

    async fn delete_source(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        in_tx!(self, |tx| sources::delete(&tx, scope, id).await?)
    }

    async fn ingest(&self, inbound: InboundEvent) -> StoreResult<IngestOutcome> {
        in_tx!(self, |tx| sources::ingest(&tx, inbound).await?)
    }

    async fn record_request(&self, record: RequestRecord) -> StoreResult<()> {
        in_tx!(self, |tx| sources::record_request(&tx, &record).await?)
    }

    async fn list_requests(
        &self,
        scope: &Scope,
        source_id: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Option<Page<RequestRecord>>> {
        in_tx!(self, |tx| sources::requests(
            &tx,
            scope,
            source_id,
            cursor.as_deref(),
            limit
        )
        .await?)
    }
}
