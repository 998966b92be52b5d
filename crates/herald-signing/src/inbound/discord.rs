//! Discord interactions: `X-Signature-Ed25519: <hex Ed25519 signature of timestamp + body>`
//! with `X-Signature-Timestamp`, checked with the application's public key (hex, as the
//! Developer Portal shows it). Discord's libraries check no time; herald also refuses a
//! timestamp beyond the tolerance, which only a replay would carry. A signed PING is
//! answered with a PONG (see [`super::handshake_reply`]).

use ring::signature::{UnparsedPublicKey, ED25519};

use super::preset::{Check, Clock, Handshake, Preset, SecretKind};
use super::{header, match_any_key, parse_timestamp, InboundError, Verified};

const SIGNATURE: &str = "x-signature-ed25519";
const TIMESTAMP: &str = "x-signature-timestamp";

pub(crate) const PRESET: Preset = Preset {
    name: "discord",
    provider: "Discord (interactions)",
    checks: "X-Signature-Ed25519: Ed25519 signature of X-Signature-Timestamp + body by the application's key; \
             timestamp within the tolerance either way",
    secret: "the application's public key (64 hex characters, General Information in the Developer Portal)",
    secret_kind: SecretKind::PublicKey,
    signature_headers: &[SIGNATURE],
    clock: Clock::EitherWay,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "json:/type",
    dedupe: Some("json:/id"),
    type_prefix: Some("discord.interaction."),
    handshake: Some(Handshake::DiscordPing),
    reference: "https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint (discord-interactions)",
    verify,
    check_secret,
};

fn public_key(secret: &str) -> Option<Vec<u8>> {
    hex::decode(secret.trim()).ok().filter(|k| k.len() == 32)
}

fn check_secret(secret: &str) -> Result<(), String> {
    public_key(secret)
        .map(|_| ())
        .ok_or_else(|| "a Discord public key is 64 hex characters (32 bytes)".into())
}

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let keys: Vec<Vec<u8>> = c.secrets.iter().filter_map(|s| public_key(s)).collect();
    let sig = header(c.headers(), &[SIGNATURE])?;
    let ts = header(c.headers(), &[TIMESTAMP])?;
    c.clock(Clock::EitherWay, parse_timestamp(ts.value, &ts)?)?;
    let given = hex::decode(sig.value)
        .ok()
        .filter(|s| s.len() == 64)
        .ok_or_else(|| sig.malformed())?;
    let signed = [ts.value.as_bytes(), c.body()].concat();
    match_any_key(&keys, |key| {
        Ok(UnparsedPublicKey::new(&ED25519, key)
            .verify(&signed, &given)
            .is_ok())
    })
}
