//! Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:{ts}:{body}")>`, with
//! `{ts}` the `X-Slack-Request-Timestamp` header exactly as sent. Zoom signs the same way
//! under other header names.

use super::hmac::{decode, sha256, strip_prefix_ignore_case};
use super::preset::{any_secret, Check, Clock, Handshake, Preset, SecretKind};
use super::{header, match_any, parse_timestamp, InboundError, SigEncoding, Verified};

pub(super) const SIGNATURE: &str = "x-slack-signature";
pub(super) const TIMESTAMP: &str = "x-slack-request-timestamp";

pub(crate) const PRESET: Preset = Preset {
    name: "slack",
    provider: "Slack",
    checks: "X-Slack-Signature: v0= hex HMAC-SHA256 of \"v0:{X-Slack-Request-Timestamp}:{body}\"; \
             timestamp within the tolerance either way",
    secret: "the app's signing secret",
    secret_kind: SecretKind::Shared,
    signature_headers: &[SIGNATURE],
    clock: Clock::EitherWay,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "json:/event/type",
    dedupe: Some("json:/event_id"),
    type_prefix: None,
    handshake: Some(Handshake::SlackUrlVerification),
    reference: "https://api.slack.com/authentication/verifying-requests-from-slack (slack_sdk)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    v0_signature(c, SIGNATURE, TIMESTAMP)
}

/// `signature` = `v0=` hex HMAC-SHA256 of `v0:{timestamp header}:{body}`, the timestamp
/// within the tolerance either way: Slack's scheme, and Zoom's.
pub(super) fn v0_signature(
    c: &Check<'_>,
    signature: &str,
    timestamp: &str,
) -> Result<Verified, InboundError> {
    let sig = header(c.headers(), &[signature])?;
    let ts = header(c.headers(), &[timestamp])?;
    let time = parse_timestamp(ts.value, &ts)?;
    c.clock(Clock::EitherWay, time)?;
    // Lower-case hex: Slack's and Zoom's libraries compare the text.
    let given = strip_prefix_ignore_case(sig.value, "v0=")
        .filter(|hex| !hex.bytes().any(|b| b.is_ascii_uppercase()))
        .and_then(|hex| decode(SigEncoding::Hex, hex))
        .filter(|mac| mac.len() == 32)
        .ok_or_else(|| sig.malformed())?;
    match_any(c.secrets, &[given], |secret| {
        sha256(secret, &[b"v0:", ts.value.as_bytes(), b":", c.body()])
    })
}
