//! Checks of the fields a caller sets on endpoints (and the descriptions of event types):
//! each refusal names the field, as `422 invalid_field`.

use std::collections::BTreeMap;

use base64::Engine;
use rand::RngCore;

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::domain::{valid_type_pattern, SignatureScheme};

/// Checks a delivery URL: http(s), a host, no credentials. Returns its normalized form
/// (numeric hosts such as `2130706433` become dotted addresses). Where it points is
/// judged by the SSRF guard at every send.
pub fn validate_url(raw: &str) -> ApiResult<String> {
    // Only characters a URL may carry unencoded (RFC 3986); others must be %-encoded.
    // Non-ASCII letters are fine: an internationalized host becomes punycode, a path
    // character is %-encoded by the parser.
    if !raw.chars().all(|c| {
        !c.is_ascii() && !c.is_control() && !c.is_whitespace()
            || c.is_ascii_alphanumeric()
            || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
    }) {
        return Err(ApiError::invalid(
            "url",
            "contains characters that must be %-encoded (spaces, quotes, <, >, …)",
        ));
    }
    let url = url::Url::parse(raw.trim())
        .map_err(|e| ApiError::invalid("url", format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::invalid("url", "must use http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(
            "url",
            "must not carry credentials; use `headers` instead",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("url", "must have a host"));
    }
    if url.port() == Some(0) {
        return Err(ApiError::invalid("url", "port 0 cannot be connected to"));
    }
    if url.as_str().len() > 2048 {
        return Err(ApiError::invalid("url", "must be at most 2048 characters"));
    }
    Ok(url.to_string())
}

/// With `--https-only`, an `http://` URL is accepted only for hosts that do not resolve to
/// a public address outside `--allow-network` (local and internal receivers).
pub async fn check_https_only(state: &AppState, url: &str) -> ApiResult<()> {
    if !state.config.https_only || url.starts_with("https://") {
        return Ok(());
    }
    let refused = || {
        ApiError::invalid(
            "url",
            "must use https (herald runs with --https-only; http is allowed only inside --allow-network)",
        )
    };
    let parsed = url::Url::parse(url).map_err(|_| refused())?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addrs: Vec<std::net::IpAddr> = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => vec![ip.into()],
        Some(url::Host::Ipv6(ip)) => vec![ip.into()],
        Some(url::Host::Domain(d)) => tokio::net::lookup_host((d, port))
            .await
            .map_err(|_| refused())?
            .map(|a| a.ip())
            .collect(),
        None => vec![],
    };
    // Plain http may reach allowed networks only: no address may be a public one (private
    // ones outside the allowlist are refused at send time by the SSRF guard anyway).
    let allowed = &state.config.delivery.allow_networks;
    let public = |ip: &std::net::IpAddr| crate::net::guard::Guard::default().check(*ip).is_ok();
    if addrs.is_empty()
        || addrs
            .iter()
            .any(|ip| public(ip) && !allowed.iter().any(|n| n.contains(ip)))
    {
        return Err(refused());
    }
    Ok(())
}

pub fn validate_patterns(types: Vec<String>) -> ApiResult<Vec<String>> {
    if types.is_empty() {
        return Err(ApiError::invalid(
            "event_types",
            "must name at least one type or pattern (use [\"*\"] for all)",
        ));
    }
    if types.len() > 100 {
        return Err(ApiError::invalid("event_types", "at most 100 patterns"));
    }
    if let Some((i, bad)) = types.iter().enumerate().find(|(_, p)| !valid_type_pattern(p)) {
        return Err(ApiError::invalid(
            &format!("event_types[{i}]"),
            format!("`{bad}` is not a type or pattern (examples: `*`, `ticket.*`, `ticket.created`)"),
        ));
    }
    Ok(types)
}

pub const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "user-agent",
    "host",
    "connection",
    "transfer-encoding",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-signature",
    "x-herald-event-type",
];

pub fn validate_headers(headers: BTreeMap<String, String>) -> ApiResult<BTreeMap<String, String>> {
    if headers.len() > 50 {
        return Err(ApiError::invalid("headers", "at most 50 headers"));
    }
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let field = format!("headers.{name}");
        if lower.is_empty()
            || lower.len() > 64
            || !lower.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ApiError::invalid(
                &field,
                "a header name is 1 to 64 letters, digits and `-`",
            ));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-herald-") {
            return Err(ApiError::invalid(
                &field,
                "is set by herald and cannot be overridden",
            ));
        }
        if axum::http::HeaderValue::try_from(value.as_str()).is_err() || value.len() > 4096 {
            return Err(ApiError::invalid(&field, "not a valid header value"));
        }
        out.insert(lower, value);
    }
    Ok(out)
}

pub fn range<T: PartialOrd + std::fmt::Display + Copy>(field: &str, v: T, lo: T, hi: T) -> ApiResult<T> {
    if v < lo || v > hi {
        return Err(ApiError::invalid(field, format!("must be between {lo} and {hi}")));
    }
    Ok(v)
}

pub fn validate_description(d: Option<String>) -> ApiResult<Option<String>> {
    match d {
        Some(d) if d.chars().count() > 1024 => {
            Err(ApiError::invalid("description", "at most 1024 characters"))
        }
        d => Ok(d),
    }
}

/// A new random secret: `whsec_` + 32 random bytes in base64; for `v1a`, a `whsk_`
/// Ed25519 signing key of a random 32-byte seed.
pub fn generate_secret(scheme: SignatureScheme) -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    match scheme {
        SignatureScheme::V1a => herald_signing::SigningKey::encode_seed(&key),
        _ => format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key)),
    }
}

pub fn validate_secret(scheme: SignatureScheme, secret: Option<String>) -> ApiResult<String> {
    let Some(secret) = secret else {
        return Ok(generate_secret(scheme));
    };
    match scheme {
        SignatureScheme::Standard => herald_signing::StandardKey::parse(&secret)
            .map(|_| secret)
            .map_err(|e| ApiError::invalid("secret", e)),
        SignatureScheme::V1a => herald_signing::SigningKey::parse(&secret)
            .map(|_| secret)
            .map_err(|e| ApiError::invalid("secret", e)),
        SignatureScheme::HmacSha256Hex => {
            if secret.len() < 8 || secret.len() > 512 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                Err(ApiError::invalid(
                    "secret",
                    "must be 8 to 512 printable ASCII characters",
                ))
            } else {
                Ok(secret)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn urls_are_checked_and_normalized() {
        assert_eq!(validate_url("http://2130706433/x").unwrap(), "http://127.0.0.1/x");
        assert_eq!(validate_url("http://0x7f000001/").unwrap(), "http://127.0.0.1/");
        assert_eq!(
            validate_url("http://127.1:5000/").unwrap(),
            "http://127.0.0.1:5000/"
        );
        for bad in [
            "ftp://x/",
            "http://user:pw@example.com/",
            "http://user@example.com/",
            "not a url",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            let e = validate_url(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert!(e.message.starts_with("url:"), "{}", e.message);
        }
    }

    #[test]
    fn reserved_headers_are_refused() {
        let h = BTreeMap::from([("Webhook-Signature".to_string(), "x".to_string())]);
        assert!(validate_headers(h).is_err());
        let ok = BTreeMap::from([("X-Team".to_string(), "support".to_string())]);
        assert_eq!(
            validate_headers(ok).unwrap().get("x-team").map(String::as_str),
            Some("support")
        );
    }
}
