//! Inbound sources: verify, refuse, de-duplicate, allowlist, log, and route to agents.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

pub(crate) fn mac(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn stripe_header(secret: &str, t: i64, body: &[u8]) -> String {
    let signed = [format!("{t}.").as_bytes(), body].concat();
    format!("t={t},v1={}", hex::encode(mac(secret.as_bytes(), &signed)))
}

pub(crate) async fn create_source(app: &TestApp, body: Value) -> Value {
    let (s, src) = app.call(Method::POST, "/v1/sources", Some(body)).await;
    assert_eq!(s, 201, "{src}");
    src
}

/// POSTs raw bytes to a source's receiver with the given headers.
pub(crate) async fn deliver_in(
    app: &TestApp,
    id: &str,
    body: &[u8],
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut req = app.http.post(format!("{}/in/{id}", app.base)).body(body.to_vec());
    for (n, v) in headers {
        req = req.header(*n, v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn request_log(app: &TestApp, id: &str) -> Vec<Value> {
    app.get(&format!("/v1/sources/{id}/requests")).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

const STRIPE_SECRET: &str = "whsec_test_stripe_secret_0123456789";
const STRIPE_BODY: &[u8] = br#"{
  "id": "evt_1PQ", "type": "payment_intent.succeeded",
  "data": {"object": {"id": "pi_1", "amount": 2000}}
}"#;

/// What a case is about, the body, and the headers to send.
type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, String)>);

/// Headers made by the provider's official Python library (`official_sign.py`), or `None`
/// when the libraries are not installed here (then CI must have them).
fn officially_signed(scheme: &str, secret: &str, body: &str) -> Option<Vec<(String, String)>> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks, stripe, slack_sdk"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install standardwebhooks, stripe and slack_sdk"
        );
        eprintln!("SKIPPED official-library signing: pip install standardwebhooks stripe slack_sdk");
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/official_sign.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let input = json!({"scheme": scheme, "secret": secret, "body": body}).to_string();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let headers: serde_json::Map<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        headers
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
            .collect(),
    )
}

store_tests! {
    async fn a_verified_stripe_request_becomes_an_event_delivered_to_the_agent() {
        let app = spawn_app().await;
        let agent = Receiver::ok().await;
        let ep = app
            .create_endpoint(json!({"url": agent.url, "event_types": ["stripe.payment_intent.*"]}))
            .await;
        let src = create_source(
            &app,
            json!({"name": "stripe-prod", "verify": {"scheme": "stripe", "secret": STRIPE_SECRET},
                   "event_type": "json:/type", "type_prefix": "stripe."}),
        )
        .await;
        let id = src["id"].as_str().unwrap();
        assert!(id.starts_with("src_"));
        assert_eq!(src["ingest_url"], format!("{}/in/{id}", app.base));
        assert!(
            !src.to_string().contains(STRIPE_SECRET),
            "the secret is never shown"
        );
        assert_eq!(src["verify"]["scheme"], "stripe");

        let sig = stripe_header(STRIPE_SECRET, now(), STRIPE_BODY);
        let (s, r) = deliver_in(
            &app,
            id,
            STRIPE_BODY,
            &[
                ("stripe-signature", sig),
                ("content-type", "application/json; charset=utf-8".into()),
            ],
        )
        .await;
        assert_eq!(s, 200, "{r}");
        let event_id = r["id"].as_str().unwrap();
        let got = agent.wait_for(1).await;
        assert_eq!(
            &got[0].body[..],
            STRIPE_BODY,
            "forwarded byte for byte, whitespace included"
        );
        assert_eq!(
            got[0].header("x-herald-event-type").unwrap(),
            "stripe.payment_intent.succeeded"
        );
        assert_eq!(
            got[0].header("content-type").unwrap(),
            "application/json; charset=utf-8"
        );
        let secret = ep["secret"].as_str().unwrap();
        let h = |n: &str| got[0].header(n).unwrap();
        let pairs = [
            ("webhook-id", h("webhook-id")),
            ("webhook-timestamp", h("webhook-timestamp")),
            ("webhook-signature", h("webhook-signature")),
        ];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert!(
            herald_signing::verify(&pairs, &got[0].body, &[secret], now()).is_ok(),
            "re-signed by herald"
        );

        let ev = app.get(&format!("/v1/events/{event_id}")).await;
        assert_eq!(ev["source_id"], id);
        assert_eq!(ev["headers"]["stripe-signature"], "[redacted]");
        let log = request_log(&app, id).await;
        assert_eq!(
            (log[0]["outcome"].as_str(), log[0]["event_id"].as_str()),
            (Some("accepted"), Some(event_id))
        );
    }

    async fn forged_stale_and_malformed_requests_are_refused_and_logged() {
        let app = spawn_app().await;
        let agent = Receiver::ok().await;
        app.create_endpoint(json!({"url": agent.url})).await;
        let src = create_source(
            &app,
            json!({"name": "s", "verify": {"scheme": "stripe", "secret": STRIPE_SECRET}}),
        )
        .await;
        let id = src["id"].as_str().unwrap();
        let t = now();
        let tampered =
            br#"{"id": "evt_1PQ", "type": "payment_intent.succeeded", "data": {"object": {"amount": 1}}}"#;
        let whitespace: Vec<u8> = STRIPE_BODY.iter().copied().filter(|b| *b != b'\n').collect();
        let good = stripe_header(STRIPE_SECRET, t, STRIPE_BODY);
        let cases: Vec<Case> = vec![
            (
                "tampered body",
                tampered.to_vec(),
                vec![("stripe-signature", good.clone())],
            ),
            (
                "whitespace-changed JSON",
                whitespace,
                vec![("stripe-signature", good.clone())],
            ),
            (
                "wrong secret",
                STRIPE_BODY.to_vec(),
                vec![("stripe-signature", stripe_header("whsec_other", t, STRIPE_BODY))],
            ),
            (
                "stale",
                STRIPE_BODY.to_vec(),
                vec![(
                    "stripe-signature",
                    stripe_header(STRIPE_SECRET, t - 600, STRIPE_BODY),
                )],
            ),
            ("missing header", STRIPE_BODY.to_vec(), vec![]),
            (
                "malformed header",
                STRIPE_BODY.to_vec(),
                vec![("stripe-signature", "garbage".into())],
            ),
            (
                "duplicated header",
                STRIPE_BODY.to_vec(),
                vec![
                    ("stripe-signature", good.clone()),
                    ("stripe-signature", good.clone()),
                ],
            ),
        ];
        for (what, body, headers) in &cases {
            let (s, r) = deliver_in(&app, id, body, headers).await;
            assert_eq!(s, 401, "{what}: {r}");
            assert_eq!(r["error"]["code"], "unauthorized", "{what}");
        }
        let log = request_log(&app, id).await;
        assert_eq!(log.len(), cases.len());
        assert!(log
            .iter()
            .all(|r| r["outcome"] == "rejected" && r["status"] == 401 && r["reason"].is_string()));
        assert!(
            log.iter()
                .any(|r| r["reason"].as_str().unwrap().contains("tolerance")),
            "{log:?}"
        );
        assert!(
            log[0]["body"].is_string(),
            "a refused body is kept for inspection"
        );
        assert_eq!(
            app.get("/v1/events").await["data"].as_array().unwrap().len(),
            0,
            "nothing stored"
        );
        app.until_idle().await;
        assert_eq!(agent.count(), 0);
    }

    async fn a_second_secret_is_accepted_during_rotation() {
        let app = spawn_app().await;
        let src = create_source(
            &app,
            json!({"name": "gh", "verify": {"scheme": "github", "secrets": ["old-secret", "new-secret"]}}),
        )
        .await;
        let id = src["id"].as_str().unwrap();
        for secret in ["old-secret", "new-secret"] {
            let body = format!(r#"{{"zen": "{secret}"}}"#);
            let sig = format!("sha256={}", hex::encode(mac(secret.as_bytes(), body.as_bytes())));
            let (s, r) = deliver_in(
                &app,
                id,
                body.as_bytes(),
                &[("x-hub-signature-256", sig), ("x-github-event", "ping".into())],
            )
            .await;
            assert_eq!(s, 200, "{secret}: {r}");
            assert_eq!(r["type"], "ping");
        }
    }

    async fn duplicates_inside_the_window_get_the_first_id_and_are_not_delivered_again() {
        let app = spawn_app().await;
        let agent = Receiver::ok().await;
        app.create_endpoint(json!({"url": agent.url})).await;
        let src = create_source(
            &app,
            json!({"name": "gh", "verify": {"scheme": "github", "secret": "s3cret"},
                   "dedupe": {"key": "header:X-GitHub-Delivery", "window_s": 1}, "type_prefix": "github."}),
        )
        .await;
        let id = src["id"].as_str().unwrap();
        let body = br#"{"action": "opened"}"#;
        let headers = vec![
            (
                "x-hub-signature-256",
                format!("sha256={}", hex::encode(mac(b"s3cret", body))),
            ),
            ("x-github-event", "pull_request".to_string()),
            (
                "x-github-delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_string(),
            ),
        ];
        let (s1, first) = deliver_in(&app, id, body, &headers).await;
        let (s2, again) = deliver_in(&app, id, body, &headers).await;
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(first["type"], "github.pull_request");
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["duplicate"], true);
        agent.wait_for(1).await;
        app.until_idle().await;
        assert_eq!(agent.count(), 1, "the duplicate was not delivered");
        app.advance(Duration::from_millis(1100));
        let (s3, later) = deliver_in(&app, id, body, &headers).await;
        assert_eq!(s3, 200);
        assert_ne!(later["id"], first["id"], "outside the window it is a new event");
        agent.wait_for(2).await;
        let outcomes: Vec<String> = request_log(&app, id)
            .await
            .iter()
            .map(|r| r["outcome"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(outcomes, ["accepted", "duplicate", "accepted"]);
    }

    async fn the_ip_allowlist_accepts_and_denies_ipv4_and_ipv6_senders() {
        let mut settings = test_settings();
        settings.trusted_proxies = Some(vec!["127.0.0.1/32".into()]);
        let app = spawn_with(settings).await;
        let mk = |ips: Value| json!({"name": "n", "verify": {"scheme": "none"}, "allow_ips": ips});
        let v4_deny = create_source(&app, mk(json!(["10.0.0.0/8"]))).await;
        let v4_allow = create_source(&app, mk(json!(["127.0.0.0/8"]))).await;
        let v6 = create_source(&app, mk(json!(["2001:db8::/32"]))).await;
        let id = |v: &Value| v["id"].as_str().unwrap().to_string();
        let (s, r) = deliver_in(&app, &id(&v4_deny), b"{}", &[]).await;
        assert_eq!((s, r["error"]["code"].as_str()), (403, Some("forbidden")));
        assert_eq!(deliver_in(&app, &id(&v4_allow), b"{}", &[]).await.0, 200);
        // Behind the trusted proxy (the test client on 127.0.0.1), the forwarded sender counts.
        let xff = |ip: &str| vec![("x-forwarded-for", format!("{ip}, 127.0.0.1"))];
        assert_eq!(
            deliver_in(&app, &id(&v6), b"{}", &xff("2001:db8::5")).await.0,
            200
        );
        assert_eq!(
            deliver_in(&app, &id(&v6), b"{}", &xff("2001:db9::1")).await.0,
            403
        );
        assert_eq!(
            deliver_in(&app, &id(&v4_allow), b"{}", &xff("192.0.2.1")).await.0,
            403
        );
        let log = request_log(&app, &id(&v6)).await;
        assert_eq!(log[0]["remote_ip"], "2001:db9::1");
        assert!(log[0]["reason"].as_str().unwrap().contains("allow_ips"));
    }

    async fn slack_url_verification_is_answered() {
        let app = spawn_app().await;
        let src = create_source(
            &app,
            json!({"name": "slack", "verify": {"scheme": "slack", "secret": "8f742231b10e8888abcd99yyyzzz85a5"}}),
        )
        .await;
        let body = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let t = now();
        let base = [format!("v0:{t}:").as_bytes(), body].concat();
        let sig = format!(
            "v0={}",
            hex::encode(mac(b"8f742231b10e8888abcd99yyyzzz85a5", &base))
        );
        let headers = [
            ("x-slack-signature", sig),
            ("x-slack-request-timestamp", t.to_string()),
        ];
        let (s, r) = deliver_in(&app, src["id"].as_str().unwrap(), body, &headers).await;
        assert_eq!(s, 200);
        assert_eq!(
            r["challenge"],
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        );
        assert_eq!(app.get("/v1/events").await["data"].as_array().unwrap().len(), 0);
    }

    async fn requests_signed_by_the_providers_own_libraries_are_accepted() {
        let app = spawn_app().await;
        let body = r#"{"type": "invoice.paid", "event": {"type": "message"}, "data": {"amount": 42}}"#;
        let cases = [
            (
                "standard",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "invoice.paid",
            ),
            ("stripe", "whsec_official_stripe_test", "invoice.paid"),
            ("slack", "8f742231b10e8888abcd99yyyzzz85a5", "message"),
        ];
        for (scheme, secret, want_type) in cases {
            let Some(headers) = officially_signed(scheme, secret, body) else {
                return;
            };
            let src = create_source(
                &app,
                json!({"name": scheme, "verify": {"scheme": scheme, "secret": secret}}),
            )
            .await;
            let id = src["id"].as_str().unwrap();
            let pairs: Vec<(&str, String)> = headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let (s, r) = deliver_in(&app, id, body.as_bytes(), &pairs).await;
            assert_eq!(s, 200, "{scheme}: {r}");
            assert_eq!(r["type"], want_type, "{scheme}");
            let (s, _) = deliver_in(&app, id, body.replace("42", "43").as_bytes(), &pairs).await;
            assert_eq!(s, 401, "{scheme}: tampered");
        }
    }
}
