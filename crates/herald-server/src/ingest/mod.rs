//! The inbound pipeline, as a pure decision over one raw request: sender IP → signature
//! (over the raw bytes, before any parsing) → event type and de-duplication key. The API
//! stores what it decides; nothing here does IO.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::http::HeaderMap;
use herald_signing::{handshake_reply, signature_headers, verify_inbound, InboundRequest, Reply};
use ipnet::IpNet;
use sha2::{Digest, Sha256};

use crate::domain::source::{Extract, Source};
use crate::domain::{valid_event_type, OPERATIONAL_PREFIX};

/// One request as it arrived.
pub struct RawRequest<'a> {
    pub method: &'a str,
    /// The URL the provider called: herald's public URL, the path and the query.
    pub url: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The sender, after trusted proxies are taken into account.
    pub client_ip: IpAddr,
    pub now_s: i64,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// For the request log and the sender: names headers and rules, never a secret.
    pub reason: String,
}

/// What kind of refusal; the API decides how each is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The sender's address is outside `allow_ips`.
    SenderNotAllowed,
    /// The signature or credential is missing, malformed or does not match.
    BadSignature,
    /// The request would make a `herald.` event.
    ReservedType,
    /// The de-duplication key the source needs is absent.
    MissingDedupeKey,
}

/// What to do with a request that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// A provider's handshake (Slack, Twitch, Zoom, Discord): send this reply, store no event.
    Challenge(Reply),
    Event {
        event_type: String,
        dedupe_key: Option<String>,
    },
}

/// The sender's address: the peer, or, when the peer is a trusted proxy, the nearest
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(chain) = forwarded_for else { return peer };
    chain
        .rsplit(',')
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
        .collect()
}

/// Refuses a sender outside the source's `allow_ips` (the reason says so).
pub fn check_sender(source: &Source, client_ip: IpAddr) -> Result<(), String> {
    let allow = &source.spec.allow_ips;
    let ip = match client_ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client_ip, IpAddr::V4),
        v4 => v4,
    };
    if !allow.is_empty() && !allow.iter().any(|n| n.contains(&ip)) {
        return Err(format!("sender {ip} is not in allow_ips"));
    }
    Ok(())
}

/// Decides on one request to a source.
pub fn decide(source: &Source, req: &RawRequest<'_>) -> Result<Accepted, Refusal> {
    let spec = &source.spec;
    check_sender(source, req.client_ip).map_err(|reason| Refusal {
        kind: RefusalKind::SenderNotAllowed,
        reason,
    })?;
    let scheme = spec.verify.scheme();
    let pairs = header_pairs(req.headers);
    let secrets: Vec<&str> = spec.verify.secrets().iter().map(String::as_str).collect();
    let inbound = InboundRequest {
        headers: &pairs,
        body: req.body,
        method: req.method,
        url: Some(req.url),
    };
    let verified =
        verify_inbound(scheme, &secrets, &inbound, req.now_s, spec.verify.tolerance()).map_err(|e| {
            Refusal {
                kind: RefusalKind::BadSignature,
                reason: format!("signature check failed: {e}"),
            }
        })?;
    // Verified: only now may the body be parsed.
    let matched = verified.secret_index.and_then(|i| secrets.get(i).copied());
    if let Some(reply) = handshake_reply(scheme, &inbound, matched) {
        return Ok(Accepted::Challenge(reply));
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(req.body).ok();
    let raw_type = extract(&spec.event_type, req, json.as_ref()).unwrap_or_else(|| "unknown".into());
    let event_type = event_type(spec.type_prefix.as_deref().unwrap_or(""), &raw_type);
    if event_type.starts_with(OPERATIONAL_PREFIX) {
        return Err(Refusal {
            kind: RefusalKind::ReservedType,
            reason: format!(
                "event type `{event_type}` is refused: the `herald.` prefix is reserved for herald's own events"
            ),
        });
    }
    let retries_only = spec.dedupe.as_ref().is_some_and(|d| d.retries_only);
    let dedupe_key = spec.dedupe.as_ref().map(|d| extract(&d.key, req, json.as_ref()));
    let dedupe_key = match dedupe_key {
        Some(None) if retries_only => None,
        Some(Some(k)) if retries_only => Some(format!("{k}:{}", hex::encode(Sha256::digest(req.body)))),
        Some(None) => {
            return Err(Refusal {
                kind: RefusalKind::MissingDedupeKey,
                reason: format!(
                    "the de-duplication key {} is missing from the request",
                    spec.dedupe.as_ref().unwrap().key.to_spec()
                ),
            })
        }
        Some(Some(k)) => Some(k),
        None => None,
    };
    Ok(Accepted::Event {
        event_type,
        dedupe_key,
    })
}

fn extract(rule: &Extract, req: &RawRequest<'_>, json: Option<&serde_json::Value>) -> Option<String> {
    match rule {
        Extract::Header(name) => header_or_unprefixed(req.headers, name),
        Extract::Json(pointer) => match json?.pointer(pointer)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        },
        Extract::Body => Some(hex::encode(Sha256::digest(req.body))),
        Extract::Const(c) => Some(c.clone()),
    }
}

/// The header `name`; for an `X-` name, also the same name without the prefix, which some
/// providers have moved to (Shopify's `shopify-topic` for `X-Shopify-Topic`).
fn header_or_unprefixed(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name).or_else(|| {
        let prefixed = name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-"));
        let bare = name.get(2..).filter(|_| prefixed)?;
        headers.get(bare)
    })?;
    value.to_str().ok().map(str::to_string)
}

/// Makes a provider's name for what happened into a valid event type: characters herald
/// does not allow in types (such as `/` in `orders/create`) become dots.
pub fn event_type(prefix: &str, raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':') {
                c
            } else {
                '.'
            }
        })
        .collect();
    let joined: Vec<&str> = cleaned.split('.').filter(|s| !s.is_empty()).collect();
    let t = format!("{prefix}{}", joined.join("."));
    if valid_event_type(&t) {
        t
    } else {
        format!("{prefix}unknown")
    }
}

/// The request headers worth keeping, with every credential removed.
pub fn redacted_headers(source: &Source, headers: &HeaderMap) -> BTreeMap<String, String> {
    let secret_headers: Vec<String> = signature_headers(source.spec.verify.scheme())
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        let redact = secret_headers.iter().any(|h| h == n)
            || matches!(n, "authorization" | "cookie" | "proxy-authorization");
        let v = if redact {
            "[redacted]".to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        out.entry(n.to_string())
            .and_modify(|e: &mut String| {
                e.push_str(", ");
                e.push_str(&v)
            })
            .or_insert(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_become_valid_types() {
        assert_eq!(event_type("shopify.", "orders/create"), "shopify.orders.create");
        assert_eq!(
            event_type("stripe.", "payment_intent.succeeded"),
            "stripe.payment_intent.succeeded"
        );
        assert_eq!(event_type("", "pull_request"), "pull_request");
        assert_eq!(event_type("gh.", "///"), "gh.unknown");
    }

    #[test]
    fn an_x_header_rule_also_reads_the_unprefixed_name() {
        let mut headers = HeaderMap::new();
        headers.insert("shopify-topic", "orders/create".parse().unwrap());
        assert_eq!(
            header_or_unprefixed(&headers, "X-Shopify-Topic").as_deref(),
            Some("orders/create")
        );
        headers.insert("x-shopify-topic", "orders/paid".parse().unwrap());
        assert_eq!(
            header_or_unprefixed(&headers, "X-Shopify-Topic").as_deref(),
            Some("orders/paid")
        );
        assert_eq!(header_or_unprefixed(&headers, "x"), None);
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let outsider: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            client_ip(proxy, Some("198.51.100.7, 10.2.2.2"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(outsider, Some("198.51.100.7"), &trusted), outsider);
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
        assert_eq!(client_ip(proxy, Some("garbage"), &[]), proxy);
    }
}
