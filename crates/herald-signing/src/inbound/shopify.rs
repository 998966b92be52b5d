//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(secret, body)>`, the secret being
//! the app's client secret (or the webhook signing secret shown in the admin).
//!
//! Shopify's newer deliveries name their headers without the `X-` (`shopify-hmac-sha256`,
//! `shopify-topic`, `shopify-webhook-id`, …). Both names of the signature header are read;
//! when a request carries both, `shopify-hmac-sha256` is the one checked, as in Shopify's
//! own library (`@shopify/shopify-api`). The other headers are not read here.

use super::hmac::{decode, sha256};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{match_any, preferred_header, InboundError, SigEncoding, Verified};

/// The signature header's names, in the order Shopify's library prefers them.
pub(super) const HEADERS: [&str; 2] = ["shopify-hmac-sha256", "x-shopify-hmac-sha256"];
/// The name reported when neither is present.
const MISSING: &str = "x-shopify-hmac-sha256";

pub(crate) const PRESET: Preset = Preset {
    name: "shopify",
    provider: "Shopify",
    checks: "X-Shopify-Hmac-Sha256 (or Shopify-Hmac-Sha256): base64 HMAC-SHA256 of the body",
    secret: "the app's client secret (or the signing secret shown in the admin)",
    secret_kind: SecretKind::Shared,
    signature_headers: &HEADERS,
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "header:x-shopify-topic",
    dedupe: Some("header:x-shopify-webhook-id"),
    type_prefix: None,
    handshake: None,
    reference: "https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook (@shopify/shopify-api)",
    verify,
    check_secret: any_secret,
};

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = preferred_header(c.headers(), &HEADERS, MISSING)?;
    let given = decode(SigEncoding::Base64, found.value)
        .filter(|sig| sig.len() == 32)
        .ok_or_else(|| found.malformed())?;
    match_any(c.secrets, &[given], |secret| sha256(secret, &[c.body()]))
}

#[cfg(test)]
mod tests {
    use super::super::{verify_inbound, InboundRequest, Scheme};
    use super::*;

    // Valid signatures come from Shopify's documented computation in tests/vectors; these
    // check which header is read.
    const SECRET: &str = "hush";
    const BODY: &[u8] = b"{}";

    fn run(headers: &[(&str, &str)]) -> Result<Verified, InboundError> {
        let req = InboundRequest::post(headers, BODY);
        verify_inbound(&Scheme::SHOPIFY, &[SECRET], &req, 0, 300)
    }

    fn good() -> String {
        use base64::Engine;
        super::super::hmac::BASE64.encode(sha256(SECRET, &[BODY]))
    }

    #[test]
    fn either_name_is_read_and_the_unprefixed_one_wins() {
        let good = good();
        let bad = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let ok = Ok(Verified {
            secret_index: Some(0),
        });
        assert_eq!(run(&[("X-Shopify-Hmac-Sha256", &good)]), ok);
        assert_eq!(run(&[("Shopify-Hmac-Sha256", &good)]), ok);
        assert_eq!(
            run(&[("x-shopify-hmac-sha256", bad), ("shopify-hmac-sha256", &good)]),
            ok
        );
        assert_eq!(
            run(&[("x-shopify-hmac-sha256", &good), ("shopify-hmac-sha256", bad)]),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            run(&[("shopify-topic", "orders/create")]),
            Err(InboundError::MissingHeader("x-shopify-hmac-sha256".into()))
        );
        assert_eq!(
            run(&[("shopify-hmac-sha256", &good), ("Shopify-Hmac-Sha256", &good)]),
            Err(InboundError::DuplicateHeader("shopify-hmac-sha256".into()))
        );
        assert_eq!(
            run(&[("shopify-hmac-sha256", "not base64!")]),
            Err(InboundError::MalformedHeader("shopify-hmac-sha256".into()))
        );
    }
}
