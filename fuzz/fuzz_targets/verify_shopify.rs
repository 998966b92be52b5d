//! Shopify verification (`verify_inbound` with `Scheme::Shopify`).
//!
//! Input: a choice byte, then lines `secret`, `X-Shopify-Hmac-Sha256` value; the rest is
//! the body.
//!
//! Checks: no panic; an accepted request carries the base64 of HMAC-SHA256(secret, body)
//! computed here; a header signed here (padded or not) verifies, names the right secret of
//! a rotation, and fails on a changed body.
#![no_main]

use base64::Engine;
use herald_fuzz::{hmac_sha256, mix_case, tampered, usable_secret, Fields, B64, B64_ANY_PAD, B64_NO_PAD};
use herald_signing::{verify_inbound, InboundError, InboundRequest, Scheme, Verified};
use libfuzzer_sys::fuzz_target;

fn run(secrets: &[&str], name: &str, value: &str, body: &[u8]) -> Result<Verified, InboundError> {
    let headers = [(name, value)];
    let req = InboundRequest {
        headers: &headers,
        body,
    };
    verify_inbound(&Scheme::Shopify, secrets, &req, 0, 300)
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let secret = f.text();
    let value = f.text();
    let body = f.rest();
    let name = mix_case("x-shopify-hmac-sha256", choice);

    // 1. Whatever the fuzzer sent.
    let got = run(&[&secret], &name, &value, body);
    if !usable_secret(&secret) {
        assert!(matches!(got, Err(InboundError::BadSecret(_))), "{got:?}");
    }
    if got.is_ok() {
        let expected = hmac_sha256(secret.as_bytes(), &[body]);
        assert_eq!(
            B64_ANY_PAD.decode(value.trim()).ok(),
            Some(expected),
            "accepted a wrong MAC"
        );
    }

    // 2. A header signed here must verify.
    let secret = if usable_secret(&secret) {
        secret
    } else {
        "hush".into()
    };
    let other = format!("{secret}-old");
    let mac = hmac_sha256(secret.as_bytes(), &[body]);
    let header = if choice & 1 == 0 {
        B64.encode(&mac)
    } else {
        B64_NO_PAD.encode(&mac)
    };
    assert_eq!(
        run(&[&other, &secret], &name, &header, body),
        Ok(Verified {
            secret_index: Some(1)
        })
    );
    assert_eq!(run(&[&other], &name, &header, body), Err(InboundError::NoMatch));
    if let Some(changed) = tampered(body, choice) {
        assert_eq!(
            run(&[&secret], &name, &header, &changed),
            Err(InboundError::NoMatch)
        );
    }
});
