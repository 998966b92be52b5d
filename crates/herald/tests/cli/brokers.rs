//! Broker destinations through a crash: `kill -9` of herald in the middle of a burst to
//! RabbitMQ, NATS JetStream and SQS, and every accepted event on the broker after the
//! restart (at least once: a publish confirmed as herald died may be there twice).

use super::broker_support::*;
use super::*;

const RETRIES: &[&str] = &["--retry-schedule", "100ms,200ms,400ms,1s,1s,1s"];

/// Starts herald with an endpoint publishing to `destination`, kills it mid-burst, starts
/// it again; returns the new process and the accepted event ids (the caller checks the
/// broker has them all).
async fn burst_through_kill_9(dir: &Path, destination: Value) -> (Herald, HashSet<String>) {
    let herald = Herald::start(dir, RETRIES);
    herald.ready().await;
    let body = json!({"destination": destination, "max_in_flight": 32});
    let (s, ep) = api(&herald.base, reqwest::Method::POST, "/v1/endpoints", Some(body)).await;
    assert_eq!(s, 201, "{ep}");
    let burst = Burst::start(std::slice::from_ref(&herald.base), 16);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut herald = herald;
    herald.child.kill().unwrap(); // SIGKILL, mid-burst and mid-publish
    herald.child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let accepted = burst.stop(50).await;
    (Herald::start(dir, RETRIES), accepted)
}

/// Waits up to 60 s until `received()` holds every accepted id.
async fn all_reach(
    accepted: &HashSet<String>,
    mut received: impl AsyncFnMut() -> HashSet<String>,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = received().await;
        let missing = accepted.difference(&got).count();
        if missing == 0 {
            eprintln!(
                "{what}, kill -9: {} accepted events, all on the broker",
                accepted.len()
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {missing} of {} accepted events never arrived",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_accepted_event_reaches_rabbitmq_after_kill_9_mid_burst() {
    if !up("127.0.0.1:5672", "RabbitMQ").await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let queue = AmqpQueue::declare(&unique("herald-kill")).await;
    let dest = json!({"kind": "amqp", "url": AMQP_URL, "routing_key": queue.name});
    let (_herald, accepted) = burst_through_kill_9(dir.path(), dest).await;
    let mut seen = HashSet::new();
    all_reach(
        &accepted,
        async || {
            for m in queue.drain().await {
                seen.insert(m.delivery.properties.message_id().as_ref().unwrap().to_string());
            }
            seen.clone()
        },
        "RabbitMQ",
    )
    .await;
}

#[tokio::test]
async fn every_accepted_event_reaches_jetstream_after_kill_9_mid_burst() {
    if !up("127.0.0.1:4222", "NATS").await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("herald-kill");
    let stream = NatsStream::create(&prefix, &format!("{prefix}.>")).await;
    let dest = json!({"kind": "nats", "url": NATS_URL, "subject": format!("{prefix}.{{type}}")});
    let (_herald, accepted) = burst_through_kill_9(dir.path(), dest).await;
    all_reach(
        &accepted,
        async || {
            let stored = stream.messages(stream.count().await).await;
            stored
                .iter()
                .filter_map(|m| m.headers.get("webhook-id").map(|v| v.as_str().to_string()))
                .collect()
        },
        "JetStream",
    )
    .await;
    stream.delete().await;
}

#[tokio::test]
async fn every_accepted_event_reaches_sqs_after_kill_9_mid_burst() {
    let Some(moto) = Moto::start().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let queue = moto.create_queue(&unique("herald-kill")).await;
    let dest = json!({"kind": "sqs", "queue_url": queue, "region": "us-east-1", "endpoint_url": moto.url,
                      "access_key_id": "AKIDKILL", "secret_access_key": "kill-test-secret-access-key"});
    let (_herald, accepted) = burst_through_kill_9(dir.path(), dest).await;
    let mut seen = HashSet::new();
    all_reach(
        &accepted,
        async || {
            for m in moto.drain(&queue).await {
                if let Some(id) = m["MessageAttributes"]["webhook-id"]["StringValue"].as_str() {
                    seen.insert(id.to_string());
                }
            }
            seen.clone()
        },
        "SQS",
    )
    .await;
}
