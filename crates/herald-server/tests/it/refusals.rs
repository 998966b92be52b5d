//! Input herald refuses, found by outside testing: keys minted for nobody, unknown fields,
//! operational types from inbound requests, bodies over the limit, unusable URLs. Each
//! refusal names what is wrong and stores nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

async fn none_source(app: &TestApp, extra: Value) -> String {
    let mut body = json!({"name": "open", "verify": {"scheme": "none"}, "event_type": "header:X-Type"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, src) = app.call(Method::POST, "/v1/sources", Some(body)).await;
    assert_eq!(s, 201, "{src}");
    src["id"].as_str().unwrap().to_string()
}

async fn inbound(app: &TestApp, source: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/in/{source}", app.base))
        .header("content-type", "application/json")
        .body(body);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn request_log(app: &TestApp, source: &str) -> Vec<Value> {
    app.get(&format!("/v1/sources/{source}/requests")).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// Sends raw bytes over one connection and returns the start of the first answer.
async fn raw_exchange(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf));
    let n = read.await.expect("an answer before the body is sent").unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

store_tests! {
    async fn a_key_is_minted_for_a_tenant_or_as_admin_only_when_asked() {
        let app = spawn_app().await;
        for body in [json!({}), json!({"tenant": null}), json!({"admin": false})] {
            let (s, b) = app.call(Method::POST, "/v1/keys", Some(body.clone())).await;
            assert_eq!(s, 422, "{body} → {b}");
            assert!(message(&b).starts_with("tenant"), "{b}");
        }
        let (s, b) = app
            .call(Method::POST, "/v1/keys", Some(json!({"admin": true, "tenant": "acme"})))
            .await;
        assert_eq!((s, message(&b).starts_with("admin")), (422, true), "{b}");
        assert!(app.get("/v1/keys").await["data"].as_array().unwrap().is_empty(), "nothing minted");

        let (s, admin) = app.call(Method::POST, "/v1/keys", Some(json!({"admin": true}))).await;
        assert_eq!(s, 201, "{admin}");
        assert!(admin["tenant"].is_null());
        let key = admin["key"].as_str().unwrap();
        let (s, _) = app.call_as(key, Method::GET, "/v1/keys", None).await;
        assert_eq!(s, 200, "the explicit admin key manages keys");
        let (s, tenant) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "acme"}))).await;
        assert_eq!((s, tenant["tenant"].as_str()), (201, Some("acme")));
    }

    async fn unknown_and_unchangeable_fields_are_refused_naming_the_field() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let (s, b) = app
            .call(Method::POST, "/v1/endpoints", Some(json!({"url": rx.url, "event_type": ["ticket.*"]})))
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(message(&b).starts_with("event_type:"), "{b}");
        assert!(message(&b).contains("`event_types`"), "says what the fields are: {b}");
        assert!(app.get("/v1/endpoints").await["data"].as_array().unwrap().is_empty(), "nothing created");

        let ep = app.create_endpoint(json!({"url": rx.url, "tenant": "acme"})).await;
        let path = format!("/v1/endpoints/{}", ep["id"].as_str().unwrap());
        let (s, b) = app.call(Method::PATCH, &path, Some(json!({"tenant": "globex"}))).await;
        assert_eq!((s, message(&b).starts_with("tenant:")), (422, true), "{b}");
        assert_eq!(app.get(&path).await["tenant"], "acme");

        let (s, b) = app
            .call(Method::POST, "/v1/events", Some(json!({"type": "a.b", "payload": {}, "tennant": "acme"})))
            .await;
        assert_eq!((s, message(&b).starts_with("tennant:")), (422, true), "{b}");
        let (s, b) = app
            .call(
                Method::POST,
                "/v1/sources",
                Some(json!({"name": "x", "verify": {"scheme": "none"}, "dedupe": {"key": "body", "window": 5}})),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert!(message(&b).contains("window"), "a nested unknown field is named too: {b}");
        assert!(app.get("/v1/events").await["data"].as_array().unwrap().is_empty());
    }

    async fn inbound_requests_cannot_create_operational_events() {
        let app = spawn_app().await;
        let source = none_source(&app, json!({})).await;
        let (s, b) = inbound(&app, &source, b"{}".to_vec(), &[("x-type", "herald.endpoint.disabled")]).await;
        assert!((400..500).contains(&s), "{s} {b}");
        let log = request_log(&app, &source).await;
        assert_eq!(log[0]["outcome"], "rejected");
        assert!(log[0]["reason"].as_str().unwrap().contains("herald."), "{:?}", log[0]);
        assert!(app.get("/v1/events").await["data"].as_array().unwrap().is_empty(), "no event stored");
        // A provider type that only looks alike is fine.
        let (s, _) = inbound(&app, &source, b"{}".to_vec(), &[("x-type", "heraldry.created")]).await;
        assert_eq!(s, 200);
        // A source cannot be set up to produce them either.
        for extra in [json!({"event_type": "const:herald.delivery.failed"}), json!({"type_prefix": "herald."})] {
            let mut body = json!({"name": "x", "verify": {"scheme": "none"}});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (s, b) = app.call(Method::POST, "/v1/sources", Some(body)).await;
            assert_eq!(s, 422, "{extra} → {b}");
        }
    }

    async fn the_inbound_body_limit_is_max_payload_exactly() {
        let mut settings = test_settings();
        settings.max_payload = Some("1KiB".into());
        let app = spawn_with(settings).await;
        let source = none_source(&app, json!({"event_type": "const:big.body"})).await;
        let (s, b) = inbound(&app, &source, vec![b'a'; 1024], &[]).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = inbound(&app, &source, vec![b'a'; 1025], &[]).await;
        assert_eq!(s, 413, "{b}");
        assert_eq!(b["error"]["code"], "payload_too_large");
        // A client that waits for `100 Continue` is told 413 before it sends the body.
        let head = format!(
            "POST /in/{source} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             content-length: 5000\r\nexpect: 100-continue\r\n\r\n"
        );
        let answer = raw_exchange(&app.base, head.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let events = app.get("/v1/events").await;
        assert_eq!(events["data"].as_array().unwrap().len(), 1, "only the body within the limit");
    }

    async fn rate_limited_inbound_requests_are_in_the_request_log() {
        let mut settings = test_settings();
        settings.inbound_rate_limit = Some(1);
        let app = spawn_with(settings).await;
        let source = none_source(&app, json!({"event_type": "const:ping"})).await;
        let mut limited = 0;
        for _ in 0..6 {
            let (s, _) = inbound(&app, &source, b"{}".to_vec(), &[]).await;
            limited += usize::from(s == 429);
        }
        assert!(limited > 0, "the limit (1/s, burst 2) refused some");
        let log = request_log(&app, &source).await;
        let refused: Vec<&Value> = log.iter().filter(|r| r["status"] == 429).collect();
        assert!(!refused.is_empty(), "{log:?}");
        assert_eq!(refused[0]["outcome"], "rejected");
        assert!(refused[0]["reason"].as_str().unwrap().contains("rate limited"), "{:?}", refused[0]);
    }

    async fn endpoint_urls_without_a_usable_host_or_port_are_refused_and_idn_hosts_accepted() {
        let app = spawn_app().await;
        for url in ["http://example.com:0/hook", "http://:8080/hook", "http:///"] {
            let (s, b) = app.call(Method::POST, "/v1/endpoints", Some(json!({"url": url}))).await;
            assert_eq!(s, 422, "{url} → {b}");
            assert!(message(&b).starts_with("url"), "{b}");
        }
        let ep = app.create_endpoint(json!({"url": "https://bücher.example/hook"})).await;
        assert_eq!(ep["url"], "https://xn--bcher-kva.example/hook");
    }

    async fn an_ssrf_refusal_does_not_show_the_internal_address_to_the_tenant() {
        let mut settings = test_settings();
        settings.allow_networks = Some(vec![]);
        let app = spawn_with(settings).await;
        app.create_endpoint(json!({"url": "http://10.11.12.13:9/hook"})).await;
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        let attempts = app.attempts(ds[0]["id"].as_str().unwrap()).await;
        let error = attempts[0]["error"].as_str().unwrap();
        assert!(error.contains("SSRF") && error.contains("private"), "{error}");
        assert!(!error.contains("10.11.12.13"), "{error}");
    }

    async fn requests_over_the_protocol_limits_answer_in_the_error_shape() {
        let app = spawn_app().await;
        let long = format!("{}/v1/events?type={}", app.base, "a".repeat(9000));
        let resp = app.http.get(&long).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(resp.status(), 414);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "uri_too_long");
        let mut req = app.http.get(format!("{}/v1/events", app.base)).bearer_auth(&app.key);
        for i in 0..150 {
            req = req.header(format!("x-h-{i}"), "v");
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 431);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "headers_too_large");
        let resp = app
            .http
            .get(format!("{}/v1/events", app.base))
            .bearer_auth(&app.key)
            .header("x-big", "b".repeat(70 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 431);
        assert!(resp.text().await.unwrap().contains("\"error\""));
    }
}
