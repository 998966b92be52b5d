//! Ordered keys (DESIGN section 8): per (endpoint, key) one delivery at a time, in publish
//! order; other keys go on; skip and park; the headers that say where a delivery stands.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn poll(app: &TestApp, id: &str) -> Vec<Value> {
    let path = format!("/v1/endpoints/{id}/poll");
    let (s, r) = app
        .call(Method::POST, &path, Some(json!({"max": 10, "wait_ms": 0})))
        .await;
    assert_eq!(s, 200, "{r}");
    r["data"].as_array().unwrap().clone()
}

async fn health(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/endpoints/{id}/health")).await
}

/// (key, sequence, payload `i`) of a request herald sent.
fn place(r: &Received) -> (String, i64, i64) {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    (
        r.header("x-herald-ordering-key")
            .expect("an ordered delivery names its key"),
        r.header("x-herald-sequence").unwrap().parse().unwrap(),
        body["i"].as_i64().unwrap(),
    )
}

/// Checks a receiver's log against the order rule: per key, each request is the head's
/// retry or the next sequence after a success, and sequences follow publish order.
fn assert_in_order(seen: &[Received], ok: impl Fn(usize) -> bool) -> BTreeMap<String, i64> {
    let mut done: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_i: BTreeMap<String, i64> = BTreeMap::new();
    for (n, r) in seen.iter().enumerate() {
        let (key, seq, i) = place(r);
        let upto = done.get(&key).copied().unwrap_or(0);
        assert_eq!(
            seq,
            upto + 1,
            "request {n} of key {key} is seq {seq} while {upto} is the last success"
        );
        let prev = last_i.insert(key.clone(), i).unwrap_or(-1);
        assert!(i >= prev, "key {key}: event {i} went after event {prev}");
        if ok(n) {
            done.insert(key, seq);
        }
    }
    done
}

store_tests! {
    async fn each_key_keeps_publish_order_under_concurrency_and_failures() {
        let app = spawn_app().await;
        // Every third request fails, whatever its key; each takes a little time, so the
        // keys' deliveries overlap.
        let rx = Receiver::start(|n| Reply {
            status: if n % 3 == 1 { 500 } else { 200 },
            headers: vec![],
            delay: Duration::from_millis(3),
        })
        .await;
        let ep = app
            .create_endpoint(json!({"url": rx.url, "max_in_flight": 8, "circuit_after": 0,
                                    "retry_schedule": "10ms,10ms,10ms,10ms,10ms,10ms,10ms,10ms",
                                    "ordering": {"key": "json:/customer"}}))
            .await;
        assert_eq!(ep["ordering"], json!({"key": "json:/customer", "on_stuck": "skip"}));
        let mut events = Vec::new();
        for i in 0..48 {
            let ev = app.publish(json!({"type": "order.x", "payload": {"customer": format!("c{}", i % 4), "i": i}})).await;
            events.push(ev["id"].as_str().unwrap().to_string());
        }
        for ev in &events {
            assert_eq!(app.settled(ev).await[0]["state"], "succeeded");
        }
        let seen = rx.received();
        let done = assert_in_order(&seen, |n| n % 3 != 1);
        assert_eq!(done.len(), 4, "{done:?}");
        assert!(done.values().all(|&s| s == 12), "every key's 12 events, in order: {done:?}");
        let d = &app.deliveries(&events[47]).await[0];
        assert_eq!((d["ordering_key"].as_str(), d["sequence"].as_i64()), (Some("c3"), Some(12)), "{d}");
    }

    async fn a_stuck_key_holds_up_no_other_key_and_skip_moves_it_on() {
        let app = spawn_app().await;
        let rx = Receiver::answering(|r, _| {
            Reply::status(if r.header("x-herald-ordering-key").as_deref() == Some("stuck") { 500 } else { 200 })
        })
        .await;
        let ep = app
            .create_endpoint(json!({"url": rx.url, "max_in_flight": 4, "circuit_after": 0,
                                    "retry_schedule": "1h", "ordering": {"key": "json:/k"}}))
            .await;
        let id = ep["id"].as_str().unwrap();
        let first = app.publish(json!({"type": "order.x", "payload": {"k": "stuck", "i": 0}})).await;
        let second = app.publish(json!({"type": "order.x", "payload": {"k": "stuck", "i": 1}})).await;
        let mut others = Vec::new();
        for i in 2..12 {
            let ev = app.publish(json!({"type": "order.x", "payload": {"k": format!("k{}", i % 3), "i": i}})).await;
            others.push(ev["id"].as_str().unwrap().to_string());
        }
        for ev in &others {
            assert_eq!(app.settled(ev).await[0]["state"], "succeeded");
        }
        app.worker_rounds().await;
        let stuck_sent = |rx: &Receiver| rx.received().iter().filter(|r| place(r).0 == "stuck").count();
        assert_eq!(stuck_sent(&rx), 1, "the second of the stuck key waits: no attempt of its own");
        let waiting = &app.deliveries(second["id"].as_str().unwrap()).await[0];
        assert_eq!((waiting["state"].as_str(), waiting["attempts"].as_u64()), (Some("pending"), Some(0)), "{waiting}");
        let h = health(&app, id).await;
        assert_eq!((h["blocked_keys"].as_u64(), h["parked_keys"].as_u64()), (Some(1), Some(0)), "{h}");
        let metrics = app.metrics_text().await;
        assert!(metrics.contains(&format!("herald_endpoint_blocked_keys{{endpoint=\"{id}\"}} 1")), "{metrics}");
        // The head's one retry, an hour on, fails too: the default `skip` fails it and the
        // key moves on at once (the next delivery owes nothing to the head's backoff).
        app.advance(Duration::from_secs(4400));
        let head = app.settled(first["id"].as_str().unwrap()).await;
        assert_eq!(head[0]["state"], "failed", "{head:?}");
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while stuck_sent(&rx) < 3 {
            assert!(std::time::Instant::now() < deadline, "the next one never went");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        app.worker_rounds().await;
        assert_eq!(stuck_sent(&rx), 3, "head twice, then the next one");
        let next = &app.deliveries(second["id"].as_str().unwrap()).await[0];
        assert_eq!((next["attempts"].as_u64(), next["sequence"].as_i64()), (Some(1), Some(2)), "{next}");
        // The operator gives it up too: the key has nothing left.
        let path = format!("/v1/endpoints/{id}/keys/stuck/skip");
        let (s, b) = app.call(Method::POST, &path, None).await;
        assert_eq!((s, b["head"]["state"].as_str()), (200, Some("failed")), "{b}");
        assert!(b["head"]["last_error"].as_str().unwrap().starts_with("skipped by an operator"), "{b}");
        let (s, b) = app.call(Method::POST, &path, None).await;
        assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")), "{b}");
        let (stuck, others): (Vec<Received>, Vec<Received>) =
            rx.received().into_iter().partition(|r| place(r).0 == "stuck");
        let stuck: Vec<i64> = stuck.iter().map(|r| place(r).1).collect();
        assert_eq!(stuck, vec![1, 1, 2], "the head, its retry, then the next");
        assert_eq!(assert_in_order(&others, |_| true).len(), 3);
    }

    async fn a_parked_key_waits_for_resume_or_skip() {
        let app = spawn_app().await;
        // The first two requests fail; after that every one succeeds.
        let rx = Receiver::start(|n| Reply::status(if n < 2 { 500 } else { 200 })).await;
        let ep = app
            .create_endpoint(json!({"url": rx.url, "circuit_after": 0, "retry_schedule": "",
                                    "ordering": {"key": "endpoint", "on_stuck": "park"}}))
            .await;
        let id = ep["id"].as_str().unwrap();
        let mut events = Vec::new();
        for i in 0..3 {
            let ev = app.publish(json!({"type": "order.x", "payload": {"i": i}})).await;
            events.push(ev["id"].as_str().unwrap().to_string());
        }
        rx.wait_for(1).await;
        app.worker_rounds().await;
        app.advance(Duration::from_secs(3600));
        app.worker_rounds().await;
        assert_eq!(rx.count(), 1, "a parked key sends nothing");
        let head = &app.deliveries(&events[0]).await[0];
        assert_eq!((head["state"].as_str(), head["next_attempt_at"].is_null()), (Some("pending"), true), "{head}");
        let h = health(&app, id).await;
        assert_eq!((h["parked_keys"].as_u64(), h["pending"].as_u64()), (Some(1), Some(3)), "{h}");
        let metrics = app.metrics_text().await;
        assert!(metrics.contains(&format!("herald_endpoint_parked_keys{{endpoint=\"{id}\"}} 1")), "{metrics}");
        // Resume retries the head now; it fails again and parks again.
        let resume = format!("/v1/endpoints/{id}/keys/endpoint/resume");
        let (s, b) = app.call(Method::POST, &resume, None).await;
        assert_eq!(s, 200, "{b}");
        rx.wait_for(2).await;
        app.until_idle().await;
        assert_eq!(rx.count(), 2);
        assert_eq!(health(&app, id).await["parked_keys"], 1);
        // Resumed once more, it gets through, and the key drains in order.
        let (s, _) = app.call(Method::POST, &resume, None).await;
        assert_eq!(s, 200);
        for ev in &events {
            assert_eq!(app.settled(ev).await[0]["state"], "succeeded");
        }
        let seen = rx.received();
        let places: Vec<(String, i64, i64)> = seen.iter().map(place).collect();
        let expected: Vec<(String, i64, i64)> = [(1, 0), (1, 0), (1, 0), (2, 1), (3, 2)]
            .iter()
            .map(|&(s, i)| ("endpoint".to_string(), s, i))
            .collect();
        assert_eq!(places, expected);
        assert_eq!(health(&app, id).await["parked_keys"], 0);
    }

    async fn a_publishers_key_wins_and_ordering_is_validated() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app.create_endpoint(json!({"url": rx.url, "ordering": {"key": "json:/customer"}})).await;
        let id = ep["id"].as_str().unwrap();
        let vip = app
            .publish(json!({"type": "order.x", "payload": {"customer": "c1"}, "ordering_key": "vip"}))
            .await;
        app.publish(json!({"type": "order.x", "payload": {"customer": "c1"}})).await;
        let loose = app.publish(json!({"type": "order.x", "payload": {"other": 1}})).await;
        let seen = rx.wait_for(3).await;
        let mut keys: Vec<(Option<String>, Option<String>)> = seen
            .iter()
            .map(|r| (r.header("x-herald-ordering-key"), r.header("x-herald-sequence")))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![(None, None), (Some("c1".into()), Some("1".into())), (Some("vip".into()), Some("1".into()))],
            "no key found, no headers"
        );
        assert_eq!(app.get(&format!("/v1/events/{}", vip["id"].as_str().unwrap())).await["ordering_key"], "vip");
        let d = &app.settled(loose["id"].as_str().unwrap()).await[0];
        assert!(d.get("ordering_key").is_none() && d.get("sequence").is_none(), "{d}");
        for (body, field) in [
            (json!({"type": "order.x", "payload": {}, "ordering_key": ""}), "ordering_key"),
            (json!({"type": "order.x", "payload": {}, "ordering_key": "tab	here"}), "ordering_key"),
        ] {
            let (s, b) = app.call(Method::POST, "/v1/events", Some(body)).await;
            assert_eq!(s, 422, "{b}");
            assert!(b["error"]["message"].as_str().unwrap().starts_with(field), "{b}");
        }
        for (ordering, field) in [
            (json!({"key": "body"}), "ordering.key"),
            (json!({"on_stuck": "park"}), "ordering.key"),
            (json!({"key": "endpoint", "on_stuck": "wait"}), "ordering.on_stuck"),
            (json!({"key": "endpoint", "order": 1}), "order"),
        ] {
            let (s, b) = app.call(Method::POST, "/v1/endpoints", Some(json!({"url": rx.url, "ordering": ordering}))).await;
            assert_eq!(s, 422, "{b}");
            assert!(b["error"]["message"].as_str().unwrap().contains(field), "{field}: {b}");
        }
        let path = format!("/v1/endpoints/{id}");
        let (s, b) = app.call(Method::PATCH, &path, Some(json!({"ordering": {"key": "header:X-Shop", "on_stuck": "park"}}))).await;
        assert_eq!((s, &b["ordering"]), (200, &json!({"key": "header:x-shop", "on_stuck": "park"})), "{b}");
        let (s, b) = app.call(Method::PATCH, &path, Some(json!({"ordering": null}))).await;
        assert_eq!((s, b["ordering"].is_null()), (200, true), "{b}");
    }

    async fn key_actions_are_tenant_scoped() {
        let app = spawn_app().await;
        let rx = Receiver::start(|_| Reply::status(500)).await;
        let ep = app
            .create_endpoint(json!({"url": rx.url, "tenant": "acme", "retry_schedule": "", "circuit_after": 0,
                                    "ordering": {"key": "endpoint", "on_stuck": "park"}}))
            .await;
        let id = ep["id"].as_str().unwrap();
        app.publish(json!({"type": "order.x", "tenant": "acme", "payload": {"i": 0}})).await;
        rx.wait_for(1).await;
        app.until_idle().await;
        let (_, other) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "globex"}))).await;
        let globex = other["key"].as_str().unwrap();
        for action in ["resume", "skip"] {
            let path = format!("/v1/endpoints/{id}/keys/endpoint/{action}");
            let (s, b) = app.call_as(globex, Method::POST, &path, None).await;
            assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")), "{b}");
        }
        assert_eq!(health(&app, id).await["parked_keys"], 1, "another tenant changed nothing");
        let (_, mine) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "acme"}))).await;
        let path = format!("/v1/endpoints/{id}/keys/endpoint/skip");
        let (s, b) = app.call_as(mine["key"].as_str().unwrap(), Method::POST, &path, None).await;
        assert_eq!((s, b["head"]["state"].as_str()), (200, Some("failed")), "{b}");
    }

    async fn a_pull_consumer_is_leased_one_delivery_per_key_in_order() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({"ordering": {"key": "json:/k"}})).await;
        let id = ep["id"].as_str().unwrap();
        for (k, i) in [("a", 0), ("a", 1), ("b", 2), ("a", 3)] {
            app.publish(json!({"type": "order.x", "payload": {"k": k, "i": i}})).await;
        }
        let heads = poll(&app, id).await;
        let places: Vec<(String, String)> = heads
            .iter()
            .map(|d| (d["headers"]["x-herald-ordering-key"].as_str().unwrap().to_string(),
                      d["headers"]["x-herald-sequence"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(places, vec![("a".into(), "1".into()), ("b".into(), "1".into())], "one lease per key: {heads:?}");
        assert!(poll(&app, id).await.is_empty(), "a key whose head is leased gives nothing more");
        let a1 = heads[0]["delivery_id"].as_str().unwrap();
        let (s, _) = app.call(Method::POST, &format!("/v1/endpoints/{id}/ack"), Some(json!({"ids": [a1]}))).await;
        assert_eq!(s, 200);
        let next = poll(&app, id).await;
        assert_eq!(next.len(), 1, "{next:?}");
        assert_eq!(next[0]["headers"]["x-herald-sequence"], "2");
        assert_eq!(next[0]["payload"]["i"], 1);
    }
}
