//! Asymmetric outbound signing (Standard Webhooks `v1a`): deliveries signed with Ed25519,
//! receivers given only the public key, checked by an independent Ed25519 (PyNaCl) and by
//! herald-signing's own receiver; rotation signs with both keys during the grace.

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Verifies one `v1a` entry with PyNaCl, an Ed25519 independent of herald's (`ring`).
/// PyNaCl's verdict on a v1a entry; `None` (and SKIPPED on stderr) when PyNaCl is missing
/// outside CI.
fn pynacl_verifies(public: &str, id: &str, ts: &str, body: &[u8], entry: &str) -> Option<bool> {
    let script = r#"
import base64, json, sys
from nacl.signing import VerifyKey
from nacl.exceptions import BadSignatureError
d = json.load(sys.stdin)
key = VerifyKey(base64.b64decode(d["public"][len("whpk_"):]))
signed = (d["id"] + "." + d["ts"] + ".").encode() + base64.b64decode(d["body"])
try:
    key.verify(signed, base64.b64decode(d["sig"]))
    print("verified")
except BadSignatureError:
    print("refused")
"#;
    let sig = entry.strip_prefix("v1a,").expect("a v1a entry");
    let input = json!({"public": public, "id": id, "ts": ts, "body": B64.encode(body), "sig": sig});
    let probe = std::process::Command::new("python3")
        .args(["-c", "import nacl"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        assert!(std::env::var("CI").is_err(), "CI must install PyNaCl");
        eprintln!("SKIPPED the PyNaCl cross-check: `pip install pynacl` to run it");
        return None;
    }
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
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
    match String::from_utf8_lossy(&out.stdout).trim() {
        "verified" => Some(true),
        "refused" => Some(false),
        other => panic!("PyNaCl said {other:?}"),
    }
}

fn verified_by_herald(public: &str, r: &Received, sig: &str) -> bool {
    let (id, ts) = (
        r.header("webhook-id").unwrap(),
        r.header("webhook-timestamp").unwrap(),
    );
    let headers = [
        ("webhook-id", id.as_str()),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", sig),
    ];
    let req = herald_signing::InboundRequest::post(&headers, &r.body);
    let now = ts.parse().unwrap();
    herald_signing::verify_inbound(&herald_signing::Scheme::STANDARD, &[public], &req, now, 300).is_ok()
}

fn no_signing_key_in(v: &Value) {
    assert!(!v.to_string().contains("whsk_"), "a signing key was shown: {v}");
}

store_tests! {
    async fn v1a_endpoints_sign_with_ed25519_and_show_only_the_public_key() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app.create_endpoint(json!({"url": rx.url, "signature": "v1a"})).await;
        no_signing_key_in(&ep);
        let id = ep["id"].as_str().unwrap().to_string();
        let public = ep["secret"].as_str().unwrap().to_string();
        assert!(public.starts_with("whpk_"), "{ep}");
        assert_eq!(ep["signature"], "v1a");
        assert_eq!(app.get(&format!("/v1/endpoints/{id}/secret")).await["secret"], public);
        no_signing_key_in(&app.get(&format!("/v1/endpoints/{id}")).await);
        no_signing_key_in(&app.get("/v1/endpoints").await);

        app.publish(json!({"type": "ticket.created", "payload": {"subject": "caf\u{e9}"}})).await;
        let r = rx.wait_for(1).await[0].clone();
        let sig = r.header("webhook-signature").unwrap();
        assert!(sig.starts_with("v1a,") && !sig.contains(' '), "{sig}");
        let (mid, ts) = (r.header("webhook-id").unwrap(), r.header("webhook-timestamp").unwrap());
        if let Some(verified) = pynacl_verifies(&public, &mid, &ts, &r.body, &sig) {
            assert!(verified, "PyNaCl refused herald's v1a signature");
            let changed = pynacl_verifies(&public, &mid, &ts, b"{}", &sig);
            assert_eq!(changed, Some(false), "PyNaCl accepted a changed body");
        }
        assert!(verified_by_herald(&public, &r, &sig));

        // Rotation: the new key signs at once, the old one until the grace ends.
        let (s, rot) = app
            .call(Method::POST, &format!("/v1/endpoints/{id}/secret/rotate"), Some(json!({"grace_period_s": 3600})))
            .await;
        assert_eq!(s, 200, "{rot}");
        no_signing_key_in(&rot);
        let new_public = rot["secret"].as_str().unwrap().to_string();
        assert!(new_public.starts_with("whpk_") && new_public != public);
        app.publish(json!({"type": "ticket.created", "payload": {"n": 2}})).await;
        let r = rx.wait_for(2).await[1].clone();
        let sig = r.header("webhook-signature").unwrap();
        let entries: Vec<&str> = sig.split(' ').collect();
        assert_eq!(entries.len(), 2, "{sig}");
        assert!(verified_by_herald(&new_public, &r, entries[0]) && verified_by_herald(&public, &r, entries[1]));
        assert!(!verified_by_herald(&public, &r, entries[0]));
        let (mid, ts) = (r.header("webhook-id").unwrap(), r.header("webhook-timestamp").unwrap());
        assert_ne!(pynacl_verifies(&new_public, &mid, &ts, &r.body, entries[0]), Some(false));
        app.advance(std::time::Duration::from_secs(3601));
        app.publish(json!({"type": "ticket.created", "payload": {"n": 3}})).await;
        let r = rx.wait_for(3).await[2].clone();
        let sig = r.header("webhook-signature").unwrap();
        assert!(!sig.contains(' ') && verified_by_herald(&new_public, &r, &sig), "{sig}");
    }

    async fn a_given_v1a_key_is_checked_and_only_its_public_half_shown() {
        let app = spawn_app().await;
        // RFC 8032 7.1 test 1.
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
        let public = hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap();
        let ep = app
            .create_endpoint(json!({"url": "http://127.0.0.1:9/x", "signature": "v1a", "secret": format!("whsk_{}", B64.encode(&seed))}))
            .await;
        assert_eq!(ep["secret"], format!("whpk_{}", B64.encode(&public)));
        for bad in ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsk_AAAA", "whpk_AAAA"] {
            let (s, e) = app
                .call(Method::POST, "/v1/endpoints", Some(json!({"url": "http://127.0.0.1:9/x", "signature": "v1a", "secret": bad})))
                .await;
            assert_eq!(s, 422, "{bad}: {e}");
            assert!(e["error"]["message"].as_str().unwrap().contains("whsk_"), "{e}");
        }
        let (s, e) = app
            .call(Method::POST, "/v1/endpoints", Some(json!({"url": "http://127.0.0.1:9/x", "signature": "v2"})))
            .await;
        assert_eq!(s, 422);
        assert!(e["error"]["message"].as_str().unwrap().contains("v1a"), "{e}");
    }
}
