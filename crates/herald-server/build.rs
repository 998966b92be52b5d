//! Decides which tests that need something outside Rust can run, so that `cargo test`
//! shows the others as ignored instead of counting them as passed:
//! - `herald_pg`: the PostgreSQL half, with `DATABASE_URL` set or a PostgreSQL answering
//!   on 127.0.0.1:5432 (the tests then use its database `test`);
//! - `herald_pymcp`: the check with the official MCP Python SDK (`pip install mcp`);
//! - `herald_browser`: the console driven in Chromium (`apt-get install chromium`,
//!   `pip install playwright`; Playwright's own browser download is not used).
//!
//! Under `CI` either one missing fails the build: CI must run them all.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(herald_pg)");
    println!("cargo::rustc-check-cfg=cfg(herald_pymcp)");
    println!("cargo::rustc-check-cfg=cfg(herald_browser)");
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
    let sdk = std::process::Command::new("python3")
        .args(["-c", "import mcp.client.streamable_http"])
        .output()
        .is_ok_and(|o| o.status.success());
    if sdk {
        println!("cargo::rustc-cfg=herald_pymcp");
    } else if std::env::var_os("CI").is_some() {
        panic!("CI runs the official MCP Python SDK check: pip install mcp");
    }
    let playwright = std::process::Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    if playwright && std::path::Path::new("/usr/bin/chromium").exists() {
        println!("cargo::rustc-cfg=herald_browser");
    } else if std::env::var_os("CI").is_some() {
        panic!("CI runs the console in a browser: apt-get install chromium; pip install playwright");
    }
}
