//! `herald migrate` and `herald rotate-key`: store maintenance ahead of or during a rollout.

use std::path::PathBuf;

use clap::Args;
use herald_server::{Config, Settings};

/// Which store to work on.
#[derive(Args)]
pub struct StoreArgs {
    /// `embedded` (default) or a postgres:// URL.
    #[arg(long, env = "HERALD_STORE", hide_env_values = true)]
    store: Option<String>,
    /// Directory of the embedded store [default: ./herald-data].
    #[arg(long, env = "HERALD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// File holding the new sealing key (or set HERALD_ENCRYPTION_KEY).
    #[arg(long, env = "HERALD_ENCRYPTION_KEY_FILE")]
    encryption_key_file: Option<PathBuf>,
}

/// The sealing keys from the environment (never from flags: they would show in `ps`).
pub fn key_settings() -> Settings {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    Settings {
        encryption_key: var("HERALD_ENCRYPTION_KEY").map(Into::into),
        old_encryption_keys: var("HERALD_OLD_ENCRYPTION_KEYS")
            .map(|v| v.split(',').map(|k| k.trim().into()).collect()),
        ..Default::default()
    }
}

impl StoreArgs {
    fn config(self) -> anyhow::Result<Config> {
        Ok(Config::from_settings(Settings {
            store: self.store.map(Into::into),
            data_dir: self.data_dir,
            encryption_key_file: self.encryption_key_file,
            ..key_settings()
        })?)
    }
}

pub async fn migrate(args: StoreArgs) -> anyhow::Result<()> {
    match herald_server::migrate(&args.config()?).await? {
        Some(n) if n > 0 => println!("applied {n} migration(s); the schema is up to date"),
        _ => println!("the schema is up to date"),
    }
    Ok(())
}

pub async fn rotate_key(args: StoreArgs) -> anyhow::Result<()> {
    let changed = herald_server::rotate_key(&args.config()?).await?;
    println!("re-sealed the secrets of {changed} endpoint(s) and source(s) under the new key");
    Ok(())
}
