//! The `herald` command line: the server, and a CLI over its HTTP API.

mod client;
mod listen;
mod manage;
mod mcp;
mod migrate;
mod serve;
mod verify;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "herald", version, about = "A self-hosted webhook gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: the HTTP API and the delivery workers.
    Serve(Box<serve::ServeArgs>),
    /// Forward deliveries to a local URL through a pull endpoint (no public tunnel needed).
    Listen(listen::ListenArgs),
    /// Publish an event.
    Send(manage::SendArgs),
    /// Check a webhook signature with the inbound gateway's verifier (body on stdin).
    Verify(verify::VerifyArgs),
    /// Replay an event, or recover an endpoint's failed deliveries.
    Replay(manage::ReplayArgs),
    /// List recent events.
    Events(manage::EventsArgs),
    /// Show an event's deliveries.
    Deliveries(manage::DeliveriesArgs),
    /// Serve herald's MCP tools over stdio (for agent hosts that start a local process).
    Mcp(mcp::McpArgs),
    /// Apply the store's schema migrations without serving (ahead of a rollout).
    Migrate(migrate::StoreArgs),
    /// Re-seal stored secrets under HERALD_ENCRYPTION_KEY, reading older ones with
    /// HERALD_OLD_ENCRYPTION_KEYS (also seals secrets stored in clear).
    RotateKey(migrate::StoreArgs),
}

#[tokio::main]
async fn main() {
    let result = match Cli::parse().command {
        Command::Serve(args) => serve::serve(*args).await,
        Command::Listen(args) => listen::run(args).await,
        Command::Send(args) => manage::send(args).await,
        Command::Verify(args) => verify::run(args),
        Command::Replay(args) => manage::replay(args).await,
        Command::Events(args) => manage::events(args).await,
        Command::Deliveries(args) => manage::deliveries(args).await,
        Command::Mcp(args) => mcp::run(args).await,
        Command::Migrate(args) => migrate::migrate(args).await,
        Command::RotateKey(args) => migrate::rotate_key(args).await,
    };
    if let Err(e) = result {
        eprintln!("herald: {e:#}");
        std::process::exit(2);
    }
}
