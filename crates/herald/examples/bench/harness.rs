//! The benchmark's parts: herald processes, the receiver, publishers (closed and open
//! loop), latency statistics, and what `/proc` says about a process.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{json, Value};

pub const KEY: &str = "bench-admin-key-0123456789abcdef";

/// What the receiver saw: every request counted, and the first arrival of each payload
/// sequence number.
pub struct Arrivals {
    pub count: AtomicU64,
    pub at: Mutex<HashMap<u64, Instant>>,
}

/// The fast receiver: answers 200 with no work, records arrivals.
pub async fn receiver() -> (String, Arc<Arrivals>) {
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

/// A dead endpoint: accepts connections and never answers.
pub async fn dead_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

/// A herald process, killed however the benchmark ends.
pub struct Node {
    child: std::process::Child,
    pub base: String,
}

impl Node {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu(&self) -> Duration {
        cpu_of(self.pid())
    }

    /// Peak resident memory (VmHWM) in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// SIGTERM, then wait for a graceful exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg(self.pid().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `herald` built next to this benchmark, or the one `HERALD_BENCH_BIN` names (to
/// compare two builds in one sitting).
fn herald_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("HERALD_BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("herald");
    assert!(bin.exists(), "build the binary first: cargo build --release");
    bin
}

/// CPU time (user + system) process `pid` has used so far.
pub fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// CPU time every live process whose command name is `comm` has used so far (e.g. all
/// of PostgreSQL's: its server, its background workers, one backend per connection).
pub fn cpu_named(comm: &str) -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
            (name.trim() == comm).then(|| cpu_of(pid))
        })
        .sum()
}

/// The first process whose command name is `comm` (e.g. a broker's server).
pub fn pid_named(comm: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (name.trim() == comm).then_some(pid)
    })
}

/// The whole machine's CPU since a sample: busy and total time over every core
/// (`/proc/stat`'s first line).
#[derive(Clone, Copy)]
pub struct MachineCpu {
    busy: u64,
    total: u64,
}

impl MachineCpu {
    pub fn sample() -> MachineCpu {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
        MachineCpu {
            busy: total - idle,
            total,
        }
    }

    /// The share of the machine (all cores) that was busy since `self`.
    pub fn busy_since(self) -> f64 {
        let now = MachineCpu::sample();
        (now.busy - self.busy) as f64 / (now.total - self.total).max(1) as f64
    }
}

/// Starts `herald serve` with `args` on a free port and waits until it is ready.
pub async fn start_herald(http: &reqwest::Client, data_dir: &Path, args: &[&str]) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(herald_binary())
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
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let node = Node { child, base };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{}/readyz", node.base))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "herald did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node
}

/// `herald listen` forwarding a pull endpoint to `to`.
pub fn start_listen(base: &str, endpoint: &str, to: &str) -> std::process::Child {
    Command::new(herald_binary())
        .args([
            "listen",
            "--forward-to",
            to,
            "--endpoint",
            endpoint,
            "--server",
            base,
            "--key",
            KEY,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// ~1 KB JSON payload carrying a sequence number.
pub fn payload(seq: u64) -> Value {
    json!({"seq": seq, "event": "ticket.created", "data": {"ticket_id": format!("TKT-{seq:08}"), "body": "x".repeat(900)}})
}

/// Creates an endpoint; returns its id.
/// A publish request to a node, with the admin key.
pub fn publish_request(http: &reqwest::Client, base: &str, body: &Value) -> reqwest::RequestBuilder {
    http.post(format!("{base}/v1/events")).bearer_auth(KEY).json(body)
}

/// Publishes one event; anything but 202 fails the benchmark.
pub async fn publish(http: &reqwest::Client, base: &str, body: &Value) {
    let r = publish_request(http, base, body).send().await.unwrap();
    assert_eq!(r.status(), 202, "{body}");
}

pub async fn create_endpoint(http: &reqwest::Client, base: &str, body: Value) -> String {
    create(http, base, "endpoints", body).await
}

/// Creates a `/v1/{collection}` object with the admin key (anything but 201 fails the
/// benchmark); returns its id.
pub async fn create(http: &reqwest::Client, base: &str, collection: &str, body: Value) -> String {
    let r = http
        .post(format!("{base}/v1/{collection}"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `workers` clients sending `make(n)` back to back for `duration`; returns 2xx answers/s.
pub async fn closed_loop(
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

/// An open-loop run: requests sent on a fixed schedule whatever the previous ones did, so
/// slow answers cannot hide latency.
pub struct OpenLoop<'a> {
    pub bases: &'a [String],
    pub event_type: &'a str,
    /// Payload sequence numbers start here.
    pub first: u64,
    pub rate: u64,
    pub count: u64,
}

impl OpenLoop<'_> {
    /// Publishes on schedule (spread over `bases` in turn) and waits until every event has
    /// arrived; returns publish → arrival times, sorted.
    pub async fn publish_to_arrival(
        &self,
        http: &reqwest::Client,
        arrivals: &Arc<Arrivals>,
    ) -> Vec<Duration> {
        let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..self.count {
            let at = start + Duration::from_micros(i * 1_000_000 / self.rate);
            tokio::time::sleep_until(at.into()).await;
            let seq = self.first + i;
            let (h, b, sent_at) = (
                http.clone(),
                self.bases[i as usize % self.bases.len()].clone(),
                sent_at.clone(),
            );
            let body = json!({"type": self.event_type, "payload": payload(seq)});
            tasks.push(tokio::spawn(async move {
                sent_at.lock().unwrap().insert(seq, at);
                publish(&h, &b, &body).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let range = self.first..self.first + self.count;
        wait_until(Duration::from_secs(120), || {
            let got = arrivals
                .at
                .lock()
                .unwrap()
                .keys()
                .filter(|k| range.contains(k))
                .count() as u64;
            (got >= self.count)
                .then_some(())
                .ok_or(format!("{} of {} arrived", got, self.count))
        })
        .await;
        let at = arrivals.at.lock().unwrap();
        let sent = sent_at.lock().unwrap();
        let mut lat: Vec<Duration> = sent
            .iter()
            .map(|(seq, s)| {
                at[seq]
                    .checked_duration_since(*s)
                    .expect("an arrival before its publish: a sequence number was used twice")
            })
            .collect();
        lat.sort();
        lat
    }
}

/// Polls `check` until it says done; panics with its last message after `limit`.
pub async fn wait_until(limit: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(()) => return,
            Err(why) => assert!(Instant::now() < deadline, "gave up waiting: {why}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Publishes `total` events of `event_type` with 16 publishers spread over `bases`
/// (payload sequence numbers from `first`) and waits until the receiver has counted
/// `total * fan_out` requests; returns deliveries/s from the first publish to the last
/// arrival, and how long publishing took.
pub async fn deliver_burst(
    http: &reqwest::Client,
    bases: &[String],
    arrivals: &Arc<Arrivals>,
    burst: Burst<'_>,
) -> (f64, Duration) {
    let before = arrivals.count.load(Ordering::Relaxed);
    let start = Instant::now();
    let published = publish_burst(http, bases, &burst).await;
    let want = burst.total * burst.fan_out;
    wait_until(Duration::from_secs(600), || {
        let got = arrivals.count.load(Ordering::Relaxed) - before;
        (got >= want)
            .then_some(())
            .ok_or(format!("{got} of {want} deliveries arrived"))
    })
    .await;
    (want as f64 / start.elapsed().as_secs_f64(), published)
}

/// Publishes the burst's events with 16 publishers spread over `bases`; returns how long
/// publishing took.
pub async fn publish_burst(http: &reqwest::Client, bases: &[String], burst: &Burst<'_>) -> Duration {
    let (event_type, total, first) = (burst.event_type, burst.total, burst.first);
    let start = Instant::now();
    let seq = Arc::new(AtomicU64::new(first));
    let mut tasks = Vec::new();
    for p in 0..16 {
        let (h, b, seq, t) = (
            http.clone(),
            bases[p % bases.len()].clone(),
            seq.clone(),
            event_type.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= first + total {
                    break;
                }
                publish(&h, &b, &json!({"type": t, "payload": payload(n)})).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

/// A burst of publishes for [`deliver_burst`].
pub struct Burst<'a> {
    pub event_type: &'a str,
    pub total: u64,
    pub first: u64,
    /// Endpoints each event goes to.
    pub fan_out: u64,
}

/// Latency percentiles of sorted samples.
pub struct Stats {
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Stats {
    pub fn of(sorted: &[Duration]) -> Stats {
        let at = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
        Stats {
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: *sorted.last().unwrap(),
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "p50 {:.2} / p99 {:.2} / p99.9 {:.2} / max {:.2} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.p999),
            ms(self.max)
        )
    }
}

/// The latency baseline: the receiver hit directly on the same open-loop schedule;
/// returns request → response times, sorted.
pub async fn direct_open_loop(http: &reqwest::Client, url: &str, rate: u64, count: u64) -> Vec<Duration> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let at = start + Duration::from_micros(i * 1_000_000 / rate);
        tokio::time::sleep_until(at.into()).await;
        let req = http.post(url).json(&payload(90_000_000 + i));
        tasks.push(tokio::spawn(async move {
            let r = req.send().await.unwrap();
            assert!(r.status().is_success());
            Instant::now().duration_since(at)
        }));
    }
    let mut lat = Vec::with_capacity(tasks.len());
    for t in tasks {
        lat.push(t.await.unwrap());
    }
    lat.sort();
    lat
}
