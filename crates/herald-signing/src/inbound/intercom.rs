//! Intercom: `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, body)>`.

use super::hmac::{body_signature, SignedHeader};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{HmacAlgorithm, InboundError, SigEncoding, Verified};

const SIGNATURE: SignedHeader = SignedHeader {
    name: "x-hub-signature",
    prefix: "sha1=",
    algorithm: HmacAlgorithm::Sha1,
    encoding: SigEncoding::Hex,
    lower_hex: true,
};

pub(crate) const PRESET: Preset = Preset {
    name: "intercom",
    provider: "Intercom",
    checks: "X-Hub-Signature: sha1= hex HMAC-SHA1 of the body",
    secret: "the app's client secret",
    secret_kind: SecretKind::Shared,
    signature_headers: &[SIGNATURE.name],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "json:/topic",
    dedupe: Some("json:/id"),
    type_prefix: Some("intercom."),
    handshake: None,
    reference:
        "https://developers.intercom.com/docs/references/webhooks/webhook-models#signed-notifications (docs)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    body_signature(c, &SIGNATURE)
}
