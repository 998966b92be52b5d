//! `GET /v1/deliveries` with every filter, bulk retry with its dry run, test deliveries and
//! `GET /v1/stats` (what the console's pages are built on), on both stores.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn search(app: &TestApp, query: &str) -> Vec<Value> {
    let body = app.get(&format!("/v1/deliveries?{query}")).await;
    body["data"].as_array().unwrap().clone()
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// Two endpoints (one answering 200, one 500) and three published events, all settled.
struct World {
    ok: String,
    failing: String,
}

async fn world(app: &TestApp) -> World {
    let (good, bad) = (
        Receiver::ok().await,
        Receiver::start(|_| Reply::status(500)).await,
    );
    let ok = app.create_endpoint(json!({"url": good.url})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failing = app
        .create_endpoint(json!({"url": bad.url, "event_types": ["ticket.*"], "circuit_after": 0}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for t in ["ticket.created", "ticket.closed", "order.paid"] {
        let ev = app.publish(json!({"type": t, "payload": {"t": t}})).await;
        app.settled(ev["id"].as_str().unwrap()).await;
    }
    World { ok, failing }
}

store_tests! {
    async fn deliveries_are_searched_by_every_filter_newest_first() {
        let app = spawn_app().await;
        let w = world(&app).await;
        let all = search(&app, "").await;
        assert_eq!(all.len(), 5, "3 to the first endpoint, 2 to the second");
        let mut sorted = ids(&all);
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(ids(&all), sorted, "newest first");
        let failed = search(&app, "state=failed").await;
        assert_eq!(failed.len(), 2);
        assert!(failed.iter().all(|d| d["endpoint_id"] == w.failing.as_str()));
        assert_eq!(search(&app, &format!("endpoint_id={}", w.ok)).await.len(), 3);
        assert_eq!(search(&app, "type=ticket.*").await.len(), 4);
        assert_eq!(search(&app, "type=order.paid").await.len(), 1);
        assert_eq!(search(&app, "type=*").await.len(), 5);
        assert_eq!(search(&app, "status=5xx").await.len(), 2);
        assert_eq!(search(&app, "status=200&type=ticket.created").await.len(), 1);
        assert_eq!(search(&app, "until=2020-01-01T00:00:00Z").await.len(), 0);
        assert_eq!(search(&app, "since=2020-01-01T00:00:00Z&state=succeeded").await.len(), 3);

        // Pages by cursor: no overlap, nothing missed.
        let first = app.get("/v1/deliveries?limit=2").await;
        let cursor = first["next_cursor"].as_str().unwrap();
        let rest = search(&app, &format!("limit=10&cursor={cursor}")).await;
        let mut paged = ids(first["data"].as_array().unwrap());
        paged.extend(ids(&rest));
        assert_eq!(paged, ids(&all));

        for (query, field) in [("state=lost", "state"), ("status=7xx", "status"), ("type=ti*et", "type"), ("since=yesterday", "since"), ("limit=0", "limit")] {
            let (s, b) = app.call(Method::GET, &format!("/v1/deliveries?{query}"), None).await;
            assert_eq!(s, 422, "{query}: {b}");
            assert!(b["error"]["message"].as_str().unwrap().starts_with(field), "{b}");
        }
    }

    async fn the_source_filter_and_tenants_hold() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url, "tenant": "acme"})).await;
        let (s, src) = app
            .call(Method::POST, "/v1/sources", Some(json!({"name": "n", "tenant": "acme", "verify": {"scheme": "none"}})))
            .await;
        assert_eq!(s, 201, "{src}");
        let src = src["id"].as_str().unwrap();
        let r = app.http.post(format!("{}/in/{src}", app.base)).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 200);
        app.publish(json!({"type": "a.b", "tenant": "acme", "payload": {}})).await;
        rx.wait_for(2).await;
        assert_eq!(search(&app, &format!("source_id={src}")).await.len(), 1);
        assert_eq!(search(&app, "").await.len(), 2);
        let (_, k) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "globex"}))).await;
        let other = k["key"].as_str().unwrap();
        let (s, b) = app.call_as(other, Method::GET, "/v1/deliveries", None).await;
        assert_eq!((s, b["data"].as_array().unwrap().len()), (200, 0), "another tenant sees none");
        let (s, b) = app.call_as(other, Method::GET, "/v1/stats", None).await;
        assert_eq!((s, &b["deliveries"]["succeeded"], &b["events"]), (200, &json!(0), &json!(0)), "{b}");
        let (s, b) = app
            .call_as(other, Method::POST, "/v1/deliveries/retry", Some(json!({"filter": {"state": "succeeded"}, "dry_run": true})))
            .await;
        assert_eq!((s, &b["matched"]), (200, &json!(0)), "{b}");
    }

    async fn bulk_retry_shows_its_count_first_then_sends_them_again() {
        let app = spawn_app().await;
        let flaky = Receiver::start(|n| Reply::status(if n < 8 { 500 } else { 200 })).await;
        let ep = app.create_endpoint(json!({"url": flaky.url, "circuit_after": 0})).await;
        let mut events = Vec::new();
        for n in 0..2 {
            let ev = app.publish(json!({"type": "a.b", "payload": {"n": n}})).await;
            events.push(ev["id"].as_str().unwrap().to_string());
        }
        for ev in &events {
            app.settled(ev).await;
        }
        assert_eq!(search(&app, "state=failed").await.len(), 2, "4 tries each, all 500");
        let filter = json!({"endpoint_id": ep["id"]});
        let (s, b) = app
            .call(Method::POST, "/v1/deliveries/retry", Some(json!({"filter": filter, "dry_run": true})))
            .await;
        assert_eq!((s, &b["matched"]), (200, &json!(2)), "{b}");
        assert_eq!(search(&app, "state=failed").await.len(), 2, "a dry run changes nothing");
        let (s, b) = app.call(Method::POST, "/v1/deliveries/retry", Some(json!({"filter": filter}))).await;
        assert_eq!((s, &b["retried"]), (202, &json!(2)), "{b}");
        for ev in &events {
            let ds = app.settled(ev).await;
            assert_eq!(ds[0]["state"], "succeeded", "{ds:?}");
        }
        let (s, b) = app
            .call(Method::POST, "/v1/deliveries/retry", Some(json!({"filter": {"endpoint": "x"}})))
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().starts_with("filter.endpoint"), "{b}");
    }

    async fn a_test_delivery_goes_signed_to_that_endpoint_only() {
        let app = spawn_app().await;
        let (target, other) = (Receiver::ok().await, Receiver::ok().await);
        let ep = app.create_endpoint(json!({"url": target.url, "event_types": ["order.*"]})).await;
        app.create_endpoint(json!({"url": other.url})).await;
        let id = ep["id"].as_str().unwrap();
        let (s, b) = app.call(Method::POST, &format!("/v1/endpoints/{id}/test"), None).await;
        assert_eq!((s, &b["type"], &b["deliveries"]), (202, &json!("webhook.test"), &json!(1)), "{b}");
        let got = target.wait_for(1).await;
        let body: Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!((body["test"].as_bool(), body["endpoint_id"].as_str()), (Some(true), Some(id)));
        let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
        let values: Vec<String> = names.iter().map(|n| got[0].header(n).unwrap()).collect();
        let pairs: Vec<(&str, &str)> = names.iter().copied().zip(values.iter().map(String::as_str)).collect();
        let secret = app.get(&format!("/v1/endpoints/{id}/secret")).await["secret"].as_str().unwrap().to_string();
        herald_signing::verify(&pairs, &got[0].body, &[&secret], values[1].parse().unwrap()).expect("signed");
        // Recorded like any other delivery.
        let ds = app.settled(b["id"].as_str().unwrap()).await;
        assert_eq!((ds.len(), &ds[0]["state"]), (1, &json!("succeeded")));
        let (s, b) = app
            .call(Method::POST, &format!("/v1/endpoints/{id}/test"), Some(json!({"type": "order.paid", "payload": {"amount": 5}})))
            .await;
        assert_eq!(s, 202, "{b}");
        let got = target.wait_for(2).await;
        assert_eq!(got[1].body.as_ref(), br#"{"amount":5}"#, "the payload byte for byte");
        assert_eq!(got[1].header("x-herald-event-type").as_deref(), Some("order.paid"));
        assert_eq!(other.count(), 0, "nothing went to the other endpoint");
        let (s, _) = app
            .call(Method::POST, &format!("/v1/endpoints/{id}/test"), Some(json!({"type": "herald.endpoint.disabled"})))
            .await;
        assert_eq!(s, 422);
        let (_, k) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "globex"}))).await;
        let (s, _) = app
            .call_as(k["key"].as_str().unwrap(), Method::POST, &format!("/v1/endpoints/{id}/test"), None)
            .await;
        assert_eq!(s, 404, "another tenant's endpoint");
    }

    async fn stats_count_events_and_deliveries_per_state_and_endpoint() {
        let app = spawn_app().await;
        let w = world(&app).await;
        let stats = app.get("/v1/stats").await;
        assert_eq!(stats["events"], 5, "3 published and 2 herald.delivery.failed reports");
        assert_eq!(stats["deliveries"]["succeeded"], 3);
        assert_eq!(stats["deliveries"]["failed"], 2);
        let per: Vec<&Value> = stats["endpoints"].as_array().unwrap().iter().collect();
        let of = |id: &str| per.iter().find(|e| e["endpoint_id"] == id).copied().unwrap();
        assert_eq!((&of(&w.ok)["succeeded"], &of(&w.failing)["failed"]), (&json!(3), &json!(2)));
        let later = app.get("/v1/stats?since=2999-01-01T00:00:00Z").await;
        assert_eq!((&later["events"], &later["deliveries"]["failed"]), (&json!(0), &json!(0)));
    }
}
