//! The `herald` binary as a process, and the helpers its tests share: starting servers,
//! calling the API, local receivers, running CLI commands. The tests live in the modules.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The broker helpers of the server's tests (queues, streams, moto).
#[allow(dead_code)]
#[path = "../../../herald-server/tests/it/brokers.rs"]
mod broker_support;
mod brokers;
mod commands;
mod https;
mod listen;
mod maintenance;
mod mcp;
mod mcp_durable;
mod multinode;
mod ordered;
mod process;
mod verify;

const KEY: &str = "cli-test-admin-key-0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Herald {
    child: Child,
    base: String,
}

impl Herald {
    /// Starts `herald serve` with the test key and loopback allowed, plus `args`.
    fn start(data_dir: &Path, args: &[&str]) -> Herald {
        Herald::spawn(data_dir, args, &[], Stdio::null())
    }

    /// Like [`Herald::start`], with extra variables and where stderr goes.
    fn spawn(data_dir: &Path, args: &[&str], envs: &[(&str, &str)], stderr: Stdio) -> Herald {
        Herald::spawn_at(free_port(), data_dir, args, envs, stderr)
    }

    /// Like [`Herald::spawn`], on a given port (to restart a server where clients expect it).
    fn spawn_at(port: u16, data_dir: &Path, args: &[&str], envs: &[(&str, &str)], stderr: Stdio) -> Herald {
        let child = Command::new(env!("CARGO_BIN_EXE_herald"))
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
            .env_remove("HERALD_LISTEN")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Herald {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn ready(&self) {
        wait_ready(&self.base).await;
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_ready(base: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "herald at {base} did not become ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn api(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(KEY);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Serves a test handler on a random loopback port; returns its URL with `path`.
async fn serve_local(app: axum::Router, path: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    url
}

/// A receiver that records the `webhook-id` of every request and answers after `delay`.
async fn receiver(delay: Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let s = s.clone();
        async move {
            let id = headers.get("webhook-id").unwrap().to_str().unwrap().to_string();
            s.lock().unwrap().push(id);
            tokio::time::sleep(delay).await;
            "ok"
        }
    });
    (serve_local(app, "/hook").await, seen)
}

/// Flags, variables, and the setting name the error must mention.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

/// Publishers that keep sending `burst.test` events to the given nodes (spread round
/// robin) until stopped, keeping the id of every event that was accepted (202).
struct Burst {
    accepted: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Burst {
    fn start(bases: &[String], publishers: usize) -> Self {
        let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..publishers)
            .map(|p| {
                let base = bases[p % bases.len()].clone();
                let (accepted, stop) = (accepted.clone(), stop.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let body = json!({"type": "burst.test", "payload": {"publisher": p, "n": i}});
                        let sent = http
                            .post(format!("{base}/v1/events"))
                            .bearer_auth(KEY)
                            .json(&body)
                            .send()
                            .await;
                        let id = match sent {
                            Ok(r) if r.status() == 202 => r.json::<Value>().await.ok(),
                            _ => None,
                        };
                        match id.as_ref().and_then(|v| v["id"].as_str()) {
                            Some(id) => accepted.lock().unwrap().push(id.to_string()),
                            None => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                })
            })
            .collect();
        Burst {
            accepted,
            stop,
            tasks,
        }
    }

    /// Stops the publishers; the ids of the accepted events, at least `min` of them.
    async fn stop(self, min: usize) -> HashSet<String> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let accepted: HashSet<String> = self.accepted.lock().unwrap().iter().cloned().collect();
        assert!(
            accepted.len() >= min,
            "the burst was too small to mean anything: {}",
            accepted.len()
        );
        accepted
    }
}

/// Waits until every accepted event has arrived at the receiver; fails after a minute.
async fn all_arrive(accepted: &HashSet<String>, seen: &Mutex<Vec<String>>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let arrived: HashSet<String> = seen.lock().unwrap().iter().cloned().collect();
        let missing = accepted.difference(&arrived).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} accepted events never arrived",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a CLI command to completion: (exit code, stdout, stderr).
fn cli(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .env_remove("HERALD_KEY")
        .env_remove("HERALD_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A long-running CLI command whose stdout lines are collected as they come.
struct Running {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let (out, l) = (child.stdout.take().unwrap(), lines.clone());
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(out).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                l.lock().unwrap().push(line);
            }
        });
        Running { child, lines }
    }

    /// Waits for a line containing `needle` and returns it.
    async fn line_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} in {:?}",
                self.lines.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a local handler received: (body, headers) per request.
type Got = Arc<Mutex<Vec<(Vec<u8>, axum::http::HeaderMap)>>>;

/// A local handler that records (body, headers) and fails its first request with 500.
async fn local_handler() -> (String, Got) {
    let got: Got = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let g = g.clone();
        async move {
            let mut v = g.lock().unwrap();
            v.push((body.to_vec(), headers));
            if v.len() == 1 {
                axum::http::StatusCode::INTERNAL_SERVER_ERROR
            } else {
                axum::http::StatusCode::OK
            }
        }
    });
    (serve_local(app, "/webhooks").await, got)
}

fn stripe_sig(secret: &str, t: i64, body: &[u8]) -> String {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(format!("{t}.").as_bytes());
    m.update(body);
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

/// A self-signed certificate for 127.0.0.1 made with the openssl CLI: (cert PEM, key PEM).
fn self_signed(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            // rustls refuses a CA certificate as a server's own: a plain server certificate.
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(ok.success());
    (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap())
}

fn trusting(cert: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}
