//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`.
//!
//! Each `v1` is hex(HMAC-SHA256(secret, "{t}.{body}")) where the secret is the endpoint's
//! `whsec_…` string used as is (its UTF-8 bytes; Stripe does not decode it). Stripe sends
//! several `v1` entries while an endpoint's secret is being rolled; `v0` (a test-mode
//! legacy signature) and unknown entries are ignored.
//!
//! As in Stripe's libraries, a `v1` that is not a signature at all (bad hex, wrong length)
//! simply matches nothing, so another `v1` of the header can still match; and only the age
//! of `t` is checked: a timestamp from the future is accepted.

use super::hmac::{decode, sha256};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, match_any, parse_timestamp, InboundError, SigEncoding, Verified};

pub(super) const HEADER: &str = "stripe-signature";

pub(crate) const PRESET: Preset = Preset {
    name: "stripe",
    provider: "Stripe",
    checks: "Stripe-Signature: t=<unix>, v1 = hex HMAC-SHA256 of \"{t}.{body}\" (any v1 may match); \
             t no older than the tolerance",
    secret: "the endpoint's signing secret (whsec_…), used whole",
    secret_kind: SecretKind::Shared,
    signature_headers: &[HEADER],
    clock: Clock::AgeOnly,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "json:/type",
    dedupe: Some("json:/id"),
    type_prefix: None,
    handshake: None,
    reference: "https://docs.stripe.com/webhooks#verify-manually (stripe)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = header(c.headers(), &[HEADER])?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in found.value.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            continue;
        };
        match key {
            // Two timestamps would make the signed payload ambiguous.
            "t" if timestamp.is_some() => return Err(found.malformed()),
            "t" => timestamp = Some(parse_timestamp(value, &found)?),
            "v1" => {
                if let Some(sig) = decode(SigEncoding::Hex, value.trim()).filter(|sig| sig.len() == 32) {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| found.malformed())?;
    c.clock(Clock::AgeOnly, timestamp)?;
    if signatures.is_empty() {
        // Only `v0` (or nothing), or no `v1` that could be a signature: nothing of the
        // scheme Stripe signs live events with. (Stripe's libraries call the latter a mere
        // mismatch; either way the request is refused.)
        return Err(found.malformed());
    }
    let signed_prefix = format!("{timestamp}.");
    match_any(c.secrets, &signatures, |secret| {
        sha256(secret, &[signed_prefix.as_bytes(), c.body()])
    })
}

#[cfg(test)]
mod tests {
    use super::super::{verify_inbound, InboundRequest, Scheme};
    use super::*;

    // Header shapes only; valid signatures come from Stripe's own library in tests/vectors.
    fn run(value: &str) -> Result<Verified, InboundError> {
        let headers = [("Stripe-Signature", value)];
        let req = InboundRequest::post(&headers, b"{}");
        verify_inbound(&Scheme::STRIPE, &["whsec_test"], &req, 1_700_000_000, 300)
    }

    #[test]
    fn header_shape_is_checked() {
        let malformed = Err(InboundError::MalformedHeader("stripe-signature".into()));
        let zero = "0".repeat(64);
        assert_eq!(run(&format!("v1={zero}")), malformed, "no t");
        assert_eq!(run(&format!("t=abc,v1={zero}")), malformed, "bad t");
        assert_eq!(
            run(&format!("t=1700000000,t=1700000001,v1={zero}")),
            malformed,
            "two t"
        );
        assert_eq!(run("t=1700000000,v1=xyz"), malformed, "bad hex");
        assert_eq!(run("t=1700000000,v1=abcd"), malformed, "short");
        assert_eq!(run(&format!("t=1700000000,v0={zero}")), malformed, "v0 only");
        assert_eq!(
            run(&format!("t=1700000000, v1={zero}, v2={zero}")),
            Err(InboundError::NoMatch)
        );
        assert!(matches!(
            run(&format!("t=1699999000,v1={zero}")),
            Err(InboundError::TimestampOutOfTolerance {
                age_s: 1000,
                tolerance_s: 300
            })
        ));
        // Not a signature, but neither is the header malformed while another `v1` is one.
        assert_eq!(
            run(&format!("t=1700000000,v1=xyz,v1=abcd,v1={zero}")),
            Err(InboundError::NoMatch)
        );
        // The future is only a mismatch here, never a skew.
        assert_eq!(
            run(&format!("t=1800000000,v1={zero}")),
            Err(InboundError::NoMatch)
        );
    }
}
