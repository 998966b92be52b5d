//! Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex HMAC-SHA256(secret,
//! message id + timestamp + body)>`, the id and the RFC 3339 timestamp being the
//! `Twitch-Eventsub-Message-Id` and `Twitch-Eventsub-Message-Timestamp` headers exactly as
//! sent. Twitch asks receivers to refuse messages older than ten minutes (a time from the
//! future is not refused: Twitch's rule is about age only). A signed
//! `webhook_callback_verification` is answered with its challenge (see
//! [`super::handshake_reply`]).

use super::hmac::{sha256, SignedHeader};
use super::preset::{any_secret, Check, Clock, Handshake, Preset, SecretKind};
use super::time::rfc3339_seconds;
use super::{header, match_any, HmacAlgorithm, InboundError, SigEncoding, Verified};

const SIGNATURE: &str = "twitch-eventsub-message-signature";
/// Lower-case hex: the docs' example compares the text.
const SIGNED: SignedHeader = SignedHeader {
    name: SIGNATURE,
    prefix: "sha256=",
    algorithm: HmacAlgorithm::Sha256,
    encoding: SigEncoding::Hex,
    lower_hex: true,
};
const ID: &str = "twitch-eventsub-message-id";
const TIMESTAMP: &str = "twitch-eventsub-message-timestamp";
/// `notification`, `webhook_callback_verification` or `revocation`.
pub(super) const MESSAGE_TYPE: &str = "twitch-eventsub-message-type";

pub(crate) const PRESET: Preset = Preset {
    name: "twitch",
    provider: "Twitch EventSub",
    checks: "Twitch-Eventsub-Message-Signature: sha256= hex HMAC-SHA256 of message id + timestamp + body; \
             timestamp no older than the tolerance (600 s)",
    secret: "the secret given when creating the EventSub subscription",
    secret_kind: SecretKind::Shared,
    signature_headers: &[SIGNATURE],
    clock: Clock::AgeOnly,
    tolerance_s: 600,
    signs_url: false,
    signs_body: true,
    event_type: "header:twitch-eventsub-subscription-type",
    dedupe: Some("header:twitch-eventsub-message-id"),
    type_prefix: Some("twitch."),
    handshake: Some(Handshake::TwitchCallbackVerification),
    reference: "https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message (docs; no official library)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let given = SIGNED.given(c)?;
    let id = header(c.headers(), &[ID])?;
    let ts = header(c.headers(), &[TIMESTAMP])?;
    let time = rfc3339_seconds(ts.value).ok_or_else(|| ts.malformed())?;
    c.clock(Clock::AgeOnly, time)?;
    match_any(c.secrets, &[given], |secret| {
        sha256(secret, &[id.value.as_bytes(), ts.value.as_bytes(), c.body()])
    })
}
