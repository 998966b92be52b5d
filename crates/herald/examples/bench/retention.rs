//! Scenario (15), `bench retention [--attempts N]`: the retention sweep on PostgreSQL at
//! N attempts (10,000,000 by default; half of them past retention), row by row (the
//! baseline: every row in the tables' default partitions, as before time partitions) and
//! by dropping whole time partitions, each in a fresh schema filled the same way: N/4
//! events of 10 days, two deliveries each, two attempts per delivery. The sweep is the
//! store's own (`tend_partitions`, then `purge_before` in batches of 500, as herald's
//! sweeper calls them); CPU is PostgreSQL's, from `/proc`. Needs `DATABASE_URL`.

use std::time::{Duration, Instant};

use herald_server::domain::Clock;
use herald_server::store::postgres::PgStore;
use herald_server::store::{NodeStore, PartitionPlan};

use crate::harness::cpu_named;
use crate::stores::fresh_schema;
use crate::Report;

const DAY_MS: i64 = 86_400_000;
const BATCH: usize = 500;

/// How long the row-by-row sweep is let run before its rate is taken.
const ROW_BY_ROW_BUDGET: Duration = Duration::from_secs(60);

/// What one way of sweeping measured.
struct Sweep {
    idle: Duration,
    deleted: usize,
    took: Duration,
    cpu: Duration,
    /// Whether it deleted everything past retention within its budget.
    finished: bool,
}

pub async fn retention(attempts: i64, report: &mut Report) {
    let start = (Clock::system().now_ms() / DAY_MS - 11) * DAY_MS;
    let rows = Sweep::run("bench_rows", false, attempts, start).await;
    let spans = Sweep::run("bench_spans", true, attempts, start).await;
    report.note(&format!(
        "\n(15) retention at {attempts} attempts ({} events, {} deliveries), half past retention:",
        attempts / 4,
        attempts / 2
    ));
    report.compare(
        "(15) idle sweep (nothing past retention), sweeps/s: partitions vs row by row",
        1.0 / spans.idle.as_secs_f64(),
        1.0 / rows.idle.as_secs_f64(),
    );
    // (Too short for /proc's 10-ms CPU ticks to say much: wall time only.)
    report.value(
        "(15) idle sweep, wall: row by row / partitions",
        format!("{:.1} ms / {:.1} ms", ms(rows.idle), ms(spans.idle)),
    );
    let rate = |s: &Sweep| s.deleted as f64 / s.took.as_secs_f64();
    report.compare(
        "(15) expiring sweep, attempts deleted/s: partitions vs row by row",
        rate(&spans),
        rate(&rows),
    );
    for (name, s) in [("row by row", &rows), ("partitions", &spans)] {
        report.value(
            &format!("(15) expiring sweep, {name}: attempts deleted / wall / PostgreSQL CPU"),
            format!(
                "{} / {:.2} s / {:.2} s{}",
                s.deleted,
                s.took.as_secs_f64(),
                s.cpu.as_secs_f64(),
                if s.finished {
                    String::new()
                } else {
                    format!(
                        " (stopped at its budget; all {} at this rate: {:.0} min)",
                        attempts / 2,
                        (attempts / 2) as f64 / rate(s) / 60.0
                    )
                }
            ),
        );
    }
    assert!(
        spans.finished,
        "the partition sweep must clear everything past retention"
    );
}

/// Makes the daily spans a node with a 30-day retention has after `days` days, in the
/// store at `url`: the queue then works over that many partitions of each table.
pub async fn past_spans(url: &str, days: i64) {
    let store = PgStore::connect(url, Clock::system()).await.expect("connect");
    let today = Clock::system().now_ms() / DAY_MS * DAY_MS;
    let plan = PartitionPlan {
        period: DAY_MS,
        make_from: today - days * DAY_MS,
        make_until: today + 6 * DAY_MS,
        cutoff: i64::MIN,
    };
    let made = store.tend_partitions(plan).await.expect("make spans").made;
    println!("(spans) {made} daily partitions of events, deliveries and attempts");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Sweep {
    async fn run(schema: &str, partitioned: bool, attempts: i64, start: i64) -> Sweep {
        let url = fresh_schema(schema).await;
        let store = PgStore::connect(&url, Clock::system()).await.expect("connect");
        if partitioned {
            // The spans herald would have made ahead over these days.
            let plan = PartitionPlan {
                period: DAY_MS,
                make_from: start,
                make_until: start + 12 * DAY_MS,
                cutoff: i64::MIN,
            };
            store.tend_partitions(plan).await.expect("make spans");
        }
        fill(&url, attempts, start).await;
        let (_, idle, _) = timed(sweep(&store, start - DAY_MS, None)).await;
        let cutoff = start + 5 * DAY_MS;
        let past = left_before(&url, cutoff).await;
        let budget = (!partitioned).then_some(ROW_BY_ROW_BUDGET);
        let (finished, took, cpu) = timed(sweep(&store, cutoff, budget)).await;
        let left = left_before(&url, cutoff).await;
        assert!(
            !finished || left == 0,
            "{schema}: {left} attempts past retention remain"
        );
        Sweep {
            idle,
            deleted: (past - left) as usize,
            took,
            cpu,
            finished,
        }
    }
}

/// What `f` returned, how long it took and PostgreSQL's CPU meanwhile.
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration, Duration) {
    let cpu = cpu_named("postgres");
    let t = Instant::now();
    let out = f.await;
    (out, t.elapsed(), cpu_named("postgres").saturating_sub(cpu))
}

/// One sweep as herald's sweeper runs it; whether it got through everything past
/// `cutoff` within `budget`.
async fn sweep(store: &PgStore, cutoff: i64, budget: Option<Duration>) -> bool {
    let t = Instant::now();
    let plan = PartitionPlan {
        period: DAY_MS,
        make_from: cutoff,
        make_until: cutoff,
        cutoff,
    };
    store.tend_partitions(plan).await.expect("tend");
    loop {
        let p = store.purge_before(cutoff, BATCH).await.expect("purge");
        if p.events < BATCH && p.attempts < BATCH && p.requests < BATCH {
            return true;
        }
        if budget.is_some_and(|b| t.elapsed() > b) {
            return false;
        }
    }
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn left_before(url: &str, cutoff: i64) -> i64 {
    client(url)
        .await
        .query_one(
            "SELECT count(*) FROM attempts WHERE attempted_at < $1",
            &[&cutoff],
        )
        .await
        .unwrap()
        .get(0)
}

/// The 10 characters of a millisecond time in an id, as SQL over `ms`.
fn time_chars() -> String {
    (0..10)
        .rev()
        .map(|i| {
            format!(
                "substr('0123456789abcdefghjkmnpqrstvwxyz', ((ms >> {}) & 31)::INT + 1, 1)",
                5 * i
            )
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

/// N/4 events over 10 days from `start`, two deliveries each (succeeded), two attempts
/// per delivery a second apart; ids carry their record's time as herald's do.
async fn fill(url: &str, attempts: i64, start: i64) {
    let db = client(url).await;
    let events = attempts / 4;
    let step = 10 * DAY_MS / events.max(1);
    let t = Instant::now();
    db.batch_execute(&format!(
        "SET synchronous_commit = off;
         CREATE FUNCTION pg_temp.t10(ms BIGINT) RETURNS TEXT IMMUTABLE LANGUAGE sql AS $$ SELECT {} $$;
         CREATE TEMP TABLE ev AS SELECT n, {start} + n * {step} AS t,
           'evt_' || pg_temp.t10({start} + n * {step}) || lpad(to_hex(n), 16, '0') AS id
           FROM generate_series(0, {events} - 1) n;
         INSERT INTO events (id, type, payload, content_type, request_hash, deliveries, created_at)
           SELECT id, 'bench.x', convert_to(repeat('x', 100), 'UTF8'), 'application/json', '', 2, t FROM ev;
         CREATE TEMP TABLE dl AS SELECT ev.id AS event_id, ev.t, k,
           'dlv_' || pg_temp.t10(ev.t) || lpad(to_hex(ev.n * 2 + k), 16, '0') AS id
           FROM ev, generate_series(0, 1) k;
         INSERT INTO deliveries (id, event_id, endpoint_id, state, attempts, created_at, updated_at)
           SELECT id, event_id, 'ep_bench_' || k, 'succeeded', 2, t, t + 1000 FROM dl;
         INSERT INTO attempts (id, delivery_id, attempted_at, status_code, duration_ms)
           SELECT 'atm_' || pg_temp.t10(dl.t + a * 1000) || substr(dl.id, 15) || a, dl.id, dl.t + a * 1000,
             CASE a WHEN 0 THEN 503 ELSE 200 END, 3
           FROM dl, generate_series(0, 1) a;
         ANALYZE events; ANALYZE deliveries; ANALYZE attempts;",
        time_chars()
    ))
    .await
    .expect("fill");
    println!(
        "(15) filled {events} events, {} deliveries, {attempts} attempts in {:.0} s",
        events * 2,
        t.elapsed().as_secs_f64()
    );
}
