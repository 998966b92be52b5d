//! Postmark: webhooks carry HTTP Basic credentials written into the webhook URL (Postmark
//! signs nothing), so the preset is `basic` with Postmark's event type.

use super::auth::{basic_secret, verify_basic, HEADER};
use super::preset::{Clock, Preset, SecretKind};

pub(crate) const PRESET: Preset = Preset {
    name: "postmark",
    provider: "Postmark",
    checks: "Authorization: Basic base64(user:password), the credentials set on the webhook",
    secret: "user:password, as set in the webhook's Basic auth credentials",
    secret_kind: SecretKind::Credentials,
    signature_headers: &[HEADER],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: false,
    signs_body: false,
    event_type: "json:/RecordType",
    dedupe: None,
    type_prefix: Some("postmark."),
    handshake: None,
    reference: "https://postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook (docs)",
    verify: verify_basic,
    check_secret: basic_secret,
};
