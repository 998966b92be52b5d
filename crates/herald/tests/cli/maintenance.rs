//! `herald migrate` and `herald rotate-key` as an operator runs them.

use super::*;

const OLD_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// Runs `herald` with the given variables (and no inherited sealing keys).
fn run_with(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .env_remove("HERALD_ENCRYPTION_KEY")
        .env_remove("HERALD_OLD_ENCRYPTION_KEYS")
        .env_remove("HERALD_STORE")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Stops a server with SIGTERM and waits for it.
fn stop(mut herald: Herald) {
    herald.signal("-TERM");
    herald.child.wait().unwrap();
}

#[tokio::test]
async fn migrate_then_rotate_key_reseals_and_the_old_key_can_go() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (code, out, err) = run_with(&["migrate", "--data-dir", data], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("up to date"), "{out}");

    let herald = Herald::spawn(
        dir.path(),
        &[],
        &[("HERALD_ENCRYPTION_KEY", OLD_KEY)],
        Stdio::null(),
    );
    herald.ready().await;
    let secret = "whsec_cm90YXRlLWtleS1jbGktdGVzdC0wMDAwMDAwMQ==";
    let (s, ep) = api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": "http://127.0.0.1:9/hook", "secret": secret})),
    )
    .await;
    assert_eq!(s, 201, "{ep}");
    let id = ep["id"].as_str().unwrap().to_string();
    stop(herald);

    let (code, _, err) = run_with(&["rotate-key", "--data-dir", data], &[]);
    assert_eq!(code, 2, "no key: refused");
    assert!(err.contains("HERALD_ENCRYPTION_KEY"), "{err}");
    let (code, _, err) = run_with(
        &["rotate-key", "--data-dir", data],
        &[("HERALD_ENCRYPTION_KEY", "c2hvcnQ=")],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("HERALD_ENCRYPTION_KEY") && err.contains("32 bytes"),
        "{err}"
    );
    let keys = [
        ("HERALD_ENCRYPTION_KEY", NEW_KEY),
        ("HERALD_OLD_ENCRYPTION_KEYS", OLD_KEY),
    ];
    let (code, out, err) = run_with(&["rotate-key", "--data-dir", data], &keys);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 endpoint"), "{out}");

    // Only the new key from now on: the secret still opens.
    let herald = Herald::spawn(
        dir.path(),
        &[],
        &[("HERALD_ENCRYPTION_KEY", NEW_KEY)],
        Stdio::null(),
    );
    herald.ready().await;
    let (s, shown) = api(
        &herald.base,
        reqwest::Method::GET,
        &format!("/v1/endpoints/{id}/secret"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["secret"], secret);
}
