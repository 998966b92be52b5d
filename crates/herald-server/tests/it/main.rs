//! Integration tests: the real server over real HTTP, a real SQLite file, real receivers.

mod helpers;

mod api_errors;
mod delivery;
mod endpoints;
mod event_types;
mod inbound;
mod openapi;
mod operations;
mod publish;
mod pull;
mod ssrf;
mod tenants;
