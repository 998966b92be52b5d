//! Every catalogue preset (`verify_inbound` with each `Scheme::Preset`), and the handshake
//! and Meta subscription parsers, on arbitrary requests.
//!
//! Input: a choice byte (which preset), then lines `secret`, `url`, and one value per header
//! name the preset may read (its signature headers, then `READ`; an empty line sends no
//! such header); the rest is the body.
//!
//! Checks: no panic on any input (Twilio's form and URL parsing, RFC 3339 times, Paddle's
//! and PagerDuty's lists, Mailgun's body fields, SendGrid's and Discord's keys, HubSpot's
//! URI decoding); an accepted request names the first and only secret; a request verified
//! with one secret is not verified with another secret that differs from it; a handshake
//! reply is only produced for a preset that has a handshake.
#![no_main]

use herald_fuzz::Fields;
use herald_signing::inbound::catalogue::PRESETS;
use herald_signing::{
    handshake_reply, meta_subscribe, validate_secrets, verify_inbound, InboundError, InboundRequest, Scheme,
    Verified,
};
use libfuzzer_sys::fuzz_target;

/// The headers the presets read, besides their signature headers.
const READ: [&str; 12] = [
    "twitch-eventsub-message-id",
    "twitch-eventsub-message-timestamp",
    "twitch-eventsub-message-type",
    "x-zm-request-timestamp",
    "x-signature-timestamp",
    "x-twilio-email-event-webhook-timestamp",
    "x-hubspot-request-timestamp",
    "webhook-id",
    "webhook-timestamp",
    "svix-id",
    "svix-timestamp",
    "content-type",
];

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte() as usize;
    let preset = PRESETS[choice % PRESETS.len()];
    let scheme = Scheme::Preset(preset);
    let secret = f.text();
    let url = f.text();
    let names: Vec<&str> = preset.signature_headers.iter().copied().chain(READ).collect();
    let values: Vec<String> = names.iter().map(|_| f.text()).collect();
    let body = f.rest();
    let headers: Vec<(&str, &str)> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    let req = InboundRequest {
        headers: &headers,
        body,
        method: "POST",
        url: (!url.is_empty()).then_some(url.as_str()),
    };
    let now = 1_700_000_000;
    let got = verify_inbound(&scheme, &[&secret], &req, now, preset.tolerance_s);
    if validate_secrets(&scheme, &[&secret]).is_err() && !scheme.checks_nothing() {
        assert!(matches!(got, Err(InboundError::BadSecret(_))), "{}: {got:?}", preset.name);
    }
    if let Ok(v) = &got {
        if !scheme.checks_nothing() {
            assert_eq!(*v, Verified { secret_index: Some(0) }, "{}", preset.name);
            let other = format!("{secret}x");
            if validate_secrets(&scheme, &[&other]).is_ok() && preset.secret_kind == herald_signing::SecretKind::Shared {
                let again = verify_inbound(&scheme, &[&other], &req, now, preset.tolerance_s);
                assert!(again.is_err(), "{}: two secrets verified one request", preset.name);
            }
        }
    }
    let reply = handshake_reply(&scheme, &req, Some(&secret));
    assert!(reply.is_none() || preset.handshake.is_some(), "{}", preset.name);
    let _ = meta_subscribe(&url, &[&secret]);
});
