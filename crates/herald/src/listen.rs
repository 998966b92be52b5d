//! `herald listen`: local development without a tunnel. It creates (or reuses) a pull
//! endpoint, long-polls it, forwards each delivery to a local URL with the original body
//! and herald's signature headers, and acks only after the local handler answers 2xx.
//!
//! Each delivery is forwarded by its own task (up to [`IN_FLIGHT`] at once), so one the
//! local handler keeps refusing holds up no other. Every try is signed afresh (a new
//! `webhook-timestamp`, so a Standard Webhooks receiver never sees a stale one), and the
//! leases of deliveries still being worked on are extended until they are acked.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use clap::Args;
use herald_server::domain::{rfc3339, type_matches, Clock};
use herald_signing::{standard_signature_header, StandardKey};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Api, ClientError, Conn};

/// Deliveries forwarded at once.
const IN_FLIGHT: usize = 20;

#[derive(Args)]
pub struct ListenArgs {
    /// Local URL to forward to, or TYPE_PATTERN=URL to route by event type (repeatable).
    #[arg(long = "forward-to", required = true, value_name = "URL | PATTERN=URL")]
    forward_to: Vec<String>,
    /// Event type patterns to receive, e.g. 'ticket.*' (repeatable) [default: *].
    #[arg(long = "events", value_delimiter = ',')]
    events: Vec<String>,
    /// Reuse this pull endpoint: what was published while you were away is delivered.
    #[arg(long)]
    endpoint: Option<String>,
    /// Tenant of the endpoint to create.
    #[arg(long)]
    tenant: Option<String>,
    /// How long each polled delivery is leased (ms); renewed while it is being worked on.
    #[arg(long = "lease-ms", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1000..=3_600_000), hide = true)]
    lease_ms: u64,
    #[command(flatten)]
    conn: Conn,
}

/// Where deliveries go: `(pattern, url)`, where `None` routes everything else.
struct Routes(Vec<(Option<String>, String)>);

impl Routes {
    fn parse(specs: &[String]) -> anyhow::Result<Routes> {
        let routes = specs
            .iter()
            .map(|s| match s.split_once('=') {
                Some((pattern, url)) if !pattern.contains("://") => {
                    (Some(pattern.to_string()), url.to_string())
                }
                _ => (None, s.clone()),
            })
            .collect::<Vec<_>>();
        for (_, url) in &routes {
            reqwest::Url::parse(url).with_context(|| format!("--forward-to `{url}` is not a URL"))?;
        }
        Ok(Routes(routes))
    }

    fn pick(&self, event_type: &str) -> Option<&str> {
        let typed = self
            .0
            .iter()
            .find(|(p, _)| p.as_deref().is_some_and(|p| type_matches(p, event_type)));
        typed
            .or_else(|| self.0.iter().find(|(p, _)| p.is_none()))
            .map(|(_, u)| u.as_str())
    }

    /// The endpoint's filter when `--events` is not given.
    fn patterns(&self) -> Vec<String> {
        if self.0.iter().any(|(p, _)| p.is_none()) {
            return vec!["*".into()];
        }
        self.0.iter().filter_map(|(p, _)| p.clone()).collect()
    }
}

async fn endpoint(api: &Api, args: &ListenArgs, routes: &Routes) -> anyhow::Result<(String, String)> {
    if let Some(id) = &args.endpoint {
        let ep = api
            .call(Method::GET, &format!("/v1/endpoints/{id}"), None)
            .await?;
        anyhow::ensure!(
            ep["url"].is_null(),
            "endpoint {id} pushes to a URL; `herald listen` needs a pull endpoint"
        );
        let secret = api
            .call(Method::GET, &format!("/v1/endpoints/{id}/secret"), None)
            .await?;
        let secret = secret["secret"].as_str().unwrap_or_default().to_string();
        println!("Resuming pull endpoint {id}; verify signatures with secret {secret}");
        return Ok((id.clone(), secret));
    }
    let patterns = if args.events.is_empty() {
        routes.patterns()
    } else {
        args.events.clone()
    };
    let mut body = json!({"event_types": patterns, "description": "herald listen"});
    if let Some(t) = &args.tenant {
        body["tenant"] = json!(t);
    }
    let ep = api.call(Method::POST, "/v1/endpoints", Some(&body)).await?;
    let id = ep["id"]
        .as_str()
        .context("herald answered without an endpoint id")?
        .to_string();
    let secret = ep["secret"].as_str().unwrap_or_default().to_string();
    println!("Created pull endpoint {id} for {patterns:?}");
    println!("Verify signatures with secret {secret}");
    println!("Next time, add --endpoint {id} to also get what is published while you are away.");
    Ok((id, secret))
}

/// What every forwarding task shares.
struct Listener {
    api: Api,
    local: reqwest::Client,
    routes: Routes,
    endpoint: String,
    /// The endpoint's newest secret, read again after each poll (it may be rotated).
    secret: Mutex<String>,
    /// Deliveries being forwarded: their leases are renewed until they are acked.
    working: Mutex<HashSet<String>>,
    lease: Duration,
}

pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.conn)?;
    let routes = Routes::parse(&args.forward_to)?;
    let (endpoint, secret) = endpoint(&api, &args, &routes).await?;
    for (p, u) in &routes.0 {
        println!("Forwarding {} → {u}", p.as_deref().unwrap_or("*"));
    }
    let local = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let listener = Arc::new(Listener {
        api,
        local,
        routes,
        endpoint,
        secret: Mutex::new(secret),
        working: Mutex::default(),
        lease: Duration::from_millis(args.lease_ms),
    });
    tokio::spawn(renew_leases(listener.clone()));
    poll_loop(listener).await
}

/// Polls for as many deliveries as there is room for, and hands each to its own task.
async fn poll_loop(l: Arc<Listener>) -> anyhow::Result<()> {
    let room = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut backoff = Duration::from_secs(1);
    loop {
        let first = room.clone().acquire_owned().await?;
        let max = 1 + room.available_permits();
        let poll = json!({"max": max, "wait_ms": 25000, "lease_ms": l.lease.as_millis() as u64});
        let path = format!("/v1/endpoints/{}/poll", l.endpoint);
        match l.api.call(Method::POST, &path, Some(&poll)).await {
            Ok(batch) => {
                backoff = Duration::from_secs(1);
                let items = batch["data"].as_array().cloned().unwrap_or_default();
                if !items.is_empty() {
                    refresh_secret(&l).await;
                }
                let mut first = Some(first);
                for item in items {
                    let permit = match first.take() {
                        Some(p) => p,
                        None => room.clone().acquire_owned().await?,
                    };
                    let l = l.clone();
                    tokio::spawn(async move {
                        forward(&l, &item).await;
                        drop(permit);
                    });
                }
            }
            Err(ClientError::Unauthorized) => return Err(ClientError::Unauthorized.into()),
            Err(e @ ClientError::Status { status: 404, .. }) => return Err(e.into()),
            Err(e) => {
                eprintln!("{e}; retrying in {}s", backoff.as_secs());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn refresh_secret(l: &Listener) {
    let path = format!("/v1/endpoints/{}/secret", l.endpoint);
    if let Ok(v) = l.api.call(Method::GET, &path, None).await {
        if let Some(s) = v["secret"].as_str() {
            *l.secret.lock().unwrap() = s.to_string();
        }
    }
}

/// Extends the leases of the deliveries being forwarded, three times per lease.
async fn renew_leases(l: Arc<Listener>) {
    loop {
        tokio::time::sleep(l.lease / 3).await;
        let ids: Vec<String> = l.working.lock().unwrap().iter().cloned().collect();
        if ids.is_empty() {
            continue;
        }
        let body = json!({"ids": ids, "lease_ms": l.lease.as_millis() as u64});
        let path = format!("/v1/endpoints/{}/lease", l.endpoint);
        if let Err(e) = l.api.call(Method::POST, &path, Some(&body)).await {
            eprintln!("cannot extend the leases ({e}); retrying");
        }
    }
}

/// The delivery's headers, with a signature made now when it is signed the Standard
/// Webhooks way (the other scheme signs only the body, which does not change).
fn fresh_headers(l: &Listener, item: &Value, body: &[u8]) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = item["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(n, v)| Some((n.clone(), v.as_str()?.to_string())))
        .collect();
    let id = item["event_id"].as_str().unwrap_or_default();
    let key = StandardKey::parse(&l.secret.lock().unwrap());
    let signed = headers.iter().any(|(n, _)| n == "webhook-signature");
    if let (true, Ok(key)) = (signed, key) {
        let ts = Clock::system().now_ms() / 1000;
        for (name, value) in headers.iter_mut() {
            match name.as_str() {
                "webhook-timestamp" => *value = ts.to_string(),
                "webhook-signature" => {
                    *value = standard_signature_header(std::slice::from_ref(&key), id, ts, body)
                }
                _ => {}
            }
        }
    }
    headers
}

/// Forwards one delivery until the local handler takes it, then acks it.
async fn forward(l: &Listener, item: &Value) {
    let event_type = item["type"].as_str().unwrap_or("");
    let event_id = item["event_id"].as_str().unwrap_or("?");
    let delivery_id = item["delivery_id"].as_str().unwrap_or_default().to_string();
    let Some(url) = l.routes.pick(event_type) else {
        println!(
            "{}  {event_type}  {event_id}  no --forward-to route matches; skipped",
            rfc3339(Clock::system().now_ms())
        );
        ack(l, item).await;
        return;
    };
    let body = base64::engine::general_purpose::STANDARD
        .decode(item["body_base64"].as_str().unwrap_or(""))
        .unwrap_or_default();
    l.working.lock().unwrap().insert(delivery_id.clone());
    let mut backoff = Duration::from_secs(1);
    loop {
        let mut req = l.local.post(url).body(body.clone());
        for (name, value) in fresh_headers(l, item, &body) {
            req = req.header(name, value);
        }
        let started = Instant::now();
        let outcome = req.send().await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let time = rfc3339(Clock::system().now_ms());
        match outcome {
            Ok(r) if r.status().is_success() => {
                println!(
                    "{time}  {event_type}  {event_id}  → {}  {ms:.1} ms",
                    r.status().as_u16()
                );
                ack(l, item).await;
                l.working.lock().unwrap().remove(&delivery_id);
                return;
            }
            Ok(r) => println!(
                "{time}  {event_type}  {event_id}  → {}  {ms:.1} ms; retrying in {}s",
                r.status().as_u16(),
                backoff.as_secs()
            ),
            Err(e) => println!(
                "{time}  {event_type}  {event_id}  → {url} unreachable ({e}); retrying in {}s",
                backoff.as_secs()
            ),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

async fn ack(l: &Listener, item: &Value) {
    let body = json!({"ids": [item["delivery_id"]]});
    let path = format!("/v1/endpoints/{}/ack", l.endpoint);
    for _ in 0..5 {
        match l.api.call(Method::POST, &path, Some(&body)).await {
            Ok(_) => return,
            Err(e) => {
                eprintln!("ack failed ({e}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    eprintln!("giving up on the ack: herald will hand this delivery out again after its lease");
}
