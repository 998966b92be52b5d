//! The store: the only queue, and the one place state lives.
//!
//! [`Store`] is what the API and the delivery workers program against. The embedded
//! implementation is [`sqlite::SqliteStore`]; a PostgreSQL one fills the same trait.
//! Deliveries are claimed with a lease (`lease_until`), which maps onto
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL.

/// SQL assignments that give an endpoint a clean standing: no failure streak, circuit
/// closed (`Breaker::after_success`). Both stores write them after a success and when an
/// endpoint is re-enabled; the same in both dialects.
macro_rules! clean_standing {
    () => {
        "failing_since = NULL, consecutive_failures = 0, circuit_wait_ms = NULL, circuit_until = NULL"
    };
}

/// The condition under which writing [`clean_standing`] changes the row (so a success
/// writes the endpoint row only when it has something to forget).
macro_rules! standing_not_clean {
    () => {
        "(failing_since IS NOT NULL OR consecutive_failures > 0 OR circuit_wait_ms IS NOT NULL)"
    };
}

/// The condition that an endpoint (columns prefixed `$p`) pushes its deliveries, to a URL
/// or to a broker; its negation is a pull endpoint. The same in both dialects.
macro_rules! pushes {
    ($p:literal) => {
        concat!("(", $p, "url IS NOT NULL OR ", $p, "destination IS NOT NULL)")
    };
}

/// The claim's order rule for a candidate delivery `d` (design section 8): a keyed
/// delivery goes only when no other delivery of its key is in flight and none with a lower
/// sequence is still owed. Waiting is therefore no attempt and has no backoff: the next
/// delivery of a key is claimable the moment its head settles. The same in both dialects;
/// the `deliveries_by_key` index answers it.
macro_rules! key_is_free {
    () => {
        "(d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries k \
         WHERE k.endpoint_id = d.endpoint_id AND k.ordering_key = d.ordering_key \
         AND k.state IN ('pending', 'delivering') AND k.id <> d.id \
         AND (k.state = 'delivering' OR k.sequence < d.sequence)))"
    };
}

/// The deliveries of a key that wait (owed, never tried in this round); the first term
/// lets the planner use the partial `deliveries_by_key` index.
macro_rules! waiting {
    () => {
        "state IN ('pending', 'delivering') AND state = 'pending' AND round_attempts = 0"
    };
}

/// Each endpoint's blocked keys (a head retrying with deliveries behind it) and parked
/// keys (a head out of retries, not due), as `(endpoint_id, blocked, parked)` rows; a
/// store adds its endpoint filter or its grouping. The same in both dialects.
macro_rules! key_counts {
    () => {
        "SELECT d.endpoint_id, \
         count(DISTINCT d.ordering_key) FILTER (WHERE d.next_attempt_at IS NOT NULL AND EXISTS ( \
             SELECT 1 FROM deliveries w WHERE w.endpoint_id = d.endpoint_id \
             AND w.ordering_key = d.ordering_key AND w.state IN ('pending', 'delivering') \
             AND w.sequence > d.sequence)), \
         count(*) FILTER (WHERE d.next_attempt_at IS NULL) \
         FROM deliveries d WHERE d.ordering_key IS NOT NULL \
         AND d.state IN ('pending', 'delivering') AND d.state = 'pending' AND d.round_attempts > 0"
    };
}

/// After an open circuit's probe got through: the deliveries held for the circuit (never
/// tried, due later than now) are due now, so the backlog drains at once. A store binds
/// the endpoint and the time (`{endpoint}`, `{now}` in its dialect).
macro_rules! release_held {
    ($endpoint:literal, $now:literal) => {
        concat!(
            "UPDATE deliveries SET next_attempt_at = ",
            $now,
            " WHERE endpoint_id = ",
            $endpoint,
            " AND state = 'pending' AND round_attempts = 0 AND next_attempt_at > ",
            $now
        )
    };
}

pub mod postgres;
pub mod sealed;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::domain::ordering::KeyAction;
use crate::domain::source::{Source, SourcePatch};
use crate::domain::{
    Attempt, Delivery, DeliveryState, Endpoint, EndpointPatch, EndpointSecret, Event, EventType,
    EventTypePatch, Millis, NewEvent, Page, PublishOutcome, PublishSummary, Scope,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is shut down")]
    Closed,
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the data directory is in use by another herald process")]
    Locked,
    #[error("a sealed secret cannot be opened: {0}")]
    Sealed(crate::seal::SealError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An API key as stored (only its hash).
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    /// `None` for an admin key.
    pub tenant: Option<String>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

/// A console sign-in. Only hashes are stored: of the cookie's value and of the key it was
/// opened with (so revoking the key ends it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id_hash: String,
    pub key_hash: String,
    /// The token every form of this session carries.
    pub csrf: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// The parts of an endpoint that are sealed at rest, written as given.
#[derive(Debug, Clone)]
pub struct SecretParts {
    pub secrets: Vec<EndpointSecret>,
    pub headers: std::collections::BTreeMap<String, String>,
    pub destination: Option<crate::domain::destination::Destination>,
}

/// Filters of the endpoint list.
#[derive(Debug, Clone, Default)]
pub struct EndpointQuery {
    pub tenant: Option<String>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// Filters of the event list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub tenant: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<Millis>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// Which deliveries a search or a bulk retry covers (every filter optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub state: Option<DeliveryState>,
    pub endpoint_id: Option<String>,
    pub event_type: Option<TypeFilter>,
    /// Deliveries of events received by this inbound source.
    pub source_id: Option<String>,
    /// The last response status, inclusive (`5xx` is `(500, 599)`).
    pub status: Option<(u16, u16)>,
    /// Created at or after / before these instants.
    pub since: Option<Millis>,
    pub until: Option<Millis>,
}

/// A type pattern as a filter: `ticket.created` exactly, or everything under `ticket.`
/// (`ticket.*`). The pattern `*` is no filter at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFilter {
    Exact(String),
    Prefix(String),
}

impl TypeFilter {
    /// The exact type and the prefix, as query parameters.
    pub fn parts(filter: Option<&TypeFilter>) -> (Option<&str>, Option<&str>) {
        match filter {
            Some(TypeFilter::Exact(t)) => (Some(t), None),
            Some(TypeFilter::Prefix(p)) => (None, Some(p)),
            None => (None, None),
        }
    }
}

/// A page of the delivery search, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub filter: DeliveryFilter,
    /// The id of the last delivery of the previous page.
    pub cursor: Option<String>,
    pub limit: usize,
    /// Look at no more than this many deliveries below the cursor (newest first), so a
    /// filter that matches little cannot read the whole table; the page then ends early
    /// with a cursor to go on from where it stopped. `None`: search until the page is full.
    pub examine: Option<usize>,
}

impl DeliveryQuery {
    /// The id bounds of the page as SQL: `d.id < cursor` when there is one and `d.id >=
    /// floor` when a bounded window is read, plain comparisons the primary key can range
    /// over (an `x IS NULL OR` form would have the planner scan). `p(n)` writes the
    /// dialect's placeholder for parameter `n`: 11 is the cursor, 13 the floor; an absent
    /// bound still names its parameter, so each store binds the same list.
    pub fn id_bounds(&self, floor: bool, p: impl Fn(usize) -> String) -> String {
        let bound = |present: bool, op: &str, n: usize| {
            if present {
                format!(" AND d.id {op} {}", p(n))
            } else {
                format!(" AND CAST({} AS TEXT) IS NULL", p(n))
            }
        };
        bound(self.cursor.is_some(), "<", 11) + &bound(floor, ">=", 13)
    }

    /// The page from what the search found (up to `limit` + 1 items) and the floor of the
    /// window it read, if one was set and reached: a short page with a floor goes on below
    /// it (`id < floor`, what was not looked at yet).
    pub fn page(&self, items: Vec<Delivery>, floor: Option<String>) -> Page<Delivery> {
        let mut page = Page::from_overfetch(items, self.limit, |d: &Delivery| d.id.clone());
        if page.next_cursor.is_none() {
            page.next_cursor = floor;
        }
        page
    }
}

/// The newest deliveries of the store, at most `examine` of them looked at: what a page
/// can count without reading a whole table. `rows` are those the scope sees.
#[derive(Debug, Clone, Default)]
pub struct RecentDeliveries {
    /// How many were looked at (less than asked: the store holds no more).
    pub examined: usize,
    /// When the oldest one looked at was created (whichever tenant it belongs to).
    pub reached: Option<Millis>,
    pub rows: Vec<RecentDelivery>,
}

#[derive(Debug, Clone)]
pub struct RecentDelivery {
    pub endpoint_id: String,
    pub event_id: String,
    pub state: DeliveryState,
    pub created_at: Millis,
}

/// Deliveries created since an instant, counted: `(endpoint, state, count)` rows, and
/// the events published in that time.
#[derive(Debug, Clone, Default)]
pub struct DeliveryStats {
    pub events: u64,
    pub by_endpoint: Vec<(String, DeliveryState, u64)>,
}

/// What a worker asks for when it claims work.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub now: Millis,
    pub limit: usize,
    pub lease_until: Millis,
    /// Endpoints already at their in-flight cap or rate: leave their work for later.
    pub exclude_endpoints: Vec<String>,
    /// Also put back the deliveries whose lease ran out and take the probes of open
    /// circuits whose wait is over (the dispatcher asks for this every 200 ms of business
    /// time at most; both are measured in seconds, and looking on every claim was two of
    /// a claim's five statements).
    pub sweep: bool,
}

/// What a claim leased.
#[derive(Debug)]
pub struct Claim {
    pub jobs: Vec<Job>,
    /// An endpoint with due work was left alone because another node was claiming for it
    /// at that moment: look again soon even if nothing wakes this node (the work may have
    /// been stored after the other node's claim began).
    pub passed_over: bool,
}

/// A claimed delivery with everything needed to send it.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery_id: String,
    /// Attempts made before this one in the current round of the retry schedule (a manual
    /// retry or a recovery starts a new round).
    pub round_attempts: u32,
    pub event: std::sync::Arc<Event>,
    pub endpoint: std::sync::Arc<Endpoint>,
    /// The one attempt an open circuit lets through (see `domain::breaker`).
    pub probe: bool,
    /// Its place in its key's order, on an ordered endpoint.
    pub ordering: Option<crate::domain::ordering::KeyPosition>,
}

pub use crate::domain::health::{AttemptRecord, NextStep};

/// What a manual retry of one delivery did.
#[derive(Debug, Clone)]
pub enum RetryOutcome {
    Queued(Delivery),
    /// It is pending or being delivered already.
    AlreadyQueued,
    NotFound,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// New deliveries created.
    Replayed(u32),
    EventNotFound,
    EndpointNotFound,
}

/// One request received by an inbound source, accepted or not.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub id: String,
    pub source_id: String,
    pub tenant: Option<String>,
    pub received_at: Millis,
    /// `accepted`, `duplicate`, `rejected` or `challenge`.
    pub outcome: String,
    pub status: u16,
    pub reason: Option<String>,
    pub event_id: Option<String>,
    pub remote_ip: String,
    /// Request headers as a JSON object, credentials redacted.
    pub headers: String,
    /// The body of a rejected request (truncated); accepted bodies live in their event.
    pub body: Option<Vec<u8>>,
    pub body_size: u64,
}

/// An accepted inbound request to store.
#[derive(Debug, Clone)]
pub struct InboundEvent {
    pub event: NewEvent,
    /// The de-duplication key and window (ms), when the source de-duplicates.
    pub dedupe: Option<(String, Millis)>,
    pub request: RequestRecord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Accepted(PublishSummary),
    /// Seen inside the window: the first event's id.
    Duplicate(String),
}

/// A delivery handed to a pull consumer.
#[derive(Debug, Clone)]
pub struct PulledDelivery {
    /// Position in the endpoint's stream (resume after it with `Last-Event-ID`).
    pub cursor: i64,
    pub delivery_id: String,
    pub attempts: u32,
    pub event: Event,
    /// Its place in its key's order, on an ordered endpoint.
    pub ordering: Option<crate::domain::ordering::KeyPosition>,
}

/// What a pull consumer asks for.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub endpoint_id: String,
    pub max: usize,
    pub lease_until: Millis,
}

/// The time partitions a store that has them should make and drop now, by the retention
/// rule (`retention::partition_plan`): spans of `period` ms, aligned to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionPlan {
    pub period: Millis,
    /// The first span to make starts here (earlier ones may already hold rows elsewhere).
    pub make_from: Millis,
    /// Spans starting before this are made.
    pub make_until: Millis,
    /// A span ending at or before this is past retention: dropped whole if it owes nothing.
    pub cutoff: Millis,
}

impl PartitionPlan {
    /// The spans `[starts, ends)` to make.
    pub fn spans(&self) -> Vec<(Millis, Millis)> {
        let first = self.make_from.div_euclid(self.period) * self.period;
        (0..)
            .map(|i| first + i * self.period)
            .take_while(|s| *s < self.make_until)
            .map(|s| (s, s + self.period))
            .collect()
    }
}

/// What one round of partition upkeep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Partitioned {
    pub made: usize,
    pub dropped: usize,
    /// Spans past retention kept because something in them is still owed.
    pub kept_owed: usize,
}

/// What one retention batch deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub events: usize,
    pub attempts: usize,
    pub requests: usize,
}

impl Purged {
    pub fn total(&self) -> usize {
        self.events + self.attempts + self.requests
    }
}

/// The queue as `/metrics` shows it.
#[derive(Debug, Clone, Default)]
pub struct QueueStats {
    /// Deliveries by state.
    pub by_state: Vec<(String, u64)>,
    /// When the oldest delivery that is due now became due.
    pub oldest_due_at: Option<Millis>,
    /// Endpoints with the most failed deliveries (bounded list).
    pub top_failing: Vec<(String, u64)>,
    /// Endpoints held back now (bounded list): (id, circuit open, paused).
    pub held: Vec<(String, bool, bool)>,
    /// Endpoints with blocked or parked ordered keys (bounded list): (id, blocked, parked).
    pub keys: Vec<(String, u64, u64)>,
}

/// One endpoint's share of the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointQueue {
    pub pending: u64,
    pub in_flight: u64,
    /// When the oldest pending delivery was created.
    pub oldest_pending_at: Option<Millis>,
    /// Ordered keys whose head is retrying with deliveries waiting behind it.
    pub blocked_keys: u64,
    /// Ordered keys whose head ran out of retries and waits for a resume or a skip.
    pub parked_keys: u64,
}

/// What a resume or skip of an ordered key did.
#[derive(Debug, Clone)]
pub enum KeyOutcome {
    /// The key's head, as it is now.
    Done(Delivery),
    Refused(crate::domain::ordering::KeyRefusal),
}

/// What a shared rate limit says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allow,
    /// Over the limit: come back after this many milliseconds.
    Deny {
        wait_ms: Millis,
    },
}

/// Called when another node may have stored due work.
pub type WakeFn = Arc<dyn Fn() + Send + Sync>;

/// The store as a service: readiness, other nodes, shared rate limits, retention.
#[async_trait]
pub trait NodeStore: Send + Sync + 'static {
    /// Whether the store can serve requests now.
    async fn ready(&self) -> StoreResult<()>;

    /// Calls `on_wake` whenever another process sharing this store may have stored due
    /// work, until `stop` turns true. A store only one process uses has nothing to watch.
    fn watch_remote(&self, on_wake: WakeFn, stop: watch::Receiver<bool>);

    /// Takes one request from the rate limit `key` that every process of this store shares
    /// (GCRA: `per_s` a second, bursts of `burst`). `None` when the store has only one
    /// process: the caller's in-memory limiter is then exact and cheaper.
    async fn take_shared_rate(&self, key: &str, per_s: u32, burst: u32) -> StoreResult<Option<RateDecision>>;

    /// Deletes up to `limit` of each kind of record older than `cutoff` (events only when
    /// they owe nothing).
    async fn purge_before(&self, cutoff: Millis, limit: usize) -> StoreResult<Purged>;

    /// Makes the time partitions `plan` asks for and drops those wholly past its cutoff
    /// that owe nothing; a store without time partitions does nothing.
    async fn tend_partitions(&self, plan: PartitionPlan) -> StoreResult<Partitioned>;
}

/// API keys (hashes only).
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn insert_key(&self, id: String, hash: String, tenant: Option<String>) -> StoreResult<()>;

    async fn find_key(&self, hash: String) -> StoreResult<Option<ApiKey>>;

    /// Stores an admin key only if no live admin key exists; true when it was stored.
    /// Atomic across nodes sharing the store, so nodes starting together mint one key.
    async fn insert_first_admin_key(&self, id: String, hash: String) -> StoreResult<bool>;

    async fn list_keys(&self, tenant: Option<String>) -> StoreResult<Vec<ApiKey>>;

    /// False when there is no such live key.
    async fn revoke_key(&self, id: &str) -> StoreResult<bool>;

    /// Stores a console session, and removes those that expired before it began.
    async fn create_session(&self, session: ConsoleSession) -> StoreResult<()>;

    /// The session with this cookie hash, expired or not (the console judges).
    async fn find_session(&self, id_hash: String) -> StoreResult<Option<ConsoleSession>>;

    /// Ends a session (sign-out, an expired or revoked one).
    async fn delete_session(&self, id_hash: String) -> StoreResult<()>;
}

/// Endpoints and their secrets. Every change here can change who an event is owed to:
/// a store that caches subscribers drops the cache on each one (see the contract tests).
#[async_trait]
pub trait EndpointStore: Send + Sync + 'static {
    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<()>;

    async fn get_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<Option<Endpoint>>;

    async fn list_endpoints(&self, scope: &Scope, query: EndpointQuery) -> StoreResult<Page<Endpoint>>;

    async fn update_endpoint(
        &self,
        scope: &Scope,
        id: &str,
        patch: EndpointPatch,
    ) -> StoreResult<Option<Endpoint>>;

    /// Deletes the endpoint; its pending deliveries fail. False when there was none.
    async fn delete_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<bool>;

    /// Puts `secret` first; older live secrets keep signing until `grace_until`.
    async fn rotate_secret(
        &self,
        scope: &Scope,
        id: &str,
        secret: String,
        grace_until: Millis,
    ) -> StoreResult<Option<Endpoint>>;

    /// Replaces an endpoint's secrets, custom headers and destination as they are
    /// (re-sealing after a key rotation). False when there is no such endpoint.
    async fn replace_endpoint_secrets(&self, id: &str, parts: SecretParts) -> StoreResult<bool>;

    /// Re-queues the endpoint's failed and skipped deliveries created since `since`;
    /// `None` when the endpoint is not visible.
    async fn recover_endpoint(&self, scope: &Scope, id: &str, since: Millis) -> StoreResult<Option<usize>>;
}

/// The event type catalogue.
#[async_trait]
pub trait EventTypeStore: Send + Sync + 'static {
    /// False when the name is taken.
    async fn create_event_type(&self, event_type: EventType) -> StoreResult<bool>;

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>>;

    async fn list_event_types(&self, include_archived: bool) -> StoreResult<Vec<EventType>>;

    async fn update_event_type(&self, name: &str, patch: EventTypePatch) -> StoreResult<Option<EventType>>;
}

/// Events, their deliveries and attempts, as publishers and operators see them.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores the event and one delivery per subscribed endpoint in one transaction.
    async fn publish(&self, event: NewEvent) -> StoreResult<PublishOutcome>;

    async fn get_event(&self, scope: &Scope, id: &str) -> StoreResult<Option<Event>>;

    async fn list_events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Page<Event>>;

    /// `None` when the event is not visible in this scope.
    async fn list_deliveries(&self, scope: &Scope, event_id: &str) -> StoreResult<Option<Vec<Delivery>>>;

    async fn get_delivery(&self, scope: &Scope, id: &str) -> StoreResult<Option<Delivery>>;

    /// `None` when the delivery is not visible in this scope.
    async fn list_attempts(&self, scope: &Scope, delivery_id: &str) -> StoreResult<Option<Vec<Attempt>>>;

    /// New deliveries of an event, to every subscribed endpoint or to one.
    async fn replay_event(
        &self,
        scope: &Scope,
        event_id: &str,
        endpoint_id: Option<String>,
    ) -> StoreResult<ReplayOutcome>;

    async fn retry_delivery(&self, scope: &Scope, delivery_id: &str) -> StoreResult<RetryOutcome>;

    /// Deliveries matching the filter, newest first, paged by id.
    async fn search_deliveries(&self, scope: &Scope, query: DeliveryQuery) -> StoreResult<Page<Delivery>>;

    /// Retries (or with `dry_run` only counts) the finished deliveries matching the filter,
    /// at most `max` of them, newest first.
    async fn retry_matching(
        &self,
        scope: &Scope,
        filter: DeliveryFilter,
        dry_run: bool,
        max: usize,
    ) -> StoreResult<usize>;

    /// Counts of what was published and owed since `since`.
    async fn delivery_stats(&self, scope: &Scope, since: Millis) -> StoreResult<DeliveryStats>;

    /// The store's newest `examine` deliveries (by id), those the scope sees.
    async fn recent_deliveries(&self, scope: &Scope, examine: usize) -> StoreResult<RecentDeliveries>;

    /// Deliveries pending or in flight that the scope sees, each state counted up to `cap`
    /// (so the answer is at most `2 * cap`), through the queue's own indexes.
    async fn queued_count(&self, scope: &Scope, cap: usize) -> StoreResult<u64>;

    /// Stores an event owed to one endpoint only (a test delivery), in one transaction;
    /// `None` when the endpoint is not visible to the event's tenant.
    async fn publish_to(&self, event: NewEvent, endpoint_id: &str) -> StoreResult<Option<PublishSummary>>;

    async fn queue_stats(&self) -> StoreResult<QueueStats>;
}

/// The push queue as the delivery workers use it.
#[async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Leases up to `limit` due deliveries of enabled push endpoints, oldest due first.
    async fn claim(&self, request: ClaimRequest) -> StoreResult<Claim>;

    /// Records an attempt and moves its delivery on, in one transaction.
    async fn record_attempt(&self, record: AttemptRecord) -> StoreResult<()>;

    /// Gives leased deliveries back without an attempt (shutdown).
    async fn release(&self, delivery_ids: Vec<String>) -> StoreResult<()>;

    /// When the earliest pending delivery becomes due, if any.
    async fn next_due_at(&self) -> StoreResult<Option<Millis>>;

    /// What one endpoint has waiting and in flight, on every node.
    async fn endpoint_queue(&self, endpoint_id: &str) -> StoreResult<EndpointQueue>;

    /// Resumes or skips the head of one of an endpoint's ordered keys
    /// (`ordering::key_action`); `None` when the endpoint is not visible in `scope`.
    async fn key_action(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        key: &str,
        action: KeyAction,
    ) -> StoreResult<Option<KeyOutcome>>;
}

/// Pull endpoints: leases, acks and the ordered stream.
#[async_trait]
pub trait PullStore: Send + Sync + 'static {
    /// Leases due deliveries of a pull endpoint; `None` when it is not visible.
    async fn pull_claim(
        &self,
        scope: &Scope,
        request: PullRequest,
    ) -> StoreResult<Option<Vec<PulledDelivery>>>;

    /// Acks deliveries of a pull endpoint; `None` when it is not visible.
    async fn pull_ack(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
    ) -> StoreResult<Option<usize>>;

    /// Extends the leases of deliveries a pull consumer still holds to `lease_until`
    /// (a consumer working longer than its lease); `None` when it is not visible.
    async fn pull_extend(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
        lease_until: Millis,
    ) -> StoreResult<Option<usize>>;

    /// A stream consumer resuming after `cursor` acks everything up to it. `None`, acking
    /// nothing, when `cursor` is beyond the endpoint's last stream position (never issued).
    async fn stream_ack_upto(&self, endpoint_id: &str, cursor: i64) -> StoreResult<Option<usize>>;

    /// Pending deliveries of an endpoint after `cursor`, in order.
    async fn stream_read(
        &self,
        endpoint_id: &str,
        cursor: i64,
        limit: usize,
    ) -> StoreResult<Vec<PulledDelivery>>;
}

/// Inbound sources and their request log.
#[async_trait]
pub trait SourceStore: Send + Sync + 'static {
    async fn create_source(&self, source: Source) -> StoreResult<()>;

    /// `Scope::Admin` finds any source (the public receiver uses it).
    async fn get_source(&self, scope: &Scope, id: &str) -> StoreResult<Option<Source>>;

    async fn list_sources(
        &self,
        scope: &Scope,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Page<Source>>;

    async fn update_source(&self, scope: &Scope, id: &str, patch: SourcePatch)
        -> StoreResult<Option<Source>>;

    async fn delete_source(&self, scope: &Scope, id: &str) -> StoreResult<bool>;

    /// Stores an accepted request (dedup, event, deliveries, log) in one transaction.
    async fn ingest(&self, inbound: InboundEvent) -> StoreResult<IngestOutcome>;

    /// Logs a refused request.
    async fn record_request(&self, record: RequestRecord) -> StoreResult<()>;

    async fn list_requests(
        &self,
        scope: &Scope,
        source_id: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Option<Page<RequestRecord>>>;
}

/// Everything a store does, role by role. Code that needs one role asks for that role;
/// the app holds an `Arc<dyn Store>`.
pub trait Store:
    NodeStore + KeyStore + EndpointStore + EventTypeStore + EventStore + QueueStore + PullStore + SourceStore
{
}

impl<
        T: NodeStore
            + KeyStore
            + EndpointStore
            + EventTypeStore
            + EventStore
            + QueueStore
            + PullStore
            + SourceStore,
    > Store for T
{
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: &str) -> Delivery {
        Delivery {
            id: id.into(),
            event_id: "evt".into(),
            endpoint_id: "ep".into(),
            state: DeliveryState::Succeeded,
            attempts: 1,
            next_attempt_at: None,
            last_attempt_at: None,
            last_status: Some(200),
            last_error: None,
            created_at: 0,
            updated_at: 0,
            ordering: None,
        }
    }

    fn query(cursor: Option<&str>) -> DeliveryQuery {
        DeliveryQuery {
            cursor: cursor.map(str::to_string),
            limit: 2,
            examine: Some(100),
            ..Default::default()
        }
    }

    #[test]
    fn id_bounds_are_plain_comparisons_or_name_their_parameter() {
        let p = |n: usize| format!("?{n}");
        assert_eq!(
            query(Some("dlv_9")).id_bounds(true, p),
            " AND d.id < ?11 AND d.id >= ?13"
        );
        assert_eq!(
            query(None).id_bounds(false, p),
            " AND CAST(?11 AS TEXT) IS NULL AND CAST(?13 AS TEXT) IS NULL"
        );
    }

    #[test]
    fn a_short_page_goes_on_below_the_window_and_a_full_one_after_its_last_item() {
        let q = query(None);
        let full = q.page(
            vec![delivery("c"), delivery("b"), delivery("a")],
            Some("x".into()),
        );
        assert_eq!(
            full.next_cursor.as_deref(),
            Some("b"),
            "more matched: after the last shown"
        );
        let short = q.page(vec![delivery("c")], Some("b".into()));
        assert_eq!(
            short.next_cursor.as_deref(),
            Some("b"),
            "the window ended: go on below it"
        );
        let done = q.page(vec![delivery("c")], None);
        assert_eq!(done.next_cursor, None, "the whole store was read");
    }
}
