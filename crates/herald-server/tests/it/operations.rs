//! Rotation, replay, retry, recovery, endpoint health, operational events, metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn verify(secret: &str, r: &Received) -> bool {
    let (id, ts, sig) = (
        r.header("webhook-id").unwrap(),
        r.header("webhook-timestamp").unwrap(),
        r.header("webhook-signature").unwrap(),
    );
    let now = ts.parse::<i64>().unwrap();
    let headers = [
        ("webhook-id", id.as_str()),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", sig.as_str()),
    ];
    herald_signing::verify(&headers, &r.body, &[secret], now).is_ok()
}

/// An endpoint subscribed to herald's own operational events.
async fn ops_receiver(app: &TestApp) -> Receiver {
    let ops = Receiver::ok().await;
    app.create_endpoint(json!({"url": ops.url, "event_types": ["herald.*"]}))
        .await;
    ops
}

fn ops_events(ops: &Receiver) -> Vec<(String, Value)> {
    ops.received()
        .iter()
        .map(|r| {
            (
                r.header("x-herald-event-type").unwrap(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

store_tests! {
    async fn both_secrets_sign_during_the_grace_and_only_the_new_one_after() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app.create_endpoint(json!({"url": rx.url})).await;
        let (id, old) = (
            ep["id"].as_str().unwrap(),
            ep["secret"].as_str().unwrap().to_string(),
        );
        let (s, rotated) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{id}/secret/rotate"),
                Some(json!({"grace_period_s": 3600})),
            )
            .await;
        assert_eq!(s, 200, "{rotated}");
        let new = rotated["secret"].as_str().unwrap().to_string();
        assert!(new.starts_with("whsec_") && new != old);
        assert!(rotated["previous_secret_expires_at"].is_string());
        assert_eq!(
            app.get(&format!("/v1/endpoints/{id}/secret")).await["secret"],
            new.as_str()
        );

        app.publish(json!({"type": "a.b", "payload": {"during": "grace"}}))
            .await;
        let during = rx.wait_for(1).await[0].clone();
        assert_eq!(during.header("webhook-signature").unwrap().split(' ').count(), 2);
        assert!(
            verify(&old, &during) && verify(&new, &during),
            "each secret verifies alone"
        );

        app.advance(Duration::from_secs(3601));
        app.publish(json!({"type": "a.b", "payload": {"after": "grace"}}))
            .await;
        let after = rx.wait_for(2).await[1].clone();
        assert_eq!(after.header("webhook-signature").unwrap().split(' ').count(), 1);
        assert!(verify(&new, &after));
        assert!(!verify(&old, &after), "the old secret no longer signs");

        let (s, b) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{id}/secret/rotate"),
                Some(json!({"secret": "nope"})),
            )
            .await;
        assert_eq!((s, b["error"]["code"].as_str()), (422, Some("invalid_field")));
    }

    async fn an_event_can_be_replayed_to_all_or_one_endpoint() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let one = app
            .create_endpoint(json!({"url": format!("{}/one", rx.url)}))
            .await;
        app.create_endpoint(json!({"url": format!("{}/two", rx.url)}))
            .await;
        let ev = app.publish(json!({"type": "a.b", "payload": {"n": 1}})).await;
        let id = ev["id"].as_str().unwrap();
        rx.wait_for(2).await;
        let (s, r) = app
            .call(Method::POST, &format!("/v1/events/{id}/replay"), None)
            .await;
        assert_eq!((s, r["deliveries"].as_u64()), (202, Some(2)), "{r}");
        rx.wait_for(4).await;
        let body = json!({"endpoint_id": one["id"]});
        let (s, r) = app
            .call(Method::POST, &format!("/v1/events/{id}/replay"), Some(body))
            .await;
        assert_eq!((s, r["deliveries"].as_u64()), (202, Some(1)));
        let got = rx.wait_for(5).await;
        assert_eq!(got[4].path, "/one");
        assert!(
            got.iter().all(|r| r.header("webhook-id").unwrap() == id),
            "a replay keeps the event id"
        );
        assert_eq!(app.settled(id).await.len(), 5);
        let (s, _) = app
            .call(
                Method::POST,
                &format!("/v1/events/{id}/replay"),
                Some(json!({"endpoint_id": "ep_nope"})),
            )
            .await;
        assert_eq!(s, 404);
        let (s, _) = app.call(Method::POST, "/v1/events/evt_nope/replay", None).await;
        assert_eq!(s, 404);
    }

    async fn a_failed_delivery_can_be_retried() {
        let mut settings = test_settings();
        settings.retry_schedule = Some("50ms".into());
        let app = spawn_with(settings).await;
        let healthy = Arc::new(AtomicBool::new(false));
        let h = healthy.clone();
        let rx = Receiver::start(move |_| Reply::status(if h.load(Ordering::SeqCst) { 200 } else { 500 })).await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        let d = app.settled(ev["id"].as_str().unwrap()).await[0].clone();
        assert_eq!(
            (d["state"].as_str(), d["attempts"].as_u64()),
            (Some("failed"), Some(2))
        );
        healthy.store(true, Ordering::SeqCst);
        let did = d["id"].as_str().unwrap();
        let (s, r) = app
            .call(Method::POST, &format!("/v1/deliveries/{did}/retry"), None)
            .await;
        assert_eq!(s, 202, "{r}");
        let d = app.settled(ev["id"].as_str().unwrap()).await[0].clone();
        assert_eq!(
            (d["state"].as_str(), d["attempts"].as_u64()),
            (Some("succeeded"), Some(3))
        );
        let (s, _) = app
            .call(Method::POST, "/v1/deliveries/dlv_nope/retry", None)
            .await;
        assert_eq!(s, 404);
    }

    async fn recovery_requeues_failed_and_skipped_deliveries_and_is_reported() {
        let mut settings = test_settings();
        settings.retry_schedule = Some("".into());
        let app = spawn_with(settings).await;
        let ops = ops_receiver(&app).await;
        let healthy = Arc::new(AtomicBool::new(false));
        let h = healthy.clone();
        let rx = Receiver::start(move |_| Reply::status(if h.load(Ordering::SeqCst) { 200 } else { 500 })).await;
        let ep = app
            .create_endpoint(json!({"url": rx.url, "event_types": ["ticket.*"]}))
            .await;
        let eid = ep["id"].as_str().unwrap();
        let failed = app
            .publish(json!({"type": "ticket.created", "payload": {"n": 1}}))
            .await;
        assert_eq!(
            app.settled(failed["id"].as_str().unwrap()).await[0]["state"],
            "failed"
        );
        // The exhausted delivery is reported as an operational event.
        let reported = ops.wait_for(1).await;
        assert_eq!(
            reported[0].header("x-herald-event-type").unwrap(),
            "herald.delivery.failed"
        );
        let body: Value = serde_json::from_slice(&reported[0].body).unwrap();
        assert_eq!(body["endpoint_id"], eid);
        assert_eq!(body["event_id"], failed["id"]);

        app.call(
            Method::PATCH,
            &format!("/v1/endpoints/{eid}"),
            Some(json!({"disabled": true})),
        )
        .await;
        let skipped = app
            .publish(json!({"type": "ticket.created", "payload": {"n": 2}}))
            .await;
        assert_eq!(skipped["deliveries"], 0);
        let ds = app.deliveries(skipped["id"].as_str().unwrap()).await;
        assert_eq!(ds[0]["state"], "skipped", "recorded, not silently gone");

        healthy.store(true, Ordering::SeqCst);
        app.call(
            Method::PATCH,
            &format!("/v1/endpoints/{eid}"),
            Some(json!({"disabled": false})),
        )
        .await;
        let (s, r) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{eid}/recover"),
                Some(json!({"since": "2000-01-01T00:00:00Z"})),
            )
            .await;
        assert_eq!((s, r["recovered"].as_u64()), (202, Some(2)), "{r}");
        let got = rx.wait_for(3).await;
        let bodies: Vec<Value> = got[1..]
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert!(bodies.contains(&json!({"n": 1})) && bodies.contains(&json!({"n": 2})));
        assert_eq!(
            app.settled(skipped["id"].as_str().unwrap()).await[0]["state"],
            "succeeded"
        );
        ops.wait_for(2).await;
        let recovered = ops_events(&ops)
            .into_iter()
            .find(|(t, _)| t == "herald.endpoint.recovered")
            .unwrap();
        assert_eq!(recovered.1["recovered"], 2);

        let (s, b) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{eid}/recover"),
                Some(json!({})),
            )
            .await;
        assert_eq!(
            (s, b["error"]["message"].as_str().unwrap().starts_with("since")),
            (422, true)
        );
    }

    async fn an_endpoint_failing_for_too_long_is_disabled_and_reported() {
        let mut settings = test_settings();
        settings.retry_schedule = Some("100ms,100ms,100ms,100ms,100ms,100ms".into());
        settings.auto_disable_after = Some("250ms".into());
        let app = spawn_with(settings).await;
        let ops = ops_receiver(&app).await;
        let rx = Receiver::start(|_| Reply::status(500)).await;
        let ep = app
            .create_endpoint(json!({"url": rx.url, "event_types": ["ticket.*"]}))
            .await;
        let eid = ep["id"].as_str().unwrap();
        app.publish(json!({"type": "ticket.created", "payload": {}}))
            .await;
        let got = ops.wait_for(1).await;
        assert_eq!(
            got[0].header("x-herald-event-type").unwrap(),
            "herald.endpoint.disabled"
        );
        let body: Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(body["endpoint_id"], eid);
        assert!(body["reason"].as_str().unwrap().contains("failed since"));
        let ep = app.get(&format!("/v1/endpoints/{eid}")).await;
        assert_eq!(ep["disabled"], true);
        let tries = rx.count();
        app.advance(Duration::from_secs(3600));
        app.until_idle().await;
        assert_eq!(rx.count(), tries, "a disabled endpoint gets no more tries");
    }

    async fn a_tenants_operational_events_reach_the_operator_and_the_tenant() {
        let app = spawn_app().await;
        let operator = ops_receiver(&app).await;
        let tenant_ops = Receiver::ok().await;
        app.create_endpoint(json!({"url": tenant_ops.url, "tenant": "acme", "event_types": ["herald.*"]}))
            .await;
        let other_ops = Receiver::ok().await;
        app.create_endpoint(json!({"url": other_ops.url, "tenant": "globex", "event_types": ["herald.*"]}))
            .await;
        let gone = Receiver::start(|_| Reply::status(410)).await;
        let ep = app
            .create_endpoint(json!({"url": gone.url, "tenant": "acme", "event_types": ["ticket.*"]}))
            .await;
        app.publish(json!({"type": "ticket.created", "tenant": "acme", "payload": {}}))
            .await;
        let disabled = |rx: &Receiver| {
            ops_events(rx)
                .into_iter()
                .filter(|(t, _)| t == "herald.endpoint.disabled")
                .map(|(_, body)| body)
                .collect::<Vec<_>>()
        };
        operator.wait_for(1).await;
        tenant_ops.wait_for(1).await;
        let (seen_by_operator, seen_by_tenant) = (disabled(&operator), disabled(&tenant_ops));
        assert_eq!(seen_by_operator.len(), 1, "{seen_by_operator:?}");
        assert_eq!(seen_by_tenant.len(), 1, "{seen_by_tenant:?}");
        for body in [&seen_by_operator[0], &seen_by_tenant[0]] {
            assert_eq!(body["endpoint_id"], ep["id"]);
            assert_eq!(body["tenant"], "acme");
        }
        // The operator's copy is its own event: the tenant cannot see the operator's
        // endpoints through it, and another tenant hears nothing.
        let (_, k) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "acme"}))).await;
        let key = k["key"].as_str().unwrap();
        let (s, listed) = app.call_as(key, Method::GET, "/v1/events?type=herald.endpoint.disabled", None).await;
        assert_eq!(s, 200);
        for ev in listed["data"].as_array().unwrap() {
            let (_, ds) = app
                .call_as(key, Method::GET, &format!("/v1/events/{}/deliveries", ev["id"].as_str().unwrap()), None)
                .await;
            for d in ds["data"].as_array().unwrap() {
                assert_ne!(d["endpoint_id"].as_str(), None);
                let (s, _) = app
                    .call_as(key, Method::GET, &format!("/v1/endpoints/{}", d["endpoint_id"].as_str().unwrap()), None)
                    .await;
                assert_eq!(s, 200, "a delivery the tenant sees goes to the tenant's own endpoint");
            }
        }
        assert_eq!(other_ops.count(), 0);
    }

    async fn metrics_move_as_deliveries_happen() {
        let app = spawn_app().await;
        let scrape = || app.metrics_text();
        let before = scrape().await;
        assert_eq!(metric(&before, "herald_events_published_total"), 0.0);
        assert_eq!(metric(&before, "herald_deliveries{state=\"succeeded\"}"), 0.0);
        let rx = Receiver::start(|n| Reply::status(if n == 0 { 500 } else { 200 })).await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        app.settled(ev["id"].as_str().unwrap()).await;
        let after = scrape().await;
        assert_eq!(metric(&after, "herald_events_published_total"), 1.0);
        assert_eq!(
            metric(&after, "herald_delivery_attempts_total{outcome=\"retry\"}"),
            1.0
        );
        assert_eq!(
            metric(&after, "herald_delivery_attempts_total{outcome=\"succeeded\"}"),
            1.0
        );
        assert_eq!(metric(&after, "herald_deliveries{state=\"succeeded\"}"), 1.0);
        assert_eq!(metric(&after, "herald_attempt_duration_seconds_count"), 2.0);
        assert!(after.contains("herald_oldest_due_delivery_age_seconds"));
    }

    async fn retention_deletes_only_what_is_old_and_owes_nothing() {
        let mut settings = test_settings();
        settings.retention = Some("1h".into());
        let app = spawn_with(settings).await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url, "event_types": ["pushed.*"]}))
            .await;
        let pull = app.create_endpoint(json!({"event_types": ["pulled.*"]})).await;
        let old = app
            .publish(json!({"type": "pushed.x", "payload": {"old": true}}))
            .await;
        let old_id = old["id"].as_str().unwrap();
        let delivered = app.settled(old_id).await;
        let owed = app
            .publish(json!({"type": "pulled.x", "payload": {"owed": true}}))
            .await;
        let (_, src) = app
            .call(
                Method::POST,
                "/v1/sources",
                Some(json!({"name": "n", "verify": {"scheme": "none"}})),
            )
            .await;
        let sid = src["id"].as_str().unwrap();
        app.http
            .post(format!("{}/in/{sid}", app.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        app.advance(Duration::from_secs(7200));
        let fresh = app
            .publish(json!({"type": "pushed.x", "payload": {"fresh": true}}))
            .await;

        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while app
            .call(Method::GET, &format!("/v1/events/{old_id}"), None)
            .await
            .0
            != 404
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the old event was never deleted"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let did = delivered[0]["id"].as_str().unwrap();
        assert_eq!(
            app.call(Method::GET, &format!("/v1/deliveries/{did}"), None)
                .await
                .0,
            404
        );
        assert_eq!(
            app.call(Method::GET, &format!("/v1/deliveries/{did}/attempts"), None)
                .await
                .0,
            404
        );
        let kept = app
            .get(&format!("/v1/events/{}", owed["id"].as_str().unwrap()))
            .await;
        assert_eq!(
            kept["payload"],
            json!({"owed": true}),
            "an event still owed to a consumer is kept"
        );
        app.get(&format!("/v1/events/{}", fresh["id"].as_str().unwrap()))
            .await;
        assert!(app.get(&format!("/v1/sources/{sid}/requests")).await["data"]
            .as_array()
            .unwrap()
            .is_empty());
        let (s, items) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{}/poll", pull["id"].as_str().unwrap()),
                Some(json!({})),
            )
            .await;
        assert_eq!((s, items["data"].as_array().unwrap().len()), (200, 1));
    }
}
