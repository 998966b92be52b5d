//! Pull endpoints: long-poll with leases and acks, SSE with resume.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn poll(app: &TestApp, ep: &str, body: Value) -> Vec<Value> {
    let (s, r) = app
        .call(Method::POST, &format!("/v1/endpoints/{ep}/poll"), Some(body))
        .await;
    assert_eq!(s, 200, "{r}");
    r["data"].as_array().unwrap().clone()
}

async fn ack(app: &TestApp, ep: &str, items: &[Value]) -> u64 {
    let ids: Vec<&str> = items.iter().map(|i| i["delivery_id"].as_str().unwrap()).collect();
    let (s, r) = app
        .call(
            Method::POST,
            &format!("/v1/endpoints/{ep}/ack"),
            Some(json!({"ids": ids})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    r["acked"].as_u64().unwrap()
}

fn body_of(item: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(item["body_base64"].as_str().unwrap())
        .unwrap()
}

fn verifies(item: &Value, secret: &str) -> bool {
    let h = &item["headers"];
    let pairs = [
        ("webhook-id", h["webhook-id"].as_str().unwrap()),
        ("webhook-timestamp", h["webhook-timestamp"].as_str().unwrap()),
        ("webhook-signature", h["webhook-signature"].as_str().unwrap()),
    ];
    let now = pairs[1].1.parse().unwrap();
    herald_signing::verify(&pairs, &body_of(item), &[secret], now).is_ok()
}

/// Reads SSE frames from a streaming response until `n` events arrived.
async fn read_events(resp: &mut reqwest::Response, n: usize) -> Vec<(String, Value)> {
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "stream gave {} of {n} events",
            out.len()
        );
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
                }
            }
            if let Some(id) = id {
                out.push((id, serde_json::from_str(&data.join("\n")).unwrap()));
            }
        }
    }
    out
}

async fn open_stream(app: &TestApp, ep: &str, last: Option<&str>) -> reqwest::Response {
    let mut req = app
        .http
        .get(format!("{}/v1/endpoints/{ep}/stream", app.base))
        .bearer_auth(&app.key);
    if let Some(l) = last {
        req = req.header("last-event-id", l);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    resp
}

store_tests! {
    async fn a_stream_cursor_never_issued_is_refused_and_acknowledges_nothing() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({})).await;
        let id = ep["id"].as_str().unwrap();
        for n in 0..3 {
            app.publish(json!({"type": "a.b", "payload": {"n": n}})).await;
        }
        let mut stream = open_stream(&app, id, None).await;
        let got = read_events(&mut stream, 3).await;
        drop(stream);
        let last: i64 = got[2].0.parse().unwrap();
        let url = format!("{}/v1/endpoints/{id}/stream", app.base);
        for beyond in [last + 1, 999_999_999] {
            let resp = app
                .http
                .get(&url)
                .bearer_auth(&app.key)
                .header("last-event-id", beyond.to_string())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            assert_eq!(status, 422, "{body}");
            assert!(body["error"]["message"].as_str().unwrap().starts_with("Last-Event-ID"));
        }
        // Nothing was acknowledged: all three are still owed and stream again from the start.
        let mut again = open_stream(&app, id, None).await;
        let replayed = read_events(&mut again, 3).await;
        assert_eq!(replayed[2].1["payload"], json!({"n": 2}));
        drop(again);
        // A cursor that was issued acknowledges what came before it, as before.
        let resumed = open_stream(&app, id, Some(&got[1].0)).await;
        drop(resumed);
        let items = poll(&app, id, json!({"max": 10})).await;
        assert_eq!(items.len(), 1, "only the third is left: {items:?}");
    }

    async fn a_consumer_extends_the_lease_of_what_it_still_works_on() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({})).await;
        let id = ep["id"].as_str().unwrap();
        app.publish(json!({"type": "a.b", "payload": {}})).await;
        let items = poll(&app, id, json!({"lease_ms": 300})).await;
        let dlv = items[0]["delivery_id"].as_str().unwrap();
        let (s, r) = app
            .call(Method::POST, &format!("/v1/endpoints/{id}/lease"), Some(json!({"ids": [dlv], "lease_ms": 60000})))
            .await;
        assert_eq!((s, r["extended"].as_u64()), (200, Some(1)), "{r}");
        // Past the first lease, nobody else gets it.
        app.advance(Duration::from_secs(1));
        assert!(poll(&app, id, json!({})).await.is_empty(), "the extended lease held");
        let (s, r) = app
            .call(Method::POST, &format!("/v1/endpoints/{id}/lease"), Some(json!({"ids": [dlv], "lease_ms": 5})))
            .await;
        assert_eq!(s, 422, "{r}");
    }

    async fn long_poll_leases_redeliver_until_acked() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({"event_types": ["job.*"]})).await;
        let (id, secret) = (ep["id"].as_str().unwrap(), ep["secret"].as_str().unwrap());
        for n in 0..3 {
            app.publish(json!({"type": "job.done", "payload": {"n": n}}))
                .await;
        }
        let first = poll(&app, id, json!({"max": 2, "lease_ms": 300})).await;
        assert_eq!(first.len(), 2);
        assert_eq!(body_of(&first[0]), br#"{"n":0}"#, "publish order, byte for byte");
        assert_eq!(body_of(&first[1]), br#"{"n":1}"#);
        assert!(verifies(&first[0], secret), "signed like a push delivery");
        assert_eq!(first[0]["type"], "job.done");
        let second = poll(&app, id, json!({"max": 10, "lease_ms": 300})).await;
        assert_eq!(second.len(), 1, "leased ones are not handed out twice");
        assert_eq!(ack(&app, id, &second).await, 1);
        app.advance(Duration::from_millis(400));
        let again = poll(&app, id, json!({"max": 10})).await;
        let ids = |v: &[Value]| v.iter().map(|i| i["delivery_id"].clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&again),
            ids(&first),
            "unacked after the lease: delivered again"
        );
        assert_eq!(again[0]["attempt"], 2);
        let (s, r) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{id}/ack"),
                Some(json!({"delivery_ids": [again[0]["delivery_id"]]})),
            )
            .await;
        assert_eq!(
            (s, r["acked"].as_u64()),
            (200, Some(1)),
            "delivery_ids is accepted too"
        );
        let null = json!({"ids": null, "delivery_ids": [again[1]["delivery_id"]]});
        let (s, _) = app
            .call(Method::POST, &format!("/v1/endpoints/{id}/ack"), Some(null))
            .await;
        assert_eq!(s, 422, "null is not a list of ids");
        assert_eq!(ack(&app, id, &again[1..]).await, 1);
        assert!(poll(&app, id, json!({})).await.is_empty());
        assert_eq!(ack(&app, id, &again).await, 0, "acking twice changes nothing");
    }

    async fn a_waiting_poll_returns_as_soon_as_something_is_published() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({})).await;
        let id = ep["id"].as_str().unwrap().to_string();
        let started = Instant::now();
        let (http, base, key) = (app.http.clone(), app.base.clone(), app.key.clone());
        let waiting = tokio::spawn(async move {
            let r = http
                .post(format!("{base}/v1/endpoints/{id}/poll"))
                .bearer_auth(key)
                .json(&json!({"wait_ms": 5000}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        });
        // Real time on purpose: the poll must be waiting (its request is in) before the
        // publish, which is a matter of request order, not of business time.
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.publish(json!({"type": "a.b", "payload": {}})).await;
        let got = waiting.await.unwrap();
        assert_eq!(got["data"].as_array().unwrap().len(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    async fn concurrent_consumers_share_the_work_without_duplicates() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({})).await;
        let id = ep["id"].as_str().unwrap().to_string();
        for n in 0..40 {
            app.publish(json!({"type": "a.b", "payload": {"n": n}})).await;
        }
        let mut consumers = Vec::new();
        for _ in 0..2 {
            let (http, base, key, id) = (app.http.clone(), app.base.clone(), app.key.clone(), id.clone());
            consumers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let r: Value = http
                        .post(format!("{base}/v1/endpoints/{id}/poll"))
                        .bearer_auth(&key)
                        .json(&json!({"max": 3, "lease_ms": 60000}))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let items = r["data"].as_array().unwrap().clone();
                    if items.is_empty() {
                        return seen;
                    }
                    let ids: Vec<String> = items
                        .iter()
                        .map(|i| i["delivery_id"].as_str().unwrap().to_string())
                        .collect();
                    http.post(format!("{base}/v1/endpoints/{id}/ack"))
                        .bearer_auth(&key)
                        .json(&json!({"ids": ids}))
                        .send()
                        .await
                        .unwrap();
                    seen.extend(ids);
                }
            }));
        }
        let mut all = Vec::new();
        for c in consumers {
            all.extend(c.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!((all.len(), unique.len()), (40, 40));
    }

    async fn the_stream_resumes_after_a_dropped_connection_without_gap_or_duplicate() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({})).await;
        let id = ep["id"].as_str().unwrap();
        for n in 0..3 {
            app.publish(json!({"type": "a.b", "payload": {"n": n}})).await;
        }
        let mut first = open_stream(&app, id, None).await;
        let got = read_events(&mut first, 2).await;
        assert_eq!(got[0].1["payload"], json!({"n": 0}));
        assert!(verifies(&got[1].1, ep["secret"].as_str().unwrap()));
        drop(first); // the consumer goes away after processing two
        for n in 3..5 {
            app.publish(json!({"type": "a.b", "payload": {"n": n}})).await;
        }
        let mut resumed = open_stream(&app, id, Some(&got[1].0)).await;
        let rest = read_events(&mut resumed, 3).await;
        let ns: Vec<i64> = rest
            .iter()
            .map(|(_, v)| v["payload"]["n"].as_i64().unwrap())
            .collect();
        assert_eq!(ns, [2, 3, 4]);
        // Live tail: a new publish arrives on the open stream.
        app.publish(json!({"type": "a.b", "payload": {"n": 5}})).await;
        let live = read_events(&mut resumed, 1).await;
        assert_eq!(live[0].1["payload"]["n"], 5);
        // Resuming acknowledged the first two.
        let states: Vec<String> = app.get("/v1/events?limit=10").await["data"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .take(2)
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        for ev in states {
            assert_eq!(app.deliveries(&ev).await[0]["state"], "succeeded");
        }
    }

    /// A delivery sent again (a retry, a recovery) goes to the end of the stream, so a
    /// consumer whose cursor is past its first position still receives it.
    async fn a_retried_delivery_comes_back_on_the_stream_after_the_cursor() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({})).await;
        let id = ep["id"].as_str().unwrap();
        let ev = app.publish(json!({"type": "a.b", "payload": {"n": 0}})).await;
        let event_id = ev["id"].as_str().unwrap();
        app.publish(json!({"type": "a.b", "payload": {"n": 1}})).await;
        let mut first = open_stream(&app, id, None).await;
        let got = read_events(&mut first, 2).await;
        drop(first);
        // Resuming after both acknowledges them.
        let mut resumed = open_stream(&app, id, Some(&got[1].0)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while app.deliveries(event_id).await[0]["state"] != "succeeded" {
            assert!(Instant::now() < deadline, "resuming did not acknowledge");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let delivery = app.deliveries(event_id).await[0]["id"].as_str().unwrap().to_string();
        let (s, body) = app
            .call(Method::POST, &format!("/v1/deliveries/{delivery}/retry"), None)
            .await;
        assert!(s == 200 || s == 202, "{s} {body}");
        let again = read_events(&mut resumed, 1).await;
        assert_eq!(again[0].1["payload"], json!({"n": 0}));
        let (before, after): (i64, i64) = (got[1].0.parse().unwrap(), again[0].0.parse().unwrap());
        assert!(after > before, "the retried delivery is after the cursor: {after} > {before}");
    }

    async fn pulled_work_survives_a_restart_and_access_is_scoped() {
        let settings = test_settings();
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({"tenant": "acme"})).await;
        let id = ep["id"].as_str().unwrap().to_string();
        app.publish(json!({"type": "a.b", "payload": {"k": 1}, "tenant": "acme"}))
            .await;
        let app = app.restart(settings).await;
        let items = poll(&app, &id, json!({})).await;
        assert_eq!(body_of(&items[0]), br#"{"k":1}"#);
        let (_, k) = app
            .call(Method::POST, "/v1/keys", Some(json!({"tenant": "globex"})))
            .await;
        let other = k["key"].as_str().unwrap();
        let (s, _) = app
            .call_as(
                other,
                Method::POST,
                &format!("/v1/endpoints/{id}/poll"),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, 404);
        let (s, _) = app
            .call_as(other, Method::GET, &format!("/v1/endpoints/{id}/stream"), None)
            .await;
        assert_eq!(s, 404);
        let push = app.create_endpoint(json!({"url": "http://127.0.0.1:9/"})).await;
        let (s, _) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{}/poll", push["id"].as_str().unwrap()),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, 409);
        let (s, b) = app
            .call(
                Method::POST,
                &format!("/v1/endpoints/{id}/poll"),
                Some(json!({"max": 0})),
            )
            .await;
        assert_eq!(
            (s, b["error"]["message"].as_str().unwrap().starts_with("max")),
            (422, true)
        );
    }
}
