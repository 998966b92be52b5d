//! The provider catalogue, live: every vector of the signing crate (each signed by its
//! provider's own library) sent through `POST /in/{id}` of a source made with the preset's
//! defaults, at the vector's time; handshakes answered, forgeries refused; and
//! `GET /v1/source-presets`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inbound::{create_source, request_log};

fn vectors() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../herald-signing/tests/vectors");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            doc["vectors"].as_array().unwrap().clone()
        })
        .collect()
}

/// The source a user would create for vector `v`: the preset, its secret, and for the
/// presets that sign the URL the URL the provider was given.
fn source_body(v: &Value) -> Value {
    let mut verify = json!({"scheme": v["scheme"], "secret": v["secret"]});
    for key in ["header", "algorithm", "encoding", "prefix"] {
        if let Some(x) = v["hmac"][key].as_str() {
            verify[key] = x.into();
        }
    }
    if let Some(url) = v["url"].as_str() {
        verify["url"] = url.split('?').next().unwrap().into();
    }
    json!({"name": v["name"], "verify": verify})
}

/// Sends vector `v`'s request (with `body`) to source `id`: status, content type, body
/// (and the event id herald answers with in `x-herald-event-id`, as the content type's
/// suffix after a space, when there is one).
async fn send(app: &TestApp, id: &str, v: &Value, body: &[u8]) -> (u16, String, String) {
    let query = v["url"]
        .as_str()
        .and_then(|u| u.split_once('?'))
        .map(|(_, q)| format!("?{q}"));
    let url = format!("{}/in/{id}{}", app.base, query.unwrap_or_default());
    let method = Method::from_bytes(v["method"].as_str().unwrap_or("POST").as_bytes()).unwrap();
    let mut req = app.http.request(method, url).body(body.to_vec());
    for pair in v["headers"].as_array().unwrap() {
        let name = pair[0].as_str().unwrap();
        if !["host", "content-length"].contains(&name.to_ascii_lowercase().as_str()) {
            req = req.header(name, pair[1].as_str().unwrap());
        }
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let header = |name: &str| r.headers().get(name).map(|h| h.to_str().unwrap().to_string());
    let mut content_type = header("content-type").unwrap_or_default();
    if let Some(event) = header("x-herald-event-id") {
        content_type = format!("{content_type} {event}");
    }
    (status, content_type, r.text().await.unwrap())
}

store_tests! {
    async fn every_preset_verifies_live_with_its_defaults() {
        let app = spawn_app().await;
        let presets = app.get("/v1/source-presets").await;
        let mut seen = std::collections::BTreeSet::new();
        for v in vectors() {
            let name = v["name"].as_str().unwrap();
            let scheme = v["scheme"].as_str().unwrap();
            let preset = presets["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == scheme)
                .unwrap_or_else(|| panic!("{scheme} is not listed"));
            app.set_now(v["timestamp"].as_i64().unwrap_or(1_700_000_000) * 1000);
            let src = create_source(&app, source_body(&v)).await;
            let id = src["id"].as_str().unwrap();
            assert_eq!(src["event_type"], preset["defaults"]["event_type"], "{name}");
            assert_eq!(src["type_prefix"], preset["defaults"]["type_prefix"], "{name}");
            let body = v["body"].as_str().unwrap().as_bytes();
            let (status, content_type, answer) = send(&app, id, &v, body).await;
            assert_eq!(status, 200, "{name}: {answer}");
            if let Some(reply) = v["handshake"].as_object() {
                assert_eq!(answer, reply["body"].as_str().unwrap(), "{name}");
                assert!(content_type.starts_with(reply["content_type"].as_str().unwrap()), "{name}: {content_type}");
                let log = request_log(&app, id).await;
                assert_eq!(log[0]["outcome"], "challenge", "{name}");
            } else {
                let event_id = content_type.rsplit(' ').next().unwrap();
                assert!(event_id.starts_with("evt_"), "{name}: {content_type}");
                let answer: Value = serde_json::from_str(&answer).unwrap();
                if scheme == "discord" {
                    // Discord needs an interaction response: deferred, the agent answers later.
                    assert!([5, 6, 8].contains(&answer["type"].as_i64().unwrap()), "{name}: {answer}");
                } else {
                    assert_eq!(answer["id"], event_id, "{name}");
                }
                let event = app.get(&format!("/v1/events/{event_id}")).await;
                let prefix = preset["defaults"]["type_prefix"].as_str().unwrap_or("");
                assert!(event["type"].as_str().unwrap().starts_with(prefix), "{name}: {event}");
                assert_eq!(event["source_id"], id, "{name}");
            }
            if preset["secret_kind"] != "credentials" && scheme != "mailgun" {
                let mut forged = body.to_vec();
                forged.push(b' ');
                let (status, _, answer) = send(&app, id, &v, &forged).await;
                assert_eq!(status, 401, "{name}: a changed body was accepted: {answer}");
            }
            seen.insert(scheme.to_string());
        }
        for p in presets["data"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            assert!(
                ["basic", "bearer", "none"].contains(&name) || seen.contains(name),
                "no live request for {name}"
            );
        }
    }

    async fn the_preset_list_says_what_each_scheme_checks_and_needs() {
        let app = spawn_app().await;
        let (s, list) = app.call(Method::GET, "/v1/source-presets", None).await;
        assert_eq!(s, 200, "{list}");
        let by_name = |n: &str| list["data"].as_array().unwrap().iter().find(|p| p["name"] == n).cloned().unwrap();
        let twilio = by_name("twilio");
        assert_eq!(twilio["needs_public_url"], true);
        assert_eq!(twilio["signature_headers"], json!(["x-twilio-signature"]));
        let discord = by_name("discord");
        assert_eq!(discord["secret_kind"], "public_key");
        assert_eq!(discord["handshake"], "discord PING");
        assert_eq!(by_name("stripe")["timestamp"], json!({"checked": "age_only", "tolerance_s": 300}));
        assert_eq!(by_name("github")["defaults"]["dedupe"]["key"], "header:x-github-delivery");
        assert_eq!(by_name("hmac")["settings"], json!(["header", "algorithm", "encoding", "prefix"]));
        for family in ["standard", "svix", "clerk", "resend", "openai"] {
            assert_eq!(by_name(family)["signature_headers"], json!(["webhook-signature", "svix-signature"]));
        }
        let (s, _) = app.call_as("not-a-key", Method::GET, "/v1/source-presets", None).await;
        assert_eq!(s, 401);
    }

    async fn meta_subscription_checks_need_the_verify_token_which_is_never_shown() {
        let app = spawn_app().await;
        let (s, e) = app
            .call(Method::POST, "/v1/sources", Some(json!({"name": "gh", "verify": {"scheme": "github", "secret": "x", "verify_token": "t"}})))
            .await;
        assert_eq!(s, 422, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().starts_with("verify.verify_token:"), "{e}");
        let src = create_source(
            &app,
            json!({"name": "wa", "verify": {"scheme": "meta", "secret": "app-secret", "verify_token": "meta-token-1"}}),
        )
        .await;
        assert_eq!(src["verify"]["verify_token_set"], true);
        assert!(!src.to_string().contains("meta-token-1"), "{src}");
        let id = src["id"].as_str().unwrap();
        let get = |q: &str| {
            let url = format!("{}/in/{id}?{q}", app.base);
            let http = app.http.clone();
            async move {
                let r = http.get(url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let ok = get("hub.mode=subscribe&hub.verify_token=meta-token-1&hub.challenge=1158201444").await;
        assert_eq!(ok, (200, "1158201444".to_string()));
        let (s, body) = get("hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1").await;
        assert_eq!(s, 403, "{body}");
        assert!(!body.contains("meta-token-1"));
        let log = request_log(&app, id).await;
        assert_eq!((log[0]["outcome"].as_str(), log[1]["outcome"].as_str()), (Some("rejected"), Some("challenge")));
        // Another scheme's source does not answer GET.
        let gh = create_source(&app, json!({"name": "gh", "verify": {"scheme": "github", "secret": "x"}})).await;
        let r = app.http.get(format!("{}/in/{}?hub.mode=subscribe", app.base, gh["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405);
        // A source with a token of its own does not take its secret as the token.
        let (s, _) = get("hub.mode=subscribe&hub.verify_token=app-secret&hub.challenge=1").await;
        assert_eq!(s, 403);
        // Without a token, the source's secret is the token; anything else is refused, saying why.
        let bare = create_source(&app, json!({"name": "m", "verify": {"scheme": "meta", "secret": "s3cret"}})).await;
        assert_eq!(bare["verify"]["verify_token_set"], false);
        let bare_get = |q: &str| {
            let url = format!("{}/in/{}?{q}", app.base, bare["id"].as_str().unwrap());
            let http = app.http.clone();
            async move {
                let r = http.get(url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(bare_get("hub.mode=subscribe&hub.verify_token=s3cret&hub.challenge=77").await, (200, "77".to_string()));
        let (s, body) = bare_get("hub.mode=subscribe&hub.verify_token=&hub.challenge=1").await;
        assert_eq!(s, 403);
        assert!(body.contains("verify_token") && !body.contains("s3cret"), "{body}");
    }

    async fn preset_defaults_can_be_overridden_or_cleared() {
        let app = spawn_app().await;
        let secret = "It's a Secret to Everybody";
        let defaults = create_source(&app, json!({"name": "gh", "verify": {"scheme": "github", "secret": secret}})).await;
        assert_eq!(
            defaults["dedupe"],
            json!({"key": "header:x-github-delivery", "window_s": 86400, "retries_only": true})
        );
        assert_eq!(defaults["event_type"], "header:x-github-event");
        assert_eq!(defaults["type_prefix"], Value::Null);
        let cleared = create_source(
            &app,
            json!({"name": "gh2", "verify": {"scheme": "twitch", "secret": "0123456789"}, "dedupe": null, "type_prefix": null, "event_type": "const:x"}),
        )
        .await;
        assert_eq!((cleared["dedupe"].clone(), cleared["type_prefix"].clone(), cleared["event_type"].clone()), (Value::Null, Value::Null, json!("const:x")));
        let strict = create_source(
            &app,
            json!({"name": "gh3", "verify": {"scheme": "github", "secret": secret}, "dedupe": {"key": "header:x-github-delivery"}}),
        )
        .await;
        assert_eq!(strict["dedupe"], json!({"key": "header:x-github-delivery", "window_s": 86400}));
        // GitHub's published example, without a delivery id: the default accepts it (not
        // de-duplicated), the strict rule refuses it; with one, the default de-duplicates.
        let body = b"Hello, World!";
        let sig = ("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_string());
        let (s, r) = crate::inbound::deliver_in(&app, defaults["id"].as_str().unwrap(), body, std::slice::from_ref(&sig)).await;
        assert_eq!((s, r["duplicate"].clone()), (200, json!(false)), "{r}");
        let (s, _) = crate::inbound::deliver_in(&app, strict["id"].as_str().unwrap(), body, std::slice::from_ref(&sig)).await;
        assert_eq!(s, 400);
        let with_id = [sig, ("X-GitHub-Delivery", "d-1".to_string()), ("X-GitHub-Event", "push".to_string())];
        let (_, first) = crate::inbound::deliver_in(&app, defaults["id"].as_str().unwrap(), body, &with_id).await;
        let (s, again) = crate::inbound::deliver_in(&app, defaults["id"].as_str().unwrap(), body, &with_id).await;
        assert_eq!((s, again["duplicate"].clone(), again["id"].clone()), (200, json!(true), first["id"].clone()));
        assert_eq!(first["type"], "push");
        // The same id with another body is not a retry: a new event.
        let other = b"Hello, again!";
        let other_sig = format!("sha256={}", hex::encode(crate::inbound::mac(secret.as_bytes(), other)));
        let reused = [
            ("X-Hub-Signature-256", other_sig),
            ("X-GitHub-Delivery", "d-1".to_string()),
            ("X-GitHub-Event", "push".to_string()),
        ];
        let (s, third) = crate::inbound::deliver_in(&app, defaults["id"].as_str().unwrap(), other, &reused).await;
        assert_eq!((s, third["duplicate"].clone()), (200, json!(false)), "{third}");
        assert_ne!(third["id"], first["id"]);
    }
}
