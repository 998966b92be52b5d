//! The SSRF rule for broker connections: the broker's host is resolved here and every
//! address is judged by the same [`Guard`] as HTTP deliveries, before any connection.

use std::net::{IpAddr, SocketAddr};

use super::BrokerError;
use crate::net::client::resolve_host;
use crate::net::guard::Guard;

/// Where to connect: the address the guard allowed, or (for TLS, whose certificate names
/// the host) the host itself once every address it resolves to is allowed.
#[derive(Debug, Clone)]
pub enum Dial {
    /// Connect to this address (the URL's host replaced by it).
    Pinned(SocketAddr),
    /// Connect by name: every address it resolves to now passed the guard.
    ByName,
}

/// Resolves `host` and checks what it resolves to. `tls`: the connection is made by name
/// (so the certificate can be checked), so every address must pass; otherwise the first
/// address that passes is pinned.
pub async fn check(guard: &Guard, host: &str, port: u16, tls: bool) -> Result<Dial, BrokerError> {
    let addrs = resolve_host(host, port)
        .await
        .map_err(|e| BrokerError::Unreachable(e.to_string()))?;
    let mut refused = None;
    let mut allowed = None;
    for addr in &addrs {
        match guard.check(addr.ip()) {
            Ok(()) => {
                allowed.get_or_insert(*addr);
            }
            Err(r) => {
                refused.get_or_insert(r);
            }
        }
    }
    match (allowed, refused) {
        (Some(_), Some(r)) if tls => Err(BrokerError::Refused(r)),
        (Some(_), _) if tls => Ok(Dial::ByName),
        (Some(addr), _) => Ok(Dial::Pinned(addr)),
        (None, Some(r)) => Err(BrokerError::Refused(r)),
        (None, None) => Err(BrokerError::Unreachable(format!("{host} resolved to no address"))),
    }
}

/// The host part of a URL for an address (IPv6 in brackets).
pub fn host_of(addr: &SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let strict = Guard::default();
        assert!(matches!(
            check(&strict, "127.0.0.1", 5672, false).await,
            Err(BrokerError::Refused(_))
        ));
        assert!(matches!(
            check(&strict, "localhost", 5672, true).await,
            Err(BrokerError::Refused(_))
        ));
        let open = Guard::new(vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
        let Ok(Dial::Pinned(addr)) = check(&open, "127.0.0.1", 5672, false).await else {
            panic!("allowed")
        };
        assert_eq!(host_of(&addr), "127.0.0.1");
        assert_eq!(host_of(&"[::1]:1".parse().unwrap()), "[::1]");
    }
}
