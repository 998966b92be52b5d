//! The CLI commands over the API: listen, verify, send, events, deliveries, replay; and logs.

use super::*;

#[tokio::test]
async fn listen_forwards_signed_bodies_retries_local_failures_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (url, got) = local_handler().await;
    let args = [
        "listen",
        "--forward-to",
        &url,
        "--events",
        "ticket.*",
        "--server",
        &herald.base,
        "--key",
        KEY,
    ];
    let mut listen = Running::start(&args);
    let created = listen.line_with("Created pull endpoint").await;
    let endpoint = created.split_whitespace().nth(3).unwrap().to_string();
    let secret_line = listen.line_with("whsec_").await;
    let secret = secret_line
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap()
        .to_string();

    let raw = r#"{"event":"ticket.created",  "data":{"ticket_id":"TKT-2026-05-11-001"}}"#;
    let body = format!(r#"{{"type":"ticket.created","payload":{raw}}}"#);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/events", herald.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    listen.line_with("→ 500").await;
    listen.line_with("→ 200").await;
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2, "the local 500 was retried");
        let (body, headers) = &got[1];
        assert_eq!(std::str::from_utf8(body).unwrap(), raw, "byte for byte");
        let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
        let (id, ts, sig) = (h("webhook-id"), h("webhook-timestamp"), h("webhook-signature"));
        let pairs = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", sig.as_str()),
        ];
        assert!(herald_signing::verify(&pairs, body, &[&secret], ts.parse().unwrap()).is_ok());
    }
    // Offline: events published now wait in the pull endpoint.
    listen.child.kill().await.unwrap();
    let offline = json!({"type": "ticket.closed", "payload": {"missed": true}});
    let (s, _) = api(&herald.base, reqwest::Method::POST, "/v1/events", Some(offline)).await;
    assert_eq!(s, 202);
    let args = [
        "listen",
        "--forward-to",
        &url,
        "--endpoint",
        &endpoint,
        "--server",
        &herald.base,
        "--key",
        KEY,
    ];
    let back = Running::start(&args);
    back.line_with("ticket.closed").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got.lock().unwrap()[2].0, br#"{"missed":true}"#);
}

#[test]
fn verify_accepts_valid_and_refuses_tampered_input() {
    let body = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
    let header = format!(
        "Stripe-Signature: {}",
        stripe_sig("whsec_abc", 1_700_000_000, body)
    );
    let args = [
        "verify",
        "--scheme",
        "stripe",
        "--secret",
        "whsec_abc",
        "-H",
        &header,
        "--now",
        "1700000010",
    ];
    let (code, out, _) = cli(&args, body);
    assert_eq!((code, out.trim()), (0, "valid (secret #1)"));
    let (code, out, _) = cli(&args, br#"{"id":"evt_1","type":"charge.refunded"}"#);
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: "), "{out}");
    let stale = [
        "verify",
        "--scheme",
        "stripe",
        "--secret",
        "whsec_abc",
        "-H",
        &header,
        "--now",
        "1700001000",
    ];
    let (code, out, _) = cli(&stale, body);
    assert_eq!(code, 1);
    assert!(out.contains("tolerance"), "{out}");
    let (code, _, err) = cli(&["verify", "--scheme", "carrier-pigeon", "--secret", "x"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("verify.scheme"), "{err}");
}

#[tokio::test]
async fn send_events_deliveries_and_replay_work_and_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (url, seen) = receiver(Duration::ZERO).await;
    api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url})),
    )
    .await;
    let base = herald.base.clone();
    let (code, out, err) = cli(
        &[
            "send",
            "ticket.created",
            "--data",
            r#"{"n": 1}"#,
            "--server",
            &base,
            "--key",
            KEY,
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let id = out.split_whitespace().next().unwrap().to_string();
    assert!(id.starts_with("evt_") && out.contains("1 deliveries"), "{out}");
    let (code, out, _) = cli(
        &[
            "send",
            "ticket.created",
            "--data",
            "@-",
            "--server",
            &base,
            "--key",
            KEY,
        ],
        br#"{"n":   2, "a": 1}"#,
    );
    assert_eq!(code, 0, "{out}");
    let sent = out.split_whitespace().next().unwrap().to_string();
    let raw = reqwest::Client::new()
        .get(format!("{base}/v1/events/{sent}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains(r#""payload":{"n":   2, "a": 1}"#),
        "sent as written: {raw}"
    );
    let (code, out, _) = cli(&["events", "--server", &base, "--key", KEY], b"");
    assert_eq!(code, 0);
    assert!(
        out.starts_with("CREATED") && out.contains(&id) && out.contains("ticket.created"),
        "{out}"
    );
    let (code, out, _) = cli(&["deliveries", &id, "--server", &base, "--key", KEY], b"");
    assert_eq!(code, 0);
    assert!(out.contains("dlv_"), "{out}");
    let (code, out, _) = cli(&["replay", &id, "--server", &base, "--key", KEY], b"");
    assert_eq!((code, out.contains("1 new deliveries")), (0, true), "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().iter().filter(|s| **s == id).count() < 2 {
        assert!(Instant::now() < deadline, "the replay did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (code, _, err) = cli(&["events", "--server", &base, "--key", "wrong-key"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("refused the API key"), "{err}");
    let (code, _, err) = cli(&["events", "--server", "http://127.0.0.1:9", "--key", KEY], b"");
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach herald at http://127.0.0.1:9"), "{err}");
    let (code, _, err) = cli(&["events", "--server", &base], b"");
    assert_eq!(code, 2);
    assert!(err.contains("no API key"), "{err}");
    let (code, _, err) = cli(
        &["send", "a.b", "--data", "{nope", "--server", &base, "--key", KEY],
        b"",
    );
    assert_eq!(code, 2);
    assert!(err.contains("not valid JSON"), "{err}");
}

#[tokio::test]
async fn logs_at_trace_level_carry_no_secret_key_signature_or_payload() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let stderr = Stdio::from(std::fs::File::create(&log_path).unwrap());
    let mut herald = Herald::spawn(&dir.path().join("data"), &[], &[("RUST_LOG", "trace")], stderr);
    herald.ready().await;
    let base = herald.base.clone();
    let (url, seen) = receiver(Duration::ZERO).await;
    let secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
    let (s, _) = api(
        &base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url, "secret": secret})),
    )
    .await;
    assert_eq!(s, 201);
    let payload = json!({"card": "PAYLOAD-MARKER-4242"});
    let (s, ev) = api(
        &base,
        reqwest::Method::POST,
        "/v1/events",
        Some(json!({"type": "a.b", "payload": payload})),
    )
    .await;
    assert_eq!(s, 202);
    let (_, src) = api(
        &base,
        reqwest::Method::POST,
        "/v1/sources",
        Some(json!({"name": "s", "verify": {"scheme": "bearer", "secret": "SOURCE-TOKEN-MARKER"}})),
    )
    .await;
    let sid = src["id"].as_str().unwrap();
    let http = reqwest::Client::new();
    for token in ["SOURCE-TOKEN-MARKER", "WRONG-TOKEN-MARKER"] {
        http.post(format!("{base}/in/{sid}"))
            .bearer_auth(token)
            .body("INBOUND-BODY-MARKER")
            .send()
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen
        .lock()
        .unwrap()
        .contains(&ev["id"].as_str().unwrap().to_string())
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    herald.child.kill().unwrap();
    herald.child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.len() > 1000, "trace logging was on");
    for needle in [
        KEY,
        secret,
        "PAYLOAD-MARKER",
        "SOURCE-TOKEN-MARKER",
        "WRONG-TOKEN-MARKER",
        "INBOUND-BODY-MARKER",
        "v1,",
    ] {
        assert!(!log.contains(needle), "the log contains {needle:?}");
    }
}
