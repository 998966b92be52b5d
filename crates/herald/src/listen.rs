//! `herald listen`: local development without a tunnel. It creates (or reuses) a pull
//! endpoint, long-polls it, forwards each delivery to a local URL with the original body
//! and herald's signature headers, and acks only after the local handler answers 2xx.

use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use clap::Args;
use herald_server::domain::{now_ms, rfc3339, type_matches};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Api, ClientError, Conn};

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

async fn endpoint(api: &Api, args: &ListenArgs, routes: &Routes) -> anyhow::Result<String> {
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
        println!(
            "Resuming pull endpoint {id}; verify signatures with secret {}",
            secret["secret"].as_str().unwrap_or("?")
        );
        return Ok(id.clone());
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
    println!("Created pull endpoint {id} for {patterns:?}");
    println!(
        "Verify signatures with secret {}",
        ep["secret"].as_str().unwrap_or("?")
    );
    println!("Next time, add --endpoint {id} to also get what is published while you are away.");
    Ok(id)
}

pub async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.conn)?;
    let routes = Routes::parse(&args.forward_to)?;
    let id = endpoint(&api, &args, &routes).await?;
    for (p, u) in &routes.0 {
        println!("Forwarding {} → {u}", p.as_deref().unwrap_or("*"));
    }
    let local = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut backoff = Duration::from_secs(1);
    loop {
        let poll = json!({"max": 20, "wait_ms": 25000, "lease_ms": 120000});
        match api
            .call(Method::POST, &format!("/v1/endpoints/{id}/poll"), Some(&poll))
            .await
        {
            Ok(batch) => {
                backoff = Duration::from_secs(1);
                for item in batch["data"].as_array().cloned().unwrap_or_default() {
                    forward(&api, &local, &routes, &id, &item).await;
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

/// Forwards one delivery until the local handler takes it, then acks it.
async fn forward(api: &Api, local: &reqwest::Client, routes: &Routes, endpoint: &str, item: &Value) {
    let event_type = item["type"].as_str().unwrap_or("");
    let event_id = item["event_id"].as_str().unwrap_or("?");
    let Some(url) = routes.pick(event_type) else {
        println!(
            "{}  {event_type}  {event_id}  no --forward-to route matches; skipped",
            rfc3339(now_ms())
        );
        ack(api, endpoint, item).await;
        return;
    };
    let body = base64::engine::general_purpose::STANDARD
        .decode(item["body_base64"].as_str().unwrap_or(""))
        .unwrap_or_default();
    let mut backoff = Duration::from_secs(1);
    loop {
        let mut req = local.post(url).body(body.clone());
        for (name, value) in item["headers"].as_object().into_iter().flatten() {
            if let Some(v) = value.as_str() {
                req = req.header(name.as_str(), v);
            }
        }
        let started = Instant::now();
        let outcome = req.send().await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let time = rfc3339(now_ms());
        match outcome {
            Ok(r) if r.status().is_success() => {
                println!(
                    "{time}  {event_type}  {event_id}  → {}  {ms:.1} ms",
                    r.status().as_u16()
                );
                ack(api, endpoint, item).await;
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

async fn ack(api: &Api, endpoint: &str, item: &Value) {
    let body = json!({"ids": [item["delivery_id"]]});
    for _ in 0..5 {
        match api
            .call(
                Method::POST,
                &format!("/v1/endpoints/{endpoint}/ack"),
                Some(&body),
            )
            .await
        {
            Ok(_) => return,
            Err(e) => {
                eprintln!("ack failed ({e}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    eprintln!("giving up on the ack: herald will hand this delivery out again after its lease");
}
