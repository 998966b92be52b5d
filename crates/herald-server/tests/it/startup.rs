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

store_tests! {
    async fn the_store_refuses_a_delivery_state_herald_does_not_know() {
        let app = spawn_app().await;
        app.create_endpoint(json!({})).await;
        app.publish(json!({"type": "a.b", "payload": {}})).await;
        let sql = "UPDATE deliveries SET state = 'lost'";
        let refused = match &app.store {
            None => {
                let db = app.dir.path().join("data").join("herald.db");
                let script = "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\ntry:\n c.execute(sys.argv[2]); c.commit(); print('accepted')\nexcept sqlite3.DatabaseError as e: print('refused', e)";
                let out = std::process::Command::new("python3").args(["-c", script]).arg(&db).arg(sql).output().unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            Some(url) => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                match client.execute(sql, &[]).await {
                    Ok(_) => "accepted".into(),
                    Err(e) => format!("refused {e}"),
                }
            }
        };
        assert!(refused.starts_with("refused"), "{refused}");
        // Every state herald uses is accepted (the other tests move through all of them).
        for state in ["pending", "delivering", "succeeded", "failed", "skipped"] {
            assert_eq!(herald_server::domain::DeliveryState::parse(state).unwrap().as_str(), state);
        }
    }
}
