//! Broker destinations through the API (design section 9): validated naming the field,
//! credentials masked in every read and sealed in the store, broker hosts held to the SSRF
//! rule, and each tenant's destinations its own.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::sealing::{raw_store, KEY_A};

const AMQP_PASSWORD: &str = "amqp-pass-4b1d93";
const NATS_TOKEN: &str = "nats-token-8c2e71";
const SQS_SECRET: &str = "sqs-secret-key-5f0a6e2d";

fn destinations() -> Vec<Value> {
    vec![
        json!({"kind": "amqp", "url": format!("amqp://app:{AMQP_PASSWORD}@127.0.0.1:5672/%2f"), "exchange": "events"}),
        json!({"kind": "nats", "url": format!("nats://{NATS_TOKEN}@127.0.0.1:4222")}),
        json!({"kind": "sqs", "queue_url": "http://127.0.0.1:9/123456789012/q", "region": "eu-west-1",
               "endpoint_url": "http://127.0.0.1:9", "access_key_id": "AKIDEXAMPLE", "secret_access_key": SQS_SECRET}),
    ]
}

async fn refused(app: &TestApp, body: Value) -> String {
    let (status, err) = app.call(Method::POST, "/v1/endpoints", Some(body.clone())).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("invalid_field")),
        "{body}: {err}"
    );
    let message = err["error"]["message"].as_str().unwrap();
    message
        .split_once(':')
        .map_or(message, |(field, _)| field)
        .to_string()
}

store_tests! {
    async fn a_bad_destination_is_refused_naming_the_field() {
        let app = spawn_app().await;
        let amqp = |extra: Value| {
            let mut d = json!({"kind": "amqp", "url": "amqp://127.0.0.1"});
            d.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({"destination": d})
        };
        let cases = vec![
            (json!({"destination": {"url": "amqp://h"}}), "destination.kind"),
            (json!({"destination": {"kind": "kafka"}}), "destination.kind"),
            (json!({"destination": {"kind": "amqp"}}), "destination.url"),
            (amqp(json!({"url": "http://127.0.0.1"})), "destination.url"),
            (amqp(json!({"exchange": "no spaces"})), "destination.exchange"),
            (amqp(json!({"subject": "x"})), "destination.subject"),
            (json!({"destination": {"kind": "nats", "url": "nats://h", "subject": "a.*"}}), "destination.subject"),
            (json!({"destination": {"kind": "sqs", "queue_url": "http://h/1/q", "region": "us-east-1", "access_key_id": "AKID"}}),
             "destination.secret_access_key"),
            (json!({"url": "http://127.0.0.1:9/hook", "destination": {"kind": "nats", "url": "nats://h"}}), "destination"),
        ];
        for (body, field) in cases {
            assert_eq!(refused(&app, body.clone()).await, field, "{body}");
        }
        let (status, list) = app.call(Method::GET, "/v1/endpoints", None).await;
        assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 0), "nothing was created");
    }

    async fn credentials_are_masked_in_every_read_and_sealed_in_the_store() {
        let mut settings = test_settings();
        settings.encryption_key = Some(KEY_A.into());
        let app = spawn_with(settings).await;
        for d in destinations() {
            let created = app.create_endpoint(json!({"destination": d})).await;
            let read = app.get(&format!("/v1/endpoints/{}", created["id"].as_str().unwrap())).await;
            assert_eq!(read["destination"], created["destination"]);
            assert_eq!(read["destination"]["kind"], d["kind"]);
        }
        let list = app.get("/v1/endpoints").await.to_string();
        assert!(list.contains("amqp://app:****@127.0.0.1:5672/%2f"), "{list}");
        assert!(list.contains("nats://****@127.0.0.1:4222"), "{list}");
        let raw = raw_store(&app).await;
        assert!(raw.contains("sealed:v1:"));
        for secret in [AMQP_PASSWORD, NATS_TOKEN, SQS_SECRET] {
            assert!(!list.contains(secret), "{secret} is shown in a read");
            assert!(!raw.contains(secret), "{secret} is in the store in clear");
        }
    }

    async fn broker_hosts_meet_the_ssrf_rule() {
        let mut settings = test_settings();
        settings.allow_networks = None;
        let app = spawn_with(settings).await;
        for d in destinations() {
            let kind = d["kind"].as_str().unwrap().to_string();
            app.create_endpoint(json!({"destination": d, "event_types": [format!("{kind}.*")]})).await;
            let ev = app.publish(json!({"type": format!("{kind}.test"), "payload": {}})).await;
            let delivery = app.settled(ev["id"].as_str().unwrap()).await.remove(0);
            assert_eq!(delivery["state"], "failed", "{kind}");
            let error = app.attempts(delivery["id"].as_str().unwrap()).await[0]["error"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(error.contains("refused by the SSRF guard") && error.contains("loopback"), "{kind}: {error}");
        }
    }

    async fn a_tenant_sees_and_changes_only_its_own_destinations() {
        let app = spawn_app().await;
        let mut keys = Vec::new();
        for tenant in ["acme", "initech"] {
            let (s, k) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": tenant}))).await;
            assert_eq!(s, 201, "{k}");
            keys.push(k["key"].as_str().unwrap().to_string());
        }
        let (s, ep) = app
            .call_as(&keys[0], Method::POST, "/v1/endpoints", Some(json!({"destination": destinations()[0]})))
            .await;
        assert_eq!(s, 201, "{ep}");
        let path = format!("/v1/endpoints/{}", ep["id"].as_str().unwrap());
        assert_eq!(app.call_as(&keys[1], Method::GET, &path, None).await.0, 404);
        let change = json!({"destination": destinations()[1]});
        assert_eq!(app.call_as(&keys[1], Method::PATCH, &path, Some(change)).await.0, 404);
        let (s, own) = app.call_as(&keys[0], Method::GET, &path, None).await;
        assert_eq!((s, own["destination"]["kind"].as_str()), (200, Some("amqp")), "unchanged: {own}");
        let (_, listed) = app.call_as(&keys[1], Method::GET, "/v1/endpoints", None).await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    }

    async fn patching_a_url_onto_a_broker_endpoint_replaces_the_destination() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app.create_endpoint(json!({"destination": destinations()[1]})).await;
        let path = format!("/v1/endpoints/{}", ep["id"].as_str().unwrap());
        let (s, both) = app
            .call(Method::PATCH, &path, Some(json!({"url": rx.url, "destination": destinations()[0]})))
            .await;
        assert_eq!(s, 422, "{both}");
        let (s, http) = app.call(Method::PATCH, &path, Some(json!({"url": rx.url}))).await;
        assert_eq!(s, 200, "{http}");
        let url = http["url"].as_str().unwrap().trim_end_matches('/');
        assert_eq!((url, &http["destination"]), (rx.url.as_str(), &Value::Null));
        app.publish(json!({"type": "ticket.created", "payload": {}})).await;
        assert_eq!(rx.wait_for(1).await.len(), 1, "now delivered over HTTP");
    }
}
