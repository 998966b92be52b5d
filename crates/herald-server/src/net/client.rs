//! The outbound HTTP client: hyper with rustls, connection reuse, no proxy, no redirects,
//! and a connector that resolves names itself and applies the SSRF [`Guard`] to the very
//! address it connects to.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::guard::{Guard, Refused};

/// Why a connection was not made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("the URL has no host")]
    NoHost,
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: std::io::Error },
    #[error("{0} resolved to no address")]
    NoAddress(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A connector that refuses addresses the guard refuses, whatever the URL looked like.
#[derive(Clone)]
pub struct GuardedConnector {
    guard: Arc<Guard>,
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move { connect(&guard, &uri).await })
    }
}

async fn resolve(uri: &Uri) -> Result<Vec<SocketAddr>, ConnectError> {
    let host = uri.host().ok_or(ConnectError::NoHost)?;
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let port = uri.port_u16().unwrap_or(default_port);
    resolve_host(host, port).await
}

/// The addresses `host` (a name or an IP literal, IPv6 with or without brackets) stands
/// for at `port`; every connection herald makes is judged on these.
pub async fn resolve_host(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    // Anything else, including numeric forms such as `2130706433`, goes through the
    // system resolver; whatever it answers is checked before any connect.
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| ConnectError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::NoAddress(host.to_string()));
    }
    Ok(addrs)
}

async fn connect(guard: &Guard, uri: &Uri) -> Result<TokioIo<TcpStream>, ConnectError> {
    let mut refused = None;
    let mut failed = None;
    for addr in resolve(uri).await? {
        if let Err(r) = guard.check(addr.ip()) {
            refused.get_or_insert(r);
            continue;
        }
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(TokioIo::new(stream));
            }
            Err(source) => failed = Some(ConnectError::Connect { addr, source }),
        }
    }
    Err(failed
        .or(refused.map(ConnectError::Refused))
        .unwrap_or_else(|| ConnectError::NoAddress(uri.to_string())))
}

/// What came back from one POST.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    /// The first 4 KiB of the body, as text.
    pub body: String,
}

/// Why a POST got no response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Refused(Refused),
    #[error("timed out after {0} ms")]
    Timeout(u64),
    #[error("{0}")]
    Transport(String),
}

pub const MAX_RECORDED_BODY: usize = 4096;
/// Bytes of a response read at most (the rest is dropped with the connection).
const MAX_READ_BODY: usize = 64 * 1024;
/// Bytes of a response read at most by [`HttpClient::send_full`].
const MAX_FULL_BODY: usize = 1024 * 1024;

/// The shared outbound client.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<GuardedConnector>, Full<Bytes>>,
    guard: Arc<Guard>,
}

impl HttpClient {
    pub fn new(guard: Guard) -> Self {
        let guard = Arc::new(guard);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(GuardedConnector { guard: guard.clone() });
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(connector);
        Self { client, guard }
    }

    /// The SSRF rule this client connects by (brokers connect by it too).
    pub fn guard(&self) -> Arc<Guard> {
        self.guard.clone()
    }

    /// Sends one request; the whole exchange (connect, headers, body) is bounded by `timeout`.
    pub async fn send(&self, req: Request<Full<Bytes>>, timeout: Duration) -> Result<Response, SendError> {
        let ms = timeout.as_millis() as u64;
        tokio::time::timeout(timeout, self.exchange(req))
            .await
            .map_err(|_| SendError::Timeout(ms))?
    }

    /// Sends one request and returns the whole response (headers and up to 1 MiB of
    /// body), for clients that read the answer themselves (the SQS client).
    pub async fn send_full(
        &self,
        req: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<hyper::Response<Bytes>, SendError> {
        let ms = timeout.as_millis() as u64;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(classify)?;
            let (parts, body) = resp.into_parts();
            let limited = http_body_util::Limited::new(body, MAX_FULL_BODY);
            let bytes = limited
                .collect()
                .await
                .map_err(|e| SendError::Transport(format!("reading the response failed: {e}")))?
                .to_bytes();
            Ok(hyper::Response::from_parts(parts, bytes))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| SendError::Timeout(ms))?
    }

    async fn exchange(&self, req: Request<Full<Bytes>>) -> Result<Response, SendError> {
        let resp = self.client.request(req).await.map_err(classify)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while buf.len() < MAX_READ_BODY {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        buf.extend_from_slice(data);
                    }
                }
                // A broken body after the status line still counts as an answer.
                Some(Err(_)) | None => break,
            }
        }
        buf.truncate(MAX_RECORDED_BODY);
        Ok(Response {
            status,
            retry_after,
            body: String::from_utf8_lossy(&buf).into_owned(),
        })
    }
}

/// Finds a guard refusal anywhere in the error's chain; anything else is transport.
fn classify(err: hyper_util::client::legacy::Error) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(ConnectError::Refused(r)) = e.downcast_ref::<ConnectError>() {
            return SendError::Refused(r.clone());
        }
        source = e.source();
    }
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        msg.push_str(": ");
        msg.push_str(&e.to_string());
        source = e.source();
    }
    SendError::Transport(msg)
}
