//! Credentials in `Authorization`: HTTP Basic (RFC 7617) and Bearer tokens (RFC 6750).
//!
//! Credentials are compared through their SHA-256 digests in constant time, so neither
//! their content nor their length shows in the timing.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::hmac::{strip_prefix_ignore_case, BASE64};
use super::{header, match_any, Found, InboundError, InboundRequest, Verified};

pub(super) const HEADER: &str = "authorization";

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
pub(super) fn verify_basic(secrets: &[&str], req: &InboundRequest<'_>) -> Result<Verified, InboundError> {
    let found = header(req.headers, &[HEADER])?;
    let encoded = credentials(&found, "Basic")?;
    let decoded = BASE64.decode(encoded).map_err(|_| found.malformed())?;
    if !decoded.contains(&b':') {
        return Err(found.malformed());
    }
    match_any(secrets, &[digest(&decoded)], |secret| digest(secret.as_bytes()))
}

/// `Authorization: Bearer <token>`; each secret is a token.
pub(super) fn verify_bearer(secrets: &[&str], req: &InboundRequest<'_>) -> Result<Verified, InboundError> {
    let found = header(req.headers, &[HEADER])?;
    let token = credentials(&found, "Bearer")?;
    match_any(secrets, &[digest(token.as_bytes())], |secret| {
        digest(secret.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::super::{verify_inbound, Scheme};
    use super::*;

    fn run(scheme: Scheme, value: Option<&str>, secrets: &[&str]) -> Result<Verified, InboundError> {
        let headers: Vec<(&str, &str)> = value.map(|v| ("Authorization", v)).into_iter().collect();
        let req = InboundRequest {
            headers: &headers,
            body: b"{}",
        };
        verify_inbound(&scheme, secrets, &req, 0, 300)
    }

    fn malformed() -> Result<Verified, InboundError> {
        Err(InboundError::MalformedHeader("authorization".into()))
    }

    // RFC 7617's example: user "Aladdin", password "open sesame".
    const ALADDIN: &str = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";

    #[test]
    fn basic_accepts_the_rfc_example_and_rotation() {
        let ok = run(Scheme::Basic, Some(ALADDIN), &["Aladdin:open sesame"]);
        assert_eq!(
            ok,
            Ok(Verified {
                secret_index: Some(0)
            })
        );
        assert!(run(
            Scheme::Basic,
            Some("basic  QWxhZGRpbjpvcGVuIHNlc2FtZQ"),
            &["Aladdin:open sesame"]
        )
        .is_ok());
        let rotated = run(
            Scheme::Basic,
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
            run(Scheme::Basic, Some(ALADDIN), &["Aladdin:open sesame!"]),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            run(Scheme::Basic, Some(ALADDIN), &["aladdin:open sesame"]),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            run(Scheme::Basic, None, &["a:b"]),
            Err(InboundError::MissingHeader("authorization".into()))
        );
        assert_eq!(
            run(
                Scheme::Basic,
                Some("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
                &["a:b"]
            ),
            malformed()
        );
        assert_eq!(run(Scheme::Basic, Some("Basic"), &["a:b"]), malformed());
        assert_eq!(
            run(Scheme::Basic, Some("BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ=="), &["a:b"]),
            malformed()
        );
        assert_eq!(run(Scheme::Basic, Some("Basic ***"), &["a:b"]), malformed());
        // base64("no-colon")
        assert_eq!(
            run(Scheme::Basic, Some("Basic bm8tY29sb24="), &["a:b"]),
            malformed()
        );
        let twice = [("authorization", ALADDIN), ("Authorization", ALADDIN)];
        let req = InboundRequest {
            headers: &twice,
            body: b"",
        };
        assert_eq!(
            verify_inbound(&Scheme::Basic, &["Aladdin:open sesame"], &req, 0, 300),
            Err(InboundError::DuplicateHeader("authorization".into()))
        );
    }

    #[test]
    fn a_bearer_token_that_could_never_match_is_refused() {
        for bad in [" tok", "tok ", "tok\t", "tok\n", "to\u{0}k", "tök"] {
            assert!(
                matches!(
                    run(Scheme::Bearer, Some("Bearer tok"), &[bad]),
                    Err(InboundError::BadSecret(_))
                ),
                "{bad:?}"
            );
        }
        assert!(run(Scheme::Bearer, Some("Bearer a b"), &["a b"]).is_ok());
    }

    #[test]
    fn bearer_matches_any_live_token() {
        let secrets = ["tok_old", "tok_new"];
        assert_eq!(
            run(Scheme::Bearer, Some("Bearer tok_new"), &secrets),
            Ok(Verified {
                secret_index: Some(1)
            })
        );
        assert_eq!(
            run(Scheme::Bearer, Some("bearer tok_old"), &secrets),
            Ok(Verified {
                secret_index: Some(0)
            })
        );
        assert_eq!(
            run(Scheme::Bearer, Some("Bearer tok_ne"), &secrets),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            run(Scheme::Bearer, Some("Bearer tok_new2"), &secrets),
            Err(InboundError::NoMatch)
        );
        assert_eq!(run(Scheme::Bearer, Some("Bearer "), &secrets), malformed());
        assert_eq!(run(Scheme::Bearer, Some("tok_new"), &secrets), malformed());
        assert_eq!(
            run(Scheme::Bearer, Some("Basic dG9rX25ldw=="), &secrets),
            malformed()
        );
        assert_eq!(
            run(Scheme::Bearer, None, &secrets),
            Err(InboundError::MissingHeader("authorization".into()))
        );
    }

    #[test]
    fn messages_never_quote_the_secret() {
        let e = run(Scheme::Bearer, Some("Bearer guess"), &["s3cr3t-token"]).unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"));
        assert!(!e.to_string().contains("guess"));
    }
}
