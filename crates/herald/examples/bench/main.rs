//! A first benchmark of herald's outbound path (the benchmark issue makes it rigorous).
//!
//! Run: `cargo build --release && cargo run --release --example bench`
//! (`… --example bench -- stores` compares the stores instead: see `stores.rs`).
//!
//! It starts the release `herald` binary on a fresh data dir (durable settings: WAL,
//! fsync per group commit), a local receiver that answers 200 at once, and measures:
//! - baseline: the same receiver hit directly by this client, 16 connections (loopback ceiling);
//! - publish: events/s accepted (202) with 16 concurrent publishers, no subscribers;
//! - deliver: 20,000 events to one endpoint, from first publish to last arrival;
//! - latency: publish → arrival at an open-loop 200 events/s for 10 s, p50/p99/max;
//! - inbound: request → 2xx with Stripe-style verification at an open-loop 500 requests/s;
//! - pull: publish → arrival through a pull endpoint and `herald listen` at 200 events/s.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{json, Value};

mod stores;

const KEY: &str = "bench-admin-key-0123456789abcdef";

struct Arrivals {
    count: AtomicU64,
    at: Mutex<HashMap<u64, Instant>>,
}

async fn receiver() -> (String, Arc<Arrivals>) {
    let arrivals = Arc::new(Arrivals {
        count: AtomicU64::new(0),
        at: Mutex::new(HashMap::new()),
    });
    let a = arrivals.clone();
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let a = a.clone();
        async move {
            let now = Instant::now();
            a.count.fetch_add(1, Ordering::Relaxed);
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                if let Some(seq) = v["seq"].as_u64() {
                    a.at.lock().unwrap().entry(seq).or_insert(now);
                }
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (url, arrivals)
}

/// Kills the herald process however the benchmark ends (a failed assertion included).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn herald_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("herald");
    assert!(bin.exists(), "build the binary first: cargo build --release");
    bin
}

/// ~1 KB JSON payload carrying a sequence number.
fn payload(seq: u64) -> Value {
    json!({"seq": seq, "event": "ticket.created", "data": {"ticket_id": format!("TKT-{seq:08}"), "body": "x".repeat(900)}})
}

async fn closed_loop(
    workers: usize,
    duration: Duration,
    make: impl Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> f64 {
    let make = Arc::new(make);
    let seq = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (make, seq, ok) = (make.clone(), seq.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < duration {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if let Ok(r) = make(n).send().await {
                    if r.status().is_success() {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ok.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Open loop: 2,000 publishes of `event_type` at 200/s, each sent on schedule whatever the
/// previous one did (so slow answers cannot hide latency), spread over `bases` in turn;
/// returns publish → arrival times, sorted. Payload sequence numbers start at `first`.
async fn publish_to_arrival(
    http: &reqwest::Client,
    bases: &[String],
    arrivals: &Arc<Arrivals>,
    event_type: &str,
    first: u64,
) -> Vec<Duration> {
    let (rate, count) = (200u64, 2000u64);
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let at = start + Duration::from_micros(i * 1_000_000 / rate);
        tokio::time::sleep_until(at.into()).await;
        let (h, b, sent_at, t) = (
            http.clone(),
            bases[i as usize % bases.len()].clone(),
            sent_at.clone(),
            event_type.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            sent_at.lock().unwrap().insert(first + i, at);
            let body = json!({"type": t, "payload": payload(first + i)});
            let r = h
                .post(format!("{b}/v1/events"))
                .bearer_auth(KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = arrivals
            .at
            .lock()
            .unwrap()
            .keys()
            .filter(|k| (first..first + count).contains(k))
            .count() as u64;
        if got >= count {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{event_type}: {got} of {count} arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at = arrivals.at.lock().unwrap();
    let sent = sent_at.lock().unwrap();
    let mut lat: Vec<Duration> = sent.iter().map(|(seq, s)| at[seq].duration_since(*s)).collect();
    lat.sort();
    lat
}

/// Publishes `total` events of type `bench.deliver` with 16 publishers spread over `bases`
/// (payload sequence numbers from `first`) and waits until the receiver has them all;
/// returns deliveries/s from the first publish to the last arrival, and how long
/// publishing took.
async fn deliver_burst(
    http: &reqwest::Client,
    bases: &[String],
    arrivals: &Arc<Arrivals>,
    total: u64,
    first: u64,
) -> (f64, Duration) {
    let before = arrivals.count.load(Ordering::Relaxed);
    let start = Instant::now();
    let seq = Arc::new(AtomicU64::new(first));
    let mut tasks = Vec::new();
    for p in 0..16 {
        let (h, b, seq) = (http.clone(), bases[p % bases.len()].clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= first + total {
                    break;
                }
                let body = json!({"type": "bench.deliver", "payload": payload(n)});
                let r = h
                    .post(format!("{b}/v1/events"))
                    .bearer_auth(KEY)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let published = start.elapsed();
    while arrivals.count.load(Ordering::Relaxed) - before < total {
        assert!(start.elapsed() < Duration::from_secs(300), "deliveries stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (total as f64 / start.elapsed().as_secs_f64(), published)
}

/// p50, p99 and max of sorted latencies.
fn summary(lat: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(lat, 0.50)),
        ms(percentile(lat, 0.99)),
        ms(*lat.last().unwrap())
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Starts `herald serve` with `args` on a free port and waits until it is ready.
async fn start_herald(
    http: &reqwest::Client,
    data_dir: &std::path::Path,
    args: &[&str],
) -> (KillOnDrop, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = KillOnDrop(
        Command::new(herald_binary())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--allow-network",
                "127.0.0.0/8",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("HERALD_ADMIN_KEY", KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, base)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("stores") {
        return stores::compare().await;
    }
    let dir = tempfile::tempdir().unwrap();
    let http = client();
    // `BENCH_STORE=postgres://…` runs the same figures on PostgreSQL.
    let store = std::env::var("BENCH_STORE").ok().filter(|s| !s.is_empty());
    let args: Vec<&str> = store.iter().flat_map(|s| ["--store", s.as_str()]).collect();
    let (_herald, base) = start_herald(&http, dir.path(), &args).await;
    let (url, arrivals) = receiver().await;

    let (h, u) = (http.clone(), url.clone());
    let baseline = closed_loop(16, Duration::from_secs(3), move |n| h.post(&u).json(&payload(n))).await;
    println!("baseline   receiver hit directly, 16 connections: {baseline:>9.0} requests/s");

    let (h, b) = (http.clone(), base.clone());
    let publish = closed_loop(16, Duration::from_secs(5), move |n| {
        h.post(format!("{b}/v1/events"))
            .bearer_auth(KEY)
            .json(&json!({"type": "bench.none", "payload": payload(n)}))
    })
    .await;
    println!(
        "publish    16 publishers, no subscribers:         {publish:>9.0} events/s ({:.2} of baseline)",
        publish / baseline
    );

    let ep = http
        .post(format!("{base}/v1/endpoints"))
        .bearer_auth(KEY)
        .json(&json!({"url": url, "event_types": ["bench.*"], "max_in_flight": 64}))
        .send()
        .await
        .unwrap();
    assert_eq!(ep.status(), 201);
    let (rate, published) =
        deliver_burst(&http, std::slice::from_ref(&base), &arrivals, 20_000, 1_000_000).await;
    println!(
        "deliver    20,000 events → 1 endpoint, end to end:  {rate:>9.0} deliveries/s ({:.2} of baseline; publishing took {:.1} s)",
        rate / baseline,
        published.as_secs_f64()
    );

    let lat = publish_to_arrival(
        &http,
        std::slice::from_ref(&base),
        &arrivals,
        "bench.latency",
        5_000_000,
    )
    .await;
    println!(
        "latency    publish → arrival at 200 events/s, 10 s: {}",
        summary(&lat)
    );
    inbound_latency(&http, &base).await;
    pull_latency(&http, &base, &url, &arrivals).await;
    // `_herald` stops the server when it goes out of scope.
}

/// Open loop at 500 requests/s for 10 s to a Stripe-verified source; time to the 2xx.
async fn inbound_latency(http: &reqwest::Client, base: &str) {
    use hmac::{Hmac, Mac};
    let secret = "whsec_bench_inbound_secret";
    let src: Value = http
        .post(format!("{base}/v1/sources"))
        .bearer_auth(KEY)
        .json(&json!({"name": "bench", "verify": {"scheme": "stripe", "secret": secret}, "type_prefix": "stripe."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{base}/in/{}", src["id"].as_str().unwrap());
    let (rate, count) = (500u64, 5000u64);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let at = start + Duration::from_micros(i * 1_000_000 / rate);
        tokio::time::sleep_until(at.into()).await;
        let body = serde_json::to_vec(
            &json!({"id": format!("evt_{i}"), "type": "payment_intent.succeeded", "data": payload(i)}),
        )
        .unwrap();
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&body);
        let sig = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
        let req = http
            .post(&url)
            .header("stripe-signature", sig)
            .header("content-type", "application/json")
            .body(body);
        tasks.push(tokio::spawn(async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            Instant::now().duration_since(at)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    for t in tasks {
        lat.push(t.await.unwrap());
    }
    lat.sort();
    println!(
        "inbound    request → 2xx, Stripe verification, 500 requests/s, 10 s: {}",
        summary(&lat)
    );
}

/// Open loop at 200 events/s for 10 s of events that reach the receiver through a pull
/// endpoint and a `herald listen` process, the local-development path.
async fn pull_latency(http: &reqwest::Client, base: &str, receiver_url: &str, arrivals: &Arc<Arrivals>) {
    let ep: Value = http
        .post(format!("{base}/v1/endpoints"))
        .bearer_auth(KEY)
        .json(&json!({"event_types": ["pullbench.*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = ep["id"].as_str().unwrap();
    let bin = herald_binary();
    let mut listen = Command::new(bin)
        .args([
            "listen",
            "--forward-to",
            receiver_url,
            "--endpoint",
            id,
            "--server",
            base,
            "--key",
            KEY,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lat = publish_to_arrival(http, &[base.to_string()], arrivals, "pullbench.x", 9_000_000).await;
    let _ = listen.kill();
    let _ = listen.wait();
    println!(
        "pull       publish → arrival via `herald listen` at 200 events/s, 10 s: {}",
        summary(&lat)
    );
}
