//! SendGrid Event Webhook (signed): `X-Twilio-Email-Event-Webhook-Signature: <base64 DER
//! ECDSA P-256 / SHA-256 signature of timestamp + body>` with
//! `X-Twilio-Email-Event-Webhook-Timestamp`, checked with the verification key SendGrid
//! shows (base64 of a DER SubjectPublicKeyInfo). SendGrid's library checks no time; herald
//! also refuses a timestamp beyond the tolerance.

use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

use super::hmac::BASE64;
use super::preset::{Check, Clock, Preset, SecretKind};
use super::{header, match_any_key, parse_timestamp, InboundError, Verified};

const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

/// The DER of a P-256 SubjectPublicKeyInfo up to its uncompressed point: SEQUENCE {
/// SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

pub(crate) const PRESET: Preset = Preset {
    name: "sendgrid",
    provider: "SendGrid (Event Webhook)",
    checks: "X-Twilio-Email-Event-Webhook-Signature: ECDSA P-256 SHA-256 signature of \
             X-Twilio-Email-Event-Webhook-Timestamp + body; timestamp within the tolerance either way",
    secret: "the Event Webhook's verification key (base64, as SendGrid shows it)",
    secret_kind: SecretKind::PublicKey,
    signature_headers: &[SIGNATURE],
    clock: Clock::EitherWay,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "const:events",
    dedupe: None,
    type_prefix: Some("sendgrid."),
    handshake: None,
    reference: "https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features (sendgrid EventWebhook)",
    verify,
    check_secret,
};

/// The uncompressed point of a base64 (or PEM) P-256 public key.
fn public_key(secret: &str) -> Option<Vec<u8>> {
    let b64: String = secret
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let der = BASE64.decode(b64).ok()?;
    let point = der.strip_prefix(&SPKI_P256_PREFIX[..])?;
    (point.len() == 65 && point[0] == 4).then(|| point.to_vec())
}

fn check_secret(secret: &str) -> Result<(), String> {
    public_key(secret).map(|_| ()).ok_or_else(|| {
        "a SendGrid verification key is the base64 of a P-256 public key (MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…)".into()
    })
}

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let keys: Vec<Vec<u8>> = c.secrets.iter().filter_map(|s| public_key(s)).collect();
    let sig = header(c.headers(), &[SIGNATURE])?;
    let ts = header(c.headers(), &[TIMESTAMP])?;
    c.clock(Clock::EitherWay, parse_timestamp(ts.value, &ts)?)?;
    let given = BASE64.decode(sig.value).map_err(|_| sig.malformed())?;
    let signed = [ts.value.as_bytes(), c.body()].concat();
    match_any_key(&keys, |key| {
        Ok(UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key)
            .verify(&signed, &given)
            .is_ok())
    })
}
