//! Decides whether the integration tests' PostgreSQL half can run: with `DATABASE_URL`
//! set, or with a PostgreSQL answering on 127.0.0.1:5432 (the tests then use its database
//! `test`). Without either, those tests are compiled as ignored, so `cargo test` shows
//! them as skipped instead of counting them as passed. Under `CI` a missing PostgreSQL
//! fails the build: CI must run both halves.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(herald_pg)");
    println!("cargo::rerun-if-env-changed=DATABASE_URL");
    println!("cargo::rerun-if-env-changed=CI");
    let configured = std::env::var("DATABASE_URL").is_ok_and(|u| !u.is_empty());
    let local: SocketAddr = ([127, 0, 0, 1], 5432).into();
    let reachable = configured || TcpStream::connect_timeout(&local, Duration::from_millis(300)).is_ok();
    if reachable {
        println!("cargo::rustc-cfg=herald_pg");
    } else if std::env::var_os("CI").is_some() {
        panic!("CI runs the PostgreSQL half of the tests: set DATABASE_URL or start PostgreSQL on 127.0.0.1:5432");
    }
}
