//! The app builder: configuration → store → listener → run until shutdown.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::api::{self, extract::hash_key, AppState};
use crate::config::{Config, StoreConfig};
use crate::delivery::attempt::Deliverer;
use crate::delivery::Dispatcher;
use crate::domain::{new_id, Secret};
use crate::metrics::Metrics;
use crate::net::client::HttpClient;
use crate::net::guard::Guard;
use crate::store::postgres::PgStore;
use crate::store::sealed::SealedStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(
        "the store's secrets cannot be opened with the configured HERALD_ENCRYPTION_KEY ({0}): \
         start with the key the store was sealed with (older keys go in HERALD_OLD_ENCRYPTION_KEYS)"
    )]
    WrongKey(crate::seal::SealError),
}

/// Opens the configured store, sealing secrets with the configured keys.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServeError> {
    Ok(Arc::new(open_sealed(config).await?))
}

async fn open_sealed(config: &Config) -> Result<SealedStore, ServeError> {
    if !config.keyring.seals() {
        tracing::warn!("HERALD_ENCRYPTION_KEY is not set: endpoint and source secrets are stored in clear");
    }
    let store = SealedStore::new(open_raw(config).await?, config.keyring.clone());
    match store.check_keys().await {
        Err(StoreError::Sealed(e)) => Err(ServeError::WrongKey(e)),
        other => other.map(|()| store).map_err(ServeError::from),
    }
}

/// Re-seals every stored secret under the current key (`herald rotate-key`); returns how
/// many endpoints and sources changed.
pub async fn rotate_key(config: &Config) -> Result<usize, ServeError> {
    if !config.keyring.seals() {
        return Err(ServeError::Unsupported(
            "set HERALD_ENCRYPTION_KEY (the new key) and HERALD_OLD_ENCRYPTION_KEYS (the old ones)",
        ));
    }
    Ok(open_sealed(config).await?.reseal_all().await?)
}

async fn open_raw(config: &Config) -> Result<Arc<dyn Store>, ServeError> {
    match &config.store {
        StoreConfig::Embedded { data_dir } => {
            let (dir, clock) = (data_dir.clone(), config.clock.clone());
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir, clock))
                .await
                .map_err(|_| ServeError::Unsupported("the store could not be opened"))??;
            Ok(Arc::new(store))
        }
        StoreConfig::Postgres { url } => Ok(Arc::new(
            PgStore::connect(url.expose(), config.clock.clone()).await?,
        )),
    }
}

/// Brings the configured store's schema up to date without serving (`herald migrate`);
/// returns how many migrations ran, when the store can tell.
pub async fn migrate(config: &Config) -> Result<Option<usize>, ServeError> {
    match &config.store {
        StoreConfig::Embedded { .. } => open_raw(config).await.map(|_| None),
        StoreConfig::Postgres { url } => Ok(Some(PgStore::migrate(url.expose()).await?)),
    }
}

/// Without `HERALD_ADMIN_KEY`, the first start mints an admin key, prints it once on
/// stdout, and keeps only its hash.
async fn bootstrap_admin_key(store: &dyn Store, config: &Config) -> Result<Option<String>, ServeError> {
    if let Some(key) = config.admin_key.as_ref().map(Secret::expose) {
        if key.len() < 16 {
            tracing::warn!(
                "HERALD_ADMIN_KEY is shorter than 16 characters: fine for a laptop, weak anywhere else"
            );
        }
        return Ok(Some(hash_key(key)));
    }
    let key = api::keys::generate_key();
    if store
        .insert_first_admin_key(new_id("key"), hash_key(&key))
        .await?
    {
        println!("herald admin key (shown once, keep it safe): {key}");
    }
    Ok(None)
}

/// The API router with `/mcp` beside it (the MCP tools call the API in process, each
/// request with its own key, which must be valid to reach them).
fn with_mcp(
    api: axum::Router,
    state: AppState,
    with_api: bool,
    stop: tokio_util::sync::CancellationToken,
) -> axum::Router {
    if !with_api {
        return api;
    }
    let mcp = axum::Router::new()
        .nest_service("/mcp", crate::mcp::http_service(api.clone(), stop))
        .layer(axum::middleware::from_fn_with_state(
            state,
            api::extract::require_key,
        ));
    api.merge(mcp)
}

/// Serves the API and runs the delivery workers on `listener` until `shutdown` resolves,
/// then stops accepting, lets in-flight work finish (or releases it), and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = open_store(&config).await?;
    let admin_hash = bootstrap_admin_key(store.as_ref(), &config).await?;
    let wake = Arc::new(Notify::new());
    let metrics = Arc::new(Metrics::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let pull_wake: Arc<Notify> = Arc::default();
    {
        // Work stored by another node wakes this node's workers and pull consumers too.
        let (wake, pull_wake, idle) = (wake.clone(), pull_wake.clone(), config.queue_idle.clone());
        let on_wake = Arc::new(move || {
            idle.work_arrived();
            wake.notify_one();
            pull_wake.notify_waiters();
        });
        store.watch_remote(on_wake, stop_tx.subscribe());
    }
    let concurrency = crate::delivery::load::Board::default();
    let workers = config.role.runs_workers().then(|| {
        let client = HttpClient::new(Guard::new(config.delivery.allow_networks.clone()));
        let deliverer = Arc::new(Deliverer::new(
            client,
            config.delivery.clone(),
            metrics.clone(),
            config.clock.clone(),
        ));
        let dispatcher = Dispatcher::new(store.clone(), deliverer, config.delivery.clone(), wake.clone())
            .reporting_idle(config.queue_idle.clone())
            .reporting_limits(concurrency.clone());
        tokio::spawn(dispatcher.run(stop_rx))
    });
    let sweeper = match (config.role.runs_workers(), config.retention) {
        (true, Some(age)) => Some(tokio::spawn(crate::retention::run(
            store.clone(),
            age,
            config.clock.clone(),
            stop_tx.subscribe(),
        ))),
        _ => None,
    };
    let with_api = config.role.runs_api();
    let (stopping_tx, stopping_rx) = watch::channel(false);
    let limits = Arc::new(api::limits::Limits::new(
        config.api_rate_limit,
        config.inbound_rate_limit,
    ));
    let state = AppState {
        store,
        config: Arc::new(config),
        wake,
        admin_hash,
        metrics,
        schemas: Arc::default(),
        pull_wake,
        stopping: stopping_rx,
        limits,
        concurrency,
    };
    let header_timeout = state.config.header_timeout;
    let tls = match &state.config.tls {
        Some((cert, key)) => {
            let tls = Arc::new(crate::tls::Tls::load(cert.clone(), key.clone())?);
            tokio::spawn(tls.clone().watch(stop_tx.subscribe()));
            Some(tls)
        }
        None => {
            tracing::info!(
                "serving plain HTTP: put a TLS-terminating proxy in front, or pass --tls-cert and --tls-key"
            );
            None
        }
    };
    let mcp_stop = tokio_util::sync::CancellationToken::new();
    let mut routes = api::router(state.clone(), with_api);
    if with_api {
        routes = routes.merge(crate::console::router().with_state(state.clone()));
    }
    let app = with_mcp(routes, state, with_api, mcp_stop.clone());
    tracing::info!(addr = %listener.local_addr()?, "herald is listening");
    // Open streams end as soon as shutdown starts, so the server can drain.
    let shutdown = async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
        mcp_stop.cancel();
    };
    let options = crate::server::ServeOptions { header_timeout, tls };
    crate::server::serve(listener, app, options, shutdown).await?;
    tracing::info!("stopped accepting requests; finishing in-flight deliveries");
    let _ = stop_tx.send(true);
    for handle in workers.into_iter().chain(sweeper) {
        let _ = handle.await;
    }
    Ok(())
}
