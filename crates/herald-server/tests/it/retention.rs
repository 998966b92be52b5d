//! Retention by time partition (PostgreSQL) beside row-by-row retention (both stores): a span
//! of time past retention goes whole, a span still owed something stays (what it owes is
//! kept, the rest of it is deleted row by row) and goes once it is settled.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// This test's clock runs this far ahead of every other test's, so the ids it makes (which
/// carry the time) land in partitions made for it.
const AHEAD: Duration = Duration::from_secs(40 * 86_400);

/// On PostgreSQL, a connection to the app's schema.
async fn pg(app: &TestApp) -> Option<tokio_postgres::Client> {
    let url = app.store.as_ref()?;
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    Some(client)
}

/// The start of the span holding `at`, once the sweep has made it (PostgreSQL only).
async fn span_made(db: &tokio_postgres::Client, at: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = db
            .query_opt(
                "SELECT starts FROM time_partitions WHERE starts <= $1 AND ends > $1",
                &[&at],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(Instant::now() < deadline, "no partition was made for {at}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn table_exists(db: &tokio_postgres::Client, name: &str) -> bool {
    db.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .unwrap()
        .get(0)
}

async fn rows_in(db: &tokio_postgres::Client, table: &str) -> i64 {
    db.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

async fn until_gone(app: &TestApp, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.call(Method::GET, path, None).await.0 != 404 {
        assert!(Instant::now() < deadline, "{path} was never deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pull_all(app: &TestApp, ep: &str) -> Vec<Value> {
    let (s, r) = app
        .call(Method::POST, &format!("/v1/endpoints/{ep}/poll"), Some(json!({})))
        .await;
    assert_eq!(s, 200, "{r}");
    r["data"].as_array().unwrap().clone()
}

store_tests! {
    async fn a_span_past_retention_goes_whole_and_one_still_owed_stays_until_settled() {
        let mut settings = test_settings();
        settings.retention = Some("1h".into());
        let app = spawn_with(settings).await;
        let db = pg(&app).await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url, "event_types": ["pushed.*"]}))
            .await;
        let pull = app.create_endpoint(json!({"event_types": ["pulled.*"]})).await;
        let pull = pull["id"].as_str().unwrap();

        // The sweep makes partitions two spans (hours) ahead; two hours on, one holds this.
        app.advance(AHEAD);
        let two_hours = Duration::from_secs(2 * 3600);
        let span = match &db {
            Some(db) => Some(span_made(db, app.clock.now_ms() + two_hours.as_millis() as i64).await),
            None => None,
        };
        app.advance(two_hours);
        let settled = app.publish(json!({"type": "pushed.x", "payload": {"n": 1}})).await;
        let settled = settled["id"].as_str().unwrap().to_string();
        let delivered = app.settled(&settled).await;
        let delivery = delivered[0]["id"].as_str().unwrap().to_string();
        let owed = app.publish(json!({"type": "pulled.x", "payload": {"owed": true}})).await;
        let owed = owed["id"].as_str().unwrap().to_string();
        if let (Some(db), Some(span)) = (&db, span) {
            assert_eq!(rows_in(db, &format!("events_p{span}")).await, 2, "both events are in the span");
            assert_eq!(rows_in(db, &format!("attempts_p{span}")).await, 1);
        }

        // Past retention: the span owes the pull consumer, so it stays; what in it owes
        // nothing is deleted row by row.
        app.advance(Duration::from_secs(3 * 3600));
        let fresh = app.publish(json!({"type": "pushed.x", "payload": {"fresh": true}})).await;
        until_gone(&app, &format!("/v1/events/{settled}")).await;
        for path in [format!("/v1/deliveries/{delivery}"), format!("/v1/deliveries/{delivery}/attempts")] {
            assert_eq!(app.call(Method::GET, &path, None).await.0, 404, "{path}");
        }
        assert_eq!(app.get(&format!("/v1/events/{owed}")).await["payload"], json!({"owed": true}));
        if let (Some(db), Some(span)) = (&db, span) {
            assert!(table_exists(db, &format!("events_p{span}")).await, "a span still owed is kept");
            assert_eq!(rows_in(db, &format!("events_p{span}")).await, 1);
        }

        // Settled: the next sweep drops the span, and the owed event with it.
        let items = pull_all(&app, pull).await;
        assert_eq!(items.len(), 1);
        let ids: Vec<&str> = items.iter().map(|i| i["delivery_id"].as_str().unwrap()).collect();
        let (s, r) = app
            .call(Method::POST, &format!("/v1/endpoints/{pull}/ack"), Some(json!({"ids": ids})))
            .await;
        assert_eq!((s, r["acked"].as_u64()), (200, Some(1)), "{r}");
        app.advance(Duration::from_secs(15 * 60));
        until_gone(&app, &format!("/v1/events/{owed}")).await;
        if let (Some(db), Some(span)) = (&db, span) {
            for table in ["events", "deliveries", "attempts"] {
                let part = format!("{table}_p{span}");
                assert!(!table_exists(db, &part).await, "{part} was dropped");
            }
            let left: i64 = db
                .query_one("SELECT count(*) FROM time_partitions WHERE starts = $1", &[&span])
                .await
                .unwrap()
                .get(0);
            assert_eq!(left, 0);
        }
        let fresh = app.get(&format!("/v1/events/{}", fresh["id"].as_str().unwrap())).await;
        assert_eq!(fresh["payload"], json!({"fresh": true}), "what is within retention stays");
    }

    async fn an_idempotency_key_is_free_again_once_retention_deleted_its_event() {
        let mut settings = test_settings();
        settings.retention = Some("1h".into());
        let app = spawn_with(settings).await;
        let send = |payload: Value| {
            let req = app
                .http
                .post(format!("{}/v1/events", app.base))
                .bearer_auth(&app.key)
                .header("idempotency-key", "order-77")
                .json(&json!({"type": "keyed.x", "payload": payload}));
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (s, first) = send(json!({"k": 1})).await;
        assert_eq!(s, 202, "{first}");
        assert_eq!(send(json!({"k": 2})).await.0, 409, "the key names another request");
        app.advance(Duration::from_secs(2 * 3600));
        until_gone(&app, &format!("/v1/events/{}", first["id"].as_str().unwrap())).await;
        let (s, second) = send(json!({"k": 2})).await;
        assert_eq!(s, 202, "{second}");
        assert_ne!(second["id"], first["id"]);
        let (s, again) = send(json!({"k": 2})).await;
        assert_eq!((s, again), (200, second), "and it holds the new event");
    }
}
