//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex HMAC-SHA256(secret, "{ts}:{body}")>`,
//! with several `h1` while a secret is being rotated (any may match, as in the Python SDK;
//! the Node SDK reads only the last). Paddle's SDKs refuse a signature older than five
//! seconds; so does herald by default (a time from the future is accepted, as in the Node
//! SDK; the Python SDK refuses one beyond five seconds).

use super::hmac::{decode, sha256};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, match_any, parse_timestamp, InboundError, SigEncoding, Verified};

const HEADER: &str = "paddle-signature";

pub(crate) const PRESET: Preset = Preset {
    name: "paddle",
    provider: "Paddle Billing",
    checks: "Paddle-Signature: ts=<unix>;h1= hex HMAC-SHA256 of \"{ts}:{body}\" (any h1 may match); \
             ts no older than the tolerance (5 s)",
    secret: "the notification destination's secret key (pdl_ntfset_…)",
    secret_kind: SecretKind::Shared,
    signature_headers: &[HEADER],
    clock: Clock::AgeOnly,
    tolerance_s: 5,
    signs_url: false,
    signs_body: true,
    event_type: "json:/event_type",
    dedupe: Some("json:/event_id"),
    type_prefix: Some("paddle."),
    handshake: None,
    reference: "https://developer.paddle.com/webhooks/signature-verification (paddle-python-sdk, @paddle/paddle-node-sdk)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = header(c.headers(), &[HEADER])?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    // As the SDKs split it: no spaces around `;` or `=` (a ` h1` is not an `h1`).
    for item in found.value.split(';') {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        match key {
            "ts" if timestamp.is_some() => return Err(found.malformed()),
            "ts" => timestamp = Some(parse_timestamp(value, &found)?),
            // Lower-case hex only: the SDKs compare the text.
            "h1" if !value.bytes().any(|b| b.is_ascii_uppercase()) => {
                signatures.extend(decode(SigEncoding::Hex, value.trim()).filter(|s| s.len() == 32));
            }
            _ => {}
        }
    }
    let ts = timestamp.ok_or_else(|| found.malformed())?;
    c.clock(Clock::AgeOnly, ts)?;
    if signatures.is_empty() {
        return Err(found.malformed());
    }
    // The SDKs sign the parsed time, re-printed.
    let signed_ts = ts.to_string();
    match_any(c.secrets, &signatures, |secret| {
        sha256(secret, &[signed_ts.as_bytes(), b":", c.body()])
    })
}
