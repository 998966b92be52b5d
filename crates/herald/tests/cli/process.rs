//! herald as a process: crashes, signals, the first start, configuration layering.

use super::*;

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

    let burst = Burst::start(std::slice::from_ref(&herald.base), 16);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut herald = herald;
    herald.child.kill().unwrap(); // SIGKILL, mid-burst
    herald.child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let accepted = burst.stop(50).await;

    let herald = Herald::start(dir.path(), &["--retry-schedule", "100ms,200ms,400ms,1s,1s,1s"]);
    herald.ready().await;
    all_arrive(&accepted, &seen).await;
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
