//! Linear: `Linear-Signature: <hex HMAC-SHA256(secret, body)>`; the body's
//! `webhookTimestamp` (unix milliseconds, inside the signed body) must be within a minute of
//! now, as Linear's SDK requires.

use super::hmac::{body_signature, SignedHeader};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{HmacAlgorithm, InboundError, SigEncoding, Verified};

const SIGNATURE: SignedHeader = SignedHeader {
    name: "linear-signature",
    prefix: "",
    algorithm: HmacAlgorithm::Sha256,
    encoding: SigEncoding::Hex,
    lower_hex: true,
};

pub(crate) const PRESET: Preset = Preset {
    name: "linear",
    provider: "Linear",
    checks: "Linear-Signature: hex HMAC-SHA256 of the body; the body's webhookTimestamp within the tolerance (60 s) either way",
    secret: "the webhook's signing secret",
    secret_kind: SecretKind::Shared,
    signature_headers: &[SIGNATURE.name],
    clock: Clock::EitherWay,
    tolerance_s: 60,
    signs_url: false,
    signs_body: true,
    event_type: "json:/type",
    dedupe: Some("header:linear-delivery"),
    type_prefix: Some("linear."),
    handshake: None,
    reference: "https://linear.app/developers/webhooks#securing-webhooks (@linear/sdk LinearWebhooks)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let verified = body_signature(c, &SIGNATURE)?;
    // Read only once the body is known to be Linear's.
    let body: serde_json::Value =
        serde_json::from_slice(c.body()).map_err(|_| InboundError::MalformedBody("it is not JSON"))?;
    let ms = body
        .get("webhookTimestamp")
        .and_then(serde_json::Value::as_i64)
        .ok_or(InboundError::MalformedBody(
            "webhookTimestamp is missing or not a number",
        ))?;
    c.clock_ms(Clock::EitherWay, ms)?;
    Ok(verified)
}
