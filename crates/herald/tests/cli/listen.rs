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
