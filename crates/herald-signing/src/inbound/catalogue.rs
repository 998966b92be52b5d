//! The catalogue: every preset herald knows, by name. Adding a provider is one file with
//! its [`Preset`] and one line here, plus its vectors in `tests/vectors`.

use super::preset::Preset;
use super::{
    auth, discord, github, hmac, hubspot, intercom, linear, mailgun, meta, paddle, pagerduty, postmark,
    sendgrid, shopify, slack, square, standard, stripe, twilio, twitch, zoom,
};

/// The presets, providers first (in the order DESIGN lists them), then the generic schemes.
pub static PRESETS: &[&Preset] = &[
    &standard::STANDARD,
    &standard::SVIX,
    &standard::CLERK,
    &standard::RESEND,
    &standard::OPENAI,
    &stripe::PRESET,
    &github::PRESET,
    &shopify::PRESET,
    &slack::PRESET,
    &twilio::PRESET,
    &twitch::PRESET,
    &zoom::PRESET,
    &meta::PRESET,
    &discord::PRESET,
    &sendgrid::PRESET,
    &paddle::PRESET,
    &linear::PRESET,
    &intercom::PRESET,
    &hubspot::PRESET,
    &square::PRESET,
    &mailgun::PRESET,
    &pagerduty::PRESET,
    &postmark::PRESET,
    &hmac::PRESET,
    &auth::BASIC,
    &auth::BEARER,
    &auth::NONE,
];

/// The preset named `name` (lower case).
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().copied().find(|p| p.name == name)
}

/// Every scheme name, in catalogue order.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lower_case_and_every_preset_is_described() {
        let mut seen = std::collections::BTreeSet::new();
        for p in PRESETS {
            assert!(seen.insert(p.name), "{} twice", p.name);
            assert_eq!(p.name, p.name.to_ascii_lowercase());
            assert!(
                !p.checks.is_empty() && !p.secret.is_empty() && !p.reference.is_empty(),
                "{}",
                p.name
            );
            for h in p.signature_headers {
                assert_eq!(*h, h.to_ascii_lowercase(), "{}", p.name);
            }
            assert!(p.tolerance_s > 0, "{}", p.name);
            let rule = |r: &str| ["header:", "json:/", "const:"].iter().any(|k| r.starts_with(k));
            assert!(rule(p.event_type), "{}: {}", p.name, p.event_type);
            assert!(
                p.dedupe.is_none_or(|d| rule(d) && !d.starts_with("const:")),
                "{}",
                p.name
            );
            // Header rules in lower case, as herald has always shown them.
            for r in [Some(p.event_type), p.dedupe].into_iter().flatten() {
                assert!(
                    !r.starts_with("header:") || r == r.to_ascii_lowercase(),
                    "{}: {r}",
                    p.name
                );
            }
        }
        assert!(PRESETS.len() >= 27);
    }
}
