//! An MCP agent through a crash: 2,000 events consumed with `events_wait` and `events_ack`
//! over `herald mcp`, `kill -9` of the herald server half way and a restart on the same
//! port, on the embedded store and on PostgreSQL: every event arrives (0 lost) and none
//! comes back once its ack was confirmed (0 re-delivered after ack).

use std::collections::HashMap;

use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;

use super::*;

const EVENTS: usize = 2_000;

/// Publishes `n` `load.item` events with 16 publishers; their ids.
async fn publish_all(base: &str, n: usize) -> HashSet<String> {
    let mut tasks = Vec::new();
    for p in 0..16 {
        let base = base.to_string();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut ids = Vec::new();
            for i in (p..n).step_by(16) {
                let body = json!({"type": "load.item", "payload": {"i": i}});
                let r = http
                    .post(format!("{base}/v1/events"))
                    .bearer_auth(KEY)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
                ids.push(
                    r.json::<Value>().await.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
            ids
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// One tool call; `None` when it failed (the server is down, or the tool said no).
async fn try_call(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> Option<Value> {
    let params = CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone());
    let result = client.call_tool(params).await.ok()?;
    (result.is_error != Some(true)).then(|| result.structured_content.unwrap_or(Value::Null))
}

async fn consume_through_kill_9(store: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = || Herald::spawn_at(port, dir.path(), store, &[], Stdio::null());
    let herald = start();
    herald.ready().await;
    let client = agent(&herald.base, "3000").await;
    let consumer = json!({"consumer": "load", "types": ["load.*"], "timeout_ms": 0});
    try_call(&client, "events_wait", consumer)
        .await
        .expect("the consumer exists");
    let published = publish_all(&herald.base, EVENTS).await;

    let mut herald = Some(herald);
    let mut acked: HashMap<String, String> = HashMap::new(); // event id → delivery id
    let mut again_after_ack = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while acked.len() < EVENTS {
        assert!(
            Instant::now() < deadline,
            "only {} of {EVENTS} acked in 4 minutes",
            acked.len()
        );
        if acked.len() >= EVENTS / 2 {
            if let Some(mut h) = herald.take() {
                h.child.kill().unwrap(); // SIGKILL, mid-consumption
                h.child.wait().unwrap();
                let restarted = start();
                restarted.ready().await;
                herald = Some(restarted);
            }
        }
        let args = json!({"consumer": "load", "max": 100, "timeout_ms": 2000});
        let Some(got) = try_call(&client, "events_wait", args).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let events = handed_out(&got);
        for (event, _) in &events {
            if acked.contains_key(event) {
                again_after_ack.push(event.clone());
            }
        }
        let ids: Vec<Value> = events.iter().map(|(_, d)| d.clone()).collect();
        if ids.is_empty() {
            continue;
        }
        let ack = json!({"consumer": "load", "delivery_ids": ids});
        if let Some(done) = try_call(&client, "events_ack", ack).await {
            assert_eq!(done["acked"].as_u64(), Some(ids.len() as u64), "{done}");
            for (event, delivery) in events {
                acked.insert(event, delivery.as_str().unwrap().to_string());
            }
        }
    }
    let missing = published.iter().filter(|id| !acked.contains_key(*id)).count();
    assert_eq!(missing, 0, "lost events");
    assert!(
        again_after_ack.is_empty(),
        "re-delivered after a confirmed ack: {again_after_ack:?}"
    );
    eprintln!("MCP through kill -9 ({store:?}): {EVENTS} events, 0 lost, 0 re-delivered after ack");
}

#[tokio::test]
async fn an_agent_loses_nothing_and_sees_nothing_twice_after_ack_through_kill_9() {
    consume_through_kill_9(&[]).await;
}

#[tokio::test]
#[cfg_attr(
    not(herald_pg),
    ignore = "no PostgreSQL: set DATABASE_URL or start one on 127.0.0.1:5432"
)]
async fn on_postgresql_too() {
    let store = super::multinode::fresh_store("mcp_kill").await;
    consume_through_kill_9(&["--store", &store]).await;
}

/// `herald mcp` against `base`, events leased `lease_ms`.
async fn agent(base: &str, lease_ms: &str) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(["mcp", "--server", base, "--key", KEY, "--lease-ms", lease_ms]);
    ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap()
}

/// Event id → delivery id of a wait's events.
fn handed_out(got: &Value) -> Vec<(String, Value)> {
    got["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_string(),
                e["delivery_id"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
#[cfg_attr(
    not(herald_pg),
    ignore = "no PostgreSQL: set DATABASE_URL or start one on 127.0.0.1:5432"
)]
async fn a_consumer_is_the_same_on_every_node_and_survives_its_node() {
    let store = super::multinode::fresh_store("mcp_nodes").await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut node_a = Herald::start(dir_a.path(), &["--store", &store]);
    let node_b = Herald::start(dir_b.path(), &["--store", &store]);
    node_a.ready().await;
    node_b.ready().await;
    let on_a = agent(&node_a.base, "2000").await;
    let consumer = json!({"consumer": "shared", "types": ["load.*"], "timeout_ms": 0});
    try_call(&on_a, "events_wait", consumer)
        .await
        .expect("the consumer exists");
    let published = publish_all(&node_b.base, 200).await;
    let got = try_call(&on_a, "events_wait", json!({"consumer": "shared", "max": 100}))
        .await
        .unwrap();
    let first = handed_out(&got);
    assert_eq!(first.len(), 100, "node A hands out what node B accepted");
    let (acked_on_a, unacked_on_a) = first.split_at(50);
    let ids: Vec<Value> = acked_on_a.iter().map(|(_, d)| d.clone()).collect();
    let done = try_call(
        &on_a,
        "events_ack",
        json!({"consumer": "shared", "delivery_ids": ids}),
    )
    .await
    .unwrap();
    assert_eq!(done["acked"], 50);
    node_a.child.kill().unwrap(); // SIGKILL: its 50 unacknowledged leases die with it
    node_a.child.wait().unwrap();

    let on_b = agent(&node_b.base, "2000").await;
    let mut seen: HashSet<String> = acked_on_a.iter().map(|(e, _)| e.clone()).collect();
    let mut back_again = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < published.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} after 60 s",
            seen.len(),
            published.len()
        );
        let args = json!({"consumer": "shared", "max": 100, "timeout_ms": 3000});
        let batch = handed_out(&try_call(&on_b, "events_wait", args).await.unwrap());
        for (event, _) in &batch {
            assert!(
                !acked_on_a.iter().any(|(e, _)| e == event),
                "acked on node A, back on B: {event}"
            );
            back_again += usize::from(unacked_on_a.iter().any(|(e, _)| e == event));
            seen.insert(event.clone());
        }
        let ids: Vec<Value> = batch.iter().map(|(_, d)| d.clone()).collect();
        if !ids.is_empty() {
            try_call(
                &on_b,
                "events_ack",
                json!({"consumer": "shared", "delivery_ids": ids}),
            )
            .await
            .unwrap();
        }
    }
    assert_eq!(seen, published, "every event, once acknowledged");
    assert_eq!(
        back_again, 50,
        "what node A handed out and nobody acked came back on node B"
    );
}
