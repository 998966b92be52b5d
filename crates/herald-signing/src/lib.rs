//! Webhook signing and verification, with no IO and no clock.
//!
//! Two schemes are implemented:
//!
//! - **Standard Webhooks** (`webhook-id`, `webhook-timestamp`, `webhook-signature`):
//!   `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the key is the
//!   base64-decoded part of a `whsec_…` secret. Several signatures may be sent,
//!   space-separated (one per live secret during a rotation).
//! - **Hex HMAC** (`x-signature`): hex(HMAC-SHA256(secret as UTF-8 bytes, body)), the
//!   scheme of the classic Flask receiver.
//!
//! The [`inbound`] module verifies what third parties send to herald's sources: Standard
//! Webhooks, Stripe, GitHub, Shopify, Slack, a generic HMAC, Basic and Bearer credentials,
//! all through [`verify_inbound`].
//!
//! Callers pass the current time in; this crate never reads a clock, so it can be used
//! anywhere (servers, CLIs, tests) and its answers are reproducible.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub mod inbound;
#[cfg(test)]
mod props;
mod v1a;

pub use v1a::{v1a_signature_header, SigningKey, PUBLIC_KEY_PREFIX, SIGNING_KEY_PREFIX};

pub use inbound::{
    acknowledgement, handshake_reply, meta_subscribe, parse_scheme, signature_headers, validate_secrets,
    verify_inbound, Clock, Handshake, HmacAlgorithm, HmacSpec, InboundError, InboundRequest, Preset, Reply,
    Scheme, SecretKind, SigEncoding, UnknownName, Verified,
};

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Default tolerance for `webhook-timestamp`, in seconds (the Standard Webhooks value).
pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// Why a secret could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret must start with `whsec_`")]
    MissingPrefix,
    #[error("secret is not valid base64 after `whsec_`")]
    NotBase64,
    #[error("secret key must be between 24 and 64 bytes once decoded")]
    BadLength,
    #[error("a v1a signing key must be `whsk_` + the base64 of a 32-byte Ed25519 seed (or of 64 bytes, seed then public key)")]
    NotSigningKey,
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    #[error("header `{0}` appears more than once")]
    DuplicateHeader(&'static str),
    #[error("timestamp header is not a unix time in seconds")]
    BadTimestamp,
    #[error("timestamp is outside the tolerance of {0} seconds")]
    TimestampOutOfTolerance(i64),
    #[error("no signature matches")]
    NoMatch,
    #[error("no usable secret: {0}")]
    Secret(#[from] SecretError),
}

/// A decoded Standard Webhooks key.
#[derive(Clone, PartialEq, Eq)]
pub struct StandardKey(Vec<u8>);

impl std::fmt::Debug for StandardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StandardKey(<redacted>)")
    }
}

impl StandardKey {
    /// Parses a `whsec_<base64>` secret.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        let b64 = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = B64.decode(b64).map_err(|_| SecretError::NotBase64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::BadLength);
        }
        Ok(Self(key))
    }

    /// Builds a secret string from raw key bytes (24 to 64 of them).
    pub fn encode(key: &[u8]) -> Result<String, SecretError> {
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::BadLength);
        }
        Ok(format!("{SECRET_PREFIX}{}", B64.encode(key)))
    }

    /// One `v1,<base64>` signature of a message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", B64.encode(self.mac(msg_id, timestamp, body)))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// The `webhook-signature` header value: one `v1,` entry per key, space-separated.
pub fn standard_signature_header(keys: &[StandardKey], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| k.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The inputs of a Standard Webhooks verification, as received.
#[derive(Debug, Clone, Copy)]
pub struct StandardHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> StandardHeaders<'a> {
    /// Picks the three headers out of a header list, case-insensitively, accepting the
    /// `webhook-*` names and the `svix-*` ones. A header sent twice is refused.
    pub fn from_pairs(headers: &[(&'a str, &'a str)]) -> Result<Self, VerifyError> {
        let find = |names: [&'static str; 2]| -> Result<&'a str, VerifyError> {
            let mut found = None;
            for (name, value) in headers {
                if names.iter().any(|n| name.eq_ignore_ascii_case(n)) {
                    if found.is_some() {
                        return Err(VerifyError::DuplicateHeader(names[0]));
                    }
                    found = Some(*value);
                }
            }
            found.ok_or(VerifyError::MissingHeader(names[0]))
        };
        Ok(Self {
            id: find(["webhook-id", "svix-id"])?,
            timestamp: find(["webhook-timestamp", "svix-timestamp"])?,
            signature: find(["webhook-signature", "svix-signature"])?,
        })
    }
}

/// Verifies a Standard Webhooks request against any of the live keys.
///
/// `now` is unix seconds; the timestamp must be within `tolerance_s` of it either way.
/// Signatures are compared in constant time.
pub fn verify_standard(
    headers: StandardHeaders<'_>,
    body: &[u8],
    keys: &[StandardKey],
    now: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if now.abs_diff(ts) > u64::try_from(tolerance_s).unwrap_or(0) {
        return Err(VerifyError::TimestampOutOfTolerance(tolerance_s));
    }
    let candidates: Vec<Vec<u8>> = headers
        .signature
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| B64.decode(b64).ok())
        .collect();
    for key in keys {
        let expected = key.mac(headers.id, ts, body);
        if candidates
            .iter()
            .any(|c| bool::from(c.as_slice().ct_eq(&expected)))
        {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

/// Verifies a Standard Webhooks request given its headers and `whsec_` secrets, with the
/// default tolerance. This is the one call a Rust receiver needs.
///
/// ```
/// use herald_signing::{verify, StandardKey};
///
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = br#"{"test": 2432232314}"#;
/// let sig = StandardKey::parse(secret).unwrap().sign("msg_1", 1614265330, body);
/// let headers = [
///     ("webhook-id", "msg_1"),
///     ("webhook-timestamp", "1614265330"),
///     ("webhook-signature", sig.as_str()),
/// ];
/// assert!(verify(&headers, body, &[secret], 1614265330).is_ok());
/// assert!(verify(&headers, b"tampered", &[secret], 1614265330).is_err());
/// ```
pub fn verify(headers: &[(&str, &str)], body: &[u8], secrets: &[&str], now: i64) -> Result<(), VerifyError> {
    let keys = secrets
        .iter()
        .map(|s| StandardKey::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let headers = StandardHeaders::from_pairs(headers)?;
    verify_standard(headers, body, &keys, now, DEFAULT_TOLERANCE_S)
}

/// hex(HMAC-SHA256(secret, body)): the `x-signature` value of the hex scheme.
pub fn hex_hmac_sha256(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks an `x-signature` hex HMAC in constant time (case-insensitive hex).
pub fn verify_hex_hmac_sha256(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(given) = hex::decode(signature.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    bool::from(given.as_slice().ct_eq(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example published with the Standard Webhooks specification and its reference
    // libraries: secret, message id, timestamp and payload, with the expected signature.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_published_example() {
        let key = StandardKey::parse(SPEC_SECRET).unwrap();
        assert_eq!(key.sign(SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
    }

    #[test]
    fn verifies_the_published_example_with_either_header_family() {
        let ts = SPEC_TS.to_string();
        for prefix in ["webhook", "svix", "Webhook"] {
            let headers = [
                (format!("{prefix}-id"), SPEC_ID.to_string()),
                (format!("{prefix}-timestamp"), ts.clone()),
                (format!("{prefix}-signature"), format!("v1,bogus {SPEC_SIG}")),
            ];
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            assert_eq!(verify(&pairs, SPEC_BODY, &[SPEC_SECRET], SPEC_TS + 10), Ok(()));
        }
    }

    fn spec_pairs(sig: &str, ts: i64) -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), SPEC_ID.into()),
            ("webhook-timestamp".into(), ts.to_string()),
            ("webhook-signature".into(), sig.into()),
        ]
    }

    fn run(pairs: &[(String, String)], body: &[u8], now: i64) -> Result<(), VerifyError> {
        let p: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        verify(&p, body, &[SPEC_SECRET], now)
    }

    #[test]
    fn refuses_tampering_staleness_and_missing_headers() {
        let ok = spec_pairs(SPEC_SIG, SPEC_TS);
        assert_eq!(
            run(&ok, b"{\"test\": 2432232315}", SPEC_TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            run(&ok, SPEC_BODY, SPEC_TS + 301),
            Err(VerifyError::TimestampOutOfTolerance(300))
        );
        assert_eq!(
            run(&ok, SPEC_BODY, SPEC_TS - 301),
            Err(VerifyError::TimestampOutOfTolerance(300))
        );
        let mut missing = ok.clone();
        missing.pop();
        assert_eq!(
            run(&missing, SPEC_BODY, SPEC_TS),
            Err(VerifyError::MissingHeader("webhook-signature"))
        );
        let mut dup = ok.clone();
        dup.push(("svix-id".into(), SPEC_ID.into()));
        assert_eq!(
            run(&dup, SPEC_BODY, SPEC_TS),
            Err(VerifyError::DuplicateHeader("webhook-id"))
        );
        // Extreme timestamps are refused without overflowing.
        let far = spec_pairs(SPEC_SIG, i64::MIN);
        assert_eq!(
            run(&far, SPEC_BODY, SPEC_TS),
            Err(VerifyError::TimestampOutOfTolerance(300))
        );
        let v2 = spec_pairs(&SPEC_SIG.replace("v1,", "v2,"), SPEC_TS);
        assert_eq!(run(&v2, SPEC_BODY, SPEC_TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn rotation_header_carries_one_entry_per_key() {
        let old = StandardKey::parse(SPEC_SECRET).unwrap();
        let new = StandardKey::parse(&StandardKey::encode(&[7u8; 32]).unwrap()).unwrap();
        let header = standard_signature_header(&[new.clone(), old.clone()], SPEC_ID, SPEC_TS, SPEC_BODY);
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], SPEC_SIG);
        let h = StandardHeaders {
            id: SPEC_ID,
            timestamp: "1614265330",
            signature: &header,
        };
        assert_eq!(verify_standard(h, SPEC_BODY, &[new], SPEC_TS, 300), Ok(()));
    }

    #[test]
    fn secrets_are_validated() {
        assert_eq!(StandardKey::parse("abc"), Err(SecretError::MissingPrefix));
        assert_eq!(StandardKey::parse("whsec_!!!"), Err(SecretError::NotBase64));
        assert_eq!(StandardKey::parse("whsec_AAAA"), Err(SecretError::BadLength));
    }

    #[test]
    fn hex_scheme_matches_a_known_value() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = hex_hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hex_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?",
            &sig.to_uppercase()
        ));
        assert!(!verify_hex_hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing!",
            &sig
        ));
        assert!(!verify_hex_hmac_sha256(b"Jefe", b"x", "zz"));
    }
}
