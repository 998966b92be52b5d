//! Several nodes on one PostgreSQL database: what must hold across them (idempotency keys,
//! inbound de-duplication, rate limits) is decided by the database, so two nodes behave
//! as one.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

/// Two nodes on one fresh database.
async fn two_nodes() -> (TestApp, TestApp) {
    let mut settings = test_settings();
    settings.api_rate_limit = Some(5); // bursts of 10
    let a = spawn_with(settings.clone()).await;
    settings.store = a.store.clone().map(Into::into);
    let b = spawn_with(settings).await;
    (a, b)
}

#[tokio::test]
async fn one_idempotency_key_makes_one_event_whichever_node_gets_it() {
    run_on(Backend::Postgres, async {
        let mut settings = test_settings();
        let a = spawn_with(settings.clone()).await;
        settings.store = a.store.clone().map(Into::into);
        let b = spawn_with(settings).await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let node = [&a, &b][i % 2];
            let req = node
                .http
                .post(format!("{}/v1/events", node.base))
                .bearer_auth(&node.key)
                .header("Idempotency-Key", "across-nodes")
                .json(&json!({"type": "a.b", "payload": {"x": 1}}));
            tasks.push(tokio::spawn(async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }));
        }
        let mut ids = HashSet::new();
        let mut created = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert!(status == 202 || status == 200, "{status} {body}");
            created += usize::from(status == 202);
            ids.insert(body["id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(created, 1, "one 202 (created), the repeats 200");
        let listed = a.get("/v1/events?limit=50").await["data"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(listed, 1);
    })
    .await
}

#[tokio::test]
async fn a_provider_retry_reaching_two_nodes_at_once_is_one_event() {
    run_on(Backend::Postgres, async {
        let mut settings = test_settings();
        let a = spawn_with(settings.clone()).await;
        settings.store = a.store.clone().map(Into::into);
        let b = spawn_with(settings).await;
        let agent = Receiver::ok().await;
        a.create_endpoint(json!({"url": agent.url})).await;
        let (s, src) = a
            .call(
                Method::POST,
                "/v1/sources",
                Some(
                    json!({"name": "gh", "verify": {"scheme": "github", "secret": "s3cret"},
                            "dedupe": {"key": "header:X-GitHub-Delivery", "window_s": 60}}),
                ),
            )
            .await;
        assert_eq!(s, 201, "{src}");
        let id = src["id"].as_str().unwrap().to_string();
        let body = br#"{"action": "opened"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let node = [&a, &b][i % 2];
            let req = node
                .http
                .post(format!("{}/in/{id}", node.base))
                .header("x-hub-signature-256", &sig)
                .header("x-github-event", "pull_request")
                .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
                .body(body.to_vec());
            tasks.push(tokio::spawn(async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }));
        }
        let mut ids = HashSet::new();
        let mut firsts = 0;
        for t in tasks {
            let (status, answer) = t.await.unwrap();
            assert_eq!(status, 200, "{answer}");
            ids.insert(answer["id"].as_str().unwrap().to_string());
            firsts += usize::from(answer["duplicate"] != true);
        }
        assert_eq!(ids.len(), 1, "one event id for every answer: {ids:?}");
        assert_eq!(firsts, 1, "one request was accepted, the others were duplicates");
        agent.wait_for(1).await;
        a.until_idle().await;
        b.until_idle().await;
        assert_eq!(agent.count(), 1, "delivered once");
    })
    .await
}

/// Several nodes on one PostgreSQL database draw on one allowance per key: alternating
/// requests between two nodes are limited as if they went to one.
#[tokio::test]
async fn rate_limits_hold_across_nodes_sharing_a_database() {
    run_on(Backend::Postgres, async {
        let (a, b) = two_nodes().await;
        let mut allowed = [0, 0];
        let mut limited = [0, 0];
        let started = std::time::Instant::now();
        for i in 0..30 {
            let node = [&a, &b][i % 2];
            let r = node
                .http
                .get(format!("{}/v1/events", node.base))
                .bearer_auth(&node.key)
                .send()
                .await
                .unwrap();
            match r.status().as_u16() {
                200 => allowed[i % 2] += 1,
                429 => limited[i % 2] += 1,
                other => panic!("unexpected status {other}"),
            }
        }
        let total: u32 = allowed.iter().sum();
        // One shared burst of 10, plus what refilled (5/s) while the test ran; per-node
        // limits would have let 20 through.
        let refilled = (started.elapsed().as_secs_f64() * 5.0).ceil() as u32;
        assert!(
            total >= 10 && total <= 10 + refilled && total < 20,
            "allowed {allowed:?}, limited {limited:?}, {refilled} refilled"
        );
        assert!(limited.iter().all(|n| *n > 0), "both nodes refused: {limited:?}");
    })
    .await
}

/// An endpoint's `max_in_flight` is one cap for all nodes, not one per node.
#[tokio::test]
async fn max_in_flight_holds_across_nodes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    run_on(Backend::Postgres, async {
        let mut settings = test_settings();
        let a = spawn_with(settings.clone()).await;
        settings.store = a.store.clone().map(Into::into);
        let b = spawn_with(settings).await;
        let (now, peak, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (n, p, d) = (now.clone(), peak.clone(), done.clone());
        let app = axum::Router::new().fallback(move || {
            let (n, p, d) = (n.clone(), p.clone(), d.clone());
            async move {
                let current = n.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(current, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                d.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, app).into_future());
        a.create_endpoint(json!({"url": url, "max_in_flight": 2})).await;
        for i in 0..12 {
            [&a, &b][i % 2]
                .publish(json!({"type": "cap.x", "payload": {"i": i}}))
                .await;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while done.load(Ordering::SeqCst) < 12 {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} delivered",
                done.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "{} requests at once",
            peak.load(Ordering::SeqCst)
        );
    })
    .await
}

/// An endpoint's `rate_limit_per_s` paces the deliveries of all nodes together.
#[tokio::test]
async fn an_endpoint_rate_limit_holds_across_nodes() {
    run_on(Backend::Postgres, async {
        // A backlog stored by an API-only node, then two worker nodes that each claim part
        // of it: each would pace its own part at the full rate.
        let mut settings = test_settings();
        settings.role = Some("api".into());
        let api = spawn_with(settings.clone()).await;
        let rx = Receiver::ok().await;
        api.create_endpoint(json!({"url": rx.url, "rate_limit_per_s": 50, "max_in_flight": 100}))
            .await;
        for i in 0..150 {
            api.publish(json!({"type": "paced.x", "payload": {"i": i}})).await;
        }
        settings.role = Some("worker".into());
        settings.store = api.store.clone().map(Into::into);
        let (_w1, _w2) = tokio::join!(spawn_with(settings.clone()), spawn_with(settings));
        let got = rx.wait_for(100).await;
        let span = got[99].at.duration_since(got[0].at);
        // 100 requests at 50/s take at least 99 intervals of 20 ms (1.98 s); two nodes
        // pacing only themselves would send them in about half that.
        assert!(span >= Duration::from_millis(1700), "100 deliveries in {span:?}");
    })
    .await
}

#[tokio::test]
async fn nodes_starting_together_on_an_empty_database_mint_one_admin_key() {
    run_on(Backend::Postgres, async {
        use herald_server::store::postgres::PgStore;
        use herald_server::store::KeyStore;
        let url = fresh_pg_store().await;
        let nodes = [
            std::sync::Arc::new(
                PgStore::connect(&url, herald_server::domain::Clock::system())
                    .await
                    .unwrap(),
            ),
            std::sync::Arc::new(
                PgStore::connect(&url, herald_server::domain::Clock::system())
                    .await
                    .unwrap(),
            ),
        ];
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let node = nodes[i % 2].clone();
                tokio::spawn(async move {
                    node.insert_first_admin_key(format!("key_{i}"), format!("hash_{i}"))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut minted = 0;
        for t in tasks {
            minted += usize::from(t.await.unwrap());
        }
        assert_eq!(minted, 1, "one admin key for all the nodes");
        let keys = nodes[0].list_keys(None).await.unwrap();
        assert_eq!(keys.len(), 1);
    })
    .await
}
