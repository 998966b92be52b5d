//! herald's benchmark suite (see docs/benchmarks.md).
//!
//! Run: `cargo build --release && cargo run --release --example bench`
//! - `-- --smoke`: every scenario at a tiny size (CI runs it: the harness works and every
//!   accepted event arrives; its figures mean nothing);
//! - `-- --postgres`: every herald on PostgreSQL (`DATABASE_URL`, a fresh schema each);
//!   without it, scenarios (1)-(3) are run again on PostgreSQL when `DATABASE_URL` is set;
//! - `-- latency [RATE]`: scenario (3) alone at RATE events/s (default 1,000), three
//!   passes on one node (for A/B runs of two builds with `HERALD_BENCH_BIN`);
//! - `-- stores [--only sqlite,pg1,pg3]`: one node on SQLite, one and three nodes on
//!   PostgreSQL, compared (with publish time and CPU per delivery, herald + PostgreSQL);
//! - `-- control`: delivery control's scenarios (8)-(10) alone (`--outage-s N` sets how
//!   long (10)'s endpoint is down; 60 s by default);
//! - `-- mcp`: scenario (12) alone, agents over `/mcp` (wait latency, 1,000 open waits);
//! - `-- console`: scenario (13) alone, the console's time to first byte with 1,000,000
//!   deliveries stored, on SQLite and (with `DATABASE_URL`) on PostgreSQL;
//! - `-- verify`: scenario (14), the CPU cost of each preset's signature check;
//! - `-- brokers`: scenario (11) alone, deliveries to RabbitMQ, NATS and SQS (moto) beside
//!   HTTP (RabbitMQ and NATS on their standard local ports, `moto_server` installed).
//!
//! It starts the release `herald` binary on fresh data, its own receiver (axum, answers
//! 200 at once) and publishers, runs each scenario and prints one table: figure, value, the
//! same figure for the baseline (the receiver hit directly by this client at the same
//! concurrency: the loopback ceiling of the machine) and the ratio.

mod brokers;
mod console;
mod control;
mod harness;
mod mcp;
mod ordered;
mod retention;
mod scenarios;
mod stores;
/// The broker helpers the server's tests use (moto's SQS server).
#[allow(dead_code)]
#[path = "../../../herald-server/tests/it/brokers.rs"]
mod support;
mod verify;

use std::sync::Arc;

use harness::{client, receiver, start_herald, Arrivals};

/// How big each scenario is.
#[derive(Clone)]
pub struct Scale {
    closed_loop_s: u64,
    deliver_events: u64,
    fan_out_events: u64,
    latency_s: u64,
    rates: Vec<u64>,
    inbound_rate: u64,
    backlog_events: u64,
    many_endpoints: usize,
    ordered_rate: u64,
    ordered_keys: u64,
    capacity_rate: u64,
    capacity_step_s: u64,
    outage_rate: u64,
    outage_s: u64,
    broker_events: u64,
    sqs_events: u64,
    mcp_events: u64,
    mcp_rate: u64,
    mcp_agents: usize,
    console_deliveries: u64,
}

impl Scale {
    fn full() -> Scale {
        Scale {
            closed_loop_s: 3,
            deliver_events: 20_000,
            fan_out_events: 3_000,
            latency_s: 5,
            rates: vec![200, 1_000, 5_000],
            inbound_rate: 1_000,
            backlog_events: 100_000,
            many_endpoints: 10_000,
            ordered_rate: 1_000,
            ordered_keys: 1_000,
            capacity_rate: 600,
            capacity_step_s: 10,
            outage_rate: 200,
            outage_s: 60,
            broker_events: 20_000,
            // moto handles a few hundred calls a second, slower as its queue grows.
            sqs_events: 1_000,
            mcp_events: 2_000,
            mcp_rate: 200,
            mcp_agents: 1_000,
            console_deliveries: 1_000_000,
        }
    }

    fn smoke() -> Scale {
        Scale {
            closed_loop_s: 1,
            deliver_events: 300,
            fan_out_events: 50,
            latency_s: 1,
            rates: vec![200],
            inbound_rate: 100,
            backlog_events: 100,
            many_endpoints: 100,
            ordered_rate: 100,
            ordered_keys: 20,
            capacity_rate: 60,
            capacity_step_s: 1,
            outage_rate: 50,
            outage_s: 1,
            broker_events: 300,
            sqs_events: 100,
            mcp_events: 50,
            mcp_rate: 100,
            mcp_agents: 20,
            console_deliveries: 2_000,
        }
    }
}

/// What every scenario shares: the main node, the receiver, the client.
pub struct Run<'a> {
    http: &'a reqwest::Client,
    receiver_url: &'a str,
    arrivals: &'a Arc<Arrivals>,
    scale: &'a Scale,
    postgres: bool,
    /// Added to every payload sequence number, so two passes never share one.
    seq_offset: u64,
}

impl Run<'_> {
    /// `--store` arguments for a new node: a fresh PostgreSQL schema, or none (embedded).
    async fn store_args(&self, schema: &str) -> Vec<String> {
        if self.postgres {
            vec!["--store".into(), stores::fresh_schema(schema).await]
        } else {
            Vec::new()
        }
    }
}

/// The table printed at the end.
#[derive(Default)]
pub struct Report {
    rows: Vec<String>,
    /// Put before every figure (e.g. which store ran it).
    label: String,
}

impl Report {
    /// Adds a row `| figure | value | baseline | ratio |` (the figure gets the label).
    pub fn push(&mut self, row: String) {
        let row = match row.strip_prefix("| ") {
            Some(rest) => format!("| {}{rest}", self.label),
            None => row,
        };
        println!("{row}");
        self.rows.push(row);
    }

    /// A throughput with its baseline and the ratio.
    pub fn compare(&mut self, figure: &str, value: f64, baseline: f64) {
        self.push(format!(
            "| {figure} | {value:.0} | {baseline:.0} | {:.2} |",
            value / baseline
        ));
    }

    pub fn value(&mut self, figure: &str, value: String) {
        self.push(format!("| {figure} | {value} | | |"));
    }

    pub fn ratio(&mut self, figure: &str, ratio: f64) {
        self.push(format!("| {figure} | | | {ratio:.2} |"));
    }

    pub fn note(&mut self, text: &str) {
        println!("{text}");
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "stores") {
        // `stores [--only sqlite,pg1,pg3]`
        let only: Vec<String> = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        return stores::compare(&only).await;
    }
    if args.iter().any(|a| a == "retention") {
        // `retention [--attempts N]` (10,000,000 by default; `--smoke`: 20,000).
        let attempts = args
            .iter()
            .position(|a| a == "--attempts")
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(if args.iter().any(|a| a == "--smoke") {
                20_000
            } else {
                10_000_000
            });
        let mut report = Report::default();
        println!("| figure | value | baseline | ratio |");
        println!("| --- | --- | --- | --- |");
        return retention::retention(attempts, &mut report).await;
    }
    if args.iter().any(|a| a == "verify") {
        return verify::run(args.iter().any(|a| a == "--smoke"));
    }
    let mut scale = if args.iter().any(|a| a == "--smoke") {
        Scale::smoke()
    } else {
        Scale::full()
    };
    let postgres = args.iter().any(|a| a == "--postgres");
    // `--outage-s N`: how long scenario (10)'s endpoint is down (default 60 s).
    if let Some(s) = args
        .iter()
        .position(|a| a == "--outage-s")
        .and_then(|i| args.get(i + 1)?.parse().ok())
    {
        scale.outage_s = s;
    }
    // `latency [RATE]`: scenario (3) alone, three 10-s passes at RATE on one node.
    let latency_only: Option<u64> = args
        .iter()
        .position(|a| a == "latency")
        .map(|i| args.get(i + 1).and_then(|r| r.parse().ok()).unwrap_or(1_000));
    if let Some(rate) = latency_only {
        scale.rates = vec![rate; 3];
        scale.latency_s = 10;
    }
    let http = client();
    let (receiver_url, arrivals) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let store = if postgres {
        let url = stores::fresh_schema("bench_main").await;
        // `--spans N`: the queue over N days of time partitions (as after N days of running).
        if let Some(days) = args
            .iter()
            .position(|a| a == "--spans")
            .and_then(|i| args.get(i + 1)?.parse().ok())
        {
            retention::past_spans(&url, days).await;
        }
        vec!["--store".to_string(), url]
    } else {
        Vec::new()
    };
    let store_args: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(&http, dir.path(), &store_args).await;
    let run = Run {
        http: &http,
        receiver_url: &receiver_url,
        arrivals: &arrivals,
        scale: &scale,
        postgres,
        seq_offset: 0,
    };
    let mut report = Report::default();
    println!("| figure | value | baseline | ratio |");
    println!("| --- | --- | --- | --- |");
    if latency_only.is_some() {
        scenarios::latency(&run, &node, &mut report).await;
        return;
    }
    if args.iter().any(|a| a == "mcp") {
        drop(node);
        mcp::mcp(&run, &mut report).await;
        return;
    }
    if args.iter().any(|a| a == "console") {
        drop(node);
        return console_on_both(&run, &mut report).await;
    }
    if args.iter().any(|a| a == "brokers") {
        drop(node);
        brokers::brokers(&run, &mut report).await;
        return;
    }
    if args.iter().any(|a| a == "control") {
        drop(node);
        ordered::ordered_keys(&run, &mut report).await;
        control::capacity_steps(&run, &mut report).await;
        control::outage(&run, &mut report).await;
        return;
    }
    let (direct16, direct64, publish16) = scenarios::publish_rates(&run, &node, &mut report).await;
    scenarios::deliveries(&run, &node, &mut report, direct16, direct64).await;
    if args.iter().any(|a| a == "queue") {
        // `queue`: the queue's figures alone, (1) and (2), then (3) at 1,000/s.
        let run = Run {
            scale: &Scale {
                rates: vec![1_000],
                latency_s: 10,
                ..scale.clone()
            },
            ..run
        };
        scenarios::latency(&run, &node, &mut report).await;
        let run = Run {
            seq_offset: run.seq_offset + 50_000_000,
            ..run
        };
        scenarios::latency_at_cap(&run, &node, &mut report, None).await;
        return;
    }
    let p99s = scenarios::latency(&run, &node, &mut report).await;
    scenarios::inbound(&run, &node, &mut report).await;
    scenarios::dead_endpoint(&run, &node, &mut report, &p99s).await;
    scenarios::pull(&run, &node, &mut report).await;
    // The main node is done: stop it so the next nodes have the machine to themselves.
    drop(node);
    scenarios::backlog(&run, &mut report).await;
    scenarios::many_endpoints(&run, &mut report, publish16).await;
    ordered::ordered_keys(&run, &mut report).await;
    control::capacity_steps(&run, &mut report).await;
    control::outage(&run, &mut report).await;
    brokers::brokers(&run, &mut report).await;
    mcp::mcp(&run, &mut report).await;
    console_on_both(&run, &mut report).await;
    // With a database at hand, (1)-(3) again with herald on PostgreSQL.
    if !postgres && std::env::var("DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        let dir = tempfile::tempdir().unwrap();
        let store = stores::fresh_schema("bench_pg_variant").await;
        let node = start_herald(&http, dir.path(), &["--store", &store]).await;
        report.label = "[PostgreSQL] ".into();
        let run = Run {
            seq_offset: 100_000_000,
            ..run
        };
        let (direct16, direct64, _) = scenarios::publish_rates(&run, &node, &mut report).await;
        scenarios::deliveries(&run, &node, &mut report, direct16, direct64).await;
        scenarios::latency(&run, &node, &mut report).await;
    }
    println!(
        "\n{} figures; every accepted event of the delivery, latency, pull and backlog runs arrived.",
        report.rows.len()
    );
}

/// Scenario (13) on this run's store and, with a database at hand, on PostgreSQL too.
async fn console_on_both(run: &Run<'_>, report: &mut Report) {
    console::console(run, report).await;
    if !run.postgres && std::env::var("DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        let label = std::mem::replace(&mut report.label, "[PostgreSQL] ".into());
        console::console(
            &Run {
                postgres: true,
                ..*run
            },
            report,
        )
        .await;
        report.label = label;
    }
}
