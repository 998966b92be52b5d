//! Outbound delivery: signatures, retries, Retry-After, 410, isolation.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

/// Recomputes a Standard Webhooks signature from first principles (not with herald's code).
fn independent_standard_signature(secret: &str, id: &str, ts: &str, body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

/// Runs the official `standardwebhooks` Python package over the delivery, when it is
/// installed (`.ci/run` installs it, so CI always runs this check).
pub(crate) fn official_library_accepts(secret: &str, headers: &[(&str, &str)], body: &[u8]) {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
data = json.load(sys.stdin)
Webhook(data["secret"]).verify(data["body"].encode(), data["headers"])
print("verified")
"#;

    let input = json!({
        "secret": secret,
        "headers": headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::HashMap<_, _>>(),
        "body": std::str::from_utf8(body).unwrap(),
    });
    let probe = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install the standardwebhooks package"
        );
        eprintln!("SKIPPED the official standardwebhooks check: `pip install standardwebhooks` to run it");
        return;
    }
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "standardwebhooks refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "verified");
}

store_tests! {
    async fn an_endpoints_own_retry_schedule_replaces_the_global_one() {
        let app = spawn_app().await; // global: 100ms,100ms,100ms (four tries)
        let failing = Receiver::start(|_| Reply::status(500)).await;
        let own = app.create_endpoint(json!({"url": failing.url, "retry_schedule": "50ms", "circuit_after": 0})).await;
        assert_eq!(own["retry_schedule"], "50ms");
        let other = Receiver::start(|_| Reply::status(500)).await;
        let global = app.create_endpoint(json!({"url": other.url, "circuit_after": 0})).await;
        assert!(global["retry_schedule"].is_null());
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        let tries = |id: &Value| ds.iter().find(|d| d["endpoint_id"] == *id).unwrap()["attempts"].clone();
        assert_eq!((tries(&own["id"]), tries(&global["id"])), (json!(2), json!(4)), "{ds:?}");

        let path = format!("/v1/endpoints/{}", own["id"].as_str().unwrap());
        let (s, b) = app.call(Method::PATCH, &path, Some(json!({"retry_schedule": ""}))).await;
        assert_eq!((s, &b["retry_schedule"]), (200, &json!("")), "no retries at all: {b}");
        let ev = app.publish(json!({"type": "a.b", "payload": {}})).await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        assert_eq!(ds.iter().find(|d| d["endpoint_id"] == own["id"]).unwrap()["attempts"], 1);
        let (s, b) = app.call(Method::PATCH, &path, Some(json!({"retry_schedule": null}))).await;
        assert_eq!((s, b["retry_schedule"].is_null()), (200, true), "{b}");

        for bad in ["5x", "31d", "1s,"] {
            let (s, b) = app
                .call(Method::POST, "/v1/endpoints", Some(json!({"url": failing.url, "retry_schedule": bad})))
                .await;
            assert_eq!(s, 422, "{bad}: {b}");
            assert!(b["error"]["message"].as_str().unwrap().starts_with("retry_schedule"), "{b}");
        }
    }

    async fn delivers_the_payload_byte_for_byte_with_standard_webhooks_headers() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app
            .create_endpoint(
                json!({"url": format!("{}/webhooks/new_ticket", rx.url), "event_types": ["ticket.*"]}),
            )
            .await;
        let secret = ep["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        // Odd spacing, key order and escapes must survive untouched.
        let raw: &'static [u8] = br#"{"type":"ticket.created","payload":{"zeta": 1,  "alpha":"caf\u00e9", "n": 1.50, "data": {"ticket_id": "TKT-2026-05-11-001"}}}"#;
        let (status, ev) = app.raw(Method::POST, "/v1/events", raw, &[]).await;
        assert_eq!(status, 202, "{ev}");
        assert_eq!(ev["deliveries"], 1);
        let got = rx.wait_for(1).await;
        let r = &got[0];
        assert_eq!(r.path, "/webhooks/new_ticket");
        assert_eq!(
            std::str::from_utf8(&r.body).unwrap(),
            r#"{"zeta": 1,  "alpha":"caf\u00e9", "n": 1.50, "data": {"ticket_id": "TKT-2026-05-11-001"}}"#
        );
        assert_eq!(r.header("content-type").unwrap(), "application/json");
        assert!(r.header("user-agent").unwrap().starts_with("herald/"));
        assert_eq!(r.header("x-herald-event-type").unwrap(), "ticket.created");
        let id = r.header("webhook-id").unwrap();
        assert_eq!(id, ev["id"].as_str().unwrap());
        let ts = r.header("webhook-timestamp").unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - ts.parse::<i64>().unwrap()).abs() <= 5);
        let sig = r.header("webhook-signature").unwrap();
        assert_eq!(sig, independent_standard_signature(&secret, &id, &ts, &r.body));
        assert!(r.header("x-signature").is_none());
        // herald's own receiver library agrees.
        let pairs = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", sig.as_str()),
        ];
        assert_eq!(herald_signing::verify(&pairs, &r.body, &[&secret], now), Ok(()));
        // And a tampered body does not verify.
        assert!(herald_signing::verify(&pairs, b"{}", &[&secret], now).is_err());
        official_library_accepts(&secret, &pairs, &r.body);
    }

    async fn hmac_sha256_hex_endpoints_get_the_flask_x_signature() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app
            .create_endpoint(json!({"url": rx.url, "signature": "hmac-sha256-hex", "secret": "my-flask-secret"}))
            .await;
        assert_eq!(ep["secret"], "my-flask-secret");
        assert_eq!(ep["signature"], "hmac-sha256-hex");
        app.publish(json!({"type": "ticket.created", "payload": ticket_payload()}))
            .await;
        let r = &rx.wait_for(1).await[0];
        // The Flask receiver: hmac.new(SECRET.encode(), request.data, sha256).hexdigest()
        let mut mac = Hmac::<Sha256>::new_from_slice(b"my-flask-secret").unwrap();
        mac.update(&r.body);
        assert_eq!(
            r.header("x-signature").unwrap(),
            hex::encode(mac.finalize().into_bytes())
        );
        assert!(r.header("webhook-signature").is_none());
        assert!(r.header("webhook-id").is_some());
    }

    async fn custom_headers_are_sent() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url, "headers": {"X-Team": "support"}}))
            .await;
        app.publish(json!({"type": "a.b", "payload": {}})).await;
        assert_eq!(rx.wait_for(1).await[0].header("x-team").unwrap(), "support");
    }

    async fn failed_tries_are_retried_until_success_and_logged() {
        let app = spawn_app().await;
        let rx = Receiver::start(|n| Reply::status(if n < 2 { 500 } else { 200 })).await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app
            .publish(json!({"type": "ticket.created", "payload": ticket_payload()}))
            .await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        assert_eq!(ds[0]["state"], "succeeded");
        assert_eq!(ds[0]["attempts"], 3);
        let got = rx.received();
        assert_eq!(got.len(), 3);
        // The same webhook-id on every try, a fresh timestamp, the same body.
        assert!(got
            .iter()
            .all(|r| r.header("webhook-id") == got[0].header("webhook-id")));
        assert!(got.iter().all(|r| r.body == got[0].body));
        let attempts = app.attempts(ds[0]["id"].as_str().unwrap()).await;
        let codes: Vec<_> = attempts
            .iter()
            .map(|a| a["status_code"].as_u64().unwrap())
            .collect();
        assert_eq!(codes, vec![500, 500, 200]);
        assert_eq!(attempts[0]["response_body"], "reply 0");
        assert!(attempts[0]["error"].as_str().unwrap().contains("500"));
        assert!(attempts[2]["error"].is_null());
        assert!(attempts
            .iter()
            .all(|a| a["duration_ms"].is_u64() && a["attempted_at"].is_string()));
        // The schedule (100ms ±20 %) separates the tries.
        let gap = got[1].at - got[0].at;
        assert!(gap >= Duration::from_millis(70), "{gap:?}");
    }

    async fn exhausted_deliveries_fail_and_are_kept() {
        let mut settings = test_settings();
        settings.retry_schedule = Some("50ms,50ms".into());
        let app = spawn_with(settings).await;
        let rx = Receiver::start(|_| Reply::status(503)).await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app.publish(json!({"type": "x.y", "payload": [1, 2]})).await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        assert_eq!(ds[0]["state"], "failed");
        assert_eq!(ds[0]["attempts"], 3);
        assert_eq!(ds[0]["last_status"], 503);
        assert!(ds[0]["next_attempt_at"].is_null());
        assert_eq!(rx.count(), 3);
        app.advance(Duration::from_secs(3600));
        app.until_idle().await;
        assert_eq!(rx.count(), 3, "no tries after exhaustion");
    }

    async fn retry_after_is_honoured_over_the_schedule() {
        // The schedule says 100 ms; the receiver says 30 min (seconds), then 45 min (an
        // HTTP date on the server's clock). Business time is jumped, not slept through.
        let app = spawn_app().await;
        let clock = app.clock.clone();
        let rx = Receiver::start(move |n| {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(clock.now_ms() as u64);
            let hint = match n {
                0 => "1800".to_string(),
                1 => httpdate::fmt_http_date(at + Duration::from_secs(2700)),
                _ => return Reply::status(200),
            };
            Reply {
                status: if n == 0 { 429 } else { 503 },
                headers: vec![("retry-after", hint)],
                delay: Duration::ZERO,
            }
        })
        .await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app.publish(json!({"type": "x.y", "payload": {}})).await;
        let ev = ev["id"].as_str().unwrap();
        for (n, wait_s) in [(1, 1800), (2, 2700)] {
            let d = wait_for_attempts(&app, ev, n).await;
            let attempts = app.attempts(d["id"].as_str().unwrap()).await;
            let tried = ms(&attempts[n - 1]["attempted_at"]);
            let next = ms(&d["next_attempt_at"]);
            let waits = (next - tried) / 1000;
            assert!((wait_s - 2..=wait_s).contains(&waits), "attempt {n}: retried {waits} s later");
            assert_eq!(rx.count(), n, "no try before the instant Retry-After names");
            app.advance(Duration::from_secs(wait_s as u64));
        }
        assert_eq!(app.settled(ev).await[0]["state"], "succeeded");
        assert_eq!(rx.count(), 3);
    }

    async fn gone_disables_the_endpoint() {
        let app = spawn_app().await;
        let rx = Receiver::start(|_| Reply::status(410)).await;
        let ep = app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app.publish(json!({"type": "x.y", "payload": {}})).await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        assert_eq!(ds[0]["state"], "failed");
        assert_eq!(ds[0]["attempts"], 1, "410 is not retried");
        let ep = app
            .get(&format!("/v1/endpoints/{}", ep["id"].as_str().unwrap()))
            .await;
        assert_eq!(ep["disabled"], true);
        assert!(ep["disabled_reason"].as_str().unwrap().contains("410"));
        let ev2 = app.publish(json!({"type": "x.y", "payload": {}})).await;
        assert_eq!(ev2["deliveries"], 0, "a disabled endpoint gets nothing new");
        app.advance(Duration::from_secs(3600));
        app.until_idle().await;
        assert_eq!(rx.count(), 1);
    }

    async fn a_slow_endpoint_does_not_delay_a_healthy_one() {
        let app = spawn_app().await;
        let slow = Receiver::start(|_| Reply {
            status: 200,
            headers: vec![],
            delay: Duration::from_secs(3),
        })
        .await;
        let fast = Receiver::ok().await;
        app.create_endpoint(json!({"url": slow.url, "max_in_flight": 1, "timeout_ms": 10000}))
            .await;
        app.create_endpoint(json!({"url": fast.url})).await;
        let start = std::time::Instant::now();
        for i in 0..20 {
            app.publish(json!({"type": "t.x", "payload": {"i": i}})).await;
        }
        fast.wait_for(20).await;
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "healthy endpoint waited {:?}",
            start.elapsed()
        );
        assert_eq!(slow.count(), 1, "the slow endpoint's cap of 1 in flight holds");
    }

    async fn timeouts_are_recorded_and_retried() {
        let mut settings = test_settings();
        settings.retry_schedule = Some("50ms".into());
        let app = spawn_with(settings).await;
        let rx = Receiver::start(|n| Reply {
            status: 200,
            headers: vec![],
            delay: Duration::from_millis(if n == 0 { 2000 } else { 0 }),
        })
        .await;
        app.create_endpoint(json!({"url": rx.url, "timeout_ms": 200}))
            .await;
        let ev = app.publish(json!({"type": "t.x", "payload": {}})).await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        assert_eq!(ds[0]["state"], "succeeded");
        let attempts = app.attempts(ds[0]["id"].as_str().unwrap()).await;
        assert!(attempts[0]["status_code"].is_null());
        assert!(
            attempts[0]["error"].as_str().unwrap().contains("timed out"),
            "{}",
            attempts[0]
        );
        assert_eq!(attempts[1]["status_code"], 200);
    }

    async fn pending_work_survives_a_restart() {
        let mut settings = test_settings();
        settings.retry_schedule = Some("1s".into());
        let app = spawn_with(settings.clone()).await;
        let rx = Receiver::start(|n| Reply::status(if n == 0 { 500 } else { 200 })).await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let ev = app.publish(json!({"type": "t.x", "payload": {"k": "v"}})).await;
        rx.wait_for(1).await;
        // Stop while the retry is scheduled; the retry happens after the restart.
        let app = app.restart(settings).await;
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        assert_eq!(ds[0]["state"], "succeeded");
        assert_eq!(ds[0]["attempts"], 2);
        assert_eq!(rx.count(), 2);
    }

    async fn a_rate_limited_endpoint_is_paced() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url, "rate_limit_per_s": 10}))
            .await;
        for i in 0..6 {
            app.publish(json!({"type": "t.x", "payload": {"i": i}})).await;
        }
        let got = rx.wait_for(6).await;
        let span = got[5].at - got[0].at;
        assert!(
            span >= Duration::from_millis(450),
            "6 deliveries at 10/s took only {span:?}"
        );
        for pair in got.windows(2) {
            assert!(
                pair[1].at - pair[0].at >= Duration::from_millis(80),
                "{:?}",
                pair[1].at - pair[0].at
            );
        }
    }
}

fn ms(v: &Value) -> i64 {
    herald_server::domain::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

/// Waits until the event's one delivery has made `n` attempts.
async fn wait_for_attempts(app: &TestApp, event_id: &str, n: usize) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = app.deliveries(event_id).await.remove(0);
        if d["attempts"] == n && d["state"] == "pending" {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never reached {n} attempts: {d}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
