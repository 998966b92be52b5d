//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
//!
//! GitHub also sends the legacy SHA-1 `X-Hub-Signature`; it is not read (a generic
//! [`HmacSpec`](super::HmacSpec) can check it if ever needed).

use super::hmac::{body_signature, SignedHeader};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{HmacAlgorithm, InboundError, SigEncoding, Verified};

/// GitHub's header, which Meta uses too.
pub(super) const HUB_SIGNATURE_256: SignedHeader = SignedHeader {
    name: "x-hub-signature-256",
    prefix: "sha256=",
    algorithm: HmacAlgorithm::Sha256,
    encoding: SigEncoding::Hex,
    lower_hex: false,
};

pub(crate) const PRESET: Preset = Preset {
    name: "github",
    provider: "GitHub",
    checks: "X-Hub-Signature-256: sha256= hex HMAC-SHA256 of the body",
    secret: "the webhook's secret",
    secret_kind: SecretKind::Shared,
    signature_headers: &[HUB_SIGNATURE_256.name],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "header:x-github-event",
    dedupe: Some("header:x-github-delivery"),
    type_prefix: None,
    handshake: None,
    reference: "https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries (@octokit/webhooks-methods)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    body_signature(c, &HUB_SIGNATURE_256)
}
