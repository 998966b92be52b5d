//! Scenario 11: deliveries/s to each broker destination beside an HTTP endpoint, in one run
//! on one fresh node: the same burst of 1 KB events to an HTTP endpoint, then to RabbitMQ,
//! NATS JetStream and SQS (moto's server, started here), each endpoint with
//! `max_in_flight` 64. Each broker's own ceiling from this client (publishes confirmed,
//! 64 at a time) is shown beside it, so a low figure can be told from a slow broker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;
use crate::support::Moto;
use crate::{Report, Run};

const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const NATS: &str = "nats://127.0.0.1:4222";
const IN_FLIGHT: usize = 64;

pub async fn brokers(run: &Run<'_>, report: &mut Report) {
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_brokers").await;
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(run.http, dir.path(), &store).await;
    let total = run.scale.broker_events;
    let (http_rate, http) = http_burst(run, &node, total).await;
    report.value(
        "(11) deliveries/s to an HTTP endpoint (the comparison for the brokers below)",
        format!("{http_rate:.0}"),
    );
    let (amqp_rate, amqp_alone, rabbit) = amqp(run, &node, total).await;
    report.compare(
        "(11) deliveries/s to RabbitMQ (value) vs HTTP (baseline)",
        amqp_rate,
        http_rate,
    );
    report.note(&format!(
        "    RabbitMQ alone, confirmed publishes from this client: {amqp_alone:.0}/s"
    ));
    let (nats_rate, nats_alone, jetstream) = nats(run, &node, total).await;
    report.compare(
        "(11) deliveries/s to NATS JetStream (value) vs HTTP (baseline)",
        nats_rate,
        http_rate,
    );
    report.note(&format!(
        "    JetStream alone, acked publishes from this client: {nats_alone:.0}/s"
    ));
    for (what, p) in [("HTTP", http), ("RabbitMQ", rabbit), ("NATS", jetstream)] {
        report.value(
            &format!("(11) {what}: herald CPU per delivery, broker CPU per message, machine busy"),
            format!(
                "{:.3} ms, {:.3} ms, {:.0} %",
                p.herald_ms,
                p.broker_ms,
                p.busy * 100.0
            ),
        );
    }
    match sqs(run, &node, total.min(run.scale.sqs_events)).await {
        Some((rate, ceiling)) => {
            report.compare(
                "(11) deliveries/s to SQS on moto (value) vs HTTP (baseline)",
                rate,
                http_rate,
            );
            report.note(&format!(
                "    moto alone, SendMessage from this client: {ceiling:.0}/s"
            ));
        }
        None => report.note("    (11) SQS skipped: moto_server is not installed"),
    }
}

/// Where the CPU went while herald delivered one burst.
struct Phase {
    herald: Duration,
    broker: Option<(u32, Duration)>,
    machine: MachineCpu,
}

#[derive(Clone, Copy)]
struct Spent {
    herald_ms: f64,
    broker_ms: f64,
    busy: f64,
}

impl Phase {
    fn start(node: &Node, broker: Option<u32>) -> Phase {
        Phase {
            herald: node.cpu(),
            broker: broker.map(|pid| (pid, cpu_of(pid))),
            machine: MachineCpu::sample(),
        }
    }

    /// Per delivery of `n`.
    fn end(self, node: &Node, n: u64) -> Spent {
        let ms = |d: Duration, count: u64| d.as_secs_f64() * 1e3 / count as f64;
        Spent {
            herald_ms: ms(node.cpu() - self.herald, n),
            broker_ms: self
                .broker
                .map_or(0.0, |(pid, before)| ms(cpu_of(pid) - before, n)),
            busy: self.machine.busy_since(),
        }
    }
}

fn burst(event_type: &str, total: u64, first: u64) -> Burst<'_> {
    Burst {
        event_type,
        total,
        first,
        fan_out: 1,
    }
}

/// Publishes the burst and waits until `arrived` reaches `total`; deliveries/s.
async fn timed(run: &Run<'_>, node: &Node, burst: Burst<'_>, arrived: &AtomicU64) -> f64 {
    let start = Instant::now();
    let total = burst.total;
    publish_burst(run.http, std::slice::from_ref(&node.base), &burst).await;
    wait_until(Duration::from_secs(600), || {
        let got = arrived.load(Ordering::Relaxed);
        (got >= total)
            .then_some(())
            .ok_or(format!("{got} of {total} messages arrived"))
    })
    .await;
    total as f64 / start.elapsed().as_secs_f64()
}

async fn http_burst(run: &Run<'_>, node: &Node, total: u64) -> (f64, Spent) {
    let body = json!({"url": run.receiver_url, "event_types": ["b11http.x"], "max_in_flight": IN_FLIGHT});
    create_endpoint(run.http, &node.base, body).await;
    let phase = Phase::start(node, None);
    let (rate, _) = deliver_burst(
        run.http,
        std::slice::from_ref(&node.base),
        run.arrivals,
        burst("b11http.x", total, run.seq_offset + 11_000_000),
    )
    .await;
    (rate, phase.end(node, total))
}

fn endpoint(event_type: &str, destination: Value) -> Value {
    json!({"destination": destination, "event_types": [event_type], "max_in_flight": IN_FLIGHT})
}

/// (herald's deliveries/s, the broker's own ceiling, where the CPU went).
async fn amqp(run: &Run<'_>, node: &Node, total: u64) -> (f64, f64, Spent) {
    use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions, QueueDeclareOptions};
    let conn = lapin::Connection::connect(AMQP, lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ on 127.0.0.1:5672");
    let channel = conn.create_channel().await.unwrap();
    let queue = format!("herald-bench-{}", std::process::id());
    let declare = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.as_str().into(), declare, Default::default())
        .await
        .unwrap();
    let arrived = Arc::new(AtomicU64::new(0));
    let counter = arrived.clone();
    let consume = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    channel
        .basic_consume(queue.as_str().into(), "bench".into(), consume, Default::default())
        .await
        .unwrap()
        .set_delegate(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            async {}
        });
    let dest = json!({"kind": "amqp", "url": AMQP, "routing_key": queue});
    create_endpoint(run.http, &node.base, endpoint("b11amqp.x", dest)).await;
    let phase = Phase::start(node, pid_named("beam.smp"));
    let rate = timed(
        run,
        node,
        burst("b11amqp.x", total, run.seq_offset + 12_000_000),
        &arrived,
    )
    .await;
    let spent = phase.end(node, total);
    // The ceiling: this client publishing the same bodies, confirmed, 64 at a time.
    let publisher = conn.create_channel().await.unwrap();
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = serde_json::to_vec(&payload(0)).unwrap();
    let start = Instant::now();
    for _ in 0..total.div_ceil(IN_FLIGHT as u64) {
        let mut confirms = Vec::new();
        for _ in 0..IN_FLIGHT {
            let props = lapin::BasicProperties::default().with_delivery_mode(2);
            let options = lapin::options::BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            confirms.push(
                publisher
                    .basic_publish("".into(), queue.as_str().into(), options, &body, props)
                    .await
                    .unwrap(),
            );
        }
        for c in confirms {
            assert!(c.await.unwrap().is_ack());
        }
    }
    (rate, total as f64 / start.elapsed().as_secs_f64(), spent)
}

async fn nats(run: &Run<'_>, node: &Node, total: u64) -> (f64, f64, Spent) {
    let client = async_nats::connect(NATS).await.expect("NATS on 127.0.0.1:4222");
    let js = async_nats::jetstream::new(client);
    let name = format!("herald-bench-{}", std::process::id());
    let config = async_nats::jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("{name}.>")],
        ..Default::default()
    };
    js.create_stream(config).await.unwrap();
    let arrived = Arc::new(AtomicU64::new(0));
    let poller = tokio::spawn(poll_stream(js.clone(), name.clone(), arrived.clone()));
    let dest = json!({"kind": "nats", "url": NATS, "subject": format!("{name}.{{type}}")});
    create_endpoint(run.http, &node.base, endpoint("b11nats.x", dest)).await;
    let phase = Phase::start(node, pid_named("nats-server"));
    let rate = timed(
        run,
        node,
        burst("b11nats.x", total, run.seq_offset + 13_000_000),
        &arrived,
    )
    .await;
    let spent = phase.end(node, total);
    poller.abort();
    let body = bytes::Bytes::from(serde_json::to_vec(&payload(0)).unwrap());
    let subject = format!("{name}.ceiling");
    let start = Instant::now();
    for _ in 0..total.div_ceil(IN_FLIGHT as u64) {
        let mut acks = Vec::new();
        for _ in 0..IN_FLIGHT {
            acks.push(js.publish(subject.clone(), body.clone()).await.unwrap());
        }
        for a in acks {
            a.await.unwrap();
        }
    }
    let ceiling = total as f64 / start.elapsed().as_secs_f64();
    let _ = js.delete_stream(&name).await;
    (rate, ceiling, spent)
}

async fn poll_stream(js: async_nats::jetstream::Context, name: String, arrived: Arc<AtomicU64>) {
    let mut stream = js.get_stream(&name).await.unwrap();
    loop {
        if let Ok(info) = stream.info().await {
            arrived.store(info.state.messages, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sqs(run: &Run<'_>, node: &Node, total: u64) -> Option<(f64, f64)> {
    let moto = Moto::start().await?;
    let queue = moto
        .call("CreateQueue", json!({"QueueName": "herald-bench"}))
        .await["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let arrived = Arc::new(AtomicU64::new(0));
    let poller = tokio::spawn(poll_queue(moto.clone(), queue.clone(), arrived.clone()));
    let dest = json!({"kind": "sqs", "queue_url": queue, "region": "us-east-1", "endpoint_url": moto.url,
                      "access_key_id": "AKIDBENCH", "secret_access_key": "bench-secret-access-key"});
    create_endpoint(run.http, &node.base, endpoint("b11sqs.x", dest)).await;
    let rate = timed(
        run,
        node,
        burst("b11sqs.x", total, run.seq_offset + 14_000_000),
        &arrived,
    )
    .await;
    poller.abort();
    // The ceiling on an empty queue of its own (moto slows down as a queue fills).
    let queue = moto.create_queue("herald-bench-ceiling").await;
    let body = serde_json::to_string(&payload(0)).unwrap();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (moto, queue, body) = (moto.clone(), queue.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..total.div_ceil(16) {
                moto.call("SendMessage", json!({"QueueUrl": queue, "MessageBody": body}))
                    .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Some((rate, total as f64 / start.elapsed().as_secs_f64()))
}

async fn poll_queue(moto: Moto, queue: String, arrived: Arc<AtomicU64>) {
    loop {
        let attrs = moto
            .call(
                "GetQueueAttributes",
                json!({"QueueUrl": queue, "AttributeNames": ["ApproximateNumberOfMessages"]}),
            )
            .await;
        if let Some(n) = attrs["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .and_then(|n| n.parse().ok())
        {
            arrived.store(n, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
