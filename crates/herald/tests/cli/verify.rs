//! `herald verify` on every vector of the signing crate: each provider's own library signed
//! it, and the command must accept it as signed and refuse it with another secret.

use serde_json::Value;

use super::cli;

fn vectors() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../herald-signing/tests/vectors");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            all.extend(doc["vectors"].as_array().unwrap().iter().cloned());
        }
    }
    all
}

/// The command line that checks vector `v` with `secret`.
fn args(v: &Value, secret: &str) -> Vec<String> {
    let text = |k: &str| v[k].as_str().map(str::to_string);
    let mut args: Vec<String> = ["verify", "--scheme"].map(String::from).to_vec();
    args.push(text("scheme").unwrap());
    args.extend(["--secret".into(), secret.into()]);
    let now = v["timestamp"].as_i64().unwrap_or(1_700_000_000);
    args.extend(["--now".into(), now.to_string()]);
    for pair in v["headers"].as_array().unwrap() {
        args.extend([
            "-H".into(),
            format!("{}: {}", pair[0].as_str().unwrap(), pair[1].as_str().unwrap()),
        ]);
    }
    if let Some(url) = text("url") {
        args.extend(["--url".into(), url]);
    }
    if let Some(method) = text("method") {
        args.extend(["--method".into(), method]);
    }
    let hmac = &v["hmac"];
    for (flag, key) in [
        ("--sig-header", "header"),
        ("--algorithm", "algorithm"),
        ("--encoding", "encoding"),
        ("--prefix", "prefix"),
    ] {
        if let Some(value) = hmac[key].as_str() {
            args.extend([flag.into(), value.into()]);
        }
    }
    args
}

#[test]
fn verify_agrees_with_every_providers_library() {
    let all = vectors();
    let mut schemes = std::collections::BTreeSet::new();
    for v in &all {
        let name = v["name"].as_str().unwrap();
        let body = v["body"].as_str().unwrap().as_bytes();
        let good = args(v, v["secret"].as_str().unwrap());
        let refs: Vec<&str> = good.iter().map(String::as_str).collect();
        let (code, out, err) = cli(&refs, body);
        assert_eq!(
            (code, out.lines().next()),
            (0, Some("valid (secret #1)")),
            "{name}: {err}"
        );
        if v["handshake"].is_object() {
            let want = v["handshake"]["body"].as_str().unwrap();
            assert!(
                out.contains("handshake (") && out.trim_end().ends_with(want),
                "{name}: {out}"
            );
        }
        let bad = args(v, v["wrong_secret"].as_str().unwrap());
        let refs: Vec<&str> = bad.iter().map(String::as_str).collect();
        let (code, _, err) = cli(&refs, body);
        assert_eq!(code, 1, "{name}: accepted with the wrong secret");
        assert!(err.starts_with("invalid: "), "{name}: {err}");
        schemes.insert(v["scheme"].as_str().unwrap().to_string());
    }
    for preset in herald_signing::inbound::catalogue::PRESETS {
        if !["basic", "bearer", "none"].contains(&preset.name) {
            assert!(schemes.contains(preset.name), "no vector ran for {}", preset.name);
        }
    }
}
