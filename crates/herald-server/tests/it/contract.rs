//! The store's contract, one test per role, run against each store directly (below the
//! API): what every implementation must do, whatever it caches.

use std::sync::Arc;
use std::time::Duration;

use herald_server::domain::source::{Extract, Source, SourceSpec, VerifyConfig, VerifyFields};
use herald_server::domain::{
    new_id, Attempt, Clock, DeliveryState, Endpoint, EndpointPatch, EventType, EventTypePatch, NewEvent,
    PublishOutcome, Scope, SignatureScheme,
};
use herald_server::store::postgres::PgStore;
use herald_server::store::sqlite::SqliteStore;
use herald_server::store::{
    AttemptRecord, ClaimRequest, InboundEvent, IngestOutcome, NextStep, PullRequest, ReplayOutcome,
    RequestRecord, RetryOutcome, Store,
};
use tempfile::TempDir;

use crate::helpers::{backend, fresh_pg_store, Backend};

/// A fresh store of the test's kind (and the directory it lives in, for SQLite).
async fn open() -> (Arc<dyn Store>, Clock, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::driven();
    let store: Arc<dyn Store> = match backend() {
        Backend::Sqlite => Arc::new(SqliteStore::open(&dir.path().join("data"), clock.clone()).unwrap()),
        Backend::Postgres => Arc::new(
            PgStore::connect(&fresh_pg_store().await, clock.clone())
                .await
                .unwrap(),
        ),
    };
    (store, clock, dir)
}

fn endpoint(tenant: Option<&str>, url: Option<&str>, patterns: &[&str]) -> Endpoint {
    Endpoint {
        id: new_id("ep"),
        tenant: tenant.map(Into::into),
        url: url.map(Into::into),
        description: None,
        event_types: patterns.iter().map(|p| p.to_string()).collect(),
        headers: Default::default(),
        signature: SignatureScheme::Standard,
        secrets: vec![herald_server::domain::EndpointSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            expires_at: None,
        }],
        timeout_ms: 1000,
        max_in_flight: 10,
        rate_limit_per_s: None,
        disabled: false,
        disabled_reason: None,
        created_at: 0,
        updated_at: 0,
        retry_schedule: None,
        circuit_after: 5,
        paused_until: None,
        breaker: Default::default(),
        ordering: None,
        destination: None,
    }
}

fn event(event_type: &str, tenant: Option<&str>, now: i64) -> NewEvent {
    NewEvent::generated(event_type, tenant.map(Into::into), b"{}".to_vec(), now)
}

/// How many deliveries a fresh event of `event_type` is owed, as publishing says.
async fn owed(store: &dyn Store, event_type: &str, tenant: Option<&str>, now: i64) -> u32 {
    match store.publish(event(event_type, tenant, now)).await.unwrap() {
        PublishOutcome::Created(s) => s.deliveries,
        other => panic!("{other:?}"),
    }
}

store_tests! {
    async fn node_role() {
        let (store, clock, _dir) = open().await;
        store.ready().await.unwrap();
        let shared = store.take_shared_rate("k", 1, 1).await.unwrap();
        assert_eq!(shared.is_some(), backend() == Backend::Postgres, "only a shared store shares rates");
        let purged = store.purge_before(clock.now_ms(), 10).await.unwrap();
        assert_eq!(purged.total(), 0);
    }

    async fn key_role() {
        let (store, _clock, _dir) = open().await;
        assert!(store.insert_first_admin_key("key_a".into(), "hash-a".into()).await.unwrap());
        assert!(!store.insert_first_admin_key("key_b".into(), "hash-b".into()).await.unwrap(), "one first admin key");
        store.insert_key("key_t".into(), "hash-t".into(), Some("acme".into())).await.unwrap();
        assert_eq!(store.find_key("hash-t".into()).await.unwrap().unwrap().tenant.as_deref(), Some("acme"));
        assert!(store.find_key("hash-b".into()).await.unwrap().is_none());
        let acme = store.list_keys(Some("acme".into())).await.unwrap();
        assert_eq!(acme.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["key_t"]);
        assert!(store.revoke_key("key_t").await.unwrap());
        assert!(!store.revoke_key("key_t").await.unwrap(), "revoked once");
        let found = store.find_key("hash-t".into()).await.unwrap();
        assert!(found.is_none_or(|k| k.revoked_at.is_some()), "a revoked key does not authenticate");
    }

    /// Every endpoint change is seen by the very next publish (a store that caches
    /// subscribers must drop the cache on each).
    async fn endpoint_role_and_the_subscriber_rule() {
        let (store, clock, _dir) = open().await;
        let now = clock.now_ms();
        let ep = endpoint(None, Some("https://example.com/a"), &["a.*"]);
        let id = ep.id.clone();
        assert_eq!(owed(&*store, "a.b", None, now).await, 0);
        store.create_endpoint(ep).await.unwrap();
        assert_eq!(owed(&*store, "a.b", None, now).await, 1, "seen after create");
        let patch = |p: EndpointPatch| {
            let store = store.clone();
            let id = id.clone();
            async move { store.update_endpoint(&Scope::Admin, &id, p).await.unwrap().unwrap() }
        };
        patch(EndpointPatch { event_types: Some(vec!["b.*".into()]), ..Default::default() }).await;
        assert_eq!(owed(&*store, "a.b", None, now).await, 0, "seen after a change of patterns");
        assert_eq!(owed(&*store, "b.c", None, now).await, 1);
        patch(EndpointPatch { disabled: Some(true), ..Default::default() }).await;
        assert_eq!(owed(&*store, "b.c", None, now).await, 0, "seen after disabling");
        patch(EndpointPatch { disabled: Some(false), ..Default::default() }).await;
        assert_eq!(owed(&*store, "b.c", None, now).await, 1, "seen after enabling");
        patch(EndpointPatch { url: Some(None), ..Default::default() }).await;
        // What it was owed as a push endpoint is handed out too; take it all first.
        store
            .pull_claim(&Scope::Admin, PullRequest { endpoint_id: id.clone(), max: 100, lease_until: now + 60_000 })
            .await
            .unwrap()
            .unwrap();
        owed(&*store, "b.c", None, now).await;
        let pulled = store
            .pull_claim(&Scope::Admin, PullRequest { endpoint_id: id.clone(), max: 10, lease_until: now + 60_000 })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pulled.len(), 1, "seen as a pull endpoint after the URL went");
        let rotated = store
            .rotate_secret(&Scope::Admin, &id, "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LTEyMzQ=".into(), now + 1000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rotated.secrets.len(), 2);
        assert_eq!(owed(&*store, "b.c", None, now).await, 1, "rotation changes nobody's subscriptions");
        let acme = Scope::Tenant("acme".into());
        assert!(store.get_endpoint(&acme, &id).await.unwrap().is_none(), "another tenant sees nothing");
        assert!(!store.delete_endpoint(&acme, &id).await.unwrap());
        assert!(store.delete_endpoint(&Scope::Admin, &id).await.unwrap());
        assert_eq!(owed(&*store, "b.c", None, now).await, 0, "seen after delete");
        assert!(store.recover_endpoint(&Scope::Admin, &id, 0).await.unwrap().is_none());
    }

    async fn event_type_role() {
        let (store, clock, _dir) = open().await;
        let now = clock.now_ms();
        let t = EventType {
            name: "ticket.created".into(),
            description: Some("a ticket".into()),
            schema: None,
            archived: false,
            created_at: now,
            updated_at: now,
        };
        assert!(store.create_event_type(t.clone()).await.unwrap());
        assert!(!store.create_event_type(t).await.unwrap(), "names are unique");
        let patch = EventTypePatch { archived: Some(true), ..Default::default() };
        let archived = store.update_event_type("ticket.created", patch).await.unwrap().unwrap();
        assert!(archived.archived);
        assert!(store.list_event_types(false).await.unwrap().is_empty());
        assert_eq!(store.list_event_types(true).await.unwrap().len(), 1);
        assert!(store.get_event_type("nope").await.unwrap().is_none());
    }

    async fn event_role() {
        let (store, clock, _dir) = open().await;
        let now = clock.now_ms();
        let ep = endpoint(Some("acme"), Some("https://example.com/a"), &["*"]);
        let ep_id = ep.id.clone();
        store.create_endpoint(ep).await.unwrap();
        let ev = event("a.b", Some("acme"), now);
        let ev_id = ev.id.clone();
        store.publish(ev).await.unwrap();
        let acme = Scope::Tenant("acme".into());
        let globex = Scope::Tenant("globex".into());
        assert!(store.get_event(&acme, &ev_id).await.unwrap().is_some());
        assert!(store.get_event(&globex, &ev_id).await.unwrap().is_none(), "tenant scope");
        let ds = store.list_deliveries(&acme, &ev_id).await.unwrap().unwrap();
        assert_eq!((ds.len(), ds[0].state), (1, DeliveryState::Pending));
        assert!(matches!(store.retry_delivery(&acme, &ds[0].id).await.unwrap(), RetryOutcome::AlreadyQueued));
        assert!(matches!(store.retry_delivery(&globex, &ds[0].id).await.unwrap(), RetryOutcome::NotFound));
        assert_eq!(store.replay_event(&acme, &ev_id, None).await.unwrap(), ReplayOutcome::Replayed(1));
        assert_eq!(
            store.replay_event(&globex, &ev_id, Some(ep_id.clone())).await.unwrap(),
            ReplayOutcome::EventNotFound
        );
        let test = store.publish_to(event("herald.test", Some("acme"), now), &ep_id).await.unwrap();
        assert_eq!(test.unwrap().deliveries, 1);
        assert!(store.publish_to(event("herald.test", Some("globex"), now), &ep_id).await.unwrap().is_none());
        let stats = store.delivery_stats(&acme, now - 1000).await.unwrap();
        assert_eq!(stats.events, 2, "the event and the test event");
    }

    async fn queue_role() {
        let (store, clock, _dir) = open().await;
        let now = clock.now_ms();
        store.create_endpoint(endpoint(None, Some("https://example.com/a"), &["*"])).await.unwrap();
        assert_eq!(store.next_due_at().await.unwrap(), None);
        let ev = event("a.b", None, now);
        let ev_id = ev.id.clone();
        store.publish(ev).await.unwrap();
        assert!(store.next_due_at().await.unwrap().is_some_and(|t| t <= clock.now_ms()));
        let claim = |limit| ClaimRequest { now: clock.now_ms(), limit, lease_until: clock.now_ms() + 60_000, exclude_endpoints: vec![], sweep: true };
        let jobs = store.claim(claim(10)).await.unwrap().jobs;
        assert_eq!(jobs.len(), 1);
        assert!(store.claim(claim(10)).await.unwrap().jobs.is_empty(), "a leased delivery is not claimed twice");
        store.release(vec![jobs[0].delivery_id.clone()]).await.unwrap();
        let jobs = store.claim(claim(10)).await.unwrap().jobs;
        assert_eq!(jobs.len(), 1, "a released delivery is claimable again");
        let retry_at = clock.now_ms() + 3_600_000;
        store.record_attempt(record(&jobs[0], NextStep::RetryAt(retry_at), clock.now_ms())).await.unwrap();
        assert!(store.claim(claim(10)).await.unwrap().jobs.is_empty(), "not before it is due");
        clock.advance(Duration::from_secs(3601));
        let jobs = store.claim(claim(10)).await.unwrap().jobs;
        assert_eq!(jobs.len(), 1, "due again after the delay");
        assert_eq!(jobs[0].round_attempts, 1);
        store.record_attempt(record(&jobs[0], NextStep::Succeeded, clock.now_ms())).await.unwrap();
        let ds = store.list_deliveries(&Scope::Admin, &ev_id).await.unwrap().unwrap();
        assert_eq!((ds[0].state, ds[0].attempts), (DeliveryState::Succeeded, 2));
        assert_eq!(store.next_due_at().await.unwrap(), None);
    }

    async fn pull_role() {
        let (store, clock, _dir) = open().await;
        let now = clock.now_ms();
        let ep = endpoint(None, None, &["*"]);
        let id = ep.id.clone();
        store.create_endpoint(ep).await.unwrap();
        for _ in 0..3 {
            store.publish(event("a.b", None, now)).await.unwrap();
        }
        let take = |max| PullRequest { endpoint_id: id.clone(), max, lease_until: clock.now_ms() + 1000 };
        let got = store.pull_claim(&Scope::Admin, take(2)).await.unwrap().unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].cursor < got[1].cursor, "in stream order");
        let ids = vec![got[0].delivery_id.clone()];
        assert_eq!(store.pull_ack(&Scope::Admin, &id, ids).await.unwrap(), Some(1));
        let held = vec![got[1].delivery_id.clone()];
        let until = clock.now_ms() + 60_000;
        assert_eq!(store.pull_extend(&Scope::Admin, &id, held, until).await.unwrap(), Some(1));
        clock.advance(Duration::from_secs(2));
        let again = store.pull_claim(&Scope::Admin, take(10)).await.unwrap().unwrap();
        assert_eq!(again.len(), 1, "the acked one is gone, the extended one still held");
        let acme = Scope::Tenant("acme".into());
        assert!(store.pull_claim(&acme, take(10)).await.unwrap().is_none(), "tenant scope");
        let seen = again[0].cursor.max(got[1].cursor);
        for _ in 0..2 {
            store.publish(event("a.b", None, now)).await.unwrap();
        }
        let stream = store.stream_read(&id, seen, 10).await.unwrap();
        assert_eq!(stream.len(), 2, "the stream goes on after the cursor");
        assert!(stream[0].cursor > seen && stream[0].cursor < stream[1].cursor);
        let acked = store.stream_ack_upto(&id, stream[1].cursor).await.unwrap();
        assert_eq!(acked, Some(4), "resuming after a cursor acks every open delivery up to it");
        assert!(store.pull_claim(&Scope::Admin, take(10)).await.unwrap().unwrap().is_empty());
        assert_eq!(store.stream_ack_upto(&id, stream[1].cursor + 100).await.unwrap(), None, "never issued");
    }

    async fn source_role() {
        let (store, clock, _dir) = open().await;
        let now = clock.now_ms();
        let source = Source {
            id: new_id("src"),
            name: "gh".into(),
            tenant: Some("acme".into()),
            spec: SourceSpec {
                verify: VerifyConfig::new(VerifyFields {
                    scheme: "none".into(),
                    secrets: vec![],
                    header: None,
                    algorithm: None,
                    encoding: None,
                    prefix: None,
                    tolerance_s: None,
                    verify_token: None,
                    url: None,
                })
                .unwrap(),
                allow_ips: vec![],
                dedupe: None,
                event_type: Extract::Const("webhook".into()),
                type_prefix: None,
            },
            created_at: now,
            updated_at: now,
        };
        let sid = source.id.clone();
        store.create_source(source).await.unwrap();
        let acme = Scope::Tenant("acme".into());
        assert!(store.get_source(&acme, &sid).await.unwrap().is_some());
        assert!(store.get_source(&Scope::Tenant("globex".into()), &sid).await.unwrap().is_none());
        assert_eq!(store.list_sources(&acme, None, 10).await.unwrap().items.len(), 1);
        let inbound = |key: &str| InboundEvent {
            event: event("webhook", Some("acme"), now),
            dedupe: Some((key.to_string(), 60_000)),
            request: request(&sid, now),
        };
        let first = store.ingest(inbound("k1")).await.unwrap();
        let IngestOutcome::Accepted(summary) = first else { panic!("{first:?}") };
        assert_eq!(store.ingest(inbound("k1")).await.unwrap(), IngestOutcome::Duplicate(summary.id));
        assert!(matches!(store.ingest(inbound("k2")).await.unwrap(), IngestOutcome::Accepted(_)));
        let mut refused = request(&sid, now);
        refused.outcome = "rejected".into();
        store.record_request(refused).await.unwrap();
        let log = store.list_requests(&acme, &sid, None, 10).await.unwrap().unwrap();
        assert_eq!(log.items.len(), 4, "three accepted or duplicate, one rejected");
        assert!(store.delete_source(&acme, &sid).await.unwrap());
        assert!(store.get_source(&acme, &sid).await.unwrap().is_none());
    }
}

fn record(job: &herald_server::store::Job, next: NextStep, now: i64) -> AttemptRecord {
    AttemptRecord {
        attempt: Attempt {
            id: new_id("atm"),
            delivery_id: job.delivery_id.clone(),
            attempted_at: now,
            status_code: Some(if next == NextStep::Succeeded { 200 } else { 500 }),
            duration_ms: 1,
            error: None,
            response_body: None,
        },
        endpoint_id: job.endpoint.id.clone(),
        event_id: job.event.id.clone(),
        event_type: job.event.event_type.clone(),
        next,
        disable_failing_since_before: None,
        probe: job.probe,
        pause_until: None,
        ordering: None,
    }
}

fn request(source_id: &str, now: i64) -> RequestRecord {
    RequestRecord {
        id: new_id("req"),
        source_id: source_id.into(),
        tenant: Some("acme".into()),
        received_at: now,
        outcome: "accepted".into(),
        status: 200,
        reason: None,
        event_id: None,
        remote_ip: "127.0.0.1".into(),
        headers: "{}".into(),
        body: None,
        body_size: 2,
    }
}

/// PostgreSQL only (one embedded node never competes with another claim): a claim that
/// finds an endpoint held by another node's claim leaves its work alone and says so, and
/// the next claim takes it.
#[tokio::test]
async fn a_claim_passing_over_a_held_endpoint_says_so() {
    crate::helpers::run_on(Backend::Postgres, async {
        let (url, clock) = (fresh_pg_store().await, Clock::driven());
        let store: Arc<dyn Store> = Arc::new(PgStore::connect(&url, clock.clone()).await.unwrap());
        let ep = endpoint(None, Some("https://example.com/a"), &["*"]);
        let ep_id = ep.id.clone();
        store.create_endpoint(ep).await.unwrap();
        store.publish(event("a.b", None, clock.now_ms())).await.unwrap();
        let claim = || ClaimRequest {
            now: clock.now_ms(),
            limit: 10,
            lease_until: clock.now_ms() + 60_000,
            exclude_endpoints: vec![],
            sweep: true,
        };
        // Another node's claim holds the endpoint row.
        let (mut other, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let held = other.transaction().await.unwrap();
        held.query("SELECT id FROM endpoints WHERE id = $1 FOR UPDATE", &[&ep_id])
            .await
            .unwrap();
        let passed = store.claim(claim()).await.unwrap();
        assert!(passed.jobs.is_empty(), "the held endpoint's work is left alone");
        assert!(passed.passed_over, "and the claim says it passed over work");
        held.rollback().await.unwrap();
        let taken = store.claim(claim()).await.unwrap();
        assert_eq!(taken.jobs.len(), 1, "the next claim takes it");
        assert!(!taken.passed_over);
        let none = store.claim(claim()).await.unwrap();
        assert!(
            none.jobs.is_empty() && !none.passed_over,
            "nothing left, nothing passed over"
        );
    })
    .await;
}
