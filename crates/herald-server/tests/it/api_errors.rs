//! Every bad input gets the documented error shape and status, and stores nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn counts(app: &TestApp) -> (usize, usize) {
    let eps = app.get("/v1/endpoints?limit=250").await["data"]
        .as_array()
        .unwrap()
        .len();
    let evs = app.get("/v1/events?limit=250").await["data"]
        .as_array()
        .unwrap()
        .len();
    (eps, evs)
}

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str, ctx: &str) {
    assert_eq!(status, want_status, "{ctx}: {body}");
    assert_eq!(body["error"]["code"], want_code, "{ctx}: {body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{ctx}: {body}"
    );
}

store_tests! {
    async fn bad_endpoint_and_event_bodies_are_refused_and_store_nothing() {
        let app = spawn_app().await;
        app.create_endpoint(json!({"url": "http://127.0.0.1:9/"})).await;
        let before = counts(&app).await;
        let raw_cases: &[(&str, &'static [u8], u16, &str)] = &[
            ("/v1/events", b"{\"type\": ", 400, "malformed_request"),
            ("/v1/events", b"not json", 400, "malformed_request"),
            ("/v1/events", b"", 400, "malformed_request"),
            (
                "/v1/endpoints",
                b"{\"url\": \"http://x/\",}",
                400,
                "malformed_request",
            ),
        ];
        for (path, body, status, code) in raw_cases {
            let (s, b) = app.raw(Method::POST, path, body, &[]).await;
            assert_error(
                s,
                &b,
                *status,
                code,
                &format!("{path} {}", String::from_utf8_lossy(body)),
            );
        }
        let json_cases: Vec<(&str, Value, &str)> = vec![
            ("/v1/events", json!({"payload": {}}), "type"),
            ("/v1/events", json!({"type": 5, "payload": {}}), "type"),
            ("/v1/events", json!({"type": "", "payload": {}}), "type"),
            ("/v1/events", json!({"type": "ticket.*", "payload": {}}), "type"),
            ("/v1/events", json!({"type": "a..b", "payload": {}}), "type"),
            (
                "/v1/events",
                json!({"type": "herald.endpoint.disabled", "payload": {}}),
                "type",
            ),
            ("/v1/events", json!({"type": "a.b"}), "payload"),
            ("/v1/events", json!({"type": "a.b", "payload": null}), "payload"),
            (
                "/v1/events",
                json!({"type": "a.b", "payload": {}, "tenant": ""}),
                "tenant",
            ),
            (
                "/v1/events",
                json!({"type": "a.b", "payload": {}, "id": "has space"}),
                "id",
            ),
            (
                "/v1/events",
                json!({"type": "a.b", "payload": {}, "tenant": 7}),
                "tenant",
            ),
            ("/v1/events", json!([1, 2]), "body"),
            ("/v1/endpoints", json!({"url": "ftp://example.com/"}), "url"),
            (
                "/v1/endpoints",
                json!({"url": "http://user:pw@example.com/"}),
                "url",
            ),
            ("/v1/endpoints", json!({"url": "example.com/hook"}), "url"),
            ("/v1/endpoints", json!({"url": 12}), "url"),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "event_types": []}),
                "event_types",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "event_types": [""]}),
                "event_types[0]",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "event_types": ["*", "ti*cket"]}),
                "event_types[1]",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "event_types": ["ticket."]}),
                "event_types[0]",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "event_types": "ticket.*"}),
                "event_types",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "timeout_ms": -1}),
                "timeout_ms",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "timeout_ms": 0}),
                "timeout_ms",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "max_in_flight": 0}),
                "max_in_flight",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "signature": "md5"}),
                "signature",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "secret": "plain"}),
                "secret",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "headers": {"webhook-signature": "x"}}),
                "headers.webhook-signature",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "headers": {"bad header": "x"}}),
                "headers.bad header",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "tenant": "a b"}),
                "tenant",
            ),
            (
                "/v1/endpoints",
                json!({"url": "http://x/", "disabled": "yes"}),
                "disabled",
            ),
        ];
        for (path, body, field) in json_cases {
            let (s, b) = app.call(Method::POST, path, Some(body.clone())).await;
            assert_error(s, &b, 422, "invalid_field", &format!("{path} {body}"));
            let msg = b["error"]["message"].as_str().unwrap();
            assert!(
                msg.starts_with(&format!("{field}:")),
                "{body} → message should name `{field}`: {msg}"
            );
        }
        assert_eq!(counts(&app).await, before, "nothing was stored");
    }

    async fn patch_validates_too_and_unknown_ids_are_404() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({"url": "http://127.0.0.1:9/"})).await;
        let path = format!("/v1/endpoints/{}", ep["id"].as_str().unwrap());
        let (s, b) = app
            .call(Method::PATCH, &path, Some(json!({"url": "gopher://x/"})))
            .await;
        assert_error(s, &b, 422, "invalid_field", "patch url");
        assert_eq!(
            app.get(&path).await["url"],
            "http://127.0.0.1:9/",
            "a failed patch changes nothing"
        );
        for p in [
            "/v1/endpoints/ep_nope",
            "/v1/events/evt_nope",
            "/v1/events/evt_nope/deliveries",
            "/v1/deliveries/dlv_nope",
            "/v1/deliveries/dlv_nope/attempts",
        ] {
            let (s, b) = app.call(Method::GET, p, None).await;
            assert_error(s, &b, 404, "not_found", p);
        }
        let (s, b) = app
            .call(
                Method::PATCH,
                "/v1/endpoints/ep_nope",
                Some(json!({"disabled": true})),
            )
            .await;
        assert_error(s, &b, 404, "not_found", "patch unknown");
        let (s, b) = app.call(Method::GET, "/v1/nothing-here", None).await;
        assert_error(s, &b, 404, "not_found", "unknown route");
        let (s, b) = app.call(Method::PUT, "/v1/events", None).await;
        assert_error(s, &b, 405, "method_not_allowed", "wrong method");
        let (s, b) = app.call(Method::GET, "/v1/events?limit=0", None).await;
        assert_error(s, &b, 422, "invalid_field", "limit");
        let (s, b) = app.call(Method::GET, "/v1/events?since=yesterday", None).await;
        assert_error(s, &b, 422, "invalid_field", "since");
    }

    async fn a_missing_or_wrong_key_is_401() {
        let app = spawn_app().await;
        let r = app
            .http
            .get(format!("{}/v1/endpoints", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "unauthorized");
        let (s, b) = app.call_as("wrong-key", Method::GET, "/v1/events", None).await;
        assert_error(s, &b, 401, "unauthorized", "wrong key");
        let (s, b) = app
            .call_as(
                "wrong-key",
                Method::POST,
                "/v1/events",
                Some(json!({"type": "a.b", "payload": {}})),
            )
            .await;
        assert_error(s, &b, 401, "unauthorized", "wrong key publish");
        let r = app
            .http
            .get(format!("{}/v1/endpoints", app.base))
            .header("authorization", format!("Basic {ADMIN_KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        // Health needs no key.
        let r = app
            .http
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(app.get("/v1/events").await["data"].as_array().unwrap().len(), 0);
    }

    async fn an_oversized_payload_is_413_and_stores_nothing() {
        let mut settings = test_settings();
        settings.max_payload = Some("1KiB".into());
        let app = spawn_with(settings).await;
        let ok = "x".repeat(1000);
        app.publish(json!({"type": "a.b", "payload": ok})).await;
        let big = "x".repeat(2000);
        let (s, b) = app
            .call(
                Method::POST,
                "/v1/events",
                Some(json!({"type": "a.b", "payload": big})),
            )
            .await;
        assert_error(s, &b, 413, "payload_too_large", "payload over the limit");
        let huge = "x".repeat(200 * 1024);
        let (s, b) = app
            .call(
                Method::POST,
                "/v1/events",
                Some(json!({"type": "a.b", "payload": huge})),
            )
            .await;
        assert_error(s, &b, 413, "payload_too_large", "body over the limit");
        assert_eq!(app.get("/v1/events").await["data"].as_array().unwrap().len(), 1);
    }

    async fn every_answer_carries_a_request_id() {
        let app = spawn_app().await;
        let r = app
            .http
            .get(format!("{}/v1/events", app.base))
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(id.starts_with("rid_"), "{id}");
        let r = app
            .http
            .get(format!("{}/healthz", app.base))
            .header("x-request-id", "trace-abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["x-request-id"],
            "trace-abc-123",
            "a caller's id is kept"
        );
        let r = app
            .http
            .get(format!("{}/healthz", app.base))
            .header("x-request-id", "bad id!")
            .send()
            .await
            .unwrap();
        assert_ne!(r.headers()["x-request-id"], "bad id!", "an unsafe id is replaced");
    }

    async fn rate_limits_apply_per_key_and_per_source_with_retry_after() {
        let mut settings = test_settings();
        settings.api_rate_limit = Some(2);
        settings.inbound_rate_limit = Some(1);
        let app = spawn_with(settings).await;
        let (_, k) = app
            .call(Method::POST, "/v1/keys", Some(json!({"tenant": "acme"})))
            .await;
        let tenant_key = k["key"].as_str().unwrap().to_string();
        let mut statuses = Vec::new();
        let mut limited = None;
        for _ in 0..10 {
            let r = app
                .http
                .get(format!("{}/v1/events", app.base))
                .bearer_auth(&app.key)
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
            if r.status() == 429 {
                limited = Some((
                    r.headers()["retry-after"]
                        .to_str()
                        .unwrap()
                        .parse::<u64>()
                        .unwrap(),
                    r.json::<Value>().await.unwrap(),
                ));
            }
        }
        assert!(
            statuses.iter().filter(|s| **s == 200).count() >= 3,
            "a burst is allowed: {statuses:?}"
        );
        let (retry_after, body) = limited.expect("the admin key was limited");
        assert!(retry_after >= 1);
        assert_eq!(body["error"]["code"], "rate_limited");
        let (s, _) = app.call_as(&tenant_key, Method::GET, "/v1/events", None).await;
        assert_eq!(s, 200, "another key has its own budget");

        let (_, src) = app
            .call_as(
                &tenant_key,
                Method::POST,
                "/v1/sources",
                Some(json!({"name": "n", "verify": {"scheme": "none"}})),
            )
            .await;
        let url = format!("{}/in/{}", app.base, src["id"].as_str().unwrap());
        let mut inbound = Vec::new();
        for _ in 0..6 {
            inbound.push(
                app.http
                    .post(&url)
                    .body("{}")
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            );
        }
        assert!(inbound.contains(&200) && inbound.contains(&429), "{inbound:?}");
    }

    async fn slow_clients_are_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut settings = test_settings();
        settings.read_timeout = Some("300ms".into());
        settings.header_timeout = Some("300ms".into());
        let app = spawn_with(settings).await;
        let addr = app.base.trim_start_matches("http://").to_string();
        // Headers that never finish: the connection is closed.
        let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
        slow.write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the server kept a header-less connection open");
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        // A body that never finishes: 408.
        let mut stall = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"type\""
        );
        stall.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stall.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("request_timeout"));
        assert_eq!(app.get("/v1/events").await["data"].as_array().unwrap().len(), 0);
    }
}

/// `sslmode` works as with libpq: `require` encrypts every connection herald makes (pool and
/// listener), `verify-full` refuses a server whose certificate it cannot trust.
#[tokio::test]
async fn postgres_connections_use_tls_as_the_url_asks() {
    run_on(Backend::Postgres, async {
        let app_name = format!("herald_tls_{}", std::process::id());
        let base = fresh_pg_store().await;
        let mut settings = test_settings();
        settings.store = Some(format!("{base}&sslmode=require&application_name={app_name}").into());
        let app = spawn_with(settings).await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url})).await;
        app.publish(json!({"type": "tls.x", "payload": {}})).await;
        rx.wait_for(1).await;
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
                 JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = $1",
                &[&app_name],
            )
            .await
            .unwrap();
        let (all, encrypted): (i64, i64) = (row.get(0), row.get(1));
        assert!(all >= 2, "the pool and the listener are connected: {all}");
        assert_eq!(all, encrypted, "every connection is encrypted");

        let refused = herald_server::Config::from_settings(herald_server::Settings {
            store: Some(format!("{base}&sslmode=verify-full").into()),
            ..Default::default()
        })
        .unwrap();
        let err = herald_server::migrate(&refused).await.unwrap_err().to_string();
        assert!(err.to_lowercase().contains("certificate"), "{err}");
    })
    .await
}
