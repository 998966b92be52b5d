//! Endpoint management.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

store_tests! {
    async fn endpoints_can_be_created_read_listed_changed_and_deleted() {
        let app = spawn_app().await;
        let ep = app
            .create_endpoint(json!({
                "url": "http://127.0.0.1:5000/webhooks/new_ticket", "event_types": ["ticket.*"],
                "description": "support agent", "tenant": "acme", "timeout_ms": 5000, "max_in_flight": 4,
                "rate_limit_per_s": 50
            }))
            .await;
        let id = ep["id"].as_str().unwrap();
        assert!(id.starts_with("ep_"));
        assert_eq!(ep["signature"], "standard");
        assert_eq!(ep["timeout_ms"], 5000);
        let read = app.get(&format!("/v1/endpoints/{id}")).await;
        assert_eq!(read["url"], "http://127.0.0.1:5000/webhooks/new_ticket");
        assert_eq!(read["tenant"], "acme");
        assert!(read.get("secret").is_none(), "secrets are not shown on read");
        assert_eq!(
            app.get(&format!("/v1/endpoints/{id}/secret")).await["secret"],
            ep["secret"]
        );

        let (status, patched) = app
            .call(
                Method::PATCH,
                &format!("/v1/endpoints/{id}"),
                Some(json!({"event_types": ["*"], "description": null, "disabled": true})),
            )
            .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["event_types"], json!(["*"]));
        assert!(patched["description"].is_null());
        assert_eq!(patched["disabled"], true);
        assert_eq!(patched["timeout_ms"], 5000, "fields not sent are kept");

        app.create_endpoint(json!({"url": "http://127.0.0.1:5001/"}))
            .await;
        let all = app.get("/v1/endpoints").await;
        assert_eq!(all["data"].as_array().unwrap().len(), 2);
        let acme = app.get("/v1/endpoints?tenant=acme").await;
        assert_eq!(acme["data"].as_array().unwrap().len(), 1);
        let page = app.get("/v1/endpoints?limit=1").await;
        assert_eq!(page["data"].as_array().unwrap().len(), 1);
        let next = page["next_cursor"].as_str().unwrap();
        let page2 = app.get(&format!("/v1/endpoints?limit=1&cursor={next}")).await;
        assert_eq!(page2["data"].as_array().unwrap().len(), 1);
        assert_ne!(page2["data"][0]["id"], page["data"][0]["id"]);
        assert!(page2["next_cursor"].is_null());

        let (status, _) = app
            .call(Method::DELETE, &format!("/v1/endpoints/{id}"), None)
            .await;
        assert_eq!(status, 204);
        let (status, body) = app.call(Method::GET, &format!("/v1/endpoints/{id}"), None).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "not_found");
        let (status, _) = app
            .call(Method::DELETE, &format!("/v1/endpoints/{id}"), None)
            .await;
        assert_eq!(status, 404);
    }

    async fn a_disabled_endpoint_gets_nothing_until_enabled_again() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app.create_endpoint(json!({"url": rx.url})).await;
        let path = format!("/v1/endpoints/{}", ep["id"].as_str().unwrap());
        app.call(Method::PATCH, &path, Some(json!({"disabled": true})))
            .await;
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        assert_eq!(ev["deliveries"], 0);
        app.call(Method::PATCH, &path, Some(json!({"disabled": false})))
            .await;
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        assert_eq!(ev["deliveries"], 1);
        rx.wait_for(1).await;
        app.until_idle().await;
        assert_eq!(rx.count(), 1);
    }

    async fn deleting_an_endpoint_fails_what_it_still_owed() {
        let mut settings = test_settings();
        settings.retry_schedule = Some("1h".into());
        let app = spawn_with(settings).await;
        // One endpoint already answered 500 and waits for its retry; the other is mid-attempt
        // (its receiver holds the answer) when both are deleted.
        let waiting = Receiver::start(|_| Reply::status(500)).await;
        let in_flight = Receiver::start(|_| Reply {
            delay: Duration::from_millis(800),
            ..Reply::status(500)
        })
        .await;
        let a = app.create_endpoint(json!({"url": waiting.url})).await;
        let b = app.create_endpoint(json!({"url": in_flight.url})).await;
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        let event_id = ev["id"].as_str().unwrap();
        in_flight.wait_for(1).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !app.deliveries(event_id).await.iter().any(|d| d["attempts"] == 1) {
            assert!(Instant::now() < deadline, "the first attempt was never recorded");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for ep in [&a, &b] {
            let (status, _) = app
                .call(
                    Method::DELETE,
                    &format!("/v1/endpoints/{}", ep["id"].as_str().unwrap()),
                    None,
                )
                .await;
            assert_eq!(status, 204);
        }
        // Let the held attempt finish: its 500 must not put the delivery back in the queue
        // (if it did, the workers would never be idle: the retry is pending).
        app.until_idle().await;
        let ds = app.settled(event_id).await;
        assert_eq!(ds.len(), 2);
        for d in &ds {
            assert_eq!(d["state"], "failed", "{d}");
            assert_eq!(d["last_error"], "endpoint deleted", "{d}");
            assert_eq!(d["attempts"], 1, "{d}");
            assert!(d["next_attempt_at"].is_null(), "{d}");
        }
    }

    async fn pull_endpoints_without_url_collect_deliveries_without_pushing() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({"event_types": ["a.*"]})).await;
        assert!(ep["url"].is_null());
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        assert_eq!(ev["deliveries"], 1);
        app.until_idle().await;
        let ds = app.deliveries(ev["id"].as_str().unwrap()).await;
        assert_eq!(ds[0]["state"], "pending");
        assert_eq!(ds[0]["attempts"], 0);
    }

    async fn https_only_refuses_plain_http_outside_the_allowed_networks() {
        let mut settings = test_settings();
        settings.https_only = Some(true);
        let app = spawn_with(settings).await;
        for ok in [
            "https://hooks.example.com/x",
            "http://127.0.0.1:9/local",
            "http://localhost:9/local",
        ] {
            let (s, b) = app
                .call(Method::POST, "/v1/endpoints", Some(json!({"url": ok})))
                .await;
            assert_eq!(s, 201, "{ok}: {b}");
        }
        for bad in ["http://8.8.8.8/hook", "http://93.184.216.34:8080/"] {
            let (s, b) = app
                .call(Method::POST, "/v1/endpoints", Some(json!({"url": bad})))
                .await;
            assert_eq!(s, 422, "{bad}: {b}");
            assert!(b["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("url: must use https"));
        }
        let ep = app
            .create_endpoint(json!({"url": "https://hooks.example.com/x"}))
            .await;
        let path = format!("/v1/endpoints/{}", ep["id"].as_str().unwrap());
        let (s, _) = app
            .call(Method::PATCH, &path, Some(json!({"url": "http://8.8.4.4/"})))
            .await;
        assert_eq!(s, 422);
        assert_eq!(app.get(&path).await["url"], "https://hooks.example.com/x");
    }

    async fn custom_header_values_are_masked_in_every_read_and_sent_in_full() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let token = "Bearer sk_live_0123456789abcdef";
        let ep = app
            .create_endpoint(json!({"url": rx.url, "headers": {"authorization-token": token, "x-short": "abc"}}))
            .await;
        let id = ep["id"].as_str().unwrap();
        let path = format!("/v1/endpoints/{id}");
        for shown in [ep.clone(), app.get(&path).await, app.get("/v1/endpoints").await["data"][0].clone()] {
            let text = shown.to_string();
            assert!(!text.contains("sk_live") && !text.contains("\"abc\""), "{text}");
            assert_eq!(shown["headers"]["authorization-token"], "****cdef");
            assert_eq!(shown["headers"]["x-short"], "****");
        }
        // Writing back what was read keeps the stored values; a new value replaces one.
        let masked = app.get(&path).await["headers"].clone();
        let mut headers = masked.clone();
        headers["x-short"] = json!("xyz");
        let (s, b) = app.call(Method::PATCH, &path, Some(json!({"headers": headers}))).await;
        assert_eq!(s, 200, "{b}");
        app.publish(json!({"type": "a.b", "payload": {}})).await;
        let got = rx.wait_for(1).await;
        assert_eq!(got[0].header("authorization-token").as_deref(), Some(token));
        assert_eq!(got[0].header("x-short").as_deref(), Some("xyz"));
    }
}
