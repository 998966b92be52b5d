//! Zoom: `x-zm-signature: v0=<hex HMAC-SHA256(secret token, "v0:{ts}:{body}")>` with `{ts}`
//! the `x-zm-request-timestamp` header: Slack's construction under Zoom's names. A signed
//! `endpoint.url_validation` is answered with the encrypted token (see
//! [`super::handshake_reply`]).

use super::preset::{any_secret, Check, Clock, Handshake, Preset, SecretKind};
use super::slack::v0_signature;
use super::{InboundError, Verified};

const SIGNATURE: &str = "x-zm-signature";
const TIMESTAMP: &str = "x-zm-request-timestamp";

pub(crate) const PRESET: Preset = Preset {
    name: "zoom",
    provider: "Zoom",
    checks: "x-zm-signature: v0= hex HMAC-SHA256 of \"v0:{x-zm-request-timestamp}:{body}\"; \
             timestamp within the tolerance either way",
    secret: "the app's secret token (Event Subscriptions)",
    secret_kind: SecretKind::Shared,
    signature_headers: &[SIGNATURE],
    clock: Clock::EitherWay,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "json:/event",
    dedupe: None,
    type_prefix: Some("zoom."),
    handshake: Some(Handshake::ZoomUrlValidation),
    reference: "https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events (docs)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    v0_signature(c, SIGNATURE, TIMESTAMP)
}
