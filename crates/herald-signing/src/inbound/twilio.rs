//! Twilio: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, URL + every POST parameter
//! sorted by name, each as name + value)), as Twilio's `RequestValidator` computes it.
//!
//! - The URL is the one Twilio called, query string included: herald's public URL.
//! - Form bodies: the parameters are the decoded form fields; a name sent several times
//!   contributes each distinct value once, in sorted order (so does Twilio's validator).
//! - JSON bodies: the URL carries `bodySHA256=<hex SHA-256 of the body>`; the signature
//!   covers the URL alone, and the body must hash to that value.
//! - Twilio's servers sometimes sign the URL with its port and sometimes without, so, like
//!   the validator, herald accepts either: the URL as called with any port removed, or with
//!   the scheme's default port added.
//! - SharedKey webhooks say `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=…`:
//!   `HMAC_SHA256` (any case) makes the MAC HMAC-SHA256, keyed with the shared key; absent,
//!   or `HMAC_SHA1`, it is HMAC-SHA1 with the auth token; any other algorithm is refused.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::hmac::{decode, mac};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, match_any_key, HmacAlgorithm, InboundError, SigEncoding, Verified};

const HEADER: &str = "x-twilio-signature";
const SETTINGS: &str = "x-twilio-webhooks-signature-settings";

pub(crate) const PRESET: Preset = Preset {
    name: "twilio",
    provider: "Twilio",
    checks: "X-Twilio-Signature: base64 HMAC-SHA1 (SharedKey webhooks: the HMAC-SHA256 their settings name) \
             of the URL Twilio called + the sorted form parameters (JSON bodies: the URL's bodySHA256 and the body's hash)",
    secret: "the account's auth token (or the SharedKey); herald must be told its public URL (--public-url)",
    secret_kind: SecretKind::Shared,
    signature_headers: &[HEADER],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: true,
    signs_body: true,
    event_type: "const:webhook",
    dedupe: Some("header:i-twilio-idempotency-token"),
    type_prefix: Some("twilio."),
    handshake: None,
    reference: "https://www.twilio.com/docs/usage/webhooks/webhooks-security (twilio RequestValidator)",
    verify,
    check_secret: any_secret,
};

/// The MAC's algorithm, as the signature settings name it.
fn algorithm(c: &Check<'_>) -> Result<HmacAlgorithm, InboundError> {
    let settings = match header(c.headers(), &[SETTINGS]) {
        Err(InboundError::MissingHeader(_)) => return Ok(HmacAlgorithm::Sha1),
        other => other?,
    };
    let named = settings
        .value
        .split(',')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .find(|(k, v)| *k == "algorithm" && !v.is_empty())
        .map(|(_, v)| v.to_ascii_uppercase());
    match named.as_deref() {
        None | Some("HMAC_SHA1") => Ok(HmacAlgorithm::Sha1),
        Some("HMAC_SHA256") => Ok(HmacAlgorithm::Sha256),
        Some(_) => Err(settings.malformed()),
    }
}

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = header(c.headers(), &[HEADER])?;
    let algorithm = algorithm(c)?;
    let given = decode(SigEncoding::Base64, found.value)
        .filter(|sig| sig.len() == algorithm.output_len())
        .ok_or_else(|| found.malformed())?;
    let url = c.req.url.ok_or(InboundError::UrlUnknown)?;
    let params = match body_hash(url) {
        Some(hash) => {
            let actual = hex::encode(Sha256::digest(c.body()));
            // Lower-case hex, as Twilio writes it and its validator requires.
            if !bool::from(hash.as_bytes().ct_eq(actual.as_bytes())) {
                return Err(InboundError::MalformedBody(
                    "the body does not hash to the URL's bodySHA256",
                ));
            }
            String::new()
        }
        None => sorted_params(c.body()),
    };
    let variants = url_variants(url);
    match_any_key(c.secrets, |secret| {
        Ok(variants.iter().any(|u| {
            let want = mac(algorithm, secret.as_bytes(), &[u.as_bytes(), params.as_bytes()]);
            bool::from(want.as_slice().ct_eq(&given))
        }))
    })
}

/// The `bodySHA256` query parameter, when the URL has one.
fn body_hash(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bodySHA256")
        .map(|(_, v)| v.into_owned())
}

/// The form parameters as Twilio signs them: by name, then by value, each distinct pair once.
fn sorted_params(body: &[u8]) -> String {
    let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        params.entry(k.into_owned()).or_default().insert(v.into_owned());
    }
    let mut out = String::new();
    for (name, values) in &params {
        for value in values {
            out.push_str(name);
            out.push_str(value);
        }
    }
    out
}

/// The URL without its port and with the scheme's default port, as Twilio's validator
/// tries them (the URL itself is always one of the two).
fn url_variants(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (&authority[..=u.len()], h),
        None => ("", authority),
    };
    let (host, has_port) = split_port(hostport);
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let without = format!("{scheme}://{userinfo}{host}{tail}");
    let with = match has_port {
        true => url.to_string(),
        false => format!("{scheme}://{userinfo}{host}:{default_port}{tail}"),
    };
    vec![without, with]
}

/// `host[:port]` (IPv6 hosts in brackets) → the host, and whether a port was given.
fn split_port(hostport: &str) -> (&str, bool) {
    let colon = match hostport.starts_with('[') {
        true => hostport.find("]:").map(|i| i + 1),
        false => hostport.rfind(':'),
    };
    match colon {
        Some(i) if hostport[i + 1..].bytes().all(|b| b.is_ascii_digit()) => (&hostport[..i], true),
        _ => (hostport, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_sort_by_name_then_value_each_distinct_pair_once() {
        assert_eq!(
            sorted_params(b"To=%2B1555&From=x+y&A=2&A=1&A=2"),
            "A1A2Fromx yTo+1555"
        );
        assert_eq!(sorted_params(b""), "");
    }

    #[test]
    fn the_url_is_tried_with_and_without_its_port() {
        assert_eq!(
            url_variants("https://h.example/in/src?a=1"),
            ["https://h.example/in/src?a=1", "https://h.example:443/in/src?a=1"]
        );
        assert_eq!(
            url_variants("http://127.0.0.1:8080/in/x"),
            ["http://127.0.0.1/in/x", "http://127.0.0.1:8080/in/x"]
        );
        assert_eq!(url_variants("not a url"), ["not a url"]);
        assert_eq!(
            url_variants("https://[::1]:8443/in/x"),
            ["https://[::1]/in/x", "https://[::1]:8443/in/x"]
        );
        assert_eq!(split_port("[::1]"), ("[::1]", false));
    }

    #[test]
    fn the_body_hash_is_read_from_the_query() {
        assert_eq!(
            body_hash("https://h/in/x?bodySHA256=ab12").as_deref(),
            Some("ab12")
        );
        assert_eq!(body_hash("https://h/in/x?a=b"), None);
        assert_eq!(body_hash("https://h/in/x"), None);
    }
}
