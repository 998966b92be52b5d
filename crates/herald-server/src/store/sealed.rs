//! [`SealedStore`] wraps any store: endpoint secrets, custom header values and source
//! secrets are sealed on their way in and opened on their way out, so the embedded and the
//! PostgreSQL stores only ever hold ciphertext (once a key is configured).

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use super::{
    ApiKey, AttemptRecord, Claim, ClaimRequest, ConsoleSession, DeliveryFilter, DeliveryQuery, DeliveryStats,
    EndpointQuery, EndpointQueue, EndpointStore, EventQuery, EventStore, EventTypeStore, InboundEvent,
    IngestOutcome, Job, KeyOutcome, KeyStore, NodeStore, PartitionPlan, Partitioned, PullRequest, PullStore,
    PulledDelivery, Purged, QueueStats, QueueStore, RateDecision, RecentDeliveries, ReplayOutcome,
    RequestRecord, RetryOutcome, SecretParts, SourceStore, Store, StoreError, StoreResult, WakeFn,
};
use crate::domain::destination::Destination;
use crate::domain::ordering::KeyAction;
use crate::domain::source::{Source, SourcePatch, VerifyConfig};
use crate::domain::{
    Attempt, Delivery, Endpoint, EndpointPatch, EndpointSecret, Event, EventType, EventTypePatch, Millis,
    NewEvent, Page, PublishOutcome, PublishSummary, Scope,
};
use crate::seal::Keyring;

pub struct SealedStore {
    inner: Arc<dyn Store>,
    keys: Arc<Keyring>,
}

fn secret_ctx(endpoint_id: &str) -> String {
    format!("endpoint/{endpoint_id}/secret")
}

fn header_ctx(endpoint_id: &str) -> String {
    format!("endpoint/{endpoint_id}/header")
}

fn destination_ctx(endpoint_id: &str) -> String {
    format!("endpoint/{endpoint_id}/destination")
}

fn source_ctx(source_id: &str) -> String {
    format!("source/{source_id}/secret")
}

impl SealedStore {
    pub fn new(inner: Arc<dyn Store>, keys: Arc<Keyring>) -> SealedStore {
        SealedStore { inner, keys }
    }

    fn seal_secrets(&self, id: &str, secrets: &mut [EndpointSecret]) {
        for s in secrets {
            s.secret = self.keys.seal(&secret_ctx(id), &s.secret);
        }
    }

    fn seal_headers(&self, id: &str, headers: &mut std::collections::BTreeMap<String, String>) {
        for v in headers.values_mut() {
            *v = self.keys.seal(&header_ctx(id), v);
        }
    }

    fn seal_destination(&self, id: &str, destination: Option<&mut Destination>) {
        for s in destination.map(Destination::secrets_mut).unwrap_or_default() {
            *s = self.keys.seal(&destination_ctx(id), s);
        }
    }

    fn seal_verify(&self, id: &str, verify: &mut VerifyConfig) {
        for s in verify.sealable_mut() {
            *s = self.keys.seal(&source_ctx(id), s);
        }
    }

    fn open_endpoint(&self, mut ep: Endpoint) -> StoreResult<Endpoint> {
        for s in &mut ep.secrets {
            s.secret = self.keys.open(&secret_ctx(&ep.id), &s.secret)?;
        }
        for v in ep.headers.values_mut() {
            *v = self.keys.open(&header_ctx(&ep.id), v)?;
        }
        for s in ep
            .destination
            .as_mut()
            .map(Destination::secrets_mut)
            .unwrap_or_default()
        {
            *s = self.keys.open(&destination_ctx(&ep.id), s)?;
        }
        Ok(ep)
    }

    fn open_source(&self, mut source: Source) -> StoreResult<Source> {
        for s in source.spec.verify.sealable_mut() {
            *s = self.keys.open(&source_ctx(&source.id), s)?;
        }
        Ok(source)
    }

    fn open_page<T>(&self, page: Page<T>, open: impl Fn(&Self, T) -> StoreResult<T>) -> StoreResult<Page<T>> {
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|t| open(self, t))
                .collect::<StoreResult<_>>()?,
            next_cursor: page.next_cursor,
        })
    }

    /// Opens the sealed values of the first endpoints and sources, so a store opened with
    /// a wrong or missing key is refused at start instead of failing every claim later.
    pub async fn check_keys(&self) -> StoreResult<()> {
        let query = EndpointQuery {
            limit: 200,
            ..Default::default()
        };
        for ep in self.inner.list_endpoints(&Scope::Admin, query).await?.items {
            self.open_endpoint(ep)?;
        }
        for source in self.inner.list_sources(&Scope::Admin, None, 200).await?.items {
            self.open_source(source)?;
        }
        Ok(())
    }

    /// Seals every endpoint and source value that is in clear or sealed by an older key
    /// under the current key (`herald rotate-key`); returns how many records changed.
    pub async fn reseal_all(&self) -> StoreResult<usize> {
        if !self.keys.seals() {
            return Ok(0);
        }
        let mut changed = 0;
        let mut cursor = None;
        loop {
            let query = EndpointQuery {
                cursor: cursor.clone(),
                limit: 200,
                ..Default::default()
            };
            let page = self.inner.list_endpoints(&Scope::Admin, query).await?;
            for raw in page.items {
                let stale = raw.secrets.iter().any(|s| self.keys.needs_reseal(&s.secret))
                    || raw.headers.values().any(|v| self.keys.needs_reseal(v))
                    || raw
                        .destination
                        .iter()
                        .flat_map(Destination::secrets)
                        .any(|s| self.keys.needs_reseal(s));
                if !stale {
                    continue;
                }
                let ep = self.open_endpoint(raw)?;
                let parts = SecretParts {
                    secrets: ep.secrets,
                    headers: ep.headers,
                    destination: ep.destination,
                };
                // Sealed under the current key on the way in.
                EndpointStore::replace_endpoint_secrets(self, &ep.id, parts).await?;
                changed += 1;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut cursor = None;
        loop {
            let page = self
                .inner
                .list_sources(&Scope::Admin, cursor.clone(), 200)
                .await?;
            for raw in page.items {
                if !raw
                    .spec
                    .verify
                    .secrets()
                    .iter()
                    .any(|s| self.keys.needs_reseal(s))
                {
                    continue;
                }
                let mut source = self.open_source(raw)?;
                self.seal_verify(&source.id, &mut source.spec.verify);
                let patch = SourcePatch {
                    verify: Some(source.spec.verify),
                    ..Default::default()
                };
                self.inner.update_source(&Scope::Admin, &source.id, patch).await?;
                changed += 1;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(changed)
    }
}

#[async_trait]
impl NodeStore for SealedStore {
    async fn ready(&self) -> StoreResult<()> {
        self.inner.ready().await
    }

    fn watch_remote(&self, on_wake: WakeFn, stop: watch::Receiver<bool>) {
        self.inner.watch_remote(on_wake, stop)
    }

    async fn take_shared_rate(&self, key: &str, per_s: u32, burst: u32) -> StoreResult<Option<RateDecision>> {
        self.inner.take_shared_rate(key, per_s, burst).await
    }

    async fn purge_before(&self, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
        self.inner.purge_before(cutoff, limit).await
    }

    async fn tend_partitions(&self, plan: PartitionPlan) -> StoreResult<Partitioned> {
        self.inner.tend_partitions(plan).await
    }
}

#[async_trait]
impl KeyStore for SealedStore {
    async fn insert_key(&self, id: String, hash: String, tenant: Option<String>) -> StoreResult<()> {
        self.inner.insert_key(id, hash, tenant).await
    }

    async fn find_key(&self, hash: String) -> StoreResult<Option<ApiKey>> {
        self.inner.find_key(hash).await
    }

    async fn insert_first_admin_key(&self, id: String, hash: String) -> StoreResult<bool> {
        self.inner.insert_first_admin_key(id, hash).await
    }

    async fn list_keys(&self, tenant: Option<String>) -> StoreResult<Vec<ApiKey>> {
        self.inner.list_keys(tenant).await
    }

    async fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        self.inner.revoke_key(id).await
    }

    async fn create_session(&self, session: ConsoleSession) -> StoreResult<()> {
        self.inner.create_session(session).await
    }

    async fn find_session(&self, id_hash: String) -> StoreResult<Option<ConsoleSession>> {
        self.inner.find_session(id_hash).await
    }

    async fn delete_session(&self, id_hash: String) -> StoreResult<()> {
        self.inner.delete_session(id_hash).await
    }
}

#[async_trait]
impl EndpointStore for SealedStore {
    async fn create_endpoint(&self, mut endpoint: Endpoint) -> StoreResult<()> {
        let id = endpoint.id.clone();
        self.seal_secrets(&id, &mut endpoint.secrets);
        self.seal_headers(&id, &mut endpoint.headers);
        self.seal_destination(&id, endpoint.destination.as_mut());
        self.inner.create_endpoint(endpoint).await
    }

    async fn get_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<Option<Endpoint>> {
        let ep = self.inner.get_endpoint(scope, id).await?;
        ep.map(|e| self.open_endpoint(e)).transpose()
    }

    async fn list_endpoints(&self, scope: &Scope, query: EndpointQuery) -> StoreResult<Page<Endpoint>> {
        let page = self.inner.list_endpoints(scope, query).await?;
        self.open_page(page, Self::open_endpoint)
    }

    async fn update_endpoint(
        &self,
        scope: &Scope,
        id: &str,
        mut patch: EndpointPatch,
    ) -> StoreResult<Option<Endpoint>> {
        if let Some(headers) = &mut patch.headers {
            self.seal_headers(id, headers);
        }
        if let Some(destination) = &mut patch.destination {
            self.seal_destination(id, destination.as_mut());
        }
        let ep = self.inner.update_endpoint(scope, id, patch).await?;
        ep.map(|e| self.open_endpoint(e)).transpose()
    }

    async fn delete_endpoint(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        self.inner.delete_endpoint(scope, id).await
    }

    async fn rotate_secret(
        &self,
        scope: &Scope,
        id: &str,
        secret: String,
        grace_until: Millis,
    ) -> StoreResult<Option<Endpoint>> {
        let secret = self.keys.seal(&secret_ctx(id), &secret);
        let ep = self.inner.rotate_secret(scope, id, secret, grace_until).await?;
        ep.map(|e| self.open_endpoint(e)).transpose()
    }

    async fn replace_endpoint_secrets(&self, id: &str, mut parts: SecretParts) -> StoreResult<bool> {
        self.seal_secrets(id, &mut parts.secrets);
        self.seal_headers(id, &mut parts.headers);
        self.seal_destination(id, parts.destination.as_mut());
        self.inner.replace_endpoint_secrets(id, parts).await
    }

    async fn recover_endpoint(&self, scope: &Scope, id: &str, since: Millis) -> StoreResult<Option<usize>> {
        self.inner.recover_endpoint(scope, id, since).await
    }
}

#[async_trait]
impl EventTypeStore for SealedStore {
    async fn create_event_type(&self, event_type: EventType) -> StoreResult<bool> {
        self.inner.create_event_type(event_type).await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>> {
        self.inner.get_event_type(name).await
    }

    async fn list_event_types(&self, include_archived: bool) -> StoreResult<Vec<EventType>> {
        self.inner.list_event_types(include_archived).await
    }

    async fn update_event_type(&self, name: &str, patch: EventTypePatch) -> StoreResult<Option<EventType>> {
        self.inner.update_event_type(name, patch).await
    }
}

#[async_trait]
impl EventStore for SealedStore {
    async fn publish(&self, event: NewEvent) -> StoreResult<PublishOutcome> {
        self.inner.publish(event).await
    }

    async fn get_event(&self, scope: &Scope, id: &str) -> StoreResult<Option<Event>> {
        self.inner.get_event(scope, id).await
    }

    async fn list_events(&self, scope: &Scope, query: EventQuery) -> StoreResult<Page<Event>> {
        self.inner.list_events(scope, query).await
    }

    async fn list_deliveries(&self, scope: &Scope, event_id: &str) -> StoreResult<Option<Vec<Delivery>>> {
        self.inner.list_deliveries(scope, event_id).await
    }

    async fn get_delivery(&self, scope: &Scope, id: &str) -> StoreResult<Option<Delivery>> {
        self.inner.get_delivery(scope, id).await
    }

    async fn list_attempts(&self, scope: &Scope, delivery_id: &str) -> StoreResult<Option<Vec<Attempt>>> {
        self.inner.list_attempts(scope, delivery_id).await
    }

    async fn replay_event(
        &self,
        scope: &Scope,
        event_id: &str,
        endpoint_id: Option<String>,
    ) -> StoreResult<ReplayOutcome> {
        self.inner.replay_event(scope, event_id, endpoint_id).await
    }

    async fn retry_delivery(&self, scope: &Scope, delivery_id: &str) -> StoreResult<RetryOutcome> {
        self.inner.retry_delivery(scope, delivery_id).await
    }

    async fn search_deliveries(&self, scope: &Scope, query: DeliveryQuery) -> StoreResult<Page<Delivery>> {
        self.inner.search_deliveries(scope, query).await
    }

    async fn retry_matching(
        &self,
        scope: &Scope,
        filter: DeliveryFilter,
        dry_run: bool,
        max: usize,
    ) -> StoreResult<usize> {
        self.inner.retry_matching(scope, filter, dry_run, max).await
    }

    async fn delivery_stats(&self, scope: &Scope, since: Millis) -> StoreResult<DeliveryStats> {
        self.inner.delivery_stats(scope, since).await
    }

    async fn recent_deliveries(&self, scope: &Scope, examine: usize) -> StoreResult<RecentDeliveries> {
        self.inner.recent_deliveries(scope, examine).await
    }

    async fn queued_count(&self, scope: &Scope, cap: usize) -> StoreResult<u64> {
        self.inner.queued_count(scope, cap).await
    }

    async fn publish_to(&self, event: NewEvent, endpoint_id: &str) -> StoreResult<Option<PublishSummary>> {
        self.inner.publish_to(event, endpoint_id).await
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        self.inner.queue_stats().await
    }
}

#[async_trait]
impl QueueStore for SealedStore {
    async fn claim(&self, request: ClaimRequest) -> StoreResult<Claim> {
        let claim = self.inner.claim(request).await?;
        // One claim carries the same endpoint many times: open each once.
        let mut opened: std::collections::HashMap<String, Arc<Endpoint>> = Default::default();
        let jobs = claim
            .jobs
            .into_iter()
            .map(|mut job| {
                let ep = match opened.get(&job.endpoint.id) {
                    Some(ep) => ep.clone(),
                    None => {
                        let ep = Arc::new(self.open_endpoint((*job.endpoint).clone())?);
                        opened.insert(ep.id.clone(), ep.clone());
                        ep
                    }
                };
                job.endpoint = ep;
                Ok(job)
            })
            .collect::<StoreResult<Vec<Job>>>()?;
        Ok(Claim {
            jobs,
            passed_over: claim.passed_over,
        })
    }

    async fn record_attempt(&self, record: AttemptRecord) -> StoreResult<()> {
        self.inner.record_attempt(record).await
    }

    async fn release(&self, delivery_ids: Vec<String>) -> StoreResult<()> {
        self.inner.release(delivery_ids).await
    }

    async fn next_due_at(&self) -> StoreResult<Option<Millis>> {
        self.inner.next_due_at().await
    }

    async fn endpoint_queue(&self, endpoint_id: &str) -> StoreResult<EndpointQueue> {
        self.inner.endpoint_queue(endpoint_id).await
    }

    async fn key_action(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        key: &str,
        action: KeyAction,
    ) -> StoreResult<Option<KeyOutcome>> {
        self.inner.key_action(scope, endpoint_id, key, action).await
    }
}

#[async_trait]
impl PullStore for SealedStore {
    async fn pull_claim(
        &self,
        scope: &Scope,
        request: PullRequest,
    ) -> StoreResult<Option<Vec<PulledDelivery>>> {
        self.inner.pull_claim(scope, request).await
    }

    async fn pull_ack(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
    ) -> StoreResult<Option<usize>> {
        self.inner.pull_ack(scope, endpoint_id, ids).await
    }

    async fn pull_extend(
        &self,
        scope: &Scope,
        endpoint_id: &str,
        ids: Vec<String>,
        lease_until: Millis,
    ) -> StoreResult<Option<usize>> {
        self.inner.pull_extend(scope, endpoint_id, ids, lease_until).await
    }

    async fn stream_ack_upto(&self, endpoint_id: &str, cursor: i64) -> StoreResult<Option<usize>> {
        self.inner.stream_ack_upto(endpoint_id, cursor).await
    }

    async fn stream_read(
        &self,
        endpoint_id: &str,
        cursor: i64,
        limit: usize,
    ) -> StoreResult<Vec<PulledDelivery>> {
        self.inner.stream_read(endpoint_id, cursor, limit).await
    }
}

#[async_trait]
impl SourceStore for SealedStore {
    async fn create_source(&self, mut source: Source) -> StoreResult<()> {
        let id = source.id.clone();
        self.seal_verify(&id, &mut source.spec.verify);
        self.inner.create_source(source).await
    }

    async fn get_source(&self, scope: &Scope, id: &str) -> StoreResult<Option<Source>> {
        let source = self.inner.get_source(scope, id).await?;
        source.map(|s| self.open_source(s)).transpose()
    }

    async fn list_sources(
        &self,
        scope: &Scope,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Page<Source>> {
        let page = self.inner.list_sources(scope, cursor, limit).await?;
        self.open_page(page, Self::open_source)
    }

    async fn update_source(
        &self,
        scope: &Scope,
        id: &str,
        mut patch: SourcePatch,
    ) -> StoreResult<Option<Source>> {
        if let Some(verify) = &mut patch.verify {
            self.seal_verify(id, verify);
        }
        let source = self.inner.update_source(scope, id, patch).await?;
        source.map(|s| self.open_source(s)).transpose()
    }

    async fn delete_source(&self, scope: &Scope, id: &str) -> StoreResult<bool> {
        self.inner.delete_source(scope, id).await
    }

    async fn ingest(&self, inbound: InboundEvent) -> StoreResult<IngestOutcome> {
        self.inner.ingest(inbound).await
    }

    async fn record_request(&self, record: RequestRecord) -> StoreResult<()> {
        self.inner.record_request(record).await
    }

    async fn list_requests(
        &self,
        scope: &Scope,
        source_id: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> StoreResult<Option<Page<RequestRecord>>> {
        self.inner.list_requests(scope, source_id, cursor, limit).await
    }
}

impl From<crate::seal::SealError> for StoreError {
    fn from(e: crate::seal::SealError) -> Self {
        StoreError::Sealed(e)
    }
}
