//! Scenarios 9 and 10: delivery control against receivers that change under load.
//! (9) a receiver whose capacity steps 50 → 10 → 50 concurrent requests (429 past it):
//! where herald's concurrency settles after each step, how fast, and the 429 share once it
//! has; (10) one endpoint down (fast 503s) beside healthy ones: its retries against its
//! first attempts, and the healthy endpoints' p99 against a run without the outage.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;
use crate::{Report, Run};

/// A receiver that takes `capacity` requests at once (each `work` long) and answers 429
/// past that; it samples how many it is working on.
#[derive(Clone)]
struct Stepped {
    capacity: Arc<AtomicUsize>,
    now: Arc<AtomicUsize>,
    ok: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Stepped {
    async fn start(capacity: usize, work: Duration) -> (Stepped, String) {
        let s = Stepped {
            capacity: Arc::new(AtomicUsize::new(capacity)),
            now: Arc::default(),
            ok: Arc::default(),
            refused: Arc::default(),
        };
        let state = s.clone();
        let app = axum::Router::new().fallback(move || {
            let s = state.clone();
            async move {
                let current = s.now.fetch_add(1, Ordering::SeqCst) + 1;
                let status = if current > s.capacity.load(Ordering::SeqCst) {
                    s.refused.fetch_add(1, Ordering::Relaxed);
                    axum::http::StatusCode::TOO_MANY_REQUESTS
                } else {
                    tokio::time::sleep(work).await;
                    s.ok.fetch_add(1, Ordering::Relaxed);
                    axum::http::StatusCode::OK
                };
                s.now.fetch_sub(1, Ordering::SeqCst);
                status
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, app).into_future());
        (s, url)
    }
}

/// Publishes `event_type` at `rate` until `stop` is set (each publish in its own task).
fn steady_publisher(
    run: &Run<'_>,
    base: &str,
    event_type: &'static str,
    rate: u64,
    first: u64,
) -> (Arc<std::sync::atomic::AtomicBool>, tokio::task::JoinHandle<()>) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (h, b, s) = (run.http.clone(), base.to_string(), stop.clone());
    let task = tokio::spawn(async move {
        let start = Instant::now();
        let mut i = 0u64;
        while !s.load(Ordering::Relaxed) {
            tokio::time::sleep_until((start + Duration::from_micros(i * 1_000_000 / rate)).into()).await;
            let (h, b) = (h.clone(), b.clone());
            tokio::spawn(async move {
                let _ = publish_request(
                    &h,
                    &b,
                    &json!({"type": event_type, "payload": payload(first + i)}),
                )
                .send()
                .await;
            });
            i += 1;
        }
    });
    (stop, task)
}

/// Scenario 9: capacity 50 → 10 → 50, each step `step` long, under more load than the
/// receiver can take.
pub async fn capacity_steps(run: &Run<'_>, report: &mut Report) {
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_capacity").await;
    let args: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(run.http, dir.path(), &args).await;
    let work = Duration::from_millis(100);
    let (rx, url) = Stepped::start(50, work).await;
    create_endpoint(
        run.http,
        &node.base,
        json!({"url": url, "event_types": ["cap.x"], "max_in_flight": 100, "circuit_after": 0,
               "retry_schedule": "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"}),
    )
    .await;
    // 600/s against 500/s at capacity 50 (100 ms each): herald always has work waiting.
    let (stop, task) = steady_publisher(
        run,
        &node.base,
        "cap.x",
        run.scale.capacity_rate,
        run.seq_offset + 95_000_000,
    );
    let step = Duration::from_secs(run.scale.capacity_step_s);
    for capacity in [50usize, 10, 50] {
        rx.capacity.store(capacity, Ordering::SeqCst);
        let started = Instant::now();
        let (ok0, refused0) = (rx.ok.load(Ordering::Relaxed), rx.refused.load(Ordering::Relaxed));
        let mut settled_at: Option<Duration> = None;
        let mut samples = Vec::new();
        let mut steady = (0u64, 0u64);
        while started.elapsed() < step {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = rx.now.load(Ordering::SeqCst).min(capacity);
            let within = (now as f64 - capacity as f64).abs() <= capacity as f64 * 0.2;
            match (within, settled_at) {
                (true, None) => settled_at = Some(started.elapsed()),
                (false, Some(_)) if started.elapsed() < step / 2 => settled_at = None,
                _ => {}
            }
            if started.elapsed() >= step / 2 {
                samples.push(now);
                if steady == (0, 0) {
                    steady = (rx.ok.load(Ordering::Relaxed), rx.refused.load(Ordering::Relaxed));
                }
            }
        }
        let (ok, refused) = (
            rx.ok.load(Ordering::Relaxed) - steady.0.max(ok0),
            rx.refused.load(Ordering::Relaxed) - steady.1.max(refused0),
        );
        let mean = samples.iter().sum::<usize>() as f64 / samples.len().max(1) as f64;
        report.value(
            &format!("(9) capacity {capacity}: herald's concurrency at the receiver (second half of the step); settled within ±20 % after"),
            format!(
                "mean {mean:.1}; {}; 429s {:.2} % of answers",
                settled_at.map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64())),
                100.0 * refused as f64 / (ok + refused).max(1) as f64
            ),
        );
    }
    stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
}

/// A receiver answering `status` at once, recording each request's `webhook-id` (a retry
/// repeats one).
async fn counting_receiver(status: u16, arrivals: Arc<Mutex<Vec<String>>>) -> String {
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let a = arrivals.clone();
        async move {
            let id = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            a.lock().unwrap().push(id);
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    url
}

/// Scenario 10: one endpoint down for the whole run (503 at once) beside healthy ones.
pub async fn outage(run: &Run<'_>, report: &mut Report) {
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_outage").await;
    let args: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(run.http, dir.path(), &args).await;
    let rate = run.scale.outage_rate;
    let count = rate * run.scale.outage_s;
    let open = |event_type: &'static str, first: u64| OpenLoop {
        bases: std::slice::from_ref(&node.base),
        event_type,
        first,
        rate,
        count,
    };
    // Healthy alone first, then the same load with a dead endpoint subscribed too.
    create_endpoint(
        run.http,
        &node.base,
        json!({"url": run.receiver_url, "event_types": ["out.*"], "max_in_flight": 64}),
    )
    .await;
    let alone = Stats::of(
        &open("out.alone", run.seq_offset + 96_000_000)
            .publish_to_arrival(run.http, run.arrivals)
            .await,
    );
    let dead: Arc<Mutex<Vec<String>>> = Arc::default();
    let dead_url = counting_receiver(503, dead.clone()).await;
    create_endpoint(
        run.http,
        &node.base,
        json!({"url": dead_url, "event_types": ["out.down"],
               "retry_schedule": "1s,2s,4s,8s,16s,30s,60s,60s,60s,60s"}),
    )
    .await;
    let beside = Stats::of(
        &open("out.down", run.seq_offset + 97_000_000)
            .publish_to_arrival(run.http, run.arrivals)
            .await,
    );
    let requests = dead.lock().unwrap().clone();
    let first: HashSet<&String> = requests.iter().collect();
    let retries = requests.len() - first.len();
    report.value(
        &format!(
            "(10) one endpoint down {} s at {rate}/s: its first attempts / retries / deliveries owed",
            run.scale.outage_s
        ),
        format!(
            "{} / {retries} / {count} (the rest held by its open circuit)",
            first.len()
        ),
    );
    report.ratio(
        "(10) its retries / its own first attempts",
        retries as f64 / first.len().max(1) as f64,
    );
    // Every first attempt herald made meanwhile: the healthy endpoint's deliveries (one
    // each; the receiver answers 200 at once) and the dead one's.
    report.ratio(
        "(10) its retries / all first attempts in the run (target ≤ 0.2)",
        retries as f64 / (count + first.len() as u64) as f64,
    );
    report.value("(10) healthy endpoint, alone", alone.to_string());
    report.value("(10) healthy endpoint, beside the outage", beside.to_string());
    report.ratio(
        "(10) healthy p99 beside the outage / alone (target: unchanged)",
        beside.p99.as_secs_f64() / alone.p99.as_secs_f64(),
    );
}
