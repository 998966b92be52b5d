//! Deliveries to SQS (design section 9), against moto's SQS server: each one a
//! `SendMessage` with the payload as body and herald's metadata as attributes; a missing
//! queue is a failed attempt with SQS's reason; a FIFO queue gets the ordering key as the
//! group (order kept per key) and the delivery id as the deduplication id.

use std::collections::{BTreeMap, HashSet};

use reqwest::Method;
use serde_json::{json, Value};

use crate::brokers::*;
use crate::delivery::official_library_accepts;
use crate::helpers::*;

const SECRET: &str = "whsec_c3FzLWRlc3RpbmF0aW9uLXRlc3Qta2V5LTAwMDAx";

fn sqs(moto: &Moto, queue_url: &str) -> Value {
    json!({"kind": "sqs", "queue_url": queue_url, "region": "us-east-1", "endpoint_url": moto.url,
           "access_key_id": "AKIDHERALDTEST", "secret_access_key": "herald-test-secret-access-key-0001"})
}

fn attribute(m: &Value, name: &str) -> Option<String> {
    m["MessageAttributes"][name]["StringValue"]
        .as_str()
        .map(str::to_string)
}

store_tests! {
    async fn each_delivery_is_a_message_with_the_payload_and_herald_attributes() {
        let Some(moto) = Moto::start().await else { return };
        let app = spawn_app().await;
        let queue = moto.create_queue(&unique("herald")).await;
        let ep = app.create_endpoint(json!({"destination": sqs(&moto, &queue), "secret": SECRET})).await;
        assert_eq!(ep["destination"]["secret_access_key"], "****0001");
        assert_eq!(ep["destination"]["access_key_id"], "AKIDHERALDTEST");
        let body: &'static [u8] = b"{\"type\": \"payment.cleared\", \"payload\": {\"amount\":  42, \"note\": \"caf\\u00e9\"}}";
        let (status, event) = app.raw(Method::POST, "/v1/events", body, &[]).await;
        assert_eq!(status, 202, "{event}");
        let got = moto.take(&queue, 1).await;
        assert_eq!(got.len(), 1, "the message arrived");
        let m = &got[0];
        let payload = m["Body"].as_str().unwrap();
        assert_eq!(payload, "{\"amount\":  42, \"note\": \"caf\\u00e9\"}", "the payload byte for byte");
        let event_id = event["id"].as_str().unwrap();
        let d = app.settled(event_id).await.remove(0);
        assert_eq!(d["state"], "succeeded");
        assert_eq!(attribute(m, "x-herald-delivery-id").as_deref(), d["id"].as_str());
        assert_eq!(attribute(m, "x-herald-event-type").as_deref(), Some("payment.cleared"));
        let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
        let signed: Vec<(&str, String)> = names.iter().map(|n| (*n, attribute(m, n).unwrap())).collect();
        assert_eq!(signed[0].1, event_id);
        let pairs: Vec<(&str, &str)> = signed.iter().map(|(n, v)| (*n, v.as_str())).collect();
        official_library_accepts(SECRET, &pairs, payload.as_bytes());
        let said = app.attempts(d["id"].as_str().unwrap()).await[0]["response_body"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(said.contains(m["MessageId"].as_str().unwrap()), "{said}");
    }

    async fn a_missing_queue_fails_with_the_reason_and_a_retry_delivers_once_it_exists() {
        let Some(moto) = Moto::start().await else { return };
        let app = spawn_app().await;
        let name = unique("herald-later");
        let queue_url = format!("{}/123456789012/{name}", moto.url);
        // Without keys of its own: placeholder keys, which moto (no authentication) takes.
        let mut dest = sqs(&moto, &queue_url);
        let keys = dest.as_object_mut().unwrap();
        keys.remove("access_key_id");
        keys.remove("secret_access_key");
        let ep = app.create_endpoint(json!({"destination": dest, "retry_schedule": ""})).await;
        assert_eq!(ep["destination"].get("secret_access_key"), None);
        let ev = app.publish(json!({"type": "ticket.created", "payload": {}})).await;
        let d = app.settled(ev["id"].as_str().unwrap()).await.remove(0);
        assert_eq!(d["state"], "failed");
        let id = d["id"].as_str().unwrap();
        let error = app.attempts(id).await[0]["error"].as_str().unwrap().to_string();
        assert!(error.contains("SQS refused the message") && error.contains("NonExistentQueue"), "{error}");
        assert_eq!(moto.create_queue(&name).await, queue_url);
        assert_eq!(app.call(Method::POST, &format!("/v1/deliveries/{id}/retry"), None).await.0, 202);
        assert_eq!(moto.take(&queue_url, 1).await.len(), 1, "delivered after the retry");
    }

    async fn connections_cut_in_the_middle_of_a_burst_lose_nothing() {
        let Some(moto) = Moto::start().await else { return };
        let app = spawn_app().await;
        let relay = Relay::start(moto.url.trim_start_matches("http://")).await;
        let queue = moto.create_queue(&unique("herald-cut")).await;
        let mut dest = sqs(&moto, &queue);
        dest["endpoint_url"] = json!(format!("http://127.0.0.1:{}", relay.port));
        app.create_endpoint(json!({"destination": dest, "timeout_ms": 2000})).await;
        const N: usize = 60;
        let mut got = Vec::new();
        let mut cuts = 0;
        for i in 0..N {
            app.publish(json!({"type": "burst.item", "payload": {"i": i}})).await;
            if i == N / 3 || i == 2 * N / 3 {
                got.extend(moto.take(&queue, 1).await);
                cuts += relay.cut();
            }
        }
        assert!(cuts >= 1, "a connection was cut mid-burst");
        // At least once: count distinct events (a send that succeeded as the connection
        // broke may come twice).
        let mut events: HashSet<String> = got.iter().filter_map(|m| attribute(m, "webhook-id")).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while events.len() < N && std::time::Instant::now() < deadline {
            let more = moto.take(&queue, N - events.len()).await;
            events.extend(more.iter().filter_map(|m| attribute(m, "webhook-id")));
            got.extend(more);
        }
        assert_eq!(events.len(), N, "every event arrived ({} messages in all)", got.len());
    }

    async fn a_fifo_queue_keeps_each_keys_order_with_the_delivery_id_as_dedup_id() {
        let Some(moto) = Moto::start().await else { return };
        let app = spawn_app().await;
        let queue = moto.create_queue(&format!("{}.fifo", unique("herald"))).await;
        app.create_endpoint(json!({"destination": sqs(&moto, &queue), "ordering": {"key": "json:/ticket"}}))
            .await;
        const PER_KEY: usize = 10;
        for n in 0..PER_KEY {
            for key in ["t-1", "t-2", "t-3"] {
                app.publish(json!({"type": "ticket.updated", "payload": {"ticket": key, "n": n}})).await;
            }
        }
        let got = moto.take(&queue, 3 * PER_KEY).await;
        assert_eq!(got.len(), 3 * PER_KEY);
        app.until_idle().await;
        assert!(moto.drain(&queue).await.is_empty(), "nothing twice");
        let mut by_group: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for m in &got {
            let group = m["Attributes"]["MessageGroupId"].as_str().unwrap().to_string();
            assert_eq!(
                m["Attributes"]["MessageDeduplicationId"].as_str(),
                attribute(m, "x-herald-delivery-id").as_deref()
            );
            let body: Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
            assert_eq!(body["ticket"], group.as_str());
            by_group.entry(group).or_default().push(body["n"].as_u64().unwrap());
        }
        let expected: Vec<u64> = (0..PER_KEY as u64).collect();
        assert_eq!(by_group.len(), 3);
        for (group, seen) in by_group {
            assert_eq!(seen, expected, "group {group} in publish order");
        }
    }
}
