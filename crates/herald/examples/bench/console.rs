//! Scenario 13: the console's server time to first byte on a big store. herald's API makes
//! ten endpoints and a source; the store is then filled by SQL (events, one delivery per
//! endpoint and event, one attempt each, inbound requests; states and times spread over the
//! last day) so a million deliveries take seconds, not the hours delivering them would;
//! herald starts again on it and every console page is fetched after a sign-in, timed
//! from the request to its response headers. `/healthz` in the same run is the floor.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;
use crate::{Report, Run};

/// How many deliveries each event has (one per endpoint).
const FAN_OUT: u64 = 10;
/// Requests timed per page (after a few to warm up).
const SAMPLES: usize = 60;
const WARM_UP: usize = 5;

pub async fn console(run: &Run<'_>, report: &mut Report) {
    let deliveries = run.scale.console_deliveries;
    let dir = tempfile::tempdir().unwrap();
    let store = run.store_args("bench_console").await;
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let node = start_herald(run.http, dir.path(), &store).await;
    let mut endpoints = Vec::new();
    for i in 0..FAN_OUT {
        let body =
            json!({"url": format!("{}?ep={i}", run.receiver_url), "description": format!("endpoint {i}")});
        endpoints.push(create_endpoint(run.http, &node.base, body).await);
    }
    let source = create_source(run.http, &node.base).await;
    node.stop();
    let seed = Seed {
        events: deliveries / FAN_OUT,
        now_ms: now_ms(),
        source: source.clone(),
    };
    let started = Instant::now();
    match store.get(1) {
        Some(url) => seed.postgres(url).await,
        None => seed.sqlite(&dir.path().join("herald.db")),
    }
    report.note(&format!(
        "(13) seeded {} deliveries ({} events, as many attempts, {} inbound requests) by SQL in {:.1} s",
        seed.events * FAN_OUT,
        seed.events,
        seed.requests(),
        started.elapsed().as_secs_f64()
    ));
    let node = start_herald(run.http, dir.path(), &store).await;
    let cookie = sign_in(&node.base).await;
    let pages = seed.pages(&endpoints, &source);
    let floor = ttfb(&node.base, "/healthz", None).await;
    report.value(
        "(13) baseline: `GET /healthz` time to first byte, p50 / p95",
        format!("{:.2} / {:.2} ms", ms(floor.0), ms(floor.1)),
    );
    for (name, path, must_show) in pages {
        let (p50, p95) = ttfb(&node.base, &path, Some((&cookie, &must_show))).await;
        report.push(format!(
            "| (13) console {name} at {deliveries} deliveries: TTFB p50 / p95 | {:.2} / {:.2} ms | {:.2} ms | {:.1} |",
            ms(p50),
            ms(p95),
            ms(floor.1),
            ms(p95) / ms(floor.1).max(0.01)
        ));
    }
    drop(node);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn create_source(http: &reqwest::Client, base: &str) -> String {
    let body = json!({"name": "billing", "verify": {"scheme": "bearer", "secret": "bench-token"}});
    create(http, base, "sources", body).await
}

/// Signs in with the admin key; the session cookie (`name=value`).
async fn sign_in(base: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/ui/login"))
        .form(&[("key", KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in");
    let set = r.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// p50 and p95 of request → response headers for `path`, each answer checked (200, and
/// the body shows `must_show` when given with a cookie).
async fn ttfb(base: &str, path: &str, session: Option<(&str, &str)>) -> (Duration, Duration) {
    // One connection, kept alive, as a browser tab would use.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let mut took = Vec::new();
    for i in 0..WARM_UP + SAMPLES {
        let mut req = http.get(format!("{base}{path}"));
        if let Some((cookie, _)) = session {
            req = req.header("cookie", cookie);
        }
        let sent = Instant::now();
        let r = req.send().await.unwrap();
        let first_byte = sent.elapsed();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        if let Some((_, must_show)) = session {
            assert!(body.contains(must_show), "{path} does not show {must_show}");
        }
        if i >= WARM_UP {
            took.push(first_byte);
        }
    }
    took.sort();
    let at = |p: f64| took[((took.len() as f64 * p) as usize).min(took.len() - 1)];
    (at(0.50), at(0.95))
}

/// What the SQL puts in the store.
struct Seed {
    events: u64,
    now_ms: i64,
    source: String,
}

/// The last day, in milliseconds: seeded rows are spread over it.
const DAY_MS: i64 = 86_400_000;

impl Seed {
    fn requests(&self) -> u64 {
        self.events / 10
    }

    /// Event `i`'s id (zero-padded, so ids sort as they were made).
    fn event_id(i: u64) -> String {
        format!("evt_{i:026}")
    }

    fn delivery_id(i: u64, endpoint: u64) -> String {
        format!("dlv_{:026}", i * 16 + endpoint)
    }

    /// The pages timed: (name, path, something the page must show).
    fn pages(&self, endpoints: &[String], source: &str) -> Vec<(&'static str, String, String)> {
        let (endpoint, failing, healthy) = (&endpoints[0], &endpoints[5], &endpoints[3]);
        let last = self.events - 1;
        // The newest failed delivery: (i * 10 + k) % 100 in 94..99 (see `statements`), so
        // an event i ending in 9 and endpoint k 5. Endpoint 3 never fails.
        let nines = if last % 10 == 9 {
            last
        } else {
            (last / 10) * 10 - 1
        };
        let failed = Self::delivery_id(nines, 5);
        let newest = Self::delivery_id(last, 9);
        let middle = Self::event_id(self.events / 2);
        let cursor = Self::delivery_id(self.events / 2, 0);
        vec![
            ("overview", "/ui/".into(), "backlog".into()),
            ("endpoints", "/ui/endpoints".into(), endpoint.into()),
            (
                "an endpoint",
                format!("/ui/endpoints/{endpoint}"),
                endpoint.into(),
            ),
            ("events", "/ui/events".into(), Self::event_id(last)),
            ("an event", format!("/ui/events/{middle}"), middle.clone()),
            ("deliveries", "/ui/deliveries".into(), newest.clone()),
            (
                "deliveries, a page deep in",
                format!("/ui/deliveries?cursor={cursor}"),
                "dlv_".into(),
            ),
            (
                "deliveries, failed",
                "/ui/deliveries?state=failed".into(),
                failed.clone(),
            ),
            (
                "deliveries, failed 5xx to one endpoint",
                format!("/ui/deliveries?state=failed&status=5xx&endpoint_id={failing}"),
                "dlv_".into(),
            ),
            (
                "deliveries, a filter nothing matches (worst case)",
                format!("/ui/deliveries?state=failed&endpoint_id={healthy}"),
                "deliveries".into(),
            ),
            (
                "deliveries, type prefix",
                "/ui/deliveries?type=ticket.*".into(),
                "dlv_".into(),
            ),
            (
                "a failed delivery's attempts",
                format!("/ui/deliveries/{failed}"),
                "upstream down".into(),
            ),
            ("sources", "/ui/sources".into(), source.into()),
            (
                "a source's request log",
                format!("/ui/sources/{source}"),
                "bearer token does not match".into(),
            ),
            ("live tail", "/ui/tail".into(), "tail".into()),
        ]
    }

    /// The statements, for a series `n(i)` of 0..events: `{series}` is how the dialect
    /// writes it, `{id}` how it pads a number into an id, `{blob}` how text becomes bytes.
    fn statements(&self, series: &str, id: &str, blob: &str) -> Vec<String> {
        let (n, now, src) = (self.events, self.now_ms, &self.source);
        let at = format!("({now} - {DAY_MS} + i * {DAY_MS} / {n})");
        let pad = |prefix: &str, value: &str| id.replace("{p}", prefix).replace("{v}", value);
        let event_id = pad("evt_", "i");
        let delivery_id = pad("dlv_", "(i * 16 + e.k)");
        let attempt_id = pad("atm_", "(i * 16 + e.k)");
        let request_id = pad("req_", "i");
        let state = "CASE WHEN (i * 10 + e.k) % 100 < 94 THEN 'succeeded' \
                     WHEN (i * 10 + e.k) % 100 < 99 THEN 'failed' ELSE 'skipped' END";
        let status = "CASE WHEN (i * 10 + e.k) % 100 < 94 THEN 200 \
                      WHEN (i * 10 + e.k) % 100 < 99 THEN 500 ELSE NULL END";
        let payload = blob.replace(
            "{t}",
            "'{\"seq\":' || i || ',\"data\":{\"ticket\":\"TKT-' || i || '\"}}'",
        );
        let endpoints = "(SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM endpoints) e";
        let series_n = series.replace("{n}", &n.to_string());
        let series_r = series.replace("{n}", &self.requests().to_string());
        vec![
            format!(
                "INSERT INTO events (id, type, tenant, payload, content_type, request_hash, deliveries, created_at, source_id) \
                 SELECT {event_id}, CASE WHEN i % 3 = 0 THEN 'ticket.created' WHEN i % 3 = 1 THEN 'ticket.updated' ELSE 'payment.cleared' END, \
                 NULL, {payload}, 'application/json', 'seeded', {FAN_OUT}, {at}, CASE WHEN i % 10 = 0 THEN '{src}' ELSE NULL END \
                 FROM {series_n}"
            ),
            format!(
                "INSERT INTO deliveries (id, event_id, endpoint_id, tenant, state, attempts, round_attempts, last_attempt_at, \
                 last_status, last_error, created_at, updated_at) \
                 SELECT {delivery_id}, {event_id}, e.id, NULL, {state}, 1, 1, {at} + 40, {status}, \
                 CASE WHEN {status} = 500 THEN 'HTTP 500' ELSE NULL END, {at}, {at} + 40 \
                 FROM {series_n} CROSS JOIN {endpoints}"
            ),
            format!(
                "INSERT INTO attempts (id, delivery_id, attempted_at, status_code, duration_ms, error, response_body) \
                 SELECT {attempt_id}, {delivery_id}, {at} + 40, {status}, 12, \
                 CASE WHEN {status} = 500 THEN 'HTTP 500' ELSE NULL END, CASE WHEN {status} = 500 THEN 'upstream down' ELSE 'ok' END \
                 FROM {series_n} CROSS JOIN {endpoints} WHERE {status} IS NOT NULL"
            ),
            format!(
                "INSERT INTO inbound_requests (id, source_id, tenant, received_at, outcome, status, reason, event_id, remote_ip, headers, body, body_size) \
                 SELECT {request_id}, '{src}', NULL, {at}, CASE WHEN i % 7 = 0 THEN 'rejected' ELSE 'accepted' END, \
                 CASE WHEN i % 7 = 0 THEN 401 ELSE 202 END, CASE WHEN i % 7 = 0 THEN 'the bearer token does not match' ELSE NULL END, \
                 CASE WHEN i % 7 = 0 THEN NULL ELSE {event_id} END, '127.0.0.1', '{{}}', {payload}, 40 FROM {series_r}"
            ),
        ]
    }

    fn sqlite(&self, path: &Path) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.busy_timeout(Duration::from_secs(30)).unwrap();
        let series = "(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) SELECT i FROM s)";
        let id = "'{p}' || printf('%026d', {v})";
        let blob = "CAST({t} AS BLOB)";
        conn.execute_batch("BEGIN").unwrap();
        for sql in self.statements(series, id, blob) {
            conn.execute_batch(&sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
        }
        conn.execute_batch("COMMIT; ANALYZE").unwrap();
    }

    async fn postgres(&self, url: &str) {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let series = "generate_series(0::bigint, {n} - 1) AS s(i)";
        let id = "'{p}' || lpad(({v})::text, 26, '0')";
        let blob = "convert_to({t}, 'UTF8')";
        client.batch_execute("BEGIN").await.unwrap();
        for sql in self.statements(series, id, blob) {
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{e:?}: {sql}"));
        }
        client.batch_execute("COMMIT").await.unwrap();
        client.batch_execute("VACUUM ANALYZE").await.unwrap();
    }
}
