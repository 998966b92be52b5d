//! The `herald` binary as a process: configuration layering, the first-start admin key,
//! graceful shutdown, and `kill -9` during a burst of publishes.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod listen;
mod maintenance;
mod multinode;

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

#[tokio::test]
async fn every_accepted_event_arrives_after_kill_9_during_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver(Duration::ZERO).await;
    let herald = Herald::start(dir.path(), &["--retry-schedule", "100ms,200ms,400ms,1s,1s,1s"]);
    herald.ready().await;
    let (s, _) = api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url})),
    )
    .await;
    assert_eq!(s, 201);

    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut publishers = Vec::new();
    for p in 0..16 {
        let (base, accepted, stop) = (herald.base.clone(), accepted.clone(), stop.clone());
        publishers.push(tokio::spawn(async move {
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
                match sent {
                    Ok(r) if r.status() == 202 => {
                        if let Ok(v) = r.json::<Value>().await {
                            accepted
                                .lock()
                                .unwrap()
                                .push(v["id"].as_str().unwrap().to_string());
                        }
                    }
                    _ => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut herald = herald;
    herald.child.kill().unwrap(); // SIGKILL, mid-burst
    herald.child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for p in publishers {
        p.await.unwrap();
    }
    let accepted: HashSet<String> = accepted.lock().unwrap().iter().cloned().collect();
    assert!(
        accepted.len() >= 50,
        "the burst was too small to mean anything: {}",
        accepted.len()
    );

    let herald = Herald::start(dir.path(), &["--retry-schedule", "100ms,200ms,400ms,1s,1s,1s"]);
    herald.ready().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let arrived: HashSet<String> = seen.lock().unwrap().iter().cloned().collect();
        let missing = accepted.difference(&arrived).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} accepted events never arrived",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And each is readable through the API.
    for id in accepted.iter().take(20) {
        let (s, ev) = api(
            &herald.base,
            reqwest::Method::GET,
            &format!("/v1/events/{id}"),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(ev["type"], "burst.test");
    }
}

#[tokio::test]
async fn sigterm_finishes_in_flight_deliveries_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver(Duration::from_millis(1500)).await;
    let mut herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url})),
    )
    .await;
    let (s, ev) = api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/events",
        Some(json!({"type": "a.b", "payload": {}})),
    )
    .await;
    assert_eq!(s, 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    herald.signal("-TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(st) = herald.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "herald did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for the in-flight delivery"
    );
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let id = ev["id"].as_str().unwrap();
    let (_, ds) = api(
        &herald.base,
        reqwest::Method::GET,
        &format!("/v1/events/{id}/deliveries"),
        None,
    )
    .await;
    assert_eq!(ds["data"][0]["state"], "succeeded", "{ds}");
    assert_eq!(ds["data"][0]["attempts"], 1);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "delivered once, not again after the restart"
    );
}

#[tokio::test]
async fn the_first_start_prints_an_admin_key_once_and_keeps_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("HERALD_ADMIN_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut first = run();
    wait_ready(&base).await;
    first.kill().unwrap();
    let out = first.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("hk_"))
        .expect("key printed")
        .to_string();
    let db = std::fs::read(dir.path().join("herald.db")).unwrap();
    assert!(
        !db.windows(key.len()).any(|w| w == key.as_bytes()),
        "the key itself is not stored"
    );

    let mut second = run();
    wait_ready(&base).await;
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/endpoints"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    second.kill().unwrap();
    let out = second.wait_with_output().unwrap();
    assert!(
        !String::from_utf8(out.stdout).unwrap().contains("hk_"),
        "printed only once"
    );
}

/// Flags, variables, and the setting name the error must mention.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_settings_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [Case; 4] = [
        (&["--listen", "nowhere"], &[], "HERALD_LISTEN"),
        (
            &[],
            &[("HERALD_RETRY_SCHEDULE", "5s,later")],
            "HERALD_RETRY_SCHEDULE",
        ),
        (&["--allow-network", "300.0.0.0/8"], &[], "HERALD_ALLOW_NETWORKS"),
        (&[], &[("HERALD_MAX_PAYLOAD", "huge")], "HERALD_MAX_PAYLOAD"),
    ];
    for (args, envs, name) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[tokio::test]
async fn flags_beat_variables_which_beat_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    std::fs::write(
        dir.path().join("herald.toml"),
        format!("listen = \"127.0.0.1:{file_port}\"\nmax_payload = \"2KiB\"\n"),
    )
    .unwrap();
    let spawn = |env_listen: Option<u16>, flag_listen: Option<u16>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.current_dir(dir.path())
            .arg("serve")
            .env("HERALD_ADMIN_KEY", KEY)
            .env_remove("HERALD_LISTEN");
        if let Some(p) = env_listen {
            cmd.env("HERALD_LISTEN", format!("127.0.0.1:{p}"));
        }
        if let Some(p) = flag_listen {
            cmd.args(["--listen", &format!("127.0.0.1:{p}")]);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    };
    let payload = json!({"type": "a.b", "payload": "x".repeat(3000)});
    for (env_listen, flag_listen, expect) in [
        (None, None, file_port),
        (Some(env_port), None, env_port),
        (Some(env_port), Some(flag_port), flag_port),
    ] {
        let mut child = spawn(env_listen, flag_listen);
        let base = format!("http://127.0.0.1:{expect}");
        wait_ready(&base).await;
        // The file's max_payload applies in every case (nothing overrides it).
        let (s, _) = api(&base, reqwest::Method::POST, "/v1/events", Some(payload.clone())).await;
        assert_eq!(s, 413);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[tokio::test]
async fn an_inbound_request_answered_2xx_survives_kill_9_right_after() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver(Duration::ZERO).await;
    let mut herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    // The agent endpoint is disabled at first, so the event can only come from the store.
    let (_, ep) = api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url, "disabled": true})),
    )
    .await;
    let (_, src) = api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/sources",
        Some(json!({"name": "bearer", "verify": {"scheme": "bearer", "secret": "tok"}, "event_type": "const:order.paid"})),
    )
    .await;
    let sid = src["id"].as_str().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/in/{sid}", herald.base))
        .bearer_auth("tok")
        .body(r#"{"order": 7}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    herald.child.kill().unwrap();
    herald.child.wait().unwrap();

    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (s, ev) = api(
        &herald.base,
        reqwest::Method::GET,
        &format!("/v1/events/{id}"),
        None,
    )
    .await;
    assert_eq!((s, ev["type"].as_str()), (200, Some("order.paid")));
    let eid = ep["id"].as_str().unwrap();
    let since = json!({"since": "2000-01-01T00:00:00Z"});
    api(
        &herald.base,
        reqwest::Method::PATCH,
        &format!("/v1/endpoints/{eid}"),
        Some(json!({"disabled": false})),
    )
    .await;
    let (s, rec) = api(
        &herald.base,
        reqwest::Method::POST,
        &format!("/v1/endpoints/{eid}/recover"),
        Some(since),
    )
    .await;
    assert_eq!((s, rec["recovered"].as_u64()), (202, Some(1)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.lock().unwrap().contains(&id) {
        assert!(Instant::now() < deadline, "the stored event was never delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
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

#[tokio::test]
async fn listen_forwards_signed_bodies_retries_local_failures_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (url, got) = local_handler().await;
    let args = [
        "listen",
        "--forward-to",
        &url,
        "--events",
        "ticket.*",
        "--server",
        &herald.base,
        "--key",
        KEY,
    ];
    let mut listen = Running::start(&args);
    let created = listen.line_with("Created pull endpoint").await;
    let endpoint = created.split_whitespace().nth(3).unwrap().to_string();
    let secret_line = listen.line_with("whsec_").await;
    let secret = secret_line
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap()
        .to_string();

    let raw = r#"{"event":"ticket.created",  "data":{"ticket_id":"TKT-2026-05-11-001"}}"#;
    let body = format!(r#"{{"type":"ticket.created","payload":{raw}}}"#);
    let r = reqwest::Client::new()
        .post(format!("{}/v1/events", herald.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    listen.line_with("→ 500").await;
    listen.line_with("→ 200").await;
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2, "the local 500 was retried");
        let (body, headers) = &got[1];
        assert_eq!(std::str::from_utf8(body).unwrap(), raw, "byte for byte");
        let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
        let (id, ts, sig) = (h("webhook-id"), h("webhook-timestamp"), h("webhook-signature"));
        let pairs = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", sig.as_str()),
        ];
        assert!(herald_signing::verify(&pairs, body, &[&secret], ts.parse().unwrap()).is_ok());
    }
    // Offline: events published now wait in the pull endpoint.
    listen.child.kill().await.unwrap();
    let offline = json!({"type": "ticket.closed", "payload": {"missed": true}});
    let (s, _) = api(&herald.base, reqwest::Method::POST, "/v1/events", Some(offline)).await;
    assert_eq!(s, 202);
    let args = [
        "listen",
        "--forward-to",
        &url,
        "--endpoint",
        &endpoint,
        "--server",
        &herald.base,
        "--key",
        KEY,
    ];
    let back = Running::start(&args);
    back.line_with("ticket.closed").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got.lock().unwrap()[2].0, br#"{"missed":true}"#);
}

fn stripe_sig(secret: &str, t: i64, body: &[u8]) -> String {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(format!("{t}.").as_bytes());
    m.update(body);
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

#[test]
fn verify_accepts_valid_and_refuses_tampered_input() {
    let body = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
    let header = format!(
        "Stripe-Signature: {}",
        stripe_sig("whsec_abc", 1_700_000_000, body)
    );
    let args = [
        "verify",
        "--scheme",
        "stripe",
        "--secret",
        "whsec_abc",
        "-H",
        &header,
        "--now",
        "1700000010",
    ];
    let (code, out, _) = cli(&args, body);
    assert_eq!((code, out.trim()), (0, "valid (secret #1)"));
    let (code, out, _) = cli(&args, br#"{"id":"evt_1","type":"charge.refunded"}"#);
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: "), "{out}");
    let stale = [
        "verify",
        "--scheme",
        "stripe",
        "--secret",
        "whsec_abc",
        "-H",
        &header,
        "--now",
        "1700001000",
    ];
    let (code, out, _) = cli(&stale, body);
    assert_eq!(code, 1);
    assert!(out.contains("tolerance"), "{out}");
    let (code, _, err) = cli(&["verify", "--scheme", "carrier-pigeon", "--secret", "x"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("verify.scheme"), "{err}");
}

#[tokio::test]
async fn send_events_deliveries_and_replay_work_and_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (url, seen) = receiver(Duration::ZERO).await;
    api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url})),
    )
    .await;
    let base = herald.base.clone();
    let (code, out, err) = cli(
        &[
            "send",
            "ticket.created",
            "--data",
            r#"{"n": 1}"#,
            "--server",
            &base,
            "--key",
            KEY,
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let id = out.split_whitespace().next().unwrap().to_string();
    assert!(id.starts_with("evt_") && out.contains("1 deliveries"), "{out}");
    let (code, out, _) = cli(
        &[
            "send",
            "ticket.created",
            "--data",
            "@-",
            "--server",
            &base,
            "--key",
            KEY,
        ],
        br#"{"n":   2, "a": 1}"#,
    );
    assert_eq!(code, 0, "{out}");
    let sent = out.split_whitespace().next().unwrap().to_string();
    let raw = reqwest::Client::new()
        .get(format!("{base}/v1/events/{sent}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains(r#""payload":{"n":   2, "a": 1}"#),
        "sent as written: {raw}"
    );
    let (code, out, _) = cli(&["events", "--server", &base, "--key", KEY], b"");
    assert_eq!(code, 0);
    assert!(
        out.starts_with("CREATED") && out.contains(&id) && out.contains("ticket.created"),
        "{out}"
    );
    let (code, out, _) = cli(&["deliveries", &id, "--server", &base, "--key", KEY], b"");
    assert_eq!(code, 0);
    assert!(out.contains("dlv_"), "{out}");
    let (code, out, _) = cli(&["replay", &id, "--server", &base, "--key", KEY], b"");
    assert_eq!((code, out.contains("1 new deliveries")), (0, true), "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().iter().filter(|s| **s == id).count() < 2 {
        assert!(Instant::now() < deadline, "the replay did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (code, _, err) = cli(&["events", "--server", &base, "--key", "wrong-key"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("refused the API key"), "{err}");
    let (code, _, err) = cli(&["events", "--server", "http://127.0.0.1:9", "--key", KEY], b"");
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach herald at http://127.0.0.1:9"), "{err}");
    let (code, _, err) = cli(&["events", "--server", &base], b"");
    assert_eq!(code, 2);
    assert!(err.contains("no API key"), "{err}");
    let (code, _, err) = cli(
        &["send", "a.b", "--data", "{nope", "--server", &base, "--key", KEY],
        b"",
    );
    assert_eq!(code, 2);
    assert!(err.contains("not valid JSON"), "{err}");
}

#[tokio::test]
async fn logs_at_trace_level_carry_no_secret_key_signature_or_payload() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let stderr = Stdio::from(std::fs::File::create(&log_path).unwrap());
    let mut herald = Herald::spawn(&dir.path().join("data"), &[], &[("RUST_LOG", "trace")], stderr);
    herald.ready().await;
    let base = herald.base.clone();
    let (url, seen) = receiver(Duration::ZERO).await;
    let secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
    let (s, _) = api(
        &base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url, "secret": secret})),
    )
    .await;
    assert_eq!(s, 201);
    let payload = json!({"card": "PAYLOAD-MARKER-4242"});
    let (s, ev) = api(
        &base,
        reqwest::Method::POST,
        "/v1/events",
        Some(json!({"type": "a.b", "payload": payload})),
    )
    .await;
    assert_eq!(s, 202);
    let (_, src) = api(
        &base,
        reqwest::Method::POST,
        "/v1/sources",
        Some(json!({"name": "s", "verify": {"scheme": "bearer", "secret": "SOURCE-TOKEN-MARKER"}})),
    )
    .await;
    let sid = src["id"].as_str().unwrap();
    let http = reqwest::Client::new();
    for token in ["SOURCE-TOKEN-MARKER", "WRONG-TOKEN-MARKER"] {
        http.post(format!("{base}/in/{sid}"))
            .bearer_auth(token)
            .body("INBOUND-BODY-MARKER")
            .send()
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen
        .lock()
        .unwrap()
        .contains(&ev["id"].as_str().unwrap().to_string())
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    herald.child.kill().unwrap();
    herald.child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.len() > 1000, "trace logging was on");
    for needle in [
        KEY,
        secret,
        "PAYLOAD-MARKER",
        "SOURCE-TOKEN-MARKER",
        "WRONG-TOKEN-MARKER",
        "INBOUND-BODY-MARKER",
        "v1,",
    ] {
        assert!(!log.contains(needle), "the log contains {needle:?}");
    }
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

#[tokio::test]
async fn https_is_served_and_the_certificate_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = self_signed(dir.path(), "first");
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, &cert_a).unwrap();
    std::fs::write(&key_path, &key_a).unwrap();
    let (tls_cert, tls_key) = (
        cert_path.to_str().unwrap().to_string(),
        key_path.to_str().unwrap().to_string(),
    );
    let herald = Herald::start(
        &dir.path().join("data"),
        &["--tls-cert", &tls_cert, "--tls-key", &tls_key],
    );
    let https = herald.base.replace("http://", "https://");
    let first = trusting(&cert_a);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = match first.get(format!("{https}/healthz")).send().await {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                break;
            }
            Err(e) => format!("{e:?}"),
        };
        assert!(Instant::now() < deadline, "herald did not serve HTTPS: {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        reqwest::get(format!("{}/healthz", herald.base)).await.is_err(),
        "no plain HTTP on a TLS port"
    );

    let (cert_b, key_b) = self_signed(dir.path(), "second");
    std::fs::write(&key_path, &key_b).unwrap();
    std::fs::write(&cert_path, &cert_b).unwrap();
    herald.signal("-HUP");
    let second = trusting(&cert_b);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if second.get(format!("{https}/healthz")).send().await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the new certificate was not loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        first.get(format!("{https}/healthz")).send().await.is_err(),
        "the old certificate is gone"
    );
}
