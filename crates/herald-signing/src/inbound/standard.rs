//! Standard Webhooks (and Svix) senders, through the crate's own Standard Webhooks code.
//!
//! What is accepted follows the reference libraries (`standardwebhooks`, and `svix`, which
//! wraps it):
//!
//! - the secret is the base64 key with or without its `whsec_` prefix, padded or not, of
//!   any non-zero length (the 24-to-64-byte rule of [`StandardKey::parse`] is for the
//!   secrets herald itself signs with);
//! - each of the three values is read from its `svix-` header when the request has one and
//!   from the `webhook-` header otherwise, as the Svix libraries do: a request carrying both
//!   families is judged on its `svix-` headers alone.

use base64::Engine;

use super::hmac::BASE64;
use super::{check_tolerance, parse_timestamp, preferred_header, InboundError, InboundRequest, Verified};
use crate::{verify_standard, StandardHeaders, StandardKey, VerifyError, SECRET_PREFIX};

/// For each value: the names read, in order of preference, then the name reported missing.
const ID: ([&str; 2], &str) = (["svix-id", "webhook-id"], "webhook-id");
const TIMESTAMP: ([&str; 2], &str) = (["svix-timestamp", "webhook-timestamp"], "webhook-timestamp");
const SIGNATURE: ([&str; 2], &str) = (["svix-signature", "webhook-signature"], "webhook-signature");

/// Why a secret cannot be used to verify Standard Webhooks requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum KeyError {
    #[error("a Standard Webhooks secret must be base64 (standard alphabet), with or without `whsec_`")]
    NotBase64,
    #[error("a Standard Webhooks secret must decode to at least one byte")]
    Empty,
}

/// Reads a secret as the reference libraries do: an optional `whsec_`, then the key in
/// standard base64 with or without its `=` padding. (The Python library would also skip
/// characters outside the alphabet; the JavaScript one refuses them, and so does herald.)
pub(super) fn parse_key(secret: &str) -> Result<StandardKey, KeyError> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = BASE64.decode(b64).map_err(|_| KeyError::NotBase64)?;
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(StandardKey(key))
}

pub(super) fn verify(
    secrets: &[&str],
    req: &InboundRequest<'_>,
    now: i64,
    tolerance_s: i64,
) -> Result<Verified, InboundError> {
    let keys = secrets
        .iter()
        .map(|s| parse_key(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InboundError::BadSecret(e.to_string()))?;
    let id = preferred_header(req.headers, &ID.0, ID.1)?;
    let ts = preferred_header(req.headers, &TIMESTAMP.0, TIMESTAMP.1)?;
    let sig = preferred_header(req.headers, &SIGNATURE.0, SIGNATURE.1)?;
    let timestamp = parse_timestamp(ts.value, &ts)?;
    check_tolerance(timestamp, now, tolerance_s)?;
    if !sig.value.split(' ').any(|entry| entry.starts_with("v1,")) {
        return Err(sig.malformed());
    }
    let headers = StandardHeaders {
        id: id.value,
        timestamp: ts.value,
        signature: sig.value,
    };
    for (i, key) in keys.iter().enumerate() {
        match verify_standard(headers, req.body, std::slice::from_ref(key), now, tolerance_s) {
            Ok(()) => {
                return Ok(Verified {
                    secret_index: Some(i),
                })
            }
            Err(VerifyError::NoMatch) => {}
            // The header and timestamp checks above already cover every other outcome.
            Err(_) => return Err(sig.malformed()),
        }
    }
    Err(InboundError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::super::{validate_secrets, verify_inbound, Scheme};
    use super::*;

    // The Standard Webhooks specification's example.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID_VALUE: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn run(headers: &[(&str, &str)], secret: &str) -> Result<Verified, InboundError> {
        let req = InboundRequest { headers, body: BODY };
        verify_inbound(&Scheme::Standard, &[secret], &req, TS, 300)
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
            assert_eq!(parse_key(short).map(|k| k.0), Ok(vec![0]), "{short}");
            assert_eq!(validate_secrets(&Scheme::Standard, &[short]), Ok(()), "{short}");
        }
        assert_eq!(parse_key("whsec_").unwrap_err(), KeyError::Empty);
        for bad in [
            "whsec_!!!!",
            "whsec_A-_B",
            "whsec_AA AA",
            "whsec_A",
            "whsec_whsec_AAAA",
        ] {
            assert_eq!(parse_key(bad).unwrap_err(), KeyError::NotBase64, "{bad}");
            assert!(matches!(
                validate_secrets(&Scheme::Standard, &[bad]),
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
