//! The HTTP/1 server loop: accepts connections, serves the router on each, bounds how long
//! a client may take to send its request headers (slow-loris), and on shutdown stops
//! accepting and lets open requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower_service::Service;

use crate::tls::Tls;

/// Longest wait for open connections after shutdown starts.
const DRAIN: Duration = Duration::from_secs(30);

/// How connections are served.
pub struct ServeOptions {
    /// Bounds the wait for a request's headers on a connection (idle keep-alive included)
    /// and the TLS handshake.
    pub header_timeout: Duration,
    /// Serve HTTPS with this certificate; plain HTTP when `None`.
    pub tls: Option<Arc<Tls>>,
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        // Above the API's own limits (`api::request_limits`), which answer in JSON.
        .max_headers(4 * crate::api::MAX_HEADERS)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().call(req)
        });
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        match &options.tls {
            None => {
                tokio::spawn(finish(
                    watcher.watch(builder.serve_connection(TokioIo::new(stream), svc)),
                ));
            }
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
                let handshake_limit = options.header_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_limit, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            finish(watcher.watch(builder.serve_connection(TokioIo::new(tls_stream), svc)))
                                .await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("some connections were still open after {DRAIN:?}; closing them");
    }
    Ok(())
}

async fn finish(conn: impl Future<Output = Result<(), hyper::Error>>) {
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
