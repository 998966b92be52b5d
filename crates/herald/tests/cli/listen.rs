//! `herald listen` across a server restart, with one local handler per event type.

use super::*;

#[tokio::test]
async fn listen_routes_by_type_and_reconnects_after_the_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let herald = Herald::spawn_at(port, dir.path(), &[], &[], Stdio::null());
    herald.ready().await;
    let (tickets, ticket_ids) = receiver(Duration::ZERO).await;
    let (payments, payment_ids) = receiver(Duration::ZERO).await;
    let args = [
        "listen",
        "--forward-to",
        &format!("ticket.*={tickets}"),
        "--forward-to",
        &format!("payment.*={payments}"),
        "--server",
        &herald.base,
        "--key",
        KEY,
    ];
    let listen = Running::start(&args);
    listen.line_with("Created pull endpoint").await;
    let publish = |base: String, t: &'static str| async move {
        let (s, ev) = api(
            &base,
            reqwest::Method::POST,
            "/v1/events",
            Some(json!({"type": t, "payload": {}})),
        )
        .await;
        assert_eq!(s, 202, "{ev}");
        ev["id"].as_str().unwrap().to_string()
    };
    let ticket = publish(herald.base.clone(), "ticket.created").await;
    let payment = publish(herald.base.clone(), "payment.failed").await;
    let arrived = |ids: &Arc<Mutex<Vec<String>>>, id: &str| ids.lock().unwrap().iter().any(|i| i == id);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(arrived(&ticket_ids, &ticket) && arrived(&payment_ids, &payment)) {
        assert!(Instant::now() < deadline, "routed deliveries did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !arrived(&ticket_ids, &payment) && !arrived(&payment_ids, &ticket),
        "each type went to its own handler"
    );

    // The server goes away and comes back on the same address; listen keeps going.
    let mut herald = herald;
    let stopping = Instant::now();
    herald.signal("-TERM");
    herald.child.wait().unwrap();
    // listen's long-poll (25 s) was waiting: shutdown answers it instead of waiting it out.
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        stopping.elapsed()
    );
    // Long enough for listen's poll to fail at least once (its messages go to stderr).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let herald = Herald::spawn_at(port, dir.path(), &[], &[], Stdio::null());
    herald.ready().await;
    let later = publish(herald.base.clone(), "ticket.updated").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !arrived(&ticket_ids, &later) {
        assert!(
            Instant::now() < deadline,
            "listen did not reconnect: {:?}",
            listen.lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the local handler saw of one request: body, headers and the wall-clock second.
type Seen = Arc<Mutex<Vec<(Vec<u8>, axum::http::HeaderMap, i64, Instant)>>>;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Fails requests whose body contains "stuck" for their first `failing` time, takes the rest.
async fn stubborn_handler(failing: Duration) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let first_stuck: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (s, f) = (seen.clone(), first_stuck.clone());
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let (s, f) = (s.clone(), f.clone());
        async move {
            let now = Instant::now();
            s.lock().unwrap().push((body.to_vec(), headers, unix_now(), now));
            if !String::from_utf8_lossy(&body).contains("stuck") {
                return axum::http::StatusCode::OK;
            }
            let since = *f.lock().unwrap().get_or_insert(now);
            if now.duration_since(since) < failing {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            } else {
                axum::http::StatusCode::OK
            }
        }
    });
    (serve_local(app, "/hook").await, seen)
}

#[tokio::test]
async fn listen_signs_every_try_afresh_holds_up_nothing_and_keeps_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (url, seen) = stubborn_handler(Duration::from_millis(3500)).await;
    // A lease shorter than the handler's outage: listen must renew it.
    let args = [
        "listen",
        "--forward-to",
        &url,
        "--lease-ms",
        "1500",
        "--server",
        &herald.base,
        "--key",
        KEY,
    ];
    let listen = Running::start(&args);
    listen.line_with("Created pull endpoint").await;
    let secret_line = listen.line_with("whsec_").await;
    let secret = secret_line
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap()
        .to_string();
    let publish = |payload: Value| {
        let base = herald.base.clone();
        async move {
            let (s, ev) = api(
                &base,
                reqwest::Method::POST,
                "/v1/events",
                Some(json!({"type": "t.x", "payload": payload})),
            )
            .await;
            assert_eq!(s, 202, "{ev}");
            ev["id"].as_str().unwrap().to_string()
        }
    };
    let stuck = publish(json!({"what": "stuck"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quick = publish(json!({"what": "quick"})).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let ok_for = |seen: &Seen, id: &str| {
        let seen = seen.lock().unwrap();
        seen.iter().filter(|(_, h, _, _)| h["webhook-id"] == id).count()
    };
    while ok_for(&seen, &stuck) < 4 || ok_for(&seen, &quick) < 1 {
        assert!(
            Instant::now() < deadline,
            "deliveries did not arrive: {:?}",
            listen.lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    listen.line_with(&format!("{stuck}  → 200")).await;
    let seen = seen.lock().unwrap().clone();
    let tries: Vec<_> = seen
        .iter()
        .filter(|(_, h, _, _)| h["webhook-id"] == stuck.as_str())
        .collect();
    let quick_at = seen
        .iter()
        .find(|(_, h, _, _)| h["webhook-id"] == quick.as_str())
        .unwrap()
        .3;
    assert!(
        quick_at < tries.last().unwrap().3,
        "the quick delivery waited for the stuck one"
    );
    for (body, headers, received_s, _) in &tries {
        let h = |n: &str| headers[n].to_str().unwrap().to_string();
        let ts: i64 = h("webhook-timestamp").parse().unwrap();
        assert!(
            received_s - ts <= 1,
            "a try {}s after its signature was made",
            received_s - ts
        );
        let pairs = [
            ("webhook-id", h("webhook-id")),
            ("webhook-timestamp", h("webhook-timestamp")),
            ("webhook-signature", h("webhook-signature")),
        ];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        herald_signing::verify(&pairs, body, &[&secret], unix_now()).expect("each try verifies now");
    }
    // Claimed once: the lease never ran out under listen while it retried.
    let (s, ds) = api(
        &herald.base,
        reqwest::Method::GET,
        &format!("/v1/events/{stuck}/deliveries"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let d = &ds["data"][0];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut d = d.clone();
    while d["state"] != "succeeded" {
        assert!(Instant::now() < deadline, "not acked: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        d = api(
            &herald.base,
            reqwest::Method::GET,
            &format!("/v1/events/{stuck}/deliveries"),
            None,
        )
        .await
        .1["data"][0]
            .clone();
    }
    assert_eq!(d["attempts"], 1, "handed out once: {d}");
}
