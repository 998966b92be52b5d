//! Deliveries to NATS JetStream (design section 9): each one stored by the stream, byte
//! exact, with herald's headers; no stream for the subject is a failed attempt until one
//! exists; a connection cut in the middle of a burst loses nothing.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::brokers::*;
use crate::delivery::official_library_accepts;
use crate::helpers::*;

const SECRET: &str = "whsec_bmF0cy1kZXN0aW5hdGlvbi10ZXN0LWtleS0wMDE=";

fn header(m: &async_nats::jetstream::message::StreamMessage, name: &str) -> Option<String> {
    m.headers.get(name).map(|v| v.as_str().to_string())
}

store_tests! {
    async fn each_delivery_is_stored_by_the_stream_byte_exact_and_signed() {
        if !up("127.0.0.1:4222", "NATS").await {
            return;
        }
        let app = spawn_app().await;
        let prefix = unique("herald");
        let stream = NatsStream::create(&prefix, &format!("{prefix}.>")).await;
        let subject = format!("{prefix}.{{type}}");
        let ep = app
            .create_endpoint(json!({"destination": {"kind": "nats", "url": NATS_URL, "subject": subject}, "secret": SECRET}))
            .await;
        assert_eq!(ep["destination"]["subject"], subject);
        let body: &'static [u8] = b"{\"type\": \"stock.changed\", \"payload\": [1,  2, {\"sku\":\"x\"}]}";
        let (status, event) = app.raw(Method::POST, "/v1/events", body, &[]).await;
        assert_eq!(status, 202, "{event}");
        let got = stream.messages(1).await;
        assert_eq!(got.len(), 1);
        let m = &got[0];
        assert_eq!(m.subject.as_str(), format!("{prefix}.stock.changed"));
        assert_eq!(&m.payload[..], b"[1,  2, {\"sku\":\"x\"}]", "the payload byte for byte");
        let event_id = event["id"].as_str().unwrap();
        let d = app.settled(event_id).await.remove(0);
        assert_eq!(d["state"], "succeeded");
        assert_eq!(header(m, "x-herald-delivery-id").as_deref(), d["id"].as_str());
        assert_eq!(header(m, "Nats-Msg-Id").as_deref(), d["id"].as_str(), "the stream's dedup id");
        let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
        let signed: Vec<(&str, String)> = names.iter().map(|n| (*n, header(m, n).unwrap())).collect();
        assert_eq!(signed[0].1, event_id);
        let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        official_library_accepts(SECRET, &pairs, &m.payload);
        let said = app.attempts(d["id"].as_str().unwrap()).await[0]["response_body"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(said.contains(&format!("stream `{prefix}` at sequence 1")), "{said}");
        stream.delete().await;
    }

    async fn no_stream_for_the_subject_fails_until_one_exists_then_a_retry_delivers() {
        if !up("127.0.0.1:4222", "NATS").await {
            return;
        }
        let app = spawn_app().await;
        let prefix = unique("herald-nostream");
        app.create_endpoint(json!({"destination": {"kind": "nats", "url": NATS_URL, "subject": format!("{prefix}.{{type}}")},
                                   "retry_schedule": ""}))
            .await;
        let ev = app.publish(json!({"type": "ticket.created", "payload": {}})).await;
        let d = app.settled(ev["id"].as_str().unwrap()).await.remove(0);
        assert_eq!(d["state"], "failed");
        let id = d["id"].as_str().unwrap();
        let error = app.attempts(id).await[0]["error"].as_str().unwrap().to_string();
        assert!(error.contains("no JetStream stream") && error.contains(&prefix), "{error}");
        let stream = NatsStream::create(&prefix, &format!("{prefix}.>")).await;
        // The stream captures the subject before the retry is asked for (our own probe is
        // acknowledged), so the retry cannot race the stream's creation.
        stream.publish(&format!("{prefix}.probe"), b"probe").await;
        assert_eq!(app.call(Method::POST, &format!("/v1/deliveries/{id}/retry"), None).await.0, 202);
        let stored = stream.messages(2).await;
        let attempts = app.attempts(id).await;
        assert_eq!(stored.len(), 2, "delivered after the retry; attempts: {attempts:?}");
        assert_eq!(stored[1].subject.as_str(), format!("{prefix}.ticket.created"));
        stream.delete().await;
    }

    async fn a_connection_cut_in_the_middle_of_a_burst_loses_nothing() {
        if !up("127.0.0.1:4222", "NATS").await {
            return;
        }
        let app = spawn_app().await;
        let relay = Relay::start("127.0.0.1:4222").await;
        let prefix = unique("herald-cut");
        let stream = NatsStream::create(&prefix, &format!("{prefix}.>")).await;
        let url = format!("nats://127.0.0.1:{}", relay.port);
        // A publish lost with the connection is known by its missing ack: wait 2 s for it.
        let dest = json!({"kind": "nats", "url": url, "subject": format!("{prefix}.{{type}}")});
        app.create_endpoint(json!({"destination": dest, "timeout_ms": 2000})).await;
        const N: u64 = 300;
        let mut cuts = 0;
        for i in 0..N {
            app.publish(json!({"type": "burst.item", "payload": {"i": i}})).await;
            if i == N / 3 || i == 2 * N / 3 {
                stream.messages(1).await;
                cuts += relay.cut();
            }
        }
        assert!(cuts >= 1, "a connection was cut mid-burst");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while stream.count().await < N && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let stored = stream.messages(stream.count().await).await;
        let events: HashSet<String> = stored.iter().filter_map(|m| header(m, "webhook-id")).collect();
        assert_eq!(events.len() as u64, N, "every event arrived ({} messages in all)", stored.len());
        stream.delete().await;
    }
}
