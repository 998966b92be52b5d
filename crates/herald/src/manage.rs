//! `herald send`, `replay`, `events`, `deliveries`: everyday operations over the API.

use anyhow::Context;
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{Api, Conn};

#[derive(Args)]
pub struct SendArgs {
    /// The event type, e.g. ticket.created.
    #[arg(value_name = "TYPE")]
    event_type: String,
    /// The payload: JSON text, or @path to read it from a file (@- for stdin).
    #[arg(long, short = 'd')]
    data: String,
    #[arg(long)]
    tenant: Option<String>,
    /// Your own event id (also makes the publish idempotent).
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

fn read_data(data: &str) -> anyhow::Result<String> {
    match data.strip_prefix('@') {
        Some("-") => std::io::read_to_string(std::io::stdin()).context("reading the payload from stdin"),
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading the payload from {path}"))
        }
        None => Ok(data.to_string()),
    }
}

pub async fn send(args: SendArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.conn)?;
    let text = read_data(&args.data)?;
    // Sent as written (spacing and key order kept): herald delivers the payload byte for byte.
    let payload = serde_json::value::RawValue::from_string(text.trim().to_string())
        .context("the payload is not valid JSON")?;
    let mut body = format!(
        "{{\"type\":{},\"payload\":{}",
        json!(args.event_type),
        payload.get()
    );
    if let Some(t) = args.tenant {
        body.push_str(&format!(",\"tenant\":{}", json!(t)));
    }
    if let Some(id) = args.id {
        body.push_str(&format!(",\"id\":{}", json!(id)));
    }
    body.push('}');
    let r = api.call_text(Method::POST, "/v1/events", Some(body)).await?;
    println!(
        "{}  {}  {} deliveries",
        r["id"].as_str().unwrap_or("?"),
        r["type"].as_str().unwrap_or("?"),
        r["deliveries"]
    );
    Ok(())
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The event to deliver again (to every subscribed endpoint, or to --endpoint).
    #[arg(value_name = "EVENT_ID", required_unless_present = "since")]
    event: Option<String>,
    /// With an event: deliver to this endpoint only. With --since: the endpoint to recover.
    #[arg(long)]
    endpoint: Option<String>,
    /// Recover: re-queue the endpoint's failed deliveries since this RFC 3339 time.
    #[arg(long, requires = "endpoint", conflicts_with = "event")]
    since: Option<String>,
    #[command(flatten)]
    conn: Conn,
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.conn)?;
    match (args.event, args.since, args.endpoint) {
        (Some(ev), _, endpoint) => {
            let body = endpoint.map_or_else(|| json!({}), |e| json!({"endpoint_id": e}));
            let r = api
                .call(Method::POST, &format!("/v1/events/{ev}/replay"), Some(&body))
                .await?;
            println!("replayed {ev}: {} new deliveries", r["deliveries"]);
        }
        (None, Some(since), Some(ep)) => {
            let r = api
                .call(
                    Method::POST,
                    &format!("/v1/endpoints/{ep}/recover"),
                    Some(&json!({"since": since})),
                )
                .await?;
            println!("recovered {ep}: {} deliveries re-queued", r["recovered"]);
        }
        _ => anyhow::bail!("give an EVENT_ID, or --endpoint with --since"),
    }
    Ok(())
}

#[derive(Args)]
pub struct EventsArgs {
    #[arg(long = "type")]
    event_type: Option<String>,
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[command(flatten)]
    conn: Conn,
}

/// Prints rows as aligned columns.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn events(args: EventsArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.conn)?;
    let mut path = format!("/v1/events?limit={}", args.limit);
    if let Some(t) = args.event_type {
        path.push_str(&format!("&type={t}"));
    }
    if let Some(t) = args.tenant {
        path.push_str(&format!("&tenant={t}"));
    }
    let r = api.call(Method::GET, &path, None).await?;
    let rows = r["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    vec![
                        s(&e["created_at"]),
                        s(&e["id"]),
                        s(&e["type"]),
                        s(&e["tenant"]),
                        s(&e["deliveries"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["CREATED", "ID", "TYPE", "TENANT", "DELIVERIES"], rows);
    Ok(())
}

#[derive(Args)]
pub struct DeliveriesArgs {
    #[arg(value_name = "EVENT_ID")]
    event: String,
    #[command(flatten)]
    conn: Conn,
}

pub async fn deliveries(args: DeliveriesArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.conn)?;
    let r = api
        .call(
            Method::GET,
            &format!("/v1/events/{}/deliveries", args.event),
            None,
        )
        .await?;
    let rows = r["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    vec![
                        s(&d["id"]),
                        s(&d["endpoint_id"]),
                        s(&d["state"]),
                        s(&d["attempts"]),
                        s(&d["last_status"]),
                        s(&d["next_attempt_at"]),
                        s(&d["last_error"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(
        &[
            "ID",
            "ENDPOINT",
            "STATE",
            "ATTEMPTS",
            "LAST STATUS",
            "NEXT ATTEMPT",
            "LAST ERROR",
        ],
        rows,
    );
    Ok(())
}
