//! Deliveries to RabbitMQ (design section 9): byte-exact, signed, persistent and confirmed;
//! a message the broker cannot route or an exchange it does not have is a failed attempt
//! with the broker's reason, and a retry delivers once it is fixed; a connection cut in the
//! middle of a burst loses nothing.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::brokers::*;
use crate::delivery::official_library_accepts;
use crate::helpers::*;
use crate::inbound::{create_source, deliver_in, mac};

const SECRET: &str = "whsec_YnJva2VyLWRlc3RpbmF0aW9uLXRlc3Qta2V5LTE=";

fn amqp(routing_key: &str) -> serde_json::Value {
    json!({"kind": "amqp", "url": AMQP_URL, "routing_key": routing_key})
}

store_tests! {
    async fn each_delivery_is_a_confirmed_persistent_message_byte_exact_and_signed() {
        if !up("127.0.0.1:5672", "RabbitMQ").await {
            return;
        }
        let app = spawn_app().await;
        let queue = AmqpQueue::declare(&unique("herald-amqp")).await;
        let ep = app
            .create_endpoint(json!({"destination": amqp(&queue.name), "secret": SECRET}))
            .await;
        assert_eq!(ep["url"], serde_json::Value::Null);
        assert_eq!(ep["destination"]["url"], "amqp://guest:****@127.0.0.1:5672/%2f");
        assert_eq!(ep["destination"]["exchange"], "");
        let body: &'static [u8] = b"{\"type\": \"ticket.created\", \"payload\": {\"b\":  1, \"a\": \"\\u00e9\"}}";
        let (status, event) = app.raw(Method::POST, "/v1/events", body, &[]).await;
        assert_eq!(status, 202, "{event}");
        let got = queue.take(1).await;
        assert_eq!(got.len(), 1, "the message arrived");
        let m = &got[0];
        assert_eq!(m.delivery.data, b"{\"b\":  1, \"a\": \"\\u00e9\"}", "the payload byte for byte");
        let event_id = event["id"].as_str().unwrap();
        let props = &m.delivery.properties;
        assert_eq!(props.delivery_mode(), &Some(2), "persistent");
        assert_eq!(props.message_id().as_ref().map(|s| s.as_str()), Some(event_id));
        assert_eq!(props.kind().as_ref().map(|s| s.as_str()), Some("ticket.created"));
        assert_eq!(props.content_type().as_ref().map(|s| s.as_str()), Some("application/json"));
        let delivery = app.settled(event_id).await.remove(0);
        assert_eq!(delivery["state"], "succeeded");
        assert_eq!(amqp_header(m, "x-herald-delivery-id").as_deref(), delivery["id"].as_str());
        assert_eq!(amqp_header(m, "x-herald-event-type").as_deref(), Some("ticket.created"));
        let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
        let signed: Vec<(&str, String)> = names.iter().map(|n| (*n, amqp_header(m, n).unwrap())).collect();
        assert_eq!(signed[0].1, event_id);
        let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let ts: i64 = signed[1].1.parse().unwrap();
        herald_signing::verify(&pairs, &m.delivery.data, &[SECRET], ts).expect("herald's own check");
        official_library_accepts(SECRET, &pairs, &m.delivery.data);
        let attempts = app.attempts(delivery["id"].as_str().unwrap()).await;
        let said = attempts[0]["response_body"].as_str().unwrap();
        assert!(said.contains("confirmed by the broker"), "{said}");
    }

    async fn an_unroutable_message_fails_with_the_reason_and_a_retry_delivers_once_a_queue_is_bound() {
        if !up("127.0.0.1:5672", "RabbitMQ").await {
            return;
        }
        let app = spawn_app().await;
        let name = unique("herald-unbound");
        app.create_endpoint(json!({"destination": amqp(&name), "retry_schedule": ""})).await;
        let ev = app.publish(json!({"type": "ticket.created", "payload": {"n": 1}})).await;
        let d = app.settled(ev["id"].as_str().unwrap()).await.remove(0);
        assert_eq!(d["state"], "failed");
        let id = d["id"].as_str().unwrap();
        let error = app.attempts(id).await[0]["error"].as_str().unwrap().to_string();
        assert!(error.contains("unroutable") && error.contains("NO_ROUTE"), "{error}");
        let queue = AmqpQueue::declare(&name).await;
        let (s, body) = app.call(Method::POST, &format!("/v1/deliveries/{id}/retry"), None).await;
        assert_eq!(s, 202, "{body}");
        assert_eq!(queue.take(1).await.len(), 1, "delivered after the retry");
        assert_eq!(app.settled(ev["id"].as_str().unwrap()).await[0]["state"], "succeeded");
    }

    async fn a_missing_exchange_fails_naming_it_and_a_patch_sent_back_masked_keeps_the_password() {
        if !up("127.0.0.1:5672", "RabbitMQ").await {
            return;
        }
        let app = spawn_app().await;
        let queue = AmqpQueue::declare(&unique("herald-exchange")).await;
        let exchange = unique("herald-missing");
        let mut dest = amqp(&queue.name);
        dest["exchange"] = json!(exchange);
        let ep = app.create_endpoint(json!({"destination": dest, "retry_schedule": ""})).await;
        let ev = app.publish(json!({"type": "ticket.created", "payload": {}})).await;
        let d = app.settled(ev["id"].as_str().unwrap()).await.remove(0);
        assert_eq!(d["state"], "failed");
        let error = app.attempts(d["id"].as_str().unwrap()).await[0]["error"].as_str().unwrap().to_string();
        assert!(error.contains("NOT_FOUND") && error.contains(&exchange), "{error}");
        // Written back as it reads (password masked), with the default exchange.
        let mut shown = ep["destination"].clone();
        shown["exchange"] = json!("");
        let path = format!("/v1/endpoints/{}", ep["id"].as_str().unwrap());
        let (s, patched) = app.call(Method::PATCH, &path, Some(json!({"destination": shown}))).await;
        assert_eq!(s, 200, "{patched}");
        assert_eq!(patched["destination"]["url"], "amqp://guest:****@127.0.0.1:5672/%2f");
        let retry = format!("/v1/deliveries/{}/retry", d["id"].as_str().unwrap());
        assert_eq!(app.call(Method::POST, &retry, None).await.0, 202);
        assert_eq!(queue.take(1).await.len(), 1, "the stored password still connects");
    }

    async fn a_verified_github_webhook_lands_once_on_the_queue_a_worker_consumes() {
        if !up("127.0.0.1:5672", "RabbitMQ").await {
            return;
        }
        // The README's flow: GitHub → herald (verify, de-duplicate, persist) → RabbitMQ.
        let app = spawn_app().await;
        let queue = AmqpQueue::declare(&unique("github-events")).await;
        let src = create_source(
            &app,
            json!({"name": "github", "verify": {"scheme": "github", "secret": "gh-secret"}, "type_prefix": "github.",
                   "dedupe": {"key": "header:X-GitHub-Delivery", "window_s": 86400}}),
        )
        .await;
        let dest = json!({"kind": "amqp", "url": AMQP_URL, "routing_key": queue.name});
        app.create_endpoint(json!({"destination": dest, "event_types": ["github.*"]})).await;
        let body = br#"{"action": "opened", "issue": {"number": 7}}"#;
        let signed = format!("sha256={}", hex::encode(mac(b"gh-secret", body)));
        let headers = vec![
            ("x-hub-signature-256", signed),
            ("x-github-event", "issues".to_string()),
            ("x-github-delivery", "a1b2c3d4-0000-4000-8000-000000000007".to_string()),
        ];
        let id = src["id"].as_str().unwrap();
        for _ in 0..2 {
            assert_eq!(deliver_in(&app, id, body, &headers).await.0, 200, "GitHub's retry is acknowledged too");
        }
        let forged = vec![("x-hub-signature-256", "sha256=00".to_string()), headers[1].clone()];
        assert_eq!(deliver_in(&app, id, body, &forged).await.0, 401, "a forgery is refused");
        let got = queue.take(1).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].delivery.data, body.to_vec(), "GitHub's bytes");
        assert_eq!(amqp_header(&got[0], "x-herald-event-type").as_deref(), Some("github.issues"));
        app.until_idle().await;
        assert!(queue.drain().await.is_empty(), "the duplicate was not published again");
    }

    async fn a_connection_cut_in_the_middle_of_a_burst_loses_nothing() {
        if !up("127.0.0.1:5672", "RabbitMQ").await {
            return;
        }
        let app = spawn_app().await;
        let relay = Relay::start("127.0.0.1:5672").await;
        let queue = AmqpQueue::declare(&unique("herald-cut")).await;
        let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", relay.port);
        app.create_endpoint(json!({"destination": {"kind": "amqp", "url": url, "routing_key": queue.name}}))
            .await;
        const N: usize = 300;
        let mut got = Vec::new();
        let mut cuts = 0;
        for i in 0..N {
            app.publish(json!({"type": "burst.item", "payload": {"i": i}})).await;
            if i == N / 3 || i == 2 * N / 3 {
                got.extend(queue.take(1).await);
                cuts += relay.cut();
            }
        }
        assert!(cuts >= 1, "a connection was cut mid-burst");
        // At least once: a publish confirmed as the connection broke may come twice, so
        // wait for every distinct event, not for N messages.
        let event = |m: &lapin::message::BasicGetMessage| {
            m.delivery.properties.message_id().as_ref().unwrap().to_string()
        };
        let mut events: HashSet<String> = got.iter().map(event).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while events.len() < N && std::time::Instant::now() < deadline {
            let more = queue.take(N - events.len()).await;
            events.extend(more.iter().map(event));
            got.extend(more);
        }
        assert_eq!(events.len(), N, "every event arrived ({} messages in all)", got.len());
    }
}
