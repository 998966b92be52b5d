//! A small client of herald's HTTP API for the CLI commands, with errors that say what
//! to do about them.

use std::time::Duration;

use clap::Args;
use reqwest::Method;
use serde_json::Value;

/// Where herald is and how to authenticate.
#[derive(Args, Clone, Debug)]
pub struct Conn {
    /// herald's base URL.
    #[arg(long, env = "HERALD_SERVER", default_value = "http://127.0.0.1:8787")]
    pub server: String,
    /// An API key (admin or tenant).
    #[arg(long, env = "HERALD_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

#[derive(Debug)]
pub enum ClientError {
    /// No connection could be made (herald down, wrong address).
    Unreachable {
        server: String,
        detail: String,
    },
    Unauthorized,
    /// herald answered with an error.
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// Anything else (a body that is not JSON, a timeout mid-response).
    Other(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable { server, detail } => {
                write!(
                    f,
                    "cannot reach herald at {server}: is `herald serve` running? ({detail})"
                )
            }
            ClientError::Unauthorized => {
                write!(
                    f,
                    "herald refused the API key (401 unauthorized): check --key or HERALD_KEY"
                )
            }
            ClientError::Status {
                status,
                code,
                message,
            } => write!(f, "herald answered {status} {code}: {message}"),
            ClientError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClientError {}

pub struct Api {
    http: reqwest::Client,
    server: String,
    key: String,
}

impl Api {
    pub fn new(conn: &Conn) -> anyhow::Result<Api> {
        let key = conn
            .key
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| anyhow::anyhow!("no API key: pass --key or set HERALD_KEY"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Api {
            http,
            server: conn.server.trim_end_matches('/').to_string(),
            key,
        })
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        self.call_text(method, path, body.map(Value::to_string)).await
    }

    /// Like [`Api::call`] with a JSON body given as text (sent exactly as written).
    pub async fn call_text(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Value, ClientError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                ClientError::Unreachable {
                    server: self.server.clone(),
                    detail: root_cause(&e),
                }
            } else {
                ClientError::Other(format!("request to herald failed: {}", root_cause(&e)))
            }
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| ClientError::Other(format!("reading herald's answer: {e}")))?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|_| {
                ClientError::Other(format!("herald answered {status} with a body that is not JSON"))
            })?
        };
        match status {
            200..=299 => Ok(value),
            401 => Err(ClientError::Unauthorized),
            _ => Err(ClientError::Status {
                status,
                code: value["error"]["code"].as_str().unwrap_or("error").to_string(),
                message: value["error"]["message"].as_str().unwrap_or("").to_string(),
            }),
        }
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
