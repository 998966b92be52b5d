//! herald as a library: configuration, the HTTP API, delivery workers and the store.
//! The binary crate is a thin CLI over [`run`].

pub mod api;
pub mod app;
pub mod config;
pub mod console;
pub mod delivery;
pub mod destination;
pub mod domain;

pub mod ingest;
pub mod mcp;
pub mod metrics;
pub mod net;
pub mod retention;
pub mod seal;
pub mod server;
pub mod store;
pub mod tls;

pub use app::{migrate, rotate_key, run, ServeError};
pub use config::{Config, Settings};
