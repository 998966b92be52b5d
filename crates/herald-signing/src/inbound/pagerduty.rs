//! PagerDuty (v3 webhooks): `X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret, body)>`,
//! comma-separated with one `v1=` per live secret while a secret is rotated.

use super::hmac::decode;
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, hmac::sha256, match_any, InboundError, SigEncoding, Verified};

const HEADER: &str = "x-pagerduty-signature";

pub(crate) const PRESET: Preset = Preset {
    name: "pagerduty",
    provider: "PagerDuty (v3 webhooks)",
    checks: "X-PagerDuty-Signature: v1= hex HMAC-SHA256 of the body (any v1 may match)",
    secret: "the webhook subscription's signing secret",
    secret_kind: SecretKind::Shared,
    signature_headers: &[HEADER],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "json:/event/event_type",
    dedupe: Some("json:/event/id"),
    type_prefix: Some("pagerduty."),
    handshake: None,
    reference: "https://developer.pagerduty.com/docs/webhooks/webhook-signatures/ (docs)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = header(c.headers(), &[HEADER])?;
    // As PagerDuty's example splits it: `,` with no space, `v1=` and lower-case hex.
    let signatures: Vec<Vec<u8>> = found
        .value
        .split(',')
        .filter_map(|entry| entry.strip_prefix("v1="))
        .filter(|hex| !hex.bytes().any(|b| b.is_ascii_uppercase()))
        .filter_map(|hex| decode(SigEncoding::Hex, hex).filter(|s| s.len() == 32))
        .collect();
    if signatures.is_empty() {
        return Err(found.malformed());
    }
    match_any(c.secrets, &signatures, |secret| sha256(secret, &[c.body()]))
}
