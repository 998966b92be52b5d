//! Credentials in `Authorization`: HTTP Basic (RFC 7617) and Bearer tokens (RFC 6750).
//!
//! Credentials are compared through their SHA-256 digests in constant time, so neither
//! their content nor their length shows in the timing.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::hmac::{strip_prefix_ignore_case, BASE64};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, match_any, Found, InboundError, Verified};

pub(super) const HEADER: &str = "authorization";

const fn generic(name: &'static str, checks: &'static str, secret: &'static str, kind: SecretKind) -> Preset {
    Preset {
        name,
        provider: "any",
        checks,
        secret,
        secret_kind: kind,
        signature_headers: &[HEADER],
        clock: Clock::Unsigned,
        tolerance_s: 300,
        signs_url: false,
        signs_body: false,
        event_type: "const:webhook",
        dedupe: None,
        type_prefix: None,
        handshake: None,
        reference: "RFC 7617, RFC 6750",
        verify: verify_basic,
        check_secret: basic_secret,
    }
}

pub(crate) const BASIC: Preset = generic(
    "basic",
    "Authorization: Basic base64(user:password)",
    "user:password",
    SecretKind::Credentials,
);

pub(crate) const BEARER: Preset = Preset {
    verify: verify_bearer,
    check_secret: bearer_secret,
    ..generic(
        "bearer",
        "Authorization: Bearer <token>",
        "the token",
        SecretKind::Credentials,
    )
};

pub(crate) const NONE: Preset = Preset {
    signature_headers: &[],
    verify: |_| Ok(Verified { secret_index: None }),
    check_secret: any_secret,
    ..generic(
        "none",
        "nothing: every request is accepted",
        "nothing",
        SecretKind::Nothing,
    )
};

pub(crate) fn basic_secret(secret: &str) -> Result<(), String> {
    if secret.contains(':') {
        Ok(())
    } else {
        Err("it must be `user:password`".into())
    }
}

/// A header value reaches herald trimmed and in visible ASCII, spaces and tabs (RFC 9110
/// 5.5), so a token with anything else could never match.
fn bearer_secret(secret: &str) -> Result<(), String> {
    if super::sendable_in_header(secret) && secret.trim_end() == secret {
        Ok(())
    } else {
        Err("a bearer token must be visible ASCII (inner spaces allowed), without outer whitespace".into())
    }
}

fn digest(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// The credentials after `<scheme> ` (scheme name case-insensitive), or malformed.
fn credentials<'a>(found: &Found<'a>, scheme: &str) -> Result<&'a str, InboundError> {
    let rest = strip_prefix_ignore_case(found.value, scheme).ok_or_else(|| found.malformed())?;
    let creds = rest.trim_start_matches(' ');
    if creds.len() == rest.len() || creds.is_empty() {
        return Err(found.malformed());
    }
    Ok(creds)
}

/// `Authorization: Basic base64(user:password)`; each secret is `user:password`.
pub(super) fn verify_basic(c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = header(c.headers(), &[HEADER])?;
    let encoded = credentials(&found, "Basic")?;
    let decoded = BASE64.decode(encoded).map_err(|_| found.malformed())?;
    if !decoded.contains(&b':') {
        return Err(found.malformed());
    }
    match_any(c.secrets, &[digest(&decoded)], |secret| digest(secret.as_bytes()))
}

/// `Authorization: Bearer <token>`; each secret is a token.
fn verify_bearer(c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = header(c.headers(), &[HEADER])?;
    let token = credentials(&found, "Bearer")?;
    match_any(c.secrets, &[digest(token.as_bytes())], |secret| {
        digest(secret.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::super::{verify_inbound, InboundRequest, Scheme};
    use super::*;

    fn run(scheme: Scheme, value: Option<&str>, secrets: &[&str]) -> Result<Verified, InboundError> {
        let headers: Vec<(&str, &str)> = value.map(|v| ("Authorization", v)).into_iter().collect();
        let req = InboundRequest::post(&headers, b"{}");
        verify_inbound(&scheme, secrets, &req, 0, 300)
    }

    fn malformed() -> Result<Verified, InboundError> {
        Err(InboundError::MalformedHeader("authorization".into()))
    }

    // RFC 7617's example: user "Aladdin", password "open sesame".
    const ALADDIN: &str = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";

    #[test]
    fn basic_accepts_the_rfc_example_and_rotation() {
        let ok = run(Scheme::BASIC, Some(ALADDIN), &["Aladdin:open sesame"]);
        assert_eq!(
            ok,
            Ok(Verified {
                secret_index: Some(0)
            })
        );
        assert!(run(
            Scheme::BASIC,
            Some("basic  QWxhZGRpbjpvcGVuIHNlc2FtZQ"),
            &["Aladdin:open sesame"]
        )
        .is_ok());
        let rotated = run(
            Scheme::BASIC,
            Some(ALADDIN),
            &["Aladdin:old", "Aladdin:open sesame"],
        );
        assert_eq!(
            rotated,
            Ok(Verified {
                secret_index: Some(1)
            })
        );
    }

    #[test]
    fn basic_refuses_wrong_or_malformed_credentials() {
        assert_eq!(
            run(Scheme::BASIC, Some(ALADDIN), &["Aladdin:open sesame!"]),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            run(Scheme::BASIC, Some(ALADDIN), &["aladdin:open sesame"]),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            run(Scheme::BASIC, None, &["a:b"]),
            Err(InboundError::MissingHeader("authorization".into()))
        );
        assert_eq!(
            run(
                Scheme::BASIC,
                Some("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
                &["a:b"]
            ),
            malformed()
        );
        assert_eq!(run(Scheme::BASIC, Some("Basic"), &["a:b"]), malformed());
        assert_eq!(
            run(Scheme::BASIC, Some("BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ=="), &["a:b"]),
            malformed()
        );
        assert_eq!(run(Scheme::BASIC, Some("Basic ***"), &["a:b"]), malformed());
        // base64("no-colon")
        assert_eq!(
            run(Scheme::BASIC, Some("Basic bm8tY29sb24="), &["a:b"]),
            malformed()
        );
        let twice = [("authorization", ALADDIN), ("Authorization", ALADDIN)];
        let req = InboundRequest::post(&twice, b"");
        assert_eq!(
            verify_inbound(&Scheme::BASIC, &["Aladdin:open sesame"], &req, 0, 300),
            Err(InboundError::DuplicateHeader("authorization".into()))
        );
    }

    #[test]
    fn a_bearer_token_that_could_never_match_is_refused() {
        for bad in [" tok", "tok ", "tok\t", "tok\n", "to\u{0}k", "tök"] {
            assert!(
                matches!(
                    run(Scheme::BEARER, Some("Bearer tok"), &[bad]),
                    Err(InboundError::BadSecret(_))
                ),
                "{bad:?}"
            );
        }
        assert!(run(Scheme::BEARER, Some("Bearer a b"), &["a b"]).is_ok());
    }

    #[test]
    fn bearer_matches_any_live_token() {
        let secrets = ["tok_old", "tok_new"];
        assert_eq!(
            run(Scheme::BEARER, Some("Bearer tok_new"), &secrets),
            Ok(Verified {
                secret_index: Some(1)
            })
        );
        assert_eq!(
            run(Scheme::BEARER, Some("bearer tok_old"), &secrets),
            Ok(Verified {
                secret_index: Some(0)
            })
        );
        assert_eq!(
            run(Scheme::BEARER, Some("Bearer tok_ne"), &secrets),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            run(Scheme::BEARER, Some("Bearer tok_new2"), &secrets),
            Err(InboundError::NoMatch)
        );
        assert_eq!(run(Scheme::BEARER, Some("Bearer "), &secrets), malformed());
        assert_eq!(run(Scheme::BEARER, Some("tok_new"), &secrets), malformed());
        assert_eq!(
            run(Scheme::BEARER, Some("Basic dG9rX25ldw=="), &secrets),
            malformed()
        );
        assert_eq!(
            run(Scheme::BEARER, None, &secrets),
            Err(InboundError::MissingHeader("authorization".into()))
        );
    }

    #[test]
    fn messages_never_quote_the_secret() {
        let e = run(Scheme::BEARER, Some("Bearer guess"), &["s3cr3t-token"]).unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"));
        assert!(!e.to_string().contains("guess"));
    }
}
