//! Standard Webhooks senders (Svix, Clerk, Resend, OpenAI and any other), through the
//! crate's own Standard Webhooks code, and the specification's asymmetric `v1a` (Ed25519)
//! signatures.
//!
//! What is accepted follows the reference libraries (`standardwebhooks`, and `svix`, which
//! wraps it):
//!
//! - a symmetric secret is the base64 key with or without its `whsec_` prefix, padded or
//!   not, of any non-zero length (the 24-to-64-byte rule of [`StandardKey::parse`] is for
//!   the secrets herald itself signs with); it checks the `v1,` entries;
//! - a `whpk_` secret is a sender's Ed25519 public key (32 bytes, base64): it checks the
//!   `v1a,` entries, each base64(Ed25519 signature of `{id}.{timestamp}.{body}`);
//! - each of the three values is read from its `svix-` header when the request has one and
//!   from the `webhook-` header otherwise, as the Svix libraries do: a request carrying both
//!   families is judged on its `svix-` headers alone.
//!
//! The family shares one verifier; the presets differ only in their names and defaults, so
//! that users find their provider under its own name.

use base64::Engine;
use ring::signature::{UnparsedPublicKey, ED25519};

use super::hmac::BASE64;
use super::preset::{Check, Clock, Preset, SecretKind};
use super::{match_any_key, parse_timestamp, preferred_header, InboundError, Verified};
use crate::{
    verify_standard, StandardHeaders, StandardKey, VerifyError, PUBLIC_KEY_PREFIX, SECRET_PREFIX,
    SIGNING_KEY_PREFIX as PRIVATE_KEY_PREFIX,
};

/// For each value: the names read, in order of preference, then the name reported missing.
const ID: ([&str; 2], &str) = (["svix-id", "webhook-id"], "webhook-id");
const TIMESTAMP: ([&str; 2], &str) = (["svix-timestamp", "webhook-timestamp"], "webhook-timestamp");
const SIGNATURE: ([&str; 2], &str) = (["svix-signature", "webhook-signature"], "webhook-signature");

const fn family(
    name: &'static str,
    provider: &'static str,
    dedupe: &'static str,
    type_prefix: Option<&'static str>,
) -> Preset {
    Preset {
        name,
        provider,
        checks: "webhook-signature (or svix-signature): v1 = base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\", \
                 or v1a = Ed25519 of the same with a whpk_ public key; timestamp within the tolerance either way",
        secret: "the endpoint's signing secret (whsec_…), or for v1a the sender's public key (whpk_…)",
        secret_kind: SecretKind::Shared,
        signature_headers: &["webhook-signature", "svix-signature"],
        clock: Clock::EitherWay,
        tolerance_s: 300,
        signs_url: false,
        signs_body: true,
        event_type: "json:/type",
        dedupe: Some(dedupe),
        type_prefix,
        handshake: None,
        reference: "https://www.standardwebhooks.com/ (standardwebhooks, svix)",
        verify,
        check_secret,
    }
}

pub(crate) const STANDARD: Preset = family("standard", "Standard Webhooks", "header:webhook-id", None);
pub(crate) const SVIX: Preset = family("svix", "Svix", "header:svix-id", Some("svix."));
pub(crate) const CLERK: Preset = family("clerk", "Clerk", "header:svix-id", Some("clerk."));
pub(crate) const RESEND: Preset = family("resend", "Resend", "header:svix-id", Some("resend."));
pub(crate) const OPENAI: Preset = family("openai", "OpenAI", "header:webhook-id", Some("openai."));

/// Why a secret cannot be used to verify Standard Webhooks requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum KeyError {
    #[error("a Standard Webhooks secret must be base64 (standard alphabet), with or without `whsec_`")]
    NotBase64,
    #[error("a Standard Webhooks secret must decode to at least one byte")]
    Empty,
    #[error("a `whpk_` public key must be the base64 of 32 bytes")]
    BadPublicKey,
    #[error("that is a `whsk_` private key: give the sender's `whpk_` public key")]
    PrivateKey,
}

/// A secret as read: a symmetric key, or a `v1a` public key.
pub(super) enum Key {
    Symmetric(StandardKey),
    Public(Vec<u8>),
}

/// Reads a secret as the reference libraries do: an optional `whsec_`, then the key in
/// standard base64 with or without its `=` padding. (The Python library would also skip
/// characters outside the alphabet; the JavaScript one refuses them, and so does herald.)
/// A `whpk_` secret is an Ed25519 public key.
pub(super) fn parse_key(secret: &str) -> Result<Key, KeyError> {
    if secret.starts_with(PRIVATE_KEY_PREFIX) {
        return Err(KeyError::PrivateKey);
    }
    if let Some(b64) = secret.strip_prefix(PUBLIC_KEY_PREFIX) {
        let key = BASE64.decode(b64).map_err(|_| KeyError::BadPublicKey)?;
        return match key.len() {
            32 => Ok(Key::Public(key)),
            _ => Err(KeyError::BadPublicKey),
        };
    }
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = BASE64.decode(b64).map_err(|_| KeyError::NotBase64)?;
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(Key::Symmetric(StandardKey(key)))
}

fn check_secret(secret: &str) -> Result<(), String> {
    parse_key(secret).map(|_| ()).map_err(|e| e.to_string())
}

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let keys = c
        .secrets
        .iter()
        .map(|s| parse_key(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InboundError::BadSecret(e.to_string()))?;
    let id = preferred_header(c.headers(), &ID.0, ID.1)?;
    let ts = preferred_header(c.headers(), &TIMESTAMP.0, TIMESTAMP.1)?;
    let sig = preferred_header(c.headers(), &SIGNATURE.0, SIGNATURE.1)?;
    let timestamp = parse_timestamp(ts.value, &ts)?;
    c.clock(Clock::EitherWay, timestamp)?;
    let entries = || sig.value.split(' ');
    if !entries().any(|e| e.starts_with("v1,") || e.starts_with("v1a,")) {
        return Err(sig.malformed());
    }
    let headers = StandardHeaders {
        id: id.value,
        timestamp: ts.value,
        signature: sig.value,
    };
    let signed = [id.value.as_bytes(), b".", ts.value.as_bytes(), b".", c.body()].concat();
    let asymmetric: Vec<Vec<u8>> = entries()
        .filter_map(|e| e.strip_prefix("v1a,"))
        .filter_map(|b64| BASE64.decode(b64).ok())
        .collect();
    match_any_key(&keys, |key| match key {
        Key::Symmetric(key) => {
            match verify_standard(headers, c.body(), std::slice::from_ref(key), c.now, c.tolerance_s) {
                Ok(()) => Ok(true),
                Err(VerifyError::NoMatch) => Ok(false),
                // The header and timestamp checks above already cover every other outcome.
                Err(_) => Err(sig.malformed()),
            }
        }
        Key::Public(key) => Ok(asymmetric
            .iter()
            .any(|s| UnparsedPublicKey::new(&ED25519, key).verify(&signed, s).is_ok())),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{validate_secrets, verify_inbound, InboundRequest, Scheme};
    use super::*;

    // The Standard Webhooks specification's example.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID_VALUE: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn run(headers: &[(&str, &str)], secret: &str) -> Result<Verified, InboundError> {
        let req = InboundRequest::post(headers, BODY);
        verify_inbound(&Scheme::STANDARD, &[secret], &req, TS, 300)
    }

    fn family(prefix: &str, sig: &'static str) -> Vec<(String, &'static str)> {
        vec![
            (format!("{prefix}-id"), ID_VALUE),
            (format!("{prefix}-timestamp"), "1614265330"),
            (format!("{prefix}-signature"), sig),
        ]
    }

    fn pairs<'a>(list: &'a [(String, &'static str)]) -> Vec<(&'a str, &'a str)> {
        list.iter().map(|(n, v)| (n.as_str(), *v)).collect()
    }

    #[test]
    fn the_secret_may_come_without_its_prefix_or_padding_and_of_any_length() {
        let headers = family("webhook", SIG);
        let ok = Ok(Verified {
            secret_index: Some(0),
        });
        assert_eq!(run(&pairs(&headers), SECRET), ok);
        assert_eq!(run(&pairs(&headers), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), ok);
        // One byte, padded or not, is a usable (if weak) key, as in the reference libraries.
        for short in ["whsec_AA==", "whsec_AA", "AA"] {
            assert!(
                matches!(parse_key(short), Ok(Key::Symmetric(k)) if k.0 == [0]),
                "{short}"
            );
            assert_eq!(validate_secrets(&Scheme::STANDARD, &[short]), Ok(()), "{short}");
        }
        assert_eq!(parse_key("whsec_").err(), Some(KeyError::Empty));
        for bad in [
            "whsec_!!!!",
            "whsec_A-_B",
            "whsec_AA AA",
            "whsec_A",
            "whsec_whsec_AAAA",
        ] {
            assert_eq!(parse_key(bad).err(), Some(KeyError::NotBase64), "{bad}");
            assert!(matches!(
                validate_secrets(&Scheme::STANDARD, &[bad]),
                Err(InboundError::BadSecret(_))
            ));
        }
    }

    #[test]
    fn svix_headers_win_over_webhook_headers_one_by_one() {
        let ok = Ok(Verified {
            secret_index: Some(0),
        });
        let bogus = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let mut both = family("svix", SIG);
        both.extend(family("webhook", bogus));
        assert_eq!(run(&pairs(&both), SECRET), ok);
        let mut wrong_svix = family("svix", bogus);
        wrong_svix.extend(family("webhook", SIG));
        assert_eq!(run(&pairs(&wrong_svix), SECRET), Err(InboundError::NoMatch));
        // A value missing from the svix- family is taken from the webhook- one.
        let mixed = [
            ("svix-id", ID_VALUE),
            ("webhook-id", "msg_other"),
            ("webhook-timestamp", "1614265330"),
            ("svix-signature", SIG),
        ];
        assert_eq!(run(&mixed, SECRET), ok);
        assert_eq!(
            run(&[("svix-id", ID_VALUE), ("webhook-id", ID_VALUE)], SECRET),
            Err(InboundError::MissingHeader("webhook-timestamp".into()))
        );
    }
}
