//! What herald checks before it says ready: the embedded store's consistency and its
//! files' modes, that the store can still write, and (in `sealing`) the sealing key.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Starts herald on `settings` and expects it to refuse: the error's text.
async fn refuses_to_start(settings: herald_server::Settings) -> String {
    let config = herald_server::Config::from_settings(settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let run = herald_server::run(config, listener, std::future::pending());
    match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(())) => panic!("herald started and stopped instead of refusing"),
        Err(_) => panic!("herald started instead of refusing"),
    }
}

#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    let app = spawn_app().await;
    app.create_endpoint(json!({"url": "http://127.0.0.1:9/"})).await;
    let data = app.dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    for file in ["herald.db", "herald.db-wal", "herald.db-shm", "herald.lock"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn a_corrupted_store_is_refused_at_start() {
    let mut app = spawn_app().await;
    for n in 0..50 {
        app.publish(json!({"type": "a.b", "payload": {"n": n, "pad": "x".repeat(500)}}))
            .await;
    }
    app.stop().await;
    let data = app.dir.path().join("data");
    let db = data.join("herald.db");
    // Fold the log into the file (another process, as an operator's tool would), then
    // damage every page after the first.
    let script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchall(); c.close()";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "the file holds pages to damage");
    for b in bytes[4096..].iter_mut().step_by(7) {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let mut settings = test_settings();
    settings.data_dir = Some(data);
    let error = refuses_to_start(settings).await;
    assert!(
        error.contains("herald.db") || error.contains("damaged"),
        "{error}"
    );
    assert!(error.contains("backup"), "says what to do: {error}");
}

#[tokio::test]
async fn readyz_reports_a_store_that_cannot_write() {
    let app = spawn_app().await;
    let ready = || async {
        app.http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);
    // Another process breaks the table the readiness write goes to.
    let db = app.dir.path().join("data").join("herald.db");
    let out = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP TABLE readiness'); c.commit()"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ready().await, 503, "a store whose write fails is not ready");
}

/// PostgreSQL checks a delivery's state in the schema (a CHECK constraint). The embedded
/// store does not: a CHECK or a trigger there doubled the cost of each delivery row write
/// in a measurement (docs/benchmarks.md), and the state is written from one enum only.
#[tokio::test]
#[cfg_attr(
    not(herald_pg),
    ignore = "no PostgreSQL: set DATABASE_URL or start one on 127.0.0.1:5432"
)]
async fn postgres_refuses_a_delivery_state_herald_does_not_know() {
    let mut settings = test_settings();
    settings.store = Some(fresh_pg_store().await.into());
    let app = spawn_with(settings).await;
    app.create_endpoint(json!({})).await;
    app.publish(json!({"type": "a.b", "payload": {}})).await;
    let url = app.store.clone().expect("a PostgreSQL store");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let refused = client.execute("UPDATE deliveries SET state = 'lost'", &[]).await;
    assert!(refused.is_err(), "the CHECK constraint refuses it");
    let kept = client
        .execute("UPDATE deliveries SET state = 'pending'", &[])
        .await;
    assert_eq!(kept.unwrap(), 1, "a state herald uses is accepted");
}
