//! `spawn_app()`: the real server on 127.0.0.1:0 with a temporary data dir, and a test
//! receiver that records what arrives and answers as a test scripts it.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use herald_server::domain::{Clock, QueueIdle};
use herald_server::{Config, Settings};
use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";

/// Held by tests that must not overlap: the browser test (Chromium takes most of this
/// 2-core machine for a few seconds) and the tests that measure the adaptive limit, whose
/// figures depend on herald answering on time.
pub static CPU_HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

/// Runs one test body on a store. (Whether the PostgreSQL half runs at all is decided when
/// it is compiled: see `build.rs`.)
pub async fn run_on(backend: Backend, test: impl std::future::Future<Output = ()>) {
    BACKEND.scope(backend, test).await
}

pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// `DATABASE_URL`, or the machine's own PostgreSQL.
fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema in the test database, as a store URL whose connections use it.
pub async fn fresh_pg_store() -> String {
    let url = database_url();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to DATABASE_URL");
    tokio::spawn(conn);
    let schema = format!("t_{}", herald_server::domain::new_id("s").to_lowercase());
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create a test schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    pub dir: TempDir,
    /// The PostgreSQL store URL when the test runs on PostgreSQL.
    pub store: Option<String>,
    /// Business time of this server (and of its restarts): moves with the system clock
    /// until a test moves it on with [`TestApp::advance`].
    pub clock: Clock,
    idle: QueueIdle,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), herald_server::ServeError>>>,
}

/// Test defaults: a fixed admin key, loopback allowed, a short retry schedule.
pub fn test_settings() -> Settings {
    Settings {
        admin_key: Some(ADMIN_KEY.into()),
        allow_networks: Some(vec!["127.0.0.0/8".into()]),
        retry_schedule: Some("100ms,100ms,100ms".into()),
        ..Default::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(test_settings()).await
}

pub async fn spawn_with(mut settings: Settings) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    settings.data_dir = Some(dir.path().join("data"));
    if backend() == Backend::Postgres && settings.store.is_none() {
        settings.store = Some(fresh_pg_store().await.into());
    }
    start(settings, dir, Clock::driven()).await
}

async fn start(settings: Settings, dir: TempDir, clock: Clock) -> TestApp {
    let store = settings.store.as_ref().map(|s| s.expose().to_string());
    let mut config = Config::from_settings(settings).expect("valid test config");
    config.clock = clock.clone();
    let idle = config.queue_idle.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(herald_server::run(config, listener, async {
        let _ = stopped.await;
    }));
    let app = TestApp {
        base,
        key: ADMIN_KEY.into(),
        http: reqwest::Client::new(),
        dir,
        store,
        clock,
        idle,
        stop: Some(stop),
        handle: Some(handle),
    };
    app.wait_ready().await;
    app
}

impl TestApp {
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("herald did not become ready");
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    /// Stops and starts again on the same data dir (and a new port).
    pub async fn restart(mut self, settings: Settings) -> TestApp {
        self.stop().await;
        let mut settings = settings;
        settings.data_dir = Some(self.dir.path().join("data"));
        settings.store = self.store.clone().map(Into::into);
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        start(settings, dir, self.clock.clone()).await
    }

    /// Moves the server's clock on: what falls due meanwhile (retries, lease ends,
    /// windows) is due at once.
    pub fn advance(&self, by: Duration) {
        self.idle.work_arrived();
        self.clock.advance(by);
    }

    /// Sets the server's clock to `now_ms`, backwards if need be (see `Clock::set_now`).
    pub fn set_now(&self, now_ms: i64) {
        self.clock.set_now(now_ms);
    }

    /// Waits until the delivery workers have looked at the store twice more (a full round
    /// after whatever was happening): anything they were going to send by now, they sent.
    pub async fn worker_rounds(&self) {
        tokio::time::timeout(Duration::from_secs(15), self.idle.rounds(2))
            .await
            .expect("the delivery workers did not look at the store within 15 s");
    }

    /// Waits until the delivery workers have nothing in flight and no push delivery is
    /// pending (retries scheduled later count as pending: see [`TestApp::advance`]).
    pub async fn until_idle(&self) {
        tokio::time::timeout(Duration::from_secs(15), self.idle.wait())
            .await
            .expect("the delivery workers did not become idle within 15 s");
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.key.clone(), method, path, body).await
    }

    pub async fn call_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Sends raw bytes as a request body.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: &'static [u8],
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(body);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// `/metrics` as text.
    pub async fn metrics_text(&self) -> String {
        let url = format!("{}/metrics", self.base);
        self.http.get(url).send().await.unwrap().text().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn create_endpoint(&self, body: Value) -> Value {
        let (status, resp) = self.call(Method::POST, "/v1/endpoints", Some(body)).await;
        assert_eq!(status, 201, "{resp}");
        resp
    }

    pub async fn publish(&self, body: Value) -> Value {
        let (status, resp) = self.call(Method::POST, "/v1/events", Some(body)).await;
        assert_eq!(status, 202, "{resp}");
        resp
    }

    pub async fn deliveries(&self, event_id: &str) -> Vec<Value> {
        self.get(&format!("/v1/events/{event_id}/deliveries")).await["data"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn attempts(&self, delivery_id: &str) -> Vec<Value> {
        self.get(&format!("/v1/deliveries/{delivery_id}/attempts")).await["data"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Polls until every delivery of the event has reached a final state.
    pub async fn settled(&self, event_id: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ds = self.deliveries(event_id).await;
            if ds
                .iter()
                .all(|d| d["state"] == "succeeded" || d["state"] == "failed")
            {
                return ds;
            }
            assert!(Instant::now() < deadline, "deliveries did not settle: {ds:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The ticket example of the README walkthrough.
pub fn ticket_payload() -> Value {
    json!({
        "event": "ticket.created",
        "data": {"ticket_id": "TKT-2026-05-11-001", "subject": "Cannot log in", "priority": "high",
                 "customer": {"email": "ada@example.com"}}
    })
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }
}

/// How the receiver answers its n-th request (0-based).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: vec![],
            delay: Duration::ZERO,
        }
    }
}

type Script = Arc<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// A receiver that answers 200 to everything.
    pub async fn ok() -> Receiver {
        Receiver::start(|_| Reply::status(200)).await
    }

    pub async fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Receiver {
        Receiver::answering(move |_, n| script(n)).await
    }

    /// A receiver whose answer depends on the request too.
    pub async fn answering(script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) -> Receiver {
        let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Script = Arc::new(script);
        let (s2, sc) = (seen.clone(), script.clone());
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (seen, script) = (s2.clone(), sc.clone());
                async move {
                    let got = Received {
                        path: uri.path().to_string(),
                        headers,
                        body,
                        at: Instant::now(),
                    };
                    let n = {
                        let mut v = seen.lock().unwrap();
                        v.push(got.clone());
                        v.len() - 1
                    };
                    let reply = script(&got, n);
                    tokio::time::sleep(reply.delay).await;
                    let mut resp =
                        (StatusCode::from_u16(reply.status).unwrap(), format!("reply {n}")).into_response();
                    for (name, value) in reply.headers {
                        resp.headers_mut().insert(name, value.parse().unwrap());
                    }
                    resp
                }
            });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, app).into_future());
        Receiver { url, seen }
    }

    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Waits until at least `n` requests arrived (bounded), and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.count() < n {
            assert!(
                Instant::now() < deadline,
                "receiver got {} of {n} requests",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.received()
    }
}
