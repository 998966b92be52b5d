//! Ordered keys through crashes: publishers each publishing their own key in order, a
//! receiver that fails some requests, `kill -9` mid-burst (one node, and one of three on
//! PostgreSQL), and every key's deliveries still arriving in publish order.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// One request as the ordered receiver saw it.
#[derive(Debug, Clone)]
struct Arrival {
    id: String,
    key: String,
    sequence: i64,
    n: i64,
    ok: bool,
}

/// A receiver that records each request's key, sequence and publish number, takes
/// `delay` over it, and fails every seventh request.
async fn ordered_receiver(delay: Duration) -> (String, Arc<Mutex<Vec<Arrival>>>) {
    let seen: Arc<Mutex<Vec<Arrival>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            let text = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_string();
            let payload: Value = serde_json::from_slice(&body).unwrap();
            let ok = {
                let mut seen = s.lock().unwrap();
                let ok = seen.len() % 7 != 3;
                seen.push(Arrival {
                    id: text("webhook-id"),
                    key: text("x-herald-ordering-key"),
                    sequence: text("x-herald-sequence").parse().unwrap(),
                    n: payload["n"].as_i64().unwrap(),
                    ok,
                });
                ok
            };
            tokio::time::sleep(delay).await;
            if ok {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    });
    (serve_local(app, "/hook").await, seen)
}

/// Publishers, one key each, publishing `ordered.test` events one after another (the next
/// only once the last was answered) to the given nodes until stopped; the accepted ones
/// as (id → (key, n)).
struct OrderedBurst {
    accepted: Arc<Mutex<BTreeMap<String, (String, i64)>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl OrderedBurst {
    fn start(bases: &[String], keys: usize) -> Self {
        let accepted: Arc<Mutex<BTreeMap<String, (String, i64)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..keys)
            .map(|p| {
                let bases = bases.to_vec();
                let (accepted, stop) = (accepted.clone(), stop.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let key = format!("key-{p}");
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let base = &bases[n as usize % bases.len()];
                        let body = json!({"type": "ordered.test", "payload": {"key": key, "n": n}});
                        let sent = http
                            .post(format!("{base}/v1/events"))
                            .bearer_auth(KEY)
                            .json(&body)
                            .send()
                            .await;
                        let id = match sent {
                            Ok(r) if r.status() == 202 => r.json::<Value>().await.ok(),
                            _ => None,
                        };
                        match id.as_ref().and_then(|v| v["id"].as_str()) {
                            Some(id) => {
                                accepted.lock().unwrap().insert(id.to_string(), (key.clone(), n));
                            }
                            None => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                })
            })
            .collect();
        OrderedBurst {
            accepted,
            stop,
            tasks,
        }
    }

    async fn stop(self, min: usize) -> BTreeMap<String, (String, i64)> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let accepted = self.accepted.lock().unwrap().clone();
        assert!(
            accepted.len() >= min,
            "the burst was too small: {}",
            accepted.len()
        );
        accepted
    }
}

/// Waits until every accepted event has been answered 200 once; fails after 90 s.
async fn all_succeed(accepted: &BTreeMap<String, (String, i64)>, seen: &Mutex<Vec<Arrival>>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ok: HashSet<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.ok)
            .map(|a| a.id.clone())
            .collect();
        let missing = accepted.keys().filter(|id| !ok.contains(*id)).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} accepted events never got through",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The order rule, checked on the receiver's log: a delivery of a key arrives only after
/// every accepted event published before it on that key got through, and sequence numbers
/// follow publish order. (A repeat of a delivery already through, sent again because a
/// node died before recording it, is allowed: at-least-once.) Returns the arrivals seen.
fn assert_keys_in_order(accepted: &BTreeMap<String, (String, i64)>, seen: &[Arrival]) -> usize {
    let mut owed: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for (key, n) in accepted.values() {
        owed.entry(key.as_str()).or_default().insert(*n);
    }
    let mut through: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    let mut sequence_of: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for (i, a) in seen.iter().enumerate() {
        let done = through.entry(a.key.as_str()).or_default();
        let earlier_missing: Vec<i64> = owed
            .get(a.key.as_str())
            .map(|ns| ns.range(..a.n).filter(|n| !done.contains(n)).copied().collect())
            .unwrap_or_default();
        assert!(
            earlier_missing.is_empty(),
            "arrival {i}: {} #{} came before {earlier_missing:?} of its key got through",
            a.key,
            a.n
        );
        let seq = *sequence_of.entry((a.key.as_str(), a.n)).or_insert(a.sequence);
        assert_eq!(
            seq, a.sequence,
            "{} #{}: the sequence changed between tries",
            a.key, a.n
        );
        if a.ok {
            done.insert(a.n);
        }
    }
    for ((key, n), seq) in &sequence_of {
        let later = sequence_of.range((*key, n + 1)..(*key, i64::MAX)).next();
        if let Some((_, next_seq)) = later {
            assert!(
                next_seq > seq,
                "{key}: sequence {next_seq} after {seq} does not follow publish order"
            );
        }
    }
    seen.len()
}

async fn ordered_endpoint(base: &str, url: &str) {
    let (s, b) = api(
        base,
        reqwest::Method::POST,
        "/v1/endpoints",
        Some(json!({"url": url, "max_in_flight": 16, "circuit_after": 0, "ordering": {"key": "json:/key"}})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn ordered_keys_keep_their_order_through_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = ordered_receiver(Duration::from_millis(2)).await;
    let args = ["--retry-schedule", "50ms,100ms,200ms,400ms,1s,1s,1s,1s"];
    let herald = Herald::start(dir.path(), &args);
    herald.ready().await;
    ordered_endpoint(&herald.base, &url).await;
    let burst = OrderedBurst::start(std::slice::from_ref(&herald.base), 8);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut herald = herald;
    herald.child.kill().unwrap(); // SIGKILL, mid-burst and mid-delivery
    herald.child.wait().unwrap();
    let herald = Herald::start(dir.path(), &args);
    herald.ready().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = burst.stop(80).await;
    all_succeed(&accepted, &seen).await;
    let arrivals = assert_keys_in_order(&accepted, &seen.lock().unwrap());
    eprintln!(
        "ordered, one node, kill -9: {} events on 8 keys, {arrivals} arrivals, order kept",
        accepted.len()
    );
}

#[tokio::test]
#[cfg_attr(
    not(herald_pg),
    ignore = "no PostgreSQL: set DATABASE_URL or start one on 127.0.0.1:5432"
)]
async fn ordered_keys_keep_their_order_across_nodes_when_one_is_killed() {
    let store = super::multinode::fresh_store("ordered").await;
    let (url, seen) = ordered_receiver(Duration::from_millis(5)).await;
    let args = [
        "--store",
        store.as_str(),
        "--lease",
        "2s",
        "--retry-schedule",
        "50ms,100ms,200ms,400ms,1s,1s,1s,1s",
    ];
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Herald> = dirs.iter().map(|d| Herald::start(d.path(), &args)).collect();
    for n in &nodes {
        n.ready().await;
    }
    ordered_endpoint(&nodes[0].base, &url).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let burst = OrderedBurst::start(&bases[..2], 12);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut killed = nodes.pop().unwrap();
    killed.child.kill().unwrap(); // SIGKILL: it was delivering, not publishing
    killed.child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = burst.stop(100).await;
    all_succeed(&accepted, &seen).await;
    let arrivals = assert_keys_in_order(&accepted, &seen.lock().unwrap());
    eprintln!(
        "ordered, three nodes, one killed: {} events on 12 keys, {arrivals} arrivals, order kept",
        accepted.len()
    );
}
