//! `herald serve`: the server process.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use herald_server::{Config, Settings};

/// Every setting may also come from a `HERALD_*` variable or `herald.toml`; flags win over
/// variables, variables over the file.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8787].
    #[arg(long, env = "HERALD_LISTEN")]
    listen: Option<String>,
    /// Directory of the embedded store [default: ./herald-data].
    #[arg(long, env = "HERALD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `embedded` (default) or a postgres:// URL.
    #[arg(long, env = "HERALD_STORE", hide_env_values = true)]
    store: Option<String>,
    /// A network deliveries may reach although it is private (repeatable), e.g. 127.0.0.0/8.
    #[arg(long = "allow-network", env = "HERALD_ALLOW_NETWORKS", value_delimiter = ',')]
    allow_network: Vec<String>,
    /// Delays between tries [default: 5s,5m,30m,2h,5h,10h,10h].
    #[arg(long, env = "HERALD_RETRY_SCHEDULE")]
    retry_schedule: Option<String>,
    /// `all`, `api` or `worker` [default: all].
    #[arg(long, env = "HERALD_ROLE")]
    role: Option<String>,
    /// Largest accepted payload [default: 1MiB].
    #[arg(long, env = "HERALD_MAX_PAYLOAD")]
    max_payload: Option<String>,
    /// Longest delay a Retry-After header may impose [default: 1h].
    #[arg(long, env = "HERALD_MAX_RETRY_AFTER")]
    max_retry_after: Option<String>,
    /// How long a claimed delivery stays leased to a worker [default: 5m].
    #[arg(long, env = "HERALD_LEASE")]
    lease: Option<String>,
    /// Deliveries in flight at once across all endpoints [default: 256].
    #[arg(long, env = "HERALD_MAX_CONCURRENCY")]
    max_concurrency: Option<usize>,
    /// Disable an endpoint after every attempt has failed this long, or `off` [default: 5d].
    #[arg(long, env = "HERALD_AUTO_DISABLE_AFTER")]
    auto_disable_after: Option<String>,
    /// Delete events and attempts older than this, or `off` [default: 30d].
    #[arg(long, env = "HERALD_RETENTION")]
    retention: Option<String>,
    /// Base URL providers use to reach herald, shown as sources' `ingest_url`.
    #[arg(long, env = "HERALD_PUBLIC_URL")]
    public_url: Option<String>,
    /// A proxy whose X-Forwarded-For is trusted for source IP allowlists (repeatable).
    #[arg(long = "trusted-proxy", env = "HERALD_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<String>,
    /// Refuse http:// endpoint URLs unless their addresses are inside --allow-network.
    #[arg(long, env = "HERALD_HTTPS_ONLY")]
    https_only: bool,
    /// Requests per second allowed per API key (a burst of twice that); off when unset.
    #[arg(long, env = "HERALD_API_RATE_LIMIT")]
    api_rate_limit: Option<u32>,
    /// Requests per second allowed per inbound source (a burst of twice that); off when unset.
    #[arg(long, env = "HERALD_INBOUND_RATE_LIMIT")]
    inbound_rate_limit: Option<u32>,
    /// How long a client may take to send a request body [default: 10s].
    #[arg(long, env = "HERALD_READ_TIMEOUT")]
    read_timeout: Option<String>,
    /// How long a connection may wait for request headers, idle keep-alive included [default: 120s].
    #[arg(long, env = "HERALD_HEADER_TIMEOUT")]
    header_timeout: Option<String>,
    /// PEM certificate chain: serve HTTPS (reloaded on SIGHUP or when the file changes).
    #[arg(long, env = "HERALD_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "HERALD_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// File holding the key that seals secrets at rest (base64, 32 bytes); or set
    /// HERALD_ENCRYPTION_KEY. Older keys still readable: HERALD_OLD_ENCRYPTION_KEYS.
    #[arg(long, env = "HERALD_ENCRYPTION_KEY_FILE")]
    encryption_key_file: Option<PathBuf>,
    /// Configuration file [default: ./herald.toml when it exists].
    #[arg(long, env = "HERALD_CONFIG")]
    config: Option<PathBuf>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "HERALD_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

impl ServeArgs {
    fn settings(&self) -> Settings {
        Settings {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            store: self.store.clone().map(Into::into),
            allow_networks: (!self.allow_network.is_empty()).then(|| self.allow_network.clone()),
            retry_schedule: self.retry_schedule.clone(),
            role: self.role.clone(),
            admin_key: std::env::var("HERALD_ADMIN_KEY")
                .ok()
                .filter(|k| !k.is_empty())
                .map(Into::into),
            max_payload: self.max_payload.clone(),
            max_retry_after: self.max_retry_after.clone(),
            lease: self.lease.clone(),
            max_concurrency: self.max_concurrency,
            auto_disable_after: self.auto_disable_after.clone(),
            retention: self.retention.clone(),
            public_url: self.public_url.clone(),
            trusted_proxies: (!self.trusted_proxy.is_empty()).then(|| self.trusted_proxy.clone()),
            https_only: self.https_only.then_some(true),
            api_rate_limit: self.api_rate_limit,
            inbound_rate_limit: self.inbound_rate_limit,
            read_timeout: self.read_timeout.clone(),
            header_timeout: self.header_timeout.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            encryption_key_file: self.encryption_key_file.clone(),
            ..crate::migrate::key_settings()
        }
    }

    fn config(&self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => Settings::from_toml_file(path)?,
            None if Path::new("herald.toml").exists() => Settings::from_toml_file(Path::new("herald.toml"))?,
            None => Settings::default(),
        };
        Ok(Config::from_settings(self.settings().or(file))?)
    }
}

fn init_logging(format: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        "text" => builder.init(),
        "json" => builder.json().init(),
        other => {
            anyhow::bail!("invalid setting --log-format / HERALD_LOG_FORMAT: `{other}` is not text or json")
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format)?;
    let config = args.config()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    herald_server::run(config, listener, shutdown_signal()).await?;
    Ok(())
}
