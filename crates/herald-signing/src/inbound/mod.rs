//! Verification of inbound webhooks sent by third parties (herald's *sources*).
//!
//! One call, [`verify_inbound`], checks a received request against a [`Scheme`] and the
//! source's live secrets. Each provider is a [`Preset`] in a file of its own, following the
//! provider's own library (or, where it publishes none, its documentation) exactly; the
//! [`catalogue`] lists them. [`handshake_reply`] answers the providers' URL checks.
//!
//! Everything works on the raw body bytes, before any parsing. The current time is passed
//! in (`now_unix_s`) and never read from a clock. Several secrets may be live at once (a
//! rotation): a request is valid when any secret matches any signature it carries, and
//! [`Verified::secret_index`] tells which secret did. Every comparison of a signature or
//! credential is constant-time.

mod auth;
pub mod catalogue;
mod discord;
mod github;
mod handshake;
mod hmac;
mod hubspot;
mod intercom;
mod linear;
mod mailgun;
mod meta;
mod paddle;
mod pagerduty;
mod postmark;
mod preset;
mod scheme;
mod sendgrid;
mod shopify;
mod slack;
mod square;
mod standard;
mod stripe;
mod time;
mod twilio;
mod twitch;
mod zoom;

pub use handshake::{acknowledgement, handshake_reply, meta_subscribe, Reply};
pub use preset::{Clock, Handshake, Preset, SecretKind};
pub use scheme::{
    parse_scheme, signature_headers, HmacAlgorithm, HmacSpec, Scheme, SigEncoding, UnknownName,
};

use preset::Check;

use subtle::ConstantTimeEq;

/// A received request, as the server saw it: every header pair in arrival order (names in
/// any case, repeated names kept), the raw body, the method and, for the providers that
/// sign it, the full URL the provider called (scheme, host, path and query, as the
/// provider was told it).
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub method: &'a str,
    pub url: Option<&'a str>,
}

impl<'a> InboundRequest<'a> {
    /// A `POST` with no known URL: enough for every preset that does not sign the URL.
    pub fn post(headers: &'a [(&'a str, &'a str)], body: &'a [u8]) -> Self {
        Self {
            headers,
            body,
            method: "POST",
            url: None,
        }
    }
}

/// A request that passed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Which of the given secrets matched (0-based), useful to see when an old secret of a
    /// rotation stops being used. `None` for [`Scheme::NONE`], which checks nothing.
    pub secret_index: Option<usize>,
}

/// Why an inbound request was refused. The message is meant for the request log an
/// operator reads; it names headers and reasons, never a secret or a signature value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// A header the scheme needs is absent (the name is given in lower case).
    #[error("missing header `{0}`")]
    MissingHeader(String),
    /// A signature, timestamp or credential header was sent more than once.
    #[error("header `{0}` was sent more than once; refusing an ambiguous request")]
    DuplicateHeader(String),
    /// A header is present but not in the provider's format (wrong prefix, bad hex or
    /// base64, a timestamp that is not unix seconds, no signature of the expected version).
    #[error("header `{0}` is not in the format this scheme expects")]
    MalformedHeader(String),
    /// The signed timestamp is too far from the server's clock: a replay or a skewed clock.
    #[error("{}", skew_message(*.age_s, *.tolerance_s))]
    TimestampOutOfTolerance {
        /// `now - timestamp` in seconds: positive when the request is old, negative when it
        /// claims to come from the future.
        age_s: i64,
        tolerance_s: i64,
    },
    /// The request is well formed but no signature (or credential) matches any secret.
    #[error("signature does not match any of the source's secrets")]
    NoMatch,
    /// The source has no secret to check against.
    #[error("the source has no secret configured")]
    NoSecret,
    /// One of the source's secrets cannot be used with this scheme (the text says which,
    /// by position, and why; it never quotes the secret).
    #[error("the source's secret is unusable: {0}")]
    BadSecret(String),
    /// The scheme's own settings are unusable (for example an empty header name).
    #[error("the source's verification settings are unusable: {0}")]
    BadScheme(String),
    /// The preset signs the URL it calls, and the URL herald was reached at is unknown.
    #[error("this scheme signs the URL the provider calls, and herald's public URL is not known")]
    UrlUnknown,
    /// The body is not in the form the scheme reads a signed field from (Mailgun's
    /// signature, Linear's timestamp), or a signed body hash does not match.
    #[error("the body is not in the format this scheme expects: {0}")]
    MalformedBody(&'static str),
}

impl InboundError {
    /// True when the fault is in the source's configuration rather than in the request, so
    /// an operator, not the sender, has to act.
    pub fn is_misconfiguration(&self) -> bool {
        matches!(
            self,
            Self::NoSecret | Self::BadSecret(_) | Self::BadScheme(_) | Self::UrlUnknown
        )
    }
}

fn skew_message(age_s: i64, tolerance_s: i64) -> String {
    if age_s >= 0 {
        format!(
            "timestamp is {age_s} s old, beyond the tolerance of {tolerance_s} s \
             (a replayed request, or the server clock is off)"
        )
    } else {
        format!(
            "timestamp is {} s in the future, beyond the tolerance of {tolerance_s} s \
             (the sender's or the server's clock is off)",
            age_s.unsigned_abs()
        )
    }
}

/// Verifies an inbound request.
///
/// `secrets` are the source's live secrets, in the form each scheme documents;
/// `now_unix_s` is the current time and `tolerance_s` the largest accepted distance between
/// it and a signed timestamp, for the schemes that sign one (each [`Preset`] gives its
/// provider's own as `tolerance_s`; [`crate::DEFAULT_TOLERANCE_S`] is the common one). As in
/// the providers' own libraries, most apply it either way (too old or too far in the
/// future) and a few ([`Clock::AgeOnly`]: Stripe, HubSpot) only to old timestamps; a
/// timestamp exactly `tolerance_s` away is accepted.
///
/// ```
/// use herald_signing::{verify_inbound, InboundRequest, Scheme};
///
/// // GitHub's published example.
/// let headers = [(
///     "X-Hub-Signature-256",
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
/// )];
/// let req = InboundRequest::post(&headers, b"Hello, World!");
/// let ok = verify_inbound(&Scheme::GITHUB, &["It's a Secret to Everybody"], &req, 0, 300);
/// assert_eq!(ok.unwrap().secret_index, Some(0));
/// ```
pub fn verify_inbound(
    scheme: &Scheme,
    secrets: &[&str],
    req: &InboundRequest<'_>,
    now_unix_s: i64,
    tolerance_s: i64,
) -> Result<Verified, InboundError> {
    if scheme.checks_nothing() {
        return Ok(Verified { secret_index: None });
    }
    validate_secrets(scheme, secrets)?;
    let check = Check {
        secrets,
        req,
        now: now_unix_s,
        tolerance_s: tolerance_s.max(0),
    };
    match scheme {
        Scheme::Hmac(spec) => hmac::verify(spec, &check),
        Scheme::Preset(p) => (p.verify)(&check),
    }
}

/// Checks that a scheme's settings and secrets are usable, without a request: what a
/// server should call when a source is created or changed, to refuse a bad configuration
/// up front. [`verify_inbound`] runs the same checks.
pub fn validate_secrets(scheme: &Scheme, secrets: &[&str]) -> Result<(), InboundError> {
    if scheme.checks_nothing() {
        return Ok(());
    }
    if secrets.is_empty() {
        return Err(InboundError::NoSecret);
    }
    if let Scheme::Hmac(spec) = scheme {
        hmac::validate_spec(spec)?;
    }
    let check_secret = scheme.preset().check_secret;
    for (i, secret) in secrets.iter().enumerate() {
        if secret.trim().is_empty() {
            return Err(bad_secret(i, "it is empty"));
        }
        check_secret(secret).map_err(|why| bad_secret(i, &why))?;
    }
    Ok(())
}

/// Whether `s` can start a header value as herald reads it: visible ASCII, spaces and
/// tabs, not starting with whitespace (values arrive trimmed).
pub(crate) fn sendable_in_header(s: &str) -> bool {
    !s.starts_with([' ', '\t']) && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
}

fn bad_secret(index: usize, why: &str) -> InboundError {
    InboundError::BadSecret(format!("secret #{}: {why}", index + 1))
}

/// A header found in a request: the name as the sender spelled it, and its trimmed value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

impl Found<'_> {
    /// The header's name in lower case, for error messages.
    pub fn lower_name(&self) -> String {
        self.name.to_ascii_lowercase()
    }

    pub fn malformed(&self) -> InboundError {
        InboundError::MalformedHeader(self.lower_name())
    }
}

/// Finds the one header whose name is any of `names` (case-insensitive). Absent → the
/// first name is reported missing; present more than once (even under two of the names)
/// → refused as a duplicate, named as first sent.
pub(crate) fn header<'a>(headers: &[(&'a str, &'a str)], names: &[&str]) -> Result<Found<'a>, InboundError> {
    let mut found: Option<Found<'a>> = None;
    for (name, value) in headers {
        if names.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            if let Some(first) = found {
                return Err(InboundError::DuplicateHeader(first.lower_name()));
            }
            found = Some(Found {
                name,
                value: value.trim(),
            });
        }
    }
    found.ok_or_else(|| InboundError::MissingHeader(names[0].to_ascii_lowercase()))
}

/// Finds the header read under the first of `names` that the request carries, for the
/// providers whose libraries read one header name and fall back to another (Svix:
/// `svix-id` before `webhook-id`; Shopify: `shopify-hmac-sha256` before
/// `x-shopify-hmac-sha256`). The names after the one found are not read at all. A name sent
/// twice is refused as a duplicate; none present → `missing` is reported.
pub(crate) fn preferred_header<'a>(
    headers: &[(&'a str, &'a str)],
    names: &[&str],
    missing: &str,
) -> Result<Found<'a>, InboundError> {
    for name in names {
        match header(headers, &[*name]) {
            Err(InboundError::MissingHeader(_)) => continue,
            found => return found,
        }
    }
    Err(InboundError::MissingHeader(missing.to_ascii_lowercase()))
}

/// Parses a unix-seconds timestamp carried by `header`.
pub(crate) fn parse_timestamp(raw: &str, header: &Found<'_>) -> Result<i64, InboundError> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(header.malformed());
    }
    raw.parse().map_err(|_| header.malformed())
}

/// Refuses a timestamp more than `tolerance_s` seconds from `now`, either way.
pub(crate) fn check_tolerance(timestamp: i64, now: i64, tolerance_s: i64) -> Result<(), InboundError> {
    if now.abs_diff(timestamp) > u64::try_from(tolerance_s).unwrap_or(0) {
        return Err(InboundError::TimestampOutOfTolerance {
            age_s: now.saturating_sub(timestamp),
            tolerance_s,
        });
    }
    Ok(())
}

/// Refuses a timestamp more than `tolerance_s` seconds old; one from the future is accepted
/// whatever its distance (Stripe's rule: its libraries check the age only).
pub(crate) fn check_age(timestamp: i64, now: i64, tolerance_s: i64) -> Result<(), InboundError> {
    let age_s = now.saturating_sub(timestamp);
    if age_s > tolerance_s {
        return Err(InboundError::TimestampOutOfTolerance { age_s, tolerance_s });
    }
    Ok(())
}

/// Tries each key in turn (a secret as the scheme reads it): the first for which `matches`
/// is true wins; an error stops the search.
pub(crate) fn match_any_key<K>(
    keys: &[K],
    matches: impl Fn(&K) -> Result<bool, InboundError>,
) -> Result<Verified, InboundError> {
    for (i, key) in keys.iter().enumerate() {
        if matches(key)? {
            return Ok(Verified {
                secret_index: Some(i),
            });
        }
    }
    Err(InboundError::NoMatch)
}

/// Tries each secret in turn: `expected` computes what that secret's signature would be,
/// and the first secret equal (in constant time) to any of `given` wins.
pub(crate) fn match_any<E>(secrets: &[&str], given: &[Vec<u8>], expected: E) -> Result<Verified, InboundError>
where
    E: Fn(&str) -> Vec<u8>,
{
    for (i, secret) in secrets.iter().enumerate() {
        let want = expected(secret);
        if given.iter().any(|g| bool::from(g.as_slice().ct_eq(&want))) {
            return Ok(Verified {
                secret_index: Some(i),
            });
        }
    }
    Err(InboundError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_is_case_insensitive_and_refuses_duplicates() {
        let h = [("X-Sig", " abc "), ("other", "x")];
        let f = header(&h, &["x-sig"]).unwrap();
        assert_eq!((f.name, f.value), ("X-Sig", "abc"));
        assert_eq!(
            header(&h, &["nope"]).unwrap_err(),
            InboundError::MissingHeader("nope".into())
        );
        let d = [("x-sig", "a"), ("X-SIG", "b")];
        assert_eq!(
            header(&d, &["X-Sig"]).unwrap_err(),
            InboundError::DuplicateHeader("x-sig".into())
        );
        let mixed = [("Svix-Id", "a"), ("webhook-id", "a")];
        assert_eq!(
            header(&mixed, &["webhook-id", "svix-id"]).unwrap_err(),
            InboundError::DuplicateHeader("svix-id".into())
        );
    }

    #[test]
    fn tolerance_is_symmetric_and_overflow_safe() {
        assert_eq!(check_tolerance(1000, 1300, 300), Ok(()));
        assert_eq!(check_tolerance(1000, 700, 300), Ok(()));
        assert_eq!(
            check_tolerance(1000, 1301, 300),
            Err(InboundError::TimestampOutOfTolerance {
                age_s: 301,
                tolerance_s: 300
            })
        );
        assert_eq!(
            check_tolerance(1000, 699, 300),
            Err(InboundError::TimestampOutOfTolerance {
                age_s: -301,
                tolerance_s: 300
            })
        );
        assert!(check_tolerance(i64::MAX, i64::MIN, 300).is_err());
        let shown = check_tolerance(1000, 699, 300).unwrap_err().to_string();
        assert!(shown.contains("301 s in the future"), "{shown}");
    }

    #[test]
    fn preferred_header_reads_the_first_name_present() {
        let both = [("Webhook-Id", "w"), ("SVIX-ID", "s")];
        let f = preferred_header(&both, &["svix-id", "webhook-id"], "webhook-id").unwrap();
        assert_eq!((f.name, f.value), ("SVIX-ID", "s"));
        let fallback = [("webhook-id", "w")];
        let f = preferred_header(&fallback, &["svix-id", "webhook-id"], "webhook-id").unwrap();
        assert_eq!(f.value, "w");
        assert_eq!(
            preferred_header(&[], &["svix-id", "webhook-id"], "Webhook-Id").unwrap_err(),
            InboundError::MissingHeader("webhook-id".into())
        );
        // A duplicate of the name read is refused; one of a name not read is not looked at.
        let dup = [("svix-id", "a"), ("Svix-Id", "b"), ("webhook-id", "w")];
        assert_eq!(
            preferred_header(&dup, &["svix-id", "webhook-id"], "webhook-id").unwrap_err(),
            InboundError::DuplicateHeader("svix-id".into())
        );
        let dup_unread = [("svix-id", "s"), ("webhook-id", "a"), ("webhook-id", "b")];
        let f = preferred_header(&dup_unread, &["svix-id", "webhook-id"], "webhook-id").unwrap();
        assert_eq!(f.value, "s");
    }

    #[test]
    fn age_check_accepts_the_future_and_the_exact_edge() {
        assert_eq!(check_age(1000, 1300, 300), Ok(()));
        assert_eq!(check_age(1000, 0, 300), Ok(()));
        assert_eq!(check_age(i64::MAX, i64::MIN, 300), Ok(()));
        assert_eq!(
            check_age(1000, 1301, 300),
            Err(InboundError::TimestampOutOfTolerance {
                age_s: 301,
                tolerance_s: 300
            })
        );
        assert!(check_age(i64::MIN, i64::MAX, 300).is_err());
    }

    #[test]
    fn timestamps_must_be_plain_digits() {
        let f = Found { name: "T", value: "" };
        assert_eq!(parse_timestamp("1700000000", &f), Ok(1_700_000_000));
        for bad in ["", "-5", "+5", "1e9", "12 34", "99999999999999999999"] {
            assert_eq!(
                parse_timestamp(bad, &f),
                Err(InboundError::MalformedHeader("t".into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_are_checked_before_the_request() {
        let req = InboundRequest::post(&[], b"");
        assert_eq!(
            verify_inbound(&Scheme::GITHUB, &[], &req, 0, 300),
            Err(InboundError::NoSecret)
        );
        assert_eq!(
            verify_inbound(&Scheme::GITHUB, &["ok", "  "], &req, 0, 300),
            Err(InboundError::BadSecret("secret #2: it is empty".into()))
        );
        let e = verify_inbound(&Scheme::STANDARD, &["whsec_short"], &req, 0, 300).unwrap_err();
        assert!(
            matches!(&e, InboundError::BadSecret(m) if m.starts_with("secret #1:")),
            "{e}"
        );
        assert!(!e.to_string().contains("whsec_short"));
        assert!(e.is_misconfiguration());
        assert_eq!(
            verify_inbound(&Scheme::BASIC, &["no-colon"], &req, 0, 300),
            Err(InboundError::BadSecret(
                "secret #1: it must be `user:password`".into()
            ))
        );
        assert_eq!(
            verify_inbound(&Scheme::NONE, &[], &req, 0, 300),
            Ok(Verified { secret_index: None })
        );
    }
}
