//! Configuration: raw settings from flags, `HERALD_*` variables and `herald.toml` are
//! layered (in that order of precedence) and validated once into a [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::domain::Secret;

mod parse;

use parse::{duration_setting, optional_duration, parse_cidr, parse_network};
pub use parse::{max_duration, parse_schedule, parse_size, redact_url};

/// Settings as given by one layer; `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub store: Option<Secret>,
    pub allow_networks: Option<Vec<String>>,
    pub retry_schedule: Option<String>,
    pub role: Option<String>,
    pub admin_key: Option<Secret>,
    pub max_payload: Option<String>,
    /// Longest delay a `Retry-After` header may impose, e.g. `1h`.
    pub max_retry_after: Option<String>,
    /// How long a claimed delivery stays leased to a worker, e.g. `5m`.
    pub lease: Option<String>,
    /// Deliveries in flight at once across all endpoints.
    pub max_concurrency: Option<usize>,
    /// Disable an endpoint after every attempt has failed for this long (`off` to never).
    pub auto_disable_after: Option<String>,
    /// Delete events and attempts older than this (`off` to keep everything).
    pub retention: Option<String>,
    /// The base URL providers use to reach herald (for `ingest_url`).
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed when checking a source's `allow_ips`.
    pub trusted_proxies: Option<Vec<String>>,
    /// Refuse `http://` endpoint URLs outside the allowed networks.
    pub https_only: Option<bool>,
    /// Requests per second allowed per API key (off when unset).
    pub api_rate_limit: Option<u32>,
    /// Requests per second allowed per inbound source (off when unset).
    pub inbound_rate_limit: Option<u32>,
    /// How long a client may take to send a request's body.
    pub read_timeout: Option<String>,
    /// How long a connection may wait for a request's headers (idle keep-alive included).
    pub header_timeout: Option<String>,
    /// PEM certificate chain and private key: serve HTTPS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Key that seals secrets at rest (base64, 32 bytes); or read from `encryption_key_file`.
    pub encryption_key: Option<Secret>,
    pub encryption_key_file: Option<PathBuf>,
    /// Earlier keys that may still open sealed values (during `herald rotate-key`).
    pub old_encryption_keys: Option<Vec<Secret>>,
}

impl Settings {
    /// Fills every field not set in `self` from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            store: self.store.or(lower.store),
            allow_networks: self.allow_networks.or(lower.allow_networks),
            retry_schedule: self.retry_schedule.or(lower.retry_schedule),
            role: self.role.or(lower.role),
            admin_key: self.admin_key.or(lower.admin_key),
            encryption_key: self.encryption_key.or(lower.encryption_key),
            encryption_key_file: self.encryption_key_file.or(lower.encryption_key_file),
            old_encryption_keys: self.old_encryption_keys.or(lower.old_encryption_keys),
            max_payload: self.max_payload.or(lower.max_payload),
            max_retry_after: self.max_retry_after.or(lower.max_retry_after),
            lease: self.lease.or(lower.lease),
            max_concurrency: self.max_concurrency.or(lower.max_concurrency),
            auto_disable_after: self.auto_disable_after.or(lower.auto_disable_after),
            retention: self.retention.or(lower.retention),
            public_url: self.public_url.or(lower.public_url),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            https_only: self.https_only.or(lower.https_only),
            api_rate_limit: self.api_rate_limit.or(lower.api_rate_limit),
            inbound_rate_limit: self.inbound_rate_limit.or(lower.inbound_rate_limit),
            read_timeout: self.read_timeout.or(lower.read_timeout),
            header_timeout: self.header_timeout.or(lower.header_timeout),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
        }
    }

    /// Reads a `herald.toml` file.
    pub fn from_toml_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            setting: "config file",
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError {
            setting: "config file",
            message: format!("{}: {e}", path.display()),
        })
    }
}

/// A setting that could not be used, named as the operator wrote it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Embedded { data_dir: PathBuf },
    Postgres { url: Secret },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    All,
    Api,
    Worker,
}

impl Role {
    pub fn runs_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }
    pub fn runs_workers(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// How deliveries are made and retried.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Delays after the first try; its length is the number of retries.
    pub retry_schedule: Vec<Duration>,
    pub max_retry_after: Duration,
    pub lease: Duration,
    pub max_concurrency: usize,
    pub allow_networks: Vec<IpNet>,
    pub auto_disable_after: Option<Duration>,
}

/// The validated configuration of one herald process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub store: StoreConfig,
    pub role: Role,
    pub admin_key: Option<Secret>,
    pub max_payload: usize,
    pub delivery: DeliveryConfig,
    /// Age after which events and attempts are deleted; `None` keeps everything.
    pub retention: Option<Duration>,
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub https_only: bool,
    pub api_rate_limit: Option<u32>,
    pub inbound_rate_limit: Option<u32>,
    pub read_timeout: Duration,
    pub header_timeout: Duration,
    /// Certificate and key files when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Keys sealing secrets at rest (none: secrets are stored in clear).
    pub keyring: std::sync::Arc<crate::seal::Keyring>,
    /// Business time (the system clock; tests drive their own).
    pub clock: crate::domain::Clock,
    /// Set by the delivery workers when they have nothing left to do (tests wait on it).
    pub queue_idle: crate::domain::QueueIdle,
}

/// The sealing keys: `HERALD_ENCRYPTION_KEY` or the file `--encryption-key-file` names,
/// and `HERALD_OLD_ENCRYPTION_KEYS`.
fn keyring(s: &Settings) -> Result<crate::seal::Keyring, ConfigError> {
    let primary = match (&s.encryption_key, &s.encryption_key_file) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "HERALD_ENCRYPTION_KEY / --encryption-key-file",
                "give the key or a key file, not both",
            ))
        }
        (Some(k), None) => Some(k.expose().to_string()),
        (None, Some(path)) => Some(std::fs::read_to_string(path).map_err(|e| {
            bad(
                "--encryption-key-file / HERALD_ENCRYPTION_KEY_FILE",
                format!("cannot read {}: {e}", path.display()),
            )
        })?),
        (None, None) => None,
    };
    let primary = primary.filter(|k| !k.trim().is_empty());
    let older: Vec<String> = s
        .old_encryption_keys
        .iter()
        .flatten()
        .map(|k| k.expose().trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    crate::seal::Keyring::new(primary.as_deref(), &older).map_err(|e| {
        bad(
            "HERALD_ENCRYPTION_KEY / --encryption-key-file / HERALD_OLD_ENCRYPTION_KEYS",
            e.to_string(),
        )
    })
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub const DEFAULT_DATA_DIR: &str = "./herald-data";
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

impl Config {
    /// Validates layered settings; every error names the setting.
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let keyring = std::sync::Arc::new(keyring(&s)?);
        let listen_s = s.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_s.parse().map_err(|_| {
            bad(
                "--listen / HERALD_LISTEN",
                format!("`{listen_s}` is not an address like 127.0.0.1:8787"),
            )
        })?;
        let store = match s.store.as_ref().map(Secret::expose).filter(|v| !v.is_empty()) {
            None | Some("embedded") => StoreConfig::Embedded {
                data_dir: s.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            },
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreConfig::Postgres { url: url.into() }
            }
            Some(other) => {
                return Err(bad(
                    "--store / HERALD_STORE",
                    format!(
                        "`{}` is neither `embedded` nor a postgres:// URL",
                        redact_url(other)
                    ),
                ))
            }
        };
        let role = match s.role.as_deref().unwrap_or("all") {
            "all" => Role::All,
            "api" => Role::Api,
            "worker" => Role::Worker,
            other => {
                return Err(bad(
                    "--role / HERALD_ROLE",
                    format!("`{other}` is not one of all, api, worker"),
                ))
            }
        };
        let allow_networks = s
            .allow_networks
            .unwrap_or_default()
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .map(parse_network)
            .collect::<Result<Vec<_>, _>>()?;
        let schedule_s = s.retry_schedule.as_deref().unwrap_or(DEFAULT_RETRY_SCHEDULE);
        let retry_schedule = parse_schedule(schedule_s)?;
        let max_payload = match s.max_payload.as_deref() {
            None => 1024 * 1024,
            Some(v) => parse_size(v).ok_or_else(|| {
                bad(
                    "--max-payload / HERALD_MAX_PAYLOAD",
                    format!("`{v}` is not a size like 1MiB or 65536"),
                )
            })?,
        };
        if max_payload == 0 || max_payload > 64 * 1024 * 1024 {
            return Err(bad(
                "--max-payload / HERALD_MAX_PAYLOAD",
                "must be between 1 byte and 64MiB",
            ));
        }
        if s.admin_key.as_ref().is_some_and(|k| k.expose().trim().is_empty()) {
            return Err(bad("HERALD_ADMIN_KEY", "must not be blank"));
        }
        let max_retry_after = duration_setting(
            "--max-retry-after / HERALD_MAX_RETRY_AFTER",
            s.max_retry_after.as_deref(),
            "1h",
        )?;
        let lease = duration_setting("--lease / HERALD_LEASE", s.lease.as_deref(), "5m")?;
        if lease < Duration::from_secs(1) {
            return Err(bad("--lease / HERALD_LEASE", "must be at least 1s"));
        }
        let auto_disable_after = optional_duration(
            "--auto-disable-after / HERALD_AUTO_DISABLE_AFTER",
            s.auto_disable_after.as_deref(),
            "5d",
        )?;
        let retention = optional_duration("--retention / HERALD_RETENTION", s.retention.as_deref(), "30d")?;
        let public_url = match s.public_url {
            Some(u)
                if !(u.starts_with("http://") || u.starts_with("https://"))
                    || url::Url::parse(&u).is_err() =>
            {
                return Err(bad(
                    "--public-url / HERALD_PUBLIC_URL",
                    format!("`{u}` is not an http(s) URL"),
                ));
            }
            u => u,
        };
        let trusted_proxies = s
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .map(|n| parse_cidr("--trusted-proxy / HERALD_TRUSTED_PROXIES", n))
            .collect::<Result<Vec<_>, _>>()?;
        let max_concurrency = s.max_concurrency.unwrap_or(256);
        if max_concurrency == 0 {
            return Err(bad("max_concurrency", "must be at least 1"));
        }
        Ok(Config {
            keyring,
            clock: crate::domain::Clock::system(),
            queue_idle: Default::default(),
            listen,
            store,
            role,
            admin_key: s.admin_key,
            max_payload,
            delivery: DeliveryConfig {
                retry_schedule,
                max_retry_after,
                lease,
                max_concurrency,
                allow_networks,
                auto_disable_after,
            },
            retention,
            public_url,
            trusted_proxies,
            https_only: s.https_only.unwrap_or(false),
            api_rate_limit: s.api_rate_limit.filter(|r| *r > 0),
            inbound_rate_limit: s.inbound_rate_limit.filter(|r| *r > 0),
            tls: match (s.tls_cert, s.tls_key) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                _ => {
                    return Err(bad(
                        "--tls-cert / --tls-key",
                        "give both the certificate and the key, or neither",
                    ))
                }
            },
            header_timeout: duration_setting(
                "--header-timeout / HERALD_HEADER_TIMEOUT",
                s.header_timeout.as_deref(),
                "120s",
            )?,
            read_timeout: duration_setting(
                "--read-timeout / HERALD_READ_TIMEOUT",
                s.read_timeout.as_deref(),
                "10s",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded_and_errors_name_the_setting() {
        let refused = |settings: Settings, name: &str| {
            let e = Config::from_settings(settings).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        };
        refused(
            Settings {
                retry_schedule: Some("5s,3650000d".into()),
                ..Default::default()
            },
            "--retry-schedule",
        );
        refused(
            Settings {
                lease: Some("100000000000000000000s".into()),
                ..Default::default()
            },
            "--lease",
        );
        for (field, name) in [
            ("max_retry_after", "--max-retry-after"),
            ("retention", "--retention"),
            ("auto_disable_after", "--auto-disable-after"),
            ("read_timeout", "--read-timeout"),
            ("header_timeout", "--header-timeout"),
        ] {
            let mut s = Settings::default();
            let far = Some("36500d".to_string());
            match field {
                "max_retry_after" => s.max_retry_after = far,
                "retention" => s.retention = far,
                "auto_disable_after" => s.auto_disable_after = far,
                "read_timeout" => s.read_timeout = far,
                _ => s.header_timeout = far,
            }
            refused(s, name);
        }
        let ok = Settings {
            retry_schedule: Some("5s,30d".into()),
            retention: Some("3650d".into()),
            ..Default::default()
        };
        assert!(Config::from_settings(ok).is_ok());
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = Config::from_settings(Settings::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            c.store,
            StoreConfig::Embedded {
                data_dir: DEFAULT_DATA_DIR.into()
            }
        );
        assert_eq!(c.max_payload, 1024 * 1024);
        assert_eq!(c.delivery.retry_schedule.len(), 7);
        assert_eq!(c.delivery.retry_schedule[1], Duration::from_secs(300));
        assert!(c.delivery.allow_networks.is_empty());
    }

    #[test]
    fn higher_layers_win() {
        let flags = Settings {
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        let file = Settings {
            listen: Some("127.0.0.1:2".into()),
            role: Some("api".into()),
            ..Default::default()
        };
        let c = Config::from_settings(flags.or(file)).unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.role, Role::Api);
    }

    #[test]
    fn errors_name_the_setting() {
        let cases = [
            (
                Settings {
                    listen: Some("nope".into()),
                    ..Default::default()
                },
                "HERALD_LISTEN",
            ),
            (
                Settings {
                    retry_schedule: Some("5s,soon".into()),
                    ..Default::default()
                },
                "HERALD_RETRY_SCHEDULE",
            ),
            (
                Settings {
                    allow_networks: Some(vec!["10.0.0.0/33".into()]),
                    ..Default::default()
                },
                "HERALD_ALLOW_NETWORKS",
            ),
            (
                Settings {
                    max_payload: Some("lots".into()),
                    ..Default::default()
                },
                "HERALD_MAX_PAYLOAD",
            ),
            (
                Settings {
                    role: Some("boss".into()),
                    ..Default::default()
                },
                "HERALD_ROLE",
            ),
            (
                Settings {
                    store: Some("mysql://x".into()),
                    ..Default::default()
                },
                "HERALD_STORE",
            ),
        ];
        for (s, name) in cases {
            let e = Config::from_settings(s).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("64KiB"), Some(64 << 10));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("1 parsec"), None);
    }
}
