//! Integration tests: the real server over real HTTP, real receivers, and a real store.
//! Every test runs twice: on the embedded store (a SQLite file in a temp dir) and on
//! PostgreSQL (its own schema in the database `DATABASE_URL` names, or in `test` on
//! 127.0.0.1:5432; with neither, `build.rs` marks the PostgreSQL half ignored, so it shows
//! as skipped, never as passed).

/// Declares each test once and runs it on both stores: `sqlite::name` and `postgres::name`.
macro_rules! store_tests {
    ($($(#[$meta:meta])* async fn $name:ident() $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test]
                async fn $name() {
                    crate::helpers::run_on(crate::helpers::Backend::Sqlite, async move $body).await
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test]
                #[cfg_attr(not(herald_pg), ignore = "no PostgreSQL: set DATABASE_URL or start one on 127.0.0.1:5432")]
                async fn $name() {
                    crate::helpers::run_on(crate::helpers::Backend::Postgres, async move $body).await
                }
            )*
        }
    };
}

mod brokers;
mod helpers;

mod amqp;
mod api_errors;
mod catalogue;
mod console;
mod contract;
mod control;
mod delivery;
mod destinations;
mod endpoints;
mod event_types;
mod inbound;
mod layers;
mod mcp;
mod multinode;
mod nats;
mod openapi;
mod operations;
mod ordering;
mod publish;
mod pull;
mod refusals;
mod retention;
mod revocation;
mod sealing;
mod search;
mod sources;
mod sqs;
mod ssrf;
mod startup;
mod tenants;
mod v1a;
