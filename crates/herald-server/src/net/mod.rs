//! Outbound connections, for HTTP deliveries and brokers alike: the SSRF [`guard::Guard`]
//! that judges every address herald connects to, and the HTTP client that applies it.

pub mod client;
pub mod guard;
