//! The scenarios of the benchmark, each adding rows to the report.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;
use crate::{Report, Run};

/// Scenario 1 and its baseline: the receiver hit directly, then durable publishes with no
/// subscriber, at 1, 16 and 64 concurrent clients. Returns the baseline at 16 and 64
/// connections and the publish rate at 16.
pub async fn publish_rates(run: &Run<'_>, node: &Node, report: &mut Report) -> (f64, f64, f64) {
    let secs = Duration::from_secs(run.scale.closed_loop_s);
    let mut direct = Vec::new();
    let mut publish16 = 0.0;
    for workers in [1, 16, 64] {
        let (h, u) = (run.http.clone(), run.receiver_url.to_string());
        let baseline = closed_loop(workers, secs, move |n| h.post(&u).json(&payload(n))).await;
        let (h, b) = (run.http.clone(), node.base.clone());
        let rate = closed_loop(workers, secs, move |n| {
            publish_request(&h, &b, &json!({"type": "none.x", "payload": payload(n)}))
        })
        .await;
        report.compare(
            &format!("(1) durable publish, {workers} publishers, 1 KB JSON, no subscriber (events/s)"),
            rate,
            baseline,
        );
        direct.push(baseline);
        if workers == 16 {
            publish16 = rate;
        }
    }
    (direct[1], direct[2], publish16)
}

/// Scenario 2: deliveries/s with 1 and with 10 endpoints per event, end to end, and the
/// CPU herald spends per delivered message.
pub async fn deliveries(run: &Run<'_>, node: &Node, report: &mut Report, direct16: f64, direct64: f64) {
    let bases = [node.base.clone()];
    create_endpoint(
        run.http,
        &node.base,
        json!({"url": run.receiver_url, "event_types": ["d1.x"], "max_in_flight": 64}),
    )
    .await;
    let cpu = node.cpu();
    let db_cpu = cpu_named("postgres");
    let burst = Burst {
        event_type: "d1.x",
        total: run.scale.deliver_events,
        first: run.seq_offset + 1_000_000,
        fan_out: 1,
    };
    let (rate, published) = deliver_burst(run.http, &bases, run.arrivals, burst).await;
    let per = (node.cpu() - cpu).as_secs_f64() * 1e3 / run.scale.deliver_events as f64;
    let db_per = (cpu_named("postgres") - db_cpu).as_secs_f64() * 1e3 / run.scale.deliver_events as f64;
    report.compare(
        "(2) deliveries/s, 1 endpoint per event (first publish → last arrival)",
        rate,
        direct16,
    );
    report.note(&format!(
        "    publishing those events took {:.1} s",
        published.as_secs_f64()
    ));
    for _ in 0..10 {
        create_endpoint(
            run.http,
            &node.base,
            json!({"url": run.receiver_url, "event_types": ["d10.x"], "max_in_flight": 64}),
        )
        .await;
    }
    let cpu = node.cpu();
    let db_cpu = cpu_named("postgres");
    let burst = Burst {
        event_type: "d10.x",
        total: run.scale.fan_out_events,
        first: run.seq_offset + 2_000_000,
        fan_out: 10,
    };
    let (rate10, published10) = deliver_burst(run.http, &bases, run.arrivals, burst).await;
    let per10 = (node.cpu() - cpu).as_secs_f64() * 1e3 / (run.scale.fan_out_events * 10) as f64;
    let db_per10 =
        (cpu_named("postgres") - db_cpu).as_secs_f64() * 1e3 / (run.scale.fan_out_events * 10) as f64;
    report.compare("(2) deliveries/s, 10 endpoints per event", rate10, direct64);
    report.note(&format!(
        "    publishing those events took {:.1} s",
        published10.as_secs_f64()
    ));
    report.value(
        "CPU per delivered message, herald process (1 endpoint / 10 endpoints)",
        format!("{per:.3} ms / {per10:.3} ms"),
    );
    if run.postgres {
        report.value(
            "CPU per delivered message, PostgreSQL's processes (1 endpoint / 10 endpoints)",
            format!("{db_per:.3} ms / {db_per10:.3} ms"),
        );
    }
}

/// Scenario 3: publish → arrival at fixed offered rates (open loop). Returns the p99 at
/// each rate.
pub async fn latency(run: &Run<'_>, node: &Node, report: &mut Report) -> Vec<(u64, Duration)> {
    latency_at_cap(run, node, report, Some(64)).await
}

/// Scenario 3 to an endpoint with this `max_in_flight` (`None`: the default a user gets,
/// 16, as an outside harness creates it).
pub async fn latency_at_cap(
    run: &Run<'_>,
    node: &Node,
    report: &mut Report,
    cap: Option<u32>,
) -> Vec<(u64, Duration)> {
    let (event_type, label) = match cap {
        Some(_) => ("lat.x", String::new()),
        None => ("latd.x", ", default max_in_flight".to_string()),
    };
    let mut body = json!({"url": run.receiver_url, "event_types": [event_type]});
    if let Some(c) = cap {
        body["max_in_flight"] = json!(c);
    }
    create_endpoint(run.http, &node.base, body).await;
    let mut p99s = Vec::new();
    for (i, &rate) in run.scale.rates.iter().enumerate() {
        let open = OpenLoop {
            bases: std::slice::from_ref(&node.base),
            event_type,
            first: run.seq_offset + 3_000_000 + i as u64 * 1_000_000,
            rate,
            count: rate * run.scale.latency_s,
        };
        let stats = Stats::of(&open.publish_to_arrival(run.http, run.arrivals).await);
        let direct =
            Stats::of(&direct_open_loop(run.http, run.receiver_url, rate, rate * run.scale.latency_s).await);
        report.push(format!(
            "| (3) publish → arrival, open loop {rate}/s{label} (baseline: the receiver hit directly on the same schedule; ratio of the p99s) | {stats} | {direct} | {:.1} |",
            stats.p99.as_secs_f64() / direct.p99.as_secs_f64()
        ));
        p99s.push((rate, stats.p99));
    }
    p99s
}

/// Scenario 5: a dead endpoint (connections accepted, never answered) subscribed to the
/// same events as a healthy one; the healthy one's latency against scenario 3's.
pub async fn dead_endpoint(run: &Run<'_>, node: &Node, report: &mut Report, p99s: &[(u64, Duration)]) {
    let dead = dead_receiver().await;
    let (rate, alone) = p99s.iter().copied().find(|(r, _)| *r == 1000).unwrap_or(p99s[0]);
    create_endpoint(
        run.http,
        &node.base,
        json!({"url": dead, "event_types": ["mix.x"], "timeout_ms": 1000}),
    )
    .await;
    create_endpoint(
        run.http,
        &node.base,
        json!({"url": run.receiver_url, "event_types": ["mix.x"], "max_in_flight": 64}),
    )
    .await;
    let open = OpenLoop {
        bases: std::slice::from_ref(&node.base),
        event_type: "mix.x",
        first: run.seq_offset + 9_000_000,
        rate,
        count: rate * run.scale.latency_s,
    };
    let stats = Stats::of(&open.publish_to_arrival(run.http, run.arrivals).await);
    report.value(
        &format!("(5) healthy endpoint beside a dead one, {rate}/s"),
        stats.to_string(),
    );
    report.ratio(
        &format!("(5) healthy p99 / p99 alone at {rate}/s (target ≤ 2)"),
        stats.p99.as_secs_f64() / alone.as_secs_f64(),
    );
}

/// Scenario 4: inbound request → 2xx with Stripe verification, open loop.
pub async fn inbound(run: &Run<'_>, node: &Node, report: &mut Report) {
    use hmac::{Hmac, Mac};
    let secret = "whsec_bench_inbound_secret";
    let src: Value = run
        .http
        .post(format!("{}/v1/sources", node.base))
        .bearer_auth(KEY)
        .json(&json!({"name": "bench", "verify": {"scheme": "stripe", "secret": secret}, "type_prefix": "stripe."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{}/in/{}", node.base, src["id"].as_str().unwrap());
    let rate = run.scale.inbound_rate;
    let count = rate * run.scale.latency_s;
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
        let req = run
            .http
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
    report.value(
        &format!("(4) inbound request → 2xx, Stripe verification, open loop {rate}/s"),
        Stats::of(&lat).to_string(),
    );
}

/// Publish → arrival through a pull endpoint and `herald listen` (local development).
pub async fn pull(run: &Run<'_>, node: &Node, report: &mut Report) {
    let id = create_endpoint(run.http, &node.base, json!({"event_types": ["pull.x"]})).await;
    let mut listen = start_listen(&node.base, &id, run.receiver_url);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open = OpenLoop {
        bases: std::slice::from_ref(&node.base),
        event_type: "pull.x",
        first: run.seq_offset + 8_000_000,
        rate: 200,
        count: 200 * run.scale.latency_s,
    };
    let stats = Stats::of(&open.publish_to_arrival(run.http, run.arrivals).await);
    let _ = listen.kill();
    let _ = listen.wait();
    report.value(
        "publish → arrival via a pull endpoint and `herald listen`, 200/s",
        stats.to_string(),
    );
}

/// Scenario 6: a backlog stored by an API-only node, then drained by a full node: time to
/// drain, and peak memory of both.
pub async fn backlog(run: &Run<'_>, report: &mut Report) {
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_backlog").await;
    let mut args: Vec<&str> = store.iter().map(String::as_str).collect();
    args.extend(["--role", "api"]);
    let api = start_herald(run.http, dir.path(), &args).await;
    for _ in 0..10 {
        create_endpoint(
            run.http,
            &api.base,
            json!({"url": run.receiver_url, "event_types": ["bl.x"], "max_in_flight": 64}),
        )
        .await;
    }
    let events = run.scale.backlog_events;
    let started = Instant::now();
    publish_n(run.http, &api.base, "bl.x", events).await;
    let publish_s = started.elapsed().as_secs_f64();
    let api_rss = api.peak_rss_mib();
    api.stop();
    let pending = events * 10;
    let before = run.arrivals.count.load(Ordering::Relaxed);
    let args: Vec<&str> = store.iter().map(String::as_str).collect();
    let started = Instant::now();
    let node = start_herald(run.http, dir.path(), &args).await;
    wait_until(Duration::from_secs(1800), || {
        let got = run.arrivals.count.load(Ordering::Relaxed) - before;
        (got >= pending)
            .then_some(())
            .ok_or(format!("{got} of {pending} drained"))
    })
    .await;
    let drain_s = started.elapsed().as_secs_f64();
    report.value(
        &format!("(6) backlog: {events} events × 10 endpoints stored with no worker running"),
        format!(
            "{publish_s:.1} s ({:.0} events/s); API node peak RSS {api_rss:.0} MiB",
            events as f64 / publish_s
        ),
    );
    report.value(
        &format!("(6) backlog: {pending} pending deliveries drained by a fresh node"),
        format!(
            "{drain_s:.1} s ({:.0} deliveries/s); peak RSS {:.0} MiB",
            pending as f64 / drain_s,
            node.peak_rss_mib()
        ),
    );
}

/// Publishes `n` events of `event_type` with 16 publishers, without waiting for arrivals.
async fn publish_n(http: &reqwest::Client, base: &str, event_type: &str, n: u64) {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (h, b, next, t) = (
            http.clone(),
            base.to_string(),
            next.clone(),
            event_type.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                publish(&h, &b, &json!({"type": t, "payload": payload(50_000_000 + i)})).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Scenario 7: publish rate with many endpoints, each with its own filter.
pub async fn many_endpoints(run: &Run<'_>, report: &mut Report, publish16: f64) {
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_many").await;
    let args: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(run.http, dir.path(), &args).await;
    let n = run.scale.many_endpoints;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (h, b, next, url) = (
            run.http.clone(),
            node.base.clone(),
            next.clone(),
            run.receiver_url.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                create_endpoint(&h, &b, json!({"url": url, "event_types": [format!("many.t{i}")]})).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (h, b) = (run.http.clone(), node.base.clone());
    let rate = closed_loop(16, Duration::from_secs(run.scale.closed_loop_s), move |i| {
        let body = json!({"type": format!("many.t{}", i as usize % n), "payload": payload(60_000_000 + i)});
        publish_request(&h, &b, &body)
    })
    .await;
    report.compare(
        &format!(
            "(7) publish, 16 publishers, {n} endpoints with one filter each (events/s; baseline: (1) at 16)"
        ),
        rate,
        publish16,
    );
}
