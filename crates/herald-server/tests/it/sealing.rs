//! Secrets sealed at rest: what the store holds is ciphertext, on both stores, and what
//! herald does with the secrets is unchanged.

use serde_json::json;

use crate::helpers::*;

pub const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const ENDPOINT_SECRET: &str = "whsec_c2VhbGVkLWF0LXJlc3QtdGVzdC1rZXktMDAwMDE=";
const HEADER_VALUE: &str = "header-credential-7f3a9c";
const SOURCE_SECRET: &str = "source-credential-5b8e21";
const BROKER_PASSWORD: &str = "broker-credential-2d94c7";

/// Everything the store holds about endpoints and sources, as text: the SQLite files
/// (database and write-ahead log) or the PostgreSQL rows.
pub async fn raw_store(app: &TestApp) -> String {
    match &app.store {
        None => {
            let dir = app.dir.path().join("data");
            let mut all = Vec::new();
            for name in ["herald.db", "herald.db-wal"] {
                if let Ok(bytes) = std::fs::read(dir.join(name)) {
                    all.extend(bytes);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Some(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let mut all = String::new();
            for sql in [
                "SELECT secrets || headers || coalesce(destination, '') FROM endpoints",
                "SELECT spec FROM sources",
            ] {
                for row in client.query(sql, &[]).await.unwrap() {
                    all.push_str(row.get::<_, &str>(0));
                }
            }
            all
        }
    }
}

async fn create_secrets(app: &TestApp, url: &str) -> (String, String) {
    let ep = app
        .create_endpoint(
            json!({"url": url, "secret": ENDPOINT_SECRET, "headers": {"x-api-token": HEADER_VALUE}}),
        )
        .await;
    let broker = format!("amqp://app:{BROKER_PASSWORD}@127.0.0.1:5672/%2f");
    app.create_endpoint(
        json!({"destination": {"kind": "amqp", "url": broker}, "event_types": ["never.sent"]}),
    )
    .await;
    let (status, source) = app
        .call(
            reqwest::Method::POST,
            "/v1/sources",
            Some(json!({"name": "gh", "verify": {"scheme": "github", "secret": SOURCE_SECRET}})),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    (
        ep["id"].as_str().unwrap().to_string(),
        source["id"].as_str().unwrap().to_string(),
    )
}

/// Publishes one event and checks the delivery carries the header and a signature made
/// with the endpoint's secret.
async fn delivers_signed(app: &TestApp, rx: &Receiver, n: usize) {
    app.publish(json!({"type": "sealed.test", "payload": {"n": n}}))
        .await;
    let got = rx.wait_for(n).await.pop().unwrap();
    assert_eq!(got.header("x-api-token").as_deref(), Some(HEADER_VALUE));
    let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
    let values: Vec<String> = names.iter().map(|h| got.header(h).unwrap()).collect();
    let headers: Vec<(&str, &str)> = names
        .iter()
        .copied()
        .zip(values.iter().map(String::as_str))
        .collect();
    let now: i64 = values[1].parse().unwrap();
    herald_signing::verify(&headers, &got.body, &[ENDPOINT_SECRET], now).expect("signed with the secret");
}

store_tests! {
    async fn secrets_are_sealed_in_the_store_and_still_sign_and_verify() {
        let mut settings = test_settings();
        settings.encryption_key = Some(KEY_A.into());
        let app = spawn_with(settings).await;
        let rx = Receiver::ok().await;
        let (ep, _) = create_secrets(&app, &rx.url).await;
        delivers_signed(&app, &rx, 1).await;
        let shown = app.get(&format!("/v1/endpoints/{ep}/secret")).await;
        assert_eq!(shown["secret"], ENDPOINT_SECRET);
        let raw = raw_store(&app).await;
        assert!(raw.contains("sealed:v1:"), "the store holds sealed values");
        for secret in [ENDPOINT_SECRET, HEADER_VALUE, SOURCE_SECRET, BROKER_PASSWORD] {
            assert!(!raw.contains(secret), "{secret} is in the store in clear");
        }
    }

    async fn without_a_key_secrets_are_in_clear_which_is_what_the_raw_check_would_catch() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        create_secrets(&app, &rx.url).await;
        let raw = raw_store(&app).await;
        for secret in [ENDPOINT_SECRET, HEADER_VALUE, SOURCE_SECRET, BROKER_PASSWORD] {
            assert!(raw.contains(secret), "{secret} is in clear without a key");
        }
    }

    async fn rotate_key_reseals_everything_under_the_new_key() {
        let mut settings = test_settings();
        settings.encryption_key = Some(KEY_A.into());
        let app = spawn_with(settings.clone()).await;
        let rx = Receiver::ok().await;
        create_secrets(&app, &rx.url).await;
        let before = raw_store(&app).await;
        let mut app = app;
        app.stop().await;

        let mut rotation = settings.clone();
        rotation.encryption_key = Some(KEY_B.into());
        rotation.old_encryption_keys = Some(vec![KEY_A.into()]);
        rotation.data_dir = Some(app.dir.path().join("data"));
        rotation.store = app.store.clone().map(Into::into);
        let config = herald_server::Config::from_settings(rotation).unwrap();
        assert_eq!(herald_server::rotate_key(&config).await.unwrap(), 3, "two endpoints and one source");
        assert_eq!(herald_server::rotate_key(&config).await.unwrap(), 0, "nothing left to re-seal");

        // The old key is no longer needed.
        let mut only_b = settings;
        only_b.encryption_key = Some(KEY_B.into());
        let app = app.restart(only_b).await;
        delivers_signed(&app, &rx, 1).await;
        let after = raw_store(&app).await;
        // Key ids of every sealed value in the text (the SQLite file may still hold old
        // pages with values sealed by the old key; what counts is that the new key is used).
        let ids = |text: &str| -> std::collections::HashSet<String> {
            text.split("sealed:v1:").skip(1).filter_map(|s| s.get(..8)).map(str::to_string).collect()
        };
        let (old_ids, new_ids) = (ids(&before), ids(&after));
        assert!(new_ids.difference(&old_ids).count() > 0, "sealed by another key: {old_ids:?} {new_ids:?}");
        for secret in [ENDPOINT_SECRET, HEADER_VALUE, SOURCE_SECRET, BROKER_PASSWORD] {
            assert!(!after.contains(secret), "{secret} is in the store in clear");
        }
    }

    async fn a_wrong_or_missing_key_is_refused_at_start_naming_the_variable() {
        let mut settings = test_settings();
        settings.encryption_key = Some(KEY_A.into());
        let mut app = spawn_with(settings).await;
        create_secrets(&app, "http://127.0.0.1:9/").await;
        app.stop().await;
        for key in [Some(KEY_B), None] {
            let mut settings = test_settings();
            settings.encryption_key = key.map(Into::into);
            settings.data_dir = Some(app.dir.path().join("data"));
            settings.store = app.store.clone().map(Into::into);
            let config = herald_server::Config::from_settings(settings).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let run = herald_server::run(config, listener, std::future::pending());
            let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), run).await;
            let error = outcome.expect("refused at once").expect_err("refused").to_string();
            assert!(error.contains("HERALD_ENCRYPTION_KEY"), "{key:?}: {error}");
        }
    }
}
