//! Square: `x-square-hmacsha256-signature: base64(HMAC-SHA256(signature key, notification
//! URL + body))`, the URL being the one the subscription was given (herald's ingest URL).

use super::hmac::{decode, sha256};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, match_any, InboundError, SigEncoding, Verified};

const SIGNATURE: &str = "x-square-hmacsha256-signature";

pub(crate) const PRESET: Preset = Preset {
    name: "square",
    provider: "Square",
    checks: "x-square-hmacsha256-signature: base64 HMAC-SHA256 of the notification URL + body",
    secret: "the subscription's signature key; herald must be told its public URL (--public-url)",
    secret_kind: SecretKind::Shared,
    signature_headers: &[SIGNATURE],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: true,
    signs_body: true,
    event_type: "json:/type",
    dedupe: Some("json:/event_id"),
    type_prefix: Some("square."),
    handshake: None,
    reference: "https://developer.squareup.com/docs/webhooks/step3validate (squareup WebhooksHelper)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let sig = header(c.headers(), &[SIGNATURE])?;
    let given = decode(SigEncoding::Base64, sig.value)
        .filter(|s| s.len() == 32)
        .ok_or_else(|| sig.malformed())?;
    let url = c.req.url.ok_or(InboundError::UrlUnknown)?;
    match_any(c.secrets, &[given], |secret| {
        sha256(secret, &[url.as_bytes(), c.body()])
    })
}
