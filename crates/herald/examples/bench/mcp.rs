//! Scenario 12: agents over MCP (`/mcp`, Streamable HTTP). (a) publish → `events_wait`
//! return: one agent loops wait → ack while events are published on schedule, beside the
//! pull stream's own figure (`herald listen`, scenario (7)); (b) many agents waiting at once:
//! 1,000 consumers each with an `events_wait` open, herald's resident memory before and
//! while they wait, and how fast all of them return once one event is published to all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;
use crate::{Report, Run};

pub async fn mcp(run: &Run<'_>, report: &mut Report) {
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_mcp").await;
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(run.http, dir.path(), &store).await;
    let lat = wait_latency(run, &node).await;
    report.value(
        &format!(
            "(12) publish → events_wait return, {} events at {}/s, p50 / p99 / max",
            run.scale.mcp_events, run.scale.mcp_rate
        ),
        format!("{:.2} / {:.2} / {:.2} ms", ms(lat.p50), ms(lat.p99), ms(lat.max)),
    );
    let open = many_waits(run, &node).await;
    report.value(
        &format!(
            "(12) {} agents waiting at once: herald RSS before / after 3 s / after 14 s of waiting / per wait",
            open.agents
        ),
        format!(
            "{:.1} MiB / {:.1} MiB / {:.1} MiB / {:.1} KiB",
            open.rss_before,
            open.rss_waiting,
            open.rss_later,
            (open.rss_waiting - open.rss_before) * 1024.0 / open.agents as f64
        ),
    );
    report.value(
        "(12) one publish to all of them → every wait returned, p50 / p99 / last",
        format!(
            "{:.0} / {:.0} / {:.0} ms",
            ms(open.wake.p50),
            ms(open.wake.p99),
            ms(open.wake.max)
        ),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One JSON-RPC call to `/mcp` (stateless; the answer as JSON or on an SSE stream).
async fn rpc(http: &reqwest::Client, base: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let text = http
        .post(format!("{base}/mcp"))
        .bearer_auth(KEY)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m["id"] == 1)
        .or_else(|| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

async fn tool(http: &reqwest::Client, base: &str, name: &str, args: Value) -> Value {
    let answer = rpc(http, base, "tools/call", json!({"name": name, "arguments": args})).await;
    let result = &answer["result"];
    assert_ne!(result["isError"], true, "{name}: {answer}");
    result["structuredContent"].clone()
}

/// (a): events published on schedule, one agent waiting and acking; publish → return.
async fn wait_latency(run: &Run<'_>, node: &Node) -> Stats {
    let (http, base) = (run.http.clone(), node.base.clone());
    let consumer = json!({"consumer": "bench", "types": ["b12.x"], "timeout_ms": 0});
    tool(&http, &base, "events_wait", consumer).await;
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let total = run.scale.mcp_events;
    let agent = {
        let (http, base, sent) = (http.clone(), base.clone(), sent.clone());
        tokio::spawn(async move {
            let mut took = Vec::new();
            while (took.len() as u64) < total {
                let args = json!({"consumer": "bench", "max": 100, "timeout_ms": 20_000});
                let got = tool(&http, &base, "events_wait", args).await;
                let now = Instant::now();
                let mut ids = Vec::new();
                for e in got["events"].as_array().into_iter().flatten() {
                    let seq = e["payload"]["seq"].as_u64().unwrap();
                    took.push(now - sent.lock().unwrap()[&seq]);
                    ids.push(e["delivery_id"].clone());
                }
                if !ids.is_empty() {
                    tool(
                        &http,
                        &base,
                        "events_ack",
                        json!({"consumer": "bench", "delivery_ids": ids}),
                    )
                    .await;
                }
            }
            took
        })
    };
    let start = Instant::now();
    for i in 0..total {
        tokio::time::sleep_until((start + Duration::from_micros(i * 1_000_000 / run.scale.mcp_rate)).into())
            .await;
        let seq = run.seq_offset + 15_000_000 + i;
        sent.lock().unwrap().insert(seq, Instant::now());
        publish(&http, &base, &json!({"type": "b12.x", "payload": payload(seq)})).await;
    }
    let mut took = tokio::time::timeout(Duration::from_secs(120), agent)
        .await
        .expect("the agent received every event within 2 minutes")
        .unwrap();
    took.sort();
    Stats::of(&took)
}

struct Open {
    agents: usize,
    rss_before: f64,
    rss_waiting: f64,
    rss_later: f64,
    wake: Stats,
}

/// (b): every agent's consumer exists, then each opens a long `events_wait`; one publish
/// reaches all of them.
async fn many_waits(run: &Run<'_>, node: &Node) -> Open {
    let agents = run.scale.mcp_agents;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(agents)
        .build()
        .unwrap();
    for a in 0..agents {
        let args = json!({"consumer": format!("agent-{a}"), "types": ["b12.all"], "timeout_ms": 0});
        tool(&http, &node.base, "events_wait", args).await;
    }
    let rss_before = rss_mib(node);
    let mut waits = Vec::new();
    for a in 0..agents {
        let (http, base) = (http.clone(), node.base.clone());
        waits.push(tokio::spawn(async move {
            let args = json!({"consumer": format!("agent-{a}"), "timeout_ms": 30_000});
            let got = tool(&http, &base, "events_wait", args).await;
            assert_eq!(got["events"].as_array().map(Vec::len), Some(1), "{got}");
            Instant::now()
        }));
    }
    // Every wait is open (none can return: nothing of their type is published yet).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(waits.iter().all(|w| !w.is_finished()), "a wait returned early");
    let rss_waiting = rss_mib(node);
    // And still the same after the waits have each polled again twice (5-s slices).
    tokio::time::sleep(Duration::from_secs(11)).await;
    let rss_later = rss_mib(node);
    assert!(waits.iter().all(|w| !w.is_finished()), "a wait returned early");
    let published = Instant::now();
    publish(&http, &node.base, &json!({"type": "b12.all", "payload": {}})).await;
    let mut woke = Vec::new();
    for w in waits {
        woke.push(w.await.unwrap() - published);
    }
    woke.sort();
    Open {
        agents,
        rss_before,
        rss_waiting,
        rss_later,
        wake: Stats::of(&woke),
    }
}

/// herald's resident memory now (VmRSS).
fn rss_mib(node: &Node) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid())).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
