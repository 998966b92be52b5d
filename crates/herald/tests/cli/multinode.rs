//! Three `herald serve` processes on one PostgreSQL database: publishes spread over all
//! three, one node killed with SIGKILL mid-burst, and every accepted event delivered.

use super::*;

/// A fresh schema in the database `DATABASE_URL` names (or `test` on the machine's
/// PostgreSQL), as a store URL. Without a PostgreSQL the test is compiled as ignored
/// (`build.rs`, shared with herald-server).
pub async fn fresh_store(name: &str) -> String {
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let schema = format!("{name}_{}", std::process::id());
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// Successful attempts a node has made, from its `/metrics`.
async fn succeeded_attempts(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("herald_delivery_attempts_total{outcome=\"succeeded\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
#[cfg_attr(
    not(herald_pg),
    ignore = "no PostgreSQL: set DATABASE_URL or start one on 127.0.0.1:5432"
)]
async fn three_nodes_share_the_work_and_a_killed_node_loses_nothing() {
    let store = fresh_store("multinode").await;
    // Each request takes 20 ms at the receiver, so the killed node has attempts in flight.
    let (url, seen) = receiver(Duration::from_millis(20)).await;
    let args = [
        "--store",
        store.as_str(),
        "--lease",
        "2s",
        "--max-concurrency",
        "32",
        "--retry-schedule",
        "100ms,200ms,400ms,1s,1s,1s",
    ];
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Herald> = dirs.iter().map(|d| Herald::start(d.path(), &args)).collect();
    for n in &nodes {
        n.ready().await;
    }
    let (s, _) = api(
        &nodes[0].base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url})),
    )
    .await;
    assert_eq!(s, 201);

    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let burst = Burst::start(&bases, 24);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let killed = nodes.pop().unwrap();
    let mut killed = killed;
    killed.child.kill().unwrap(); // SIGKILL, mid-burst and mid-delivery
    killed.child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = burst.stop(100).await;

    all_arrive(&accepted, &seen).await;
    let arrivals = seen.lock().unwrap().len();
    let unique: HashSet<String> = seen.lock().unwrap().iter().cloned().collect();
    let duplicates = arrivals - unique.len();
    let per_node = [
        succeeded_attempts(&nodes[0].base).await,
        succeeded_attempts(&nodes[1].base).await,
    ];
    eprintln!(
        "multi-node: {} events accepted by 3 nodes, all delivered; {duplicates} duplicate arrivals; \
         successful attempts by the surviving nodes: {per_node:?}",
        accepted.len()
    );
    // A duplicate is an attempt the killed node had sent but not recorded when it died:
    // its lease expired and another node sent it again. There can be no more of them
    // than the killed node's attempts in flight (--max-concurrency 32).
    assert!(
        duplicates <= 32,
        "{duplicates} duplicates: more than the killed node had in flight"
    );
    assert!(
        per_node.iter().all(|n| *n > 0.0),
        "both surviving nodes delivered: {per_node:?}"
    );
}
