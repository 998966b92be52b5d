//! Mailgun: the signature is in the body, `{"signature": {"timestamp", "token",
//! "signature"}, "event-data": …}` (or, for the legacy form-encoded webhooks, the fields
//! `timestamp`, `token` and `signature`): `signature` = hex HMAC-SHA256(webhook signing
//! key, timestamp + token). Mailgun signs the token and the time, not the event; herald
//! also refuses a timestamp beyond the tolerance, and de-duplicates on the token, which is
//! what Mailgun advises against replays.

use super::hmac::{decode, sha256};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{match_any, InboundError, SigEncoding, Verified};

pub(crate) const PRESET: Preset = Preset {
    name: "mailgun",
    provider: "Mailgun",
    checks: "the body's signature.signature = hex HMAC-SHA256 of signature.timestamp + signature.token; \
             timestamp within the tolerance either way",
    secret: "the HTTP webhook signing key",
    secret_kind: SecretKind::Shared,
    signature_headers: &[],
    clock: Clock::EitherWay,
    tolerance_s: 300,
    signs_url: false,
    signs_body: false,
    event_type: "json:/event-data/event",
    dedupe: Some("json:/signature/token"),
    type_prefix: Some("mailgun."),
    handshake: None,
    reference: "https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#securing-webhooks (docs)",
    verify,
    check_secret: any_secret,
};

struct Signed {
    timestamp: String,
    token: String,
    signature: String,
}

fn from_json(body: &[u8]) -> Option<Signed> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let s = v.get("signature")?;
    let field = |name: &str| match s.get(name)? {
        serde_json::Value::String(t) => Some(t.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Some(Signed {
        timestamp: field("timestamp")?,
        token: field("token")?,
        signature: field("signature")?,
    })
}

fn from_form(body: &[u8]) -> Option<Signed> {
    let field = |name: &str| {
        form_urlencoded::parse(body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    Some(Signed {
        timestamp: field("timestamp")?,
        token: field("token")?,
        signature: field("signature")?,
    })
}

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let signed = from_json(c.body())
        .or_else(|| from_form(c.body()))
        .ok_or(InboundError::MalformedBody(
            "no signature.timestamp, signature.token and signature.signature",
        ))?;
    let time = signed
        .timestamp
        .parse::<i64>()
        .ok()
        .filter(|_| signed.timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(InboundError::MalformedBody(
            "signature.timestamp is not unix seconds",
        ))?;
    c.clock(Clock::EitherWay, time)?;
    // Lower-case hex: Mailgun's library compares the text.
    let given = Some(&signed.signature)
        .filter(|s| !s.bytes().any(|b| b.is_ascii_uppercase()))
        .and_then(|s| decode(SigEncoding::Hex, s))
        .filter(|s| s.len() == 32)
        .ok_or(InboundError::MalformedBody(
            "signature.signature is not a hex HMAC-SHA256",
        ))?;
    match_any(c.secrets, &[given], |secret| {
        sha256(secret, &[signed.timestamp.as_bytes(), signed.token.as_bytes()])
    })
}
