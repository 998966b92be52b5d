//! `herald mcp`: herald's MCP tools over stdio, for agent hosts that start a local process.
//! Every tool call becomes API calls to the herald at `--server`, made with `--key`.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use herald_server::mcp::{ApiAnswer, ApiCall, Backend, Unreachable};

use crate::client::Conn;

#[derive(Args)]
pub struct McpArgs {
    #[command(flatten)]
    conn: Conn,
    /// How long events handed out stay leased before they come back (ms).
    #[arg(long = "lease-ms", default_value_t = herald_server::mcp::LEASE_MS, value_parser = clap::value_parser!(u64).range(1000..=3_600_000), hide = true)]
    lease_ms: u64,
}

/// The API of a herald server, over HTTP.
struct Remote {
    http: reqwest::Client,
    server: String,
}

impl Backend for Remote {
    fn call<'a>(&'a self, key: &'a str, call: ApiCall) -> herald_server::mcp::backend::CallFuture<'a> {
        Box::pin(async move {
            let method = reqwest::Method::from_bytes(call.method.as_str().as_bytes())
                .map_err(|e| Unreachable(e.to_string()))?;
            let mut req = self
                .http
                .request(method, format!("{}{}", self.server, call.path))
                .bearer_auth(key);
            for (name, value) in &call.headers {
                req = req.header(*name, value);
            }
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            let resp = req.send().await.map_err(|e| Unreachable(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = resp.json().await.unwrap_or(serde_json::Value::Null);
            Ok(ApiAnswer { status, body })
        })
    }
}

pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let key = args
        .conn
        .key
        .clone()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no API key: pass --key or set HERALD_KEY"))?;
    // Longer than the longest wait a tool makes (events_wait polls in 5 s slices).
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()?;
    let backend = Remote {
        http,
        server: args.conn.server.trim_end_matches('/').to_string(),
    };
    herald_server::mcp::serve_stdio(Arc::new(backend), key, args.lease_ms).await?;
    Ok(())
}
