//! Meta (Facebook, WhatsApp, Instagram): `X-Hub-Signature-256: sha256=<hex
//! HMAC-SHA256(app secret, body)>`, GitHub's header. The subscription check is a `GET` with
//! `hub.mode=subscribe`, `hub.verify_token` and `hub.challenge`, answered by
//! [`super::meta_subscribe`] when the token is the source's verify token.

use super::github::HUB_SIGNATURE_256;
use super::hmac::{body_signature, SignedHeader};
use super::preset::{any_secret, Check, Clock, Handshake, Preset, SecretKind};
use super::{InboundError, Verified};

pub(crate) const PRESET: Preset = Preset {
    name: "meta",
    provider: "Meta (Facebook, WhatsApp, Instagram)",
    checks: "X-Hub-Signature-256: sha256= hex HMAC-SHA256 of the body; GET hub.challenge answered \
             when hub.verify_token is the source's verify_token",
    secret: "the app secret; and verify.verify_token, the token typed into the app dashboard",
    secret_kind: SecretKind::Shared,
    signature_headers: &[HUB_SIGNATURE_256.name],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "json:/object",
    dedupe: None,
    type_prefix: Some("meta."),
    handshake: Some(Handshake::MetaSubscribe),
    reference: "https://developers.facebook.com/docs/graph-api/webhooks/getting-started (docs)",
    verify,
    check_secret: any_secret,
};

/// GitHub's header, in lower-case hex only (Meta's SDK compares the text).
const SIGNED: SignedHeader = SignedHeader {
    lower_hex: true,
    ..HUB_SIGNATURE_256
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    body_signature(c, &SIGNED)
}
