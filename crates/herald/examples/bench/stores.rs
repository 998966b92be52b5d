//! The stores compared in one run: one node on SQLite, one node on PostgreSQL, three nodes
//! on PostgreSQL (publishes spread over the nodes in turn). For each: deliveries/s of
//! 10,000 events to one endpoint, end to end, and publish → arrival at an open-loop
//! 200 events/s. Needs `DATABASE_URL` (each PostgreSQL setup gets a fresh schema).

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// A fresh schema in the database `DATABASE_URL` names, as a store URL.
pub async fn fresh_schema(name: &str) -> String {
    let url = std::env::var("DATABASE_URL").expect("the store comparison needs DATABASE_URL");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{name}")
}

/// `only`: the setups to run, by short name (`sqlite`, `pg1`, `pg3`); empty for all.
pub async fn compare(only: &[String]) {
    let http = client();
    let (url, arrivals) = receiver().await;
    let (h, u) = (http.clone(), url.clone());
    let baseline = closed_loop(16, Duration::from_secs(3), move |n| h.post(&u).json(&payload(n))).await;
    println!("baseline: receiver hit directly, 16 connections: {baseline:.0} requests/s");
    println!("| setup | deliveries/s (10,000 events, 1 endpoint) | fraction of baseline | publish → arrival at 200/s | publishing took | CPU per delivery, herald + PostgreSQL |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let setups: [(&str, &str, Option<&str>, usize); 3] = [
        ("SQLite, 1 node", "sqlite", None, 1),
        ("PostgreSQL, 1 node", "pg1", Some("bench_pg1"), 1),
        ("PostgreSQL, 3 nodes", "pg3", Some("bench_pg3"), 3),
    ];
    for (round, (label, short, schema, count)) in setups.into_iter().enumerate() {
        if !only.is_empty() && !only.iter().any(|o| o == short) {
            continue;
        }
        let store = match schema {
            Some(name) => Some(fresh_schema(name).await),
            None => None,
        };
        let dirs: Vec<_> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut nodes = Vec::new();
        for dir in &dirs {
            let args: Vec<&str> = store.as_deref().map(|s| vec!["--store", s]).unwrap_or_default();
            nodes.push(start_herald(&http, dir.path(), &args).await);
        }
        let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
        let ep = http
            .post(format!("{}/v1/endpoints", bases[0]))
            .bearer_auth(KEY)
            .json(&json!({"url": url, "event_types": ["bench.*"], "max_in_flight": 64}))
            .send()
            .await
            .unwrap();
        assert_eq!(ep.status(), 201);
        let first = 20_000_000 * (round as u64 + 1);
        let burst = Burst {
            event_type: "bench.deliver",
            total: 10_000,
            first,
            fan_out: 1,
        };
        let (herald_cpu, db_cpu) = (cpu_of_nodes(&nodes), cpu_named("postgres"));
        let (rate, published) = deliver_burst(&http, &bases, &arrivals, burst).await;
        let per = |d: Duration| d.as_secs_f64() * 1e3 / 10_000.0;
        let cpu = format!(
            "{:.3} + {:.3} ms",
            per(cpu_of_nodes(&nodes).saturating_sub(herald_cpu)),
            per(cpu_named("postgres").saturating_sub(db_cpu))
        );
        let open = OpenLoop {
            bases: &bases,
            event_type: "bench.latency",
            first: first + 10_000_000,
            rate: 200,
            count: 2_000,
        };
        let lat = Stats::of(&open.publish_to_arrival(&http, &arrivals).await);
        println!(
            "| {label} | {rate:.0} | {:.2} | {lat} | {:.1} s | {cpu} |",
            rate / baseline,
            published.as_secs_f64()
        );
        drop(nodes);
    }
}

fn cpu_of_nodes(nodes: &[Node]) -> Duration {
    nodes.iter().map(Node::cpu).sum()
}
