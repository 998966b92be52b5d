//! Publishing: fan-out by pattern and tenant, idempotency, reading events back.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

store_tests! {
    async fn fans_out_by_type_pattern_and_tenant() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let mk = |path: &str| format!("{}/{path}", rx.url);
        app.create_endpoint(json!({"url": mk("all")})).await; // default ["*"]
        app.create_endpoint(json!({"url": mk("tickets"), "event_types": ["ticket.*"]}))
            .await;
        app.create_endpoint(json!({"url": mk("exact"), "event_types": ["ticket.created"]}))
            .await;
        app.create_endpoint(json!({"url": mk("billing"), "event_types": ["billing.*", "invoice.paid"]}))
            .await;
        app.create_endpoint(json!({"url": mk("acme"), "tenant": "acme", "event_types": ["*"]}))
            .await;
        app.create_endpoint(json!({"url": mk("globex"), "tenant": "globex", "event_types": ["ticket.*"]}))
            .await;

        let ev = app
            .publish(json!({"type": "ticket.created", "payload": ticket_payload()}))
            .await;
        assert_eq!(ev["deliveries"], 3);
        let ev2 = app
            .publish(json!({"type": "ticket.closed", "payload": {}, "tenant": "acme"}))
            .await;
        assert_eq!(ev2["deliveries"], 1);
        let ev3 = app.publish(json!({"type": "invoice.paid", "payload": {}})).await;
        assert_eq!(ev3["deliveries"], 2);
        let ev4 = app
            .publish(json!({"type": "nobody.cares", "payload": {}, "tenant": "initech"}))
            .await;
        assert_eq!(ev4["deliveries"], 0);

        let got = rx.wait_for(6).await;
        app.until_idle().await;
        assert_eq!(rx.count(), 6);
        let mut paths: Vec<(String, String)> = got
            .iter()
            .map(|r| (r.path.clone(), r.header("x-herald-event-type").unwrap()))
            .collect();
        paths.sort();
        let want = [
            ("/acme", "ticket.closed"),
            ("/all", "invoice.paid"),
            ("/all", "ticket.created"),
            ("/billing", "invoice.paid"),
            ("/exact", "ticket.created"),
            ("/tickets", "ticket.created"),
        ];
        assert_eq!(paths, want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec());
    }

    async fn idempotency_key_returns_the_first_answer_and_refuses_a_different_body() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let send = |body: serde_json::Value, key: &'static str| {
            let req = app
                .http
                .post(format!("{}/v1/events", app.base))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", key)
                .json(&body);
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
            }
        };
        let body = json!({"type": "ticket.created", "payload": ticket_payload()});
        let (s1, first) = send(body.clone(), "order-1").await;
        assert_eq!(s1, 202);
        let (s2, again) = send(body.clone(), "order-1").await;
        assert_eq!(s2, 200);
        assert_eq!(again, first);
        let (s3, conflict) = send(
            json!({"type": "ticket.created", "payload": {"other": true}}),
            "order-1",
        )
        .await;
        assert_eq!(s3, 409);
        assert_eq!(conflict["error"]["code"], "conflict");
        // Another key is another event.
        let (s4, other) = send(body, "order-2").await;
        assert_eq!(s4, 202);
        assert_ne!(other["id"], first["id"]);
        rx.wait_for(2).await;
        app.until_idle().await;
        assert_eq!(rx.count(), 2, "the repeat was not delivered again");
        let listed = app.get("/v1/events").await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    }

    async fn a_caller_chosen_id_is_the_event_id_and_an_idempotency_key() {
        let app = spawn_app().await;
        let body = json!({"type": "ticket.created", "payload": {"a": 1}, "id": "evt_custom_42"});
        let first = app.publish(body.clone()).await;
        assert_eq!(first["id"], "evt_custom_42");
        let (status, again) = app.call(Method::POST, "/v1/events", Some(body)).await;
        assert_eq!((status, again), (200, first));
        let (status, _) = app
            .call(
                Method::POST,
                "/v1/events",
                Some(json!({"type": "ticket.created", "payload": {"a": 2}, "id": "evt_custom_42"})),
            )
            .await;
        assert_eq!(status, 409);
        let ev = app.get("/v1/events/evt_custom_42").await;
        assert_eq!(ev["payload"], json!({"a": 1}));
    }

    async fn concurrent_repeats_of_one_key_make_one_event() {
        let app = spawn_app().await;
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let req = app
                .http
                .post(format!("{}/v1/events", app.base))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", "same")
                .json(&json!({"type": "a.b", "payload": {"x": 1}}));
            tasks.push(tokio::spawn(async move {
                req.send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            }));
        }
        let mut ids = HashSet::new();
        for t in tasks {
            ids.insert(t.await.unwrap()["id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids.len(), 1);
    }

    async fn events_are_listed_newest_first_by_cursor_with_filters() {
        let app = spawn_app().await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let t = if i % 2 == 0 {
                "ticket.created"
            } else {
                "ticket.closed"
            };
            ids.push(
                app.publish(json!({"type": t, "payload": {"i": i}})).await["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        app.publish(json!({"type": "ticket.created", "payload": {}, "tenant": "acme"}))
            .await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/events?limit=2&cursor={c}"),
                None => "/v1/events?limit=2".to_string(),
            };
            let page = app.get(&path).await;
            let data = page["data"].as_array().unwrap();
            assert!(data.len() <= 2);
            seen.extend(data.iter().map(|e| e["id"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 6);
        let mut newest_first = ids.clone();
        newest_first.reverse();
        assert_eq!(&seen[1..], &newest_first[..]);

        let created = app.get("/v1/events?type=ticket.created&tenant=acme").await;
        assert_eq!(created["data"].as_array().unwrap().len(), 1);
        let closed = app.get("/v1/events?type=ticket.closed").await;
        assert_eq!(closed["data"].as_array().unwrap().len(), 2);
        let future = app.get("/v1/events?since=2999-01-01T00:00:00Z").await;
        assert!(future["data"].as_array().unwrap().is_empty());
        let past = app.get("/v1/events?since=2000-01-01T00:00:00Z&limit=250").await;
        assert_eq!(past["data"].as_array().unwrap().len(), 6);
    }

    async fn an_event_its_deliveries_and_attempts_can_be_read() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app
            .publish(json!({"type": "ticket.created", "payload": ticket_payload()}))
            .await;
        let id = ev["id"].as_str().unwrap();
        let read = app.get(&format!("/v1/events/{id}")).await;
        assert_eq!(read["type"], "ticket.created");
        assert_eq!(read["payload"], ticket_payload());
        assert_eq!(read["deliveries"], 1);
        assert!(read["created_at"].as_str().unwrap().ends_with('Z'));
        let ds = app.settled(id).await;
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0]["endpoint_id"], ep["id"]);
        assert_eq!(ds[0]["event_id"], id);
        let did = ds[0]["id"].as_str().unwrap();
        assert!(did.starts_with("dlv_"));
        assert_eq!(
            app.get(&format!("/v1/deliveries/{did}")).await["state"],
            "succeeded"
        );
        let attempts = app.attempts(did).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["status_code"], 200);
        assert_eq!(attempts[0]["response_body"], "reply 0");
    }
}
