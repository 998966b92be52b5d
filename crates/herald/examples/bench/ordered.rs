//! Scenario 8: ordered keys. One endpoint ordered by a payload key over 1,000 keys, open
//! loop: once with every key healthy, once with one key whose receiver fails every
//! delivery. Shows the other keys' publish → arrival against the healthy run's (target:
//! p99 within 1.2×) and counts deliveries that arrived out of their key's order (target 0).

use std::collections::HashMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::{json, Value};

use crate::harness::*;
use crate::{Report, Run};

const STUCK: &str = "k0";

/// A request the ordered receiver answered: its key and sequence, and when.
struct Arrival {
    key: String,
    sequence: i64,
    seq: u64,
    at: Instant,
    ok: bool,
}

/// A receiver that fails every delivery of `stuck` (if any) and records every request.
async fn ordered_receiver(stuck: Option<&'static str>) -> (String, Arc<Mutex<Vec<Arrival>>>) {
    let seen: Arc<Mutex<Vec<Arrival>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: Bytes| {
        let s = s.clone();
        async move {
            let at = Instant::now();
            let header = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let key = header("x-herald-ordering-key");
            let ok = Some(key.as_str()) != stuck;
            let seq = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["seq"].as_u64())
                .unwrap_or(0);
            s.lock().unwrap().push(Arrival {
                sequence: header("x-herald-sequence").parse().unwrap_or(0),
                key,
                seq,
                at,
                ok,
            });
            if ok {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (url, seen)
}

/// Out-of-order arrivals: a key's successful deliveries must come with sequences 1, 2, 3, ….
fn out_of_order(seen: &[Arrival]) -> usize {
    let mut last: HashMap<&str, i64> = HashMap::new();
    let mut bad = 0;
    for a in seen.iter().filter(|a| a.ok) {
        let prev = last.entry(a.key.as_str()).or_insert(0);
        if a.sequence != *prev + 1 {
            bad += 1;
        }
        *prev = (*prev).max(a.sequence);
    }
    bad
}

/// One pass: publishes `count` events at `rate` over `keys` keys and returns the sorted
/// publish → arrival times of the events of every key but the stuck one, and the count of
/// out-of-order arrivals; `None` when this herald has no ordered keys.
async fn pass(
    run: &Run<'_>,
    base: &str,
    stuck: Option<&'static str>,
    first: u64,
) -> Option<(Vec<Duration>, usize)> {
    let (url, seen) = ordered_receiver(stuck).await;
    let event_type = if stuck.is_some() {
        "ord.stuck"
    } else {
        "ord.healthy"
    };
    let created = run
        .http
        .post(format!("{base}/v1/endpoints"))
        .bearer_auth(KEY)
        .json(
            &json!({"url": url, "event_types": [event_type], "max_in_flight": 64, "circuit_after": 0,
                      "retry_schedule": "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms",
                      "ordering": {"key": "json:/key"}}),
        )
        .send()
        .await
        .unwrap();
    if created.status() != 201 {
        return None;
    }
    let (rate, keys) = (run.scale.ordered_rate, run.scale.ordered_keys);
    let count = rate * run.scale.latency_s;
    let start = Instant::now();
    let mut sent_at = HashMap::new();
    let mut tasks = Vec::new();
    for i in 0..count {
        let at = start + Duration::from_micros(i * 1_000_000 / rate);
        tokio::time::sleep_until(at.into()).await;
        let seq = first + i;
        let key = format!("k{}", i % keys);
        let mut body = payload(seq);
        body["key"] = json!(key);
        if Some(key.as_str()) != stuck {
            sent_at.insert(seq, at);
        }
        let (h, b) = (run.http.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            publish(&h, &b, &json!({"type": event_type, "payload": body})).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let arrived = |seen: &[Arrival]| -> HashMap<u64, Instant> {
        let mut first_ok = HashMap::new();
        for a in seen.iter().filter(|a| a.ok) {
            first_ok.entry(a.seq).or_insert(a.at);
        }
        first_ok
    };
    wait_until(Duration::from_secs(120), || {
        let got = arrived(&seen.lock().unwrap());
        let missing = sent_at.keys().filter(|s| !got.contains_key(s)).count();
        (missing == 0)
            .then_some(())
            .ok_or(format!("{missing} ordered events not yet arrived"))
    })
    .await;
    let seen = seen.lock().unwrap();
    let got = arrived(&seen);
    let mut lat: Vec<Duration> = sent_at
        .iter()
        .map(|(seq, s)| got[seq].saturating_duration_since(*s))
        .collect();
    lat.sort();
    Some((lat, out_of_order(&seen)))
}

pub async fn ordered_keys(run: &Run<'_>, report: &mut Report) {
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_ordered").await;
    let args: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(run.http, dir.path(), &args).await;
    let Some((healthy, bad_a)) = pass(run, &node.base, None, run.seq_offset + 70_000_000).await else {
        report.note("(8) skipped: this herald has no ordered keys");
        return;
    };
    let (with_stuck, bad_b) = pass(run, &node.base, Some(STUCK), run.seq_offset + 80_000_000)
        .await
        .expect("ordered keys worked a moment ago");
    let (rate, keys) = (run.scale.ordered_rate, run.scale.ordered_keys);
    let (a, b) = (Stats::of(&healthy), Stats::of(&with_stuck));
    report.value(
        &format!("(8) ordered, {keys} keys, {rate}/s, publish → arrival"),
        a.to_string(),
    );
    report.value(
        &format!("(8) the same with key {STUCK} failing every delivery: the other keys"),
        b.to_string(),
    );
    report.ratio(
        "(8) other keys' p99 with a stuck key / without (target ≤ 1.2)",
        b.p99.as_secs_f64() / a.p99.as_secs_f64(),
    );
    report.value(
        "(8) out-of-order deliveries (target 0)",
        format!("{}", bad_a + bad_b),
    );
}
