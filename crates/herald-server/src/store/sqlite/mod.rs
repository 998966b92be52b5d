//! The embedded store: one SQLite file in WAL mode, one group-committing writer thread,
//! a few reader connections. One herald process owns a data directory at a time (an
//! exclusive file lock), so leases left by a killed process are released at start.

mod checkpoint;
mod endpoints;
mod event_types;
mod events;
mod health;
mod keys;
mod ordered;
mod pull;
mod queue;
mod recovery;
mod retention;
mod rows;
mod schema;
mod search;
mod sources;
mod writer;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::watch;

use self::checkpoint::{Checkpointer, Commits};
use self::writer::{backend, Readers, Writer};
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

const READERS: usize = 4;

/// Creates the data directory readable by its owner only (0700); an existing one keeps
/// its mode (the operator chose it).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Opens (creating if needed) a file readable and writable by its owner only (0600).
fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    restrict(path)?;
    Ok(file)
}

/// Makes an existing file 0600 (one written by an older herald under umask 022).
fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
    }
    let _ = path;
    Ok(())
}

/// A file that is not a database, or a damaged one, is `Corrupt` (found by SQLite's code).
fn corrupt_or_backend(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match e.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => StoreError::Corrupt(format!(
            "the embedded store's file is damaged or not a herald database ({e}); restore it from a backup"
        )),
        _ => backend(e),
    }
}

pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
    _checkpointer: Checkpointer,
    _lock: File,
    clock: Clock,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path, clock: Clock) -> StoreResult<SqliteStore> {
        let io = |e: std::io::Error| StoreError::Backend(Box::new(e));
        private_dir(data_dir).map_err(io)?;
        let lock = private_file(&data_dir.join("herald.lock")).map_err(io)?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked);
        }
        let path = data_dir.join("herald.db");
        // SQLite gives its -wal and -shm files the database file's mode.
        private_file(&path).map_err(io)?;
        for side in ["herald.db-wal", "herald.db-shm"] {
            restrict(&data_dir.join(side)).map_err(io)?;
        }
        let mut conn = Connection::open(&path).map_err(corrupt_or_backend)?;
        schema::configure(&conn).map_err(corrupt_or_backend)?;
        if let Err(found) = schema::quick_check(&conn).map_err(corrupt_or_backend)? {
            return Err(StoreError::Corrupt(format!(
                "{} failed SQLite's quick check ({found}); restore it from a backup",
                path.display()
            )));
        }
        schema::migrate(&mut conn).map_err(corrupt_or_backend)?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_AUTOCHECKPOINT_PAGES,
        )
        .map_err(backend)?;
        let released = queue::release_all_leases(&conn, clock.now_ms())?;
        if released > 0 {
            tracing::info!(released, "re-queued deliveries leased by a previous process");
        }
        let readers = (0..READERS)
            .map(|_| {
                let c = Connection::open(&path)?;
                schema::configure(&c)?;
                c.pragma_update(None, "query_only", true)?;
                Ok(c)
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        let commits = Commits::default();
        Ok(SqliteStore {
            _checkpointer: Checkpointer::start(&path, commits.clone()).map_err(backend)?,
            writer: Writer::start(conn, commits),
            readers: Readers::new(readers),
            _lock: lock,
            clock,
        })
    }
}

#[async_trait]
impl NodeStore for SqliteStore {
    async fn ready(&self) -> StoreResult<()> {
        let clock = self.clock.clone();
        self.readers
            .read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))
            .await?;
        // A real write: a store that can no longer write (read-only file, full disk) is
        // not ready.
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO readiness (id, checked_at) VALUES (1, ?1) \
                     ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                )
                .and_then(|mut st| st.execute([clock.now_ms()]))
                .map(drop)
                .map_err(backend)
            })
            .await
    }

    fn watch_remote(&self, _on_wake: WakeFn, _stop: watch::Receiver<bool>) {
        // One process owns the embedded store (it holds the lock): nobody else stores work.
    }

    /// One process: the caller's in-memory limiter is exact.
    async fn take_shared_rate(
        &self,
        _key: &str,
        _per_s: u32,
        _burst: u32,
    ) -> StoreResult<Option<RateDecision>> {
        Ok(None)
    }

    async fn purge_before(&self, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
        self.writer
            .write(move |c| retention::purge(c, cutoff, limit))
            .await
    }

    /// The embedded store is one file: retention deletes rows, there is nothing to drop.
    async fn tend_partitions(&self, _plan: PartitionPlan) -> StoreResult<Partitioned> {
        Ok(Partitioned::default())
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, id: String, hash: String, tenant: Option<String>) -> StoreResult<()> {
        let clock = self.clock.clone();
        self.writer
            .write(move |c| keys::insert(c, &id, &hash, tenant.as_deref(), clock.now_ms()))
            .await
    }

    async fn find_key(&self, hash: String) -> StoreResult<Option<ApiKey>> {
        self.readers.read(move |c| keys::find(c, &hash)).await
    }

    async fn insert_first_admin_key(&self, id: String, hash: String) -> StoreResult<bool> {
        let clock = self.clock.clone();
        self.writer
            .write(move |c| keys::insert_first_admin(c, &id, &hash, clock.now_ms()))
            .await
    }

    async fn list_keys(&self, tenant: Option<String>) -> StoreResult<Vec<ApiKey>> {
        self.readers.read(move |c| keys::list(c, tenant.as_deref())).await
    }

    async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        let clock = self.clock.clone();
        let id = id.to_string();
        self.writer
            .write(move |c| keys::revoke(c, &id, clock.now_ms()))
            .await
    }

    async fn create_session(&self, session: ConsoleSession) -> StoreResult<()> {
        self.writer
            .write(move |c| keys::create_session(c, &session))
            .await
    }

    async fn find_session(&self, id_hash: String) -> StoreResult<Option<ConsoleSession>> {
        self.readers.read(move |c| keys::find_session(c, &id_hash)).await
    }

    async fn delete_session(&self, id_hash: String) -> StoreResult<()> {
        self.writer
            .write(move |c| keys::delete_session(c, &id_hash))
            .await
    }
}

#[async_trait]
impl EndpointStore for SqliteStore {
    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<()> {
        self.writer.write(move |c| endpoints::insert(c, &endpoint)).await
    }

    async fn get_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<Option<Endpoint>> {
        let (scope, id) = (scope.clone(), id.to_string());
        self.readers.read(move |c| endpoints::get(c, &scope, &id)).await
    }

    async fn list_endpoints(&self, scope: &Scope, query: EndpointQuery) -> StoreResult<Page<Endpoint>> {
        let scope = scope.clone();
        self.readers
            .read(move |c| endpoints::list(c, &scope, &query))
            .await
    }

    async fn update_endpoint(
        &self,
        scope: &Scope,
        id: &str,
        patch: EndpointPatch,
    ) -> StoreResult<Option<Endpoint>> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), id.to_string());
        self.writer
            .write(move |c| endpoints::update(c, &scope, &id, patch, clock.now_ms()))
            .await
    }

    async fn delete_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), id.to_string());
        self.writer
            .write(move |c| endpoints::delete(c, &scope, &id, clock.now_ms()))
            .await
    }

    async fn rotate_secret(
        &self,
        scope: &Scope,
        id: &str,
        secret: String,
        grace_until: Millis,
    ) -> StoreResult<Option<Endpoint>> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), id.to_string());
        self.writer
            .write(move |c| endpoints::rotate(c, &scope, &id, secret, grace_until, clock.now_ms()))
            .await
    }

    async fn replace_endpoint_secrets(&self, id: &str, parts: SecretParts) -> StoreResult<bool> {
        let id = id.to_string();
        self.writer
            .write(move |c| endpoints::replace_secrets(c, &id, &parts))
            .await
    }

    async fn recover_endpoint(&self, scope: &Scope, id: &str, since: Millis) -> StoreResult<Option<usize>> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), id.to_string());
        self.writer
            .write(move |c| recovery::recover(c, &scope, &id, since, clock.now_ms()))
            .await
    }
}

#[async_trait]
impl EventTypeStore for SqliteStore {
    async fn create_event_type(&self, event_type: EventType) -> StoreResult<bool> {
        self.writer
            .write(move |c| event_types::insert(c, &event_type))
            .await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>> {
        let name = name.to_string();
        self.readers.read(move |c| event_types::get(c, &name)).await
    }

    async fn list_event_types(&self, include_archived: bool) -> StoreResult<Vec<EventType>> {
        self.readers
            .read(move |c| event_types::list(c, include_archived))
            .await
    }

    async fn update_event_type(&self, name: &str, patch: EventTypePatch) -> StoreResult<Option<EventType>> {
        let clock = self.clock.clone();
        let name = name.to_string();
        self.writer
            .write(move |c| event_types::update(c, &name, patch, clock.now_ms()))
            .await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn publish(&self, event: NewEvent) -> StoreResult<PublishOutcome> {
        self.writer.write(move |c| events::publish(c, event)).await
    }

    async fn get_event(&self, scope: &Scope, id: &str) -> StoreResult<Option<Event>> {
        let (scope, id) = (scope.clone(), id.to_string());
        self.readers.read(move |c| events::get(c, &scope, &id)).await
    }

    async fn list_events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Page<Event>> {
        let scope = scope.clone();
        self.readers.read(move |c| events::list(c, &scope, &query)).await
    }

    async fn list_deliveries(&self, scope: &Scope, event_id: &str) -> StoreResult<Option<Vec<Delivery>>> {
        let (scope, id) = (scope.clone(), event_id.to_string());
        self.readers
            .read(move |c| events::deliveries(c, &scope, &id))
            .await
    }

    async fn get_delivery(&self, scope: &Scope, id: &str) -> StoreResult<Option<Delivery>> {
        let (scope, id) = (scope.clone(), id.to_string());
        self.readers.read(move |c| events::delivery(c, &scope, &id)).await
    }

    async fn list_attempts(&self, scope: &Scope, delivery_id: &str) -> StoreResult<Option<Vec<Attempt>>> {
        let (scope, id) = (scope.clone(), delivery_id.to_string());
        self.readers.read(move |c| events::attempts(c, &scope, &id)).await
    }

    async fn replay_event(
        &self,
        scope: &Scope,
        event_id: &str,
        endpoint_id: Option<String>,
    ) -> StoreResult<ReplayOutcome> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), event_id.to_string());
        self.writer
            .write(move |c| recovery::replay(c, &scope, &id, endpoint_id.as_deref(), clock.now_ms()))
            .await
    }

    async fn retry_delivery(&self, scope: &Scope, delivery_id: &str) -> StoreResult<RetryOutcome> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), delivery_id.to_string());
        self.writer
            .write(move |c| recovery::retry(c, &scope, &id, clock.now_ms()))
            .await
    }

    async fn search_deliveries(&self, scope: &Scope, query: DeliveryQuery) -> StoreResult<Page<Delivery>> {
        let scope = scope.clone();
        self.readers
            .read(move |c| search::search(c, &scope, &query))
            .await
    }

    async fn retry_matching(
        &self,
        scope: &Scope,
        filter: DeliveryFilter,
        dry_run: bool,
        max: usize,
    ) -> StoreResult<usize> {
        let clock = self.clock.clone();
        let scope = scope.clone();
        self.writer
            .write(move |c| search::retry_matching(c, &scope, &filter, dry_run, max, clock.now_ms()))
            .await
    }

    async fn delivery_stats(&self, scope: &Scope, since: Millis) -> StoreResult<DeliveryStats> {
        let scope = scope.clone();
        self.readers.read(move |c| search::stats(c, &scope, since)).await
    }

    async fn recent_deliveries(&self, scope: &Scope, examine: usize) -> StoreResult<RecentDeliveries> {
        let scope = scope.clone();
        self.readers
            .read(move |c| search::recent(c, &scope, examine))
            .await
    }

    async fn queued_count(&self, scope: &Scope, cap: usize) -> StoreResult<u64> {
        let scope = scope.clone();
        self.readers
            .read(move |c| search::queued_count(c, &scope, cap))
            .await
    }

    async fn publish_to(&self, event: NewEvent, endpoint_id: &str) -> StoreResult<Option<PublishSummary>> {
        let id = endpoint_id.to_string();
        self.writer
            .write(move |c| search::publish_to(c, event, &id))
            .await
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let clock = self.clock.clone();
        self.readers.read(move |c| queue::stats(c, clock.now_ms())).await
    }
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn claim(&self, request: ClaimRequest) -> StoreResult<Claim> {
        // One node: nothing else claims, so nothing is ever passed over.
        let jobs = self.writer.write(move |c| queue::claim(c, &request)).await?;
        Ok(Claim {
            jobs,
            passed_over: false,
        })
    }

    async fn record_attempt(&self, record: AttemptRecord) -> StoreResult<()> {
        let clock = self.clock.clone();
        self.writer
            .write(move |c| queue::record_attempt(c, &record, clock.now_ms()))
            .await
    }

    async fn release(&self, delivery_ids: Vec<String>) -> StoreResult<()> {
        let clock = self.clock.clone();
        self.writer
            .write(move |c| queue::release(c, &delivery_ids, clock.now_ms()))
            .await
    }

    async fn next_due_at(&self) -> StoreResult<Option<Millis>> {
        self.readers.read(queue::next_due_at).await
    }

    async fn endpoint_queue(&self, endpoint_id: &str) -> StoreResult<EndpointQueue> {
        let id = endpoint_id.to_string();
        self.readers.read(move |c| queue::endpoint_queue(c, &id)).await
    }

    async fn key_action(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        key: &str,
        action: KeyAction,
    ) -> StoreResult<Option<KeyOutcome>> {
        let clock = self.clock.clone();
        let (scope, id, key) = (scope.clone(), endpoint_id.to_string(), key.to_string());
        self.writer
            .write(move |c| ordered::act(c, &scope, &id, &key, action, clock.now_ms()))
            .await
    }
}

#[async_trait]
impl PullStore for SqliteStore {
    async fn pull_claim(
        &self,
        scope: &Scope,
        request: PullRequest,
    ) -> StoreResult<Option<Vec<PulledDelivery>>> {
        let clock = self.clock.clone();
        let scope = scope.clone();
        self.writer
            .write(move |c| {
                let now = clock.now_ms();
                pull::claim(
                    c,
                    &scope,
                    &request.endpoint_id,
                    request.max,
                    request.lease_until,
                    now,
                )
            })
            .await
    }

    async fn pull_ack(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
    ) -> StoreResult<Option<usize>> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), endpoint_id.to_string());
        self.writer
            .write(move |c| pull::ack(c, &scope, &id, &ids, clock.now_ms()))
            .await
    }

    async fn pull_extend(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
        lease_until: Millis,
    ) -> StoreResult<Option<usize>> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), endpoint_id.to_string());
        self.writer
            .write(move |c| pull::extend(c, &scope, &id, &ids, lease_until, clock.now_ms()))
            .await
    }

    async fn stream_ack_upto(&self, endpoint_id: &str, cursor: i64) -> StoreResult<Option<usize>> {
        let clock = self.clock.clone();
        let id = endpoint_id.to_string();
        self.writer
            .write(move |c| pull::ack_upto(c, &id, cursor, clock.now_ms()))
            .await
    }

    async fn stream_read(
        &self,
        endpoint_id: &str,
        cursor: i64,
        limit: usize,
    ) -> StoreResult<Vec<PulledDelivery>> {
        let id = endpoint_id.to_string();
        self.readers
            .read(move |c| pull::read_after(c, &id, cursor, limit))
            .await
    }
}

#[async_trait]
impl SourceStore for SqliteStore {
    async fn create_source(&self, source: Source) -> StoreResult<()> {
        self.writer.write(move |c| sources::insert(c, &source)).await
    }

    async fn get_source(&self, scope: &Scope, id: &str) -> StoreResult<Option<Source>> {
        let (scope, id) = (scope.clone(), id.to_string());
        self.readers.read(move |c| sources::get(c, &scope, &id)).await
    }

    async fn list_sources(
        &self,
        scope: &Scope,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Page<Source>> {
        let scope = scope.clone();
        self.readers
            .read(move |c| sources::list(c, &scope, cursor.as_deref(), limit))
            .await
    }

    async fn update_source(
        &self,
        scope: &Scope,
        id: &str,
        patch: SourcePatch,
    ) -> StoreResult<Option<Source>> {
        let clock = self.clock.clone();
        let (scope, id) = (scope.clone(), id.to_string());
        self.writer
            .write(move |c| sources::update(c, &scope, &id, patch, clock.now_ms()))
            .await
    }

    async fn delete_source(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        let (scope, id) = (scope.clone(), id.to_string());
        self.writer.write(move |c| sources::delete(c, &scope, &id)).await
    }

    async fn ingest(&self, inbound: InboundEvent) -> StoreResult<IngestOutcome> {
        self.writer.write(move |c| sources::ingest(c, inbound)).await
    }

    async fn record_request(&self, record: RequestRecord) -> StoreResult<()> {
        self.writer
            .write(move |c| sources::record_request(c, &record))
            .await
    }

    async fn list_requests(
        &self,
        scope: &Scope,
        source_id: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Option<Page<RequestRecord>>> {
        let (scope, id) = (scope.clone(), source_id.to_string());
        self.readers
            .read(move |c| sources::requests(c, &scope, &id, cursor.as_deref(), limit))
            .await
    }
}
