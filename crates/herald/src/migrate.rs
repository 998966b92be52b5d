//! `herald migrate`: bring the store's schema up to date ahead of a rollout.

use std::path::PathBuf;

use clap::Args;
use herald_server::{Config, Settings};

#[derive(Args)]
pub struct MigrateArgs {
    /// `embedded` (default) or a postgres:// URL.
    #[arg(long, env = "HERALD_STORE", hide_env_values = true)]
    store: Option<String>,
    /// Directory of the embedded store [default: ./herald-data].
    #[arg(long, env = "HERALD_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let config = Config::from_settings(Settings {
        store: args.store,
        data_dir: args.data_dir,
        ..Default::default()
    })?;
    match herald_server::migrate(&config).await? {
        Some(0) => println!("the schema is up to date"),
        Some(n) => println!("applied {n} migration(s); the schema is up to date"),
        None => println!("the schema is up to date"),
    }
    Ok(())
}
