//! Shopify verification (`verify_inbound` with `Scheme::SHOPIFY`).
//!
//! Input: a choice byte, then lines `secret`, signature header value; the rest is the body.
//! The choice byte picks the header's name (`X-Shopify-Hmac-Sha256` or, as newer
//! deliveries send it, `Shopify-Hmac-Sha256`; any case).
//!
//! Checks: no panic; an accepted request carries the base64 of HMAC-SHA256(secret, body)
//! computed here; a header signed here (padded or not, under either name) verifies, names
//! the right secret of a rotation, and fails on a changed body. With both names sent, only
//! `shopify-hmac-sha256` is read (as in Shopify's library): the answer is the one that
//! header alone gets, whatever the `x-` one holds (even a duplicate), in either order; the
//! name read sent twice is a duplicate.
#![no_main]

use base64::Engine;
use herald_fuzz::{hmac_sha256, mix_case, tampered, usable_secret, Fields, B64, B64_ANY_PAD, B64_NO_PAD};
use herald_signing::{verify_inbound, InboundError, InboundRequest, Scheme, Verified};
use libfuzzer_sys::fuzz_target;

/// The name read when both are sent, and the older one.
const NEW: &str = "shopify-hmac-sha256";
const OLD: &str = "x-shopify-hmac-sha256";

fn run(secrets: &[&str], headers: &[(&str, &str)], body: &[u8]) -> Result<Verified, InboundError> {
    let req = InboundRequest::post(headers, body);
    verify_inbound(&Scheme::SHOPIFY, secrets, &req, 0, 300)
}

/// The two headers, in the order the choice byte says.
fn both<'a>(new: (&'a str, &'a str), old: (&'a str, &'a str), choice: u8) -> Vec<(&'a str, &'a str)> {
    if choice & 0x80 == 0 {
        vec![new, old]
    } else {
        vec![old, new]
    }
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let secret = f.text();
    let value = f.text();
    let body = f.rest();
    let new_name = mix_case(NEW, choice);
    let old_name = mix_case(OLD, choice.rotate_left(3));
    let name = if choice & 0x40 == 0 { &old_name } else { &new_name };

    // 1. Whatever the fuzzer sent.
    let got = run(&[&secret], &[(name, &value)], body);
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
    let ok = |i| {
        Ok(Verified {
            secret_index: Some(i),
        })
    };
    assert_eq!(run(&[&other, &secret], &[(name, &header)], body), ok(1));
    assert_eq!(
        run(&[&other], &[(name, &header)], body),
        Err(InboundError::NoMatch)
    );
    if let Some(changed) = tampered(body, choice) {
        assert_eq!(
            run(&[&secret], &[(name, &header)], &changed),
            Err(InboundError::NoMatch)
        );
    }

    // 3. Both names: `shopify-hmac-sha256` is the one read.
    let alone = |v: &str| run(&[&secret], &[(&new_name, v)], body);
    // The right MAC unprefixed wins over anything in the `x-` header, even a duplicate.
    let good_new = both((&new_name, &header), (&old_name, &value), choice);
    assert_eq!(run(&[&secret], &good_new, body), ok(0), "{good_new:?}");
    let mut dup_old = good_new.clone();
    dup_old.push((&old_name, &header));
    assert_eq!(run(&[&secret], &dup_old, body), ok(0), "{dup_old:?}");
    // The fuzzer's value unprefixed decides, whatever the `x-` header holds.
    let good_old = both((&new_name, &value), (&old_name, &header), choice);
    assert_eq!(run(&[&secret], &good_old, body), alone(&value), "{good_old:?}");
    // The name read, sent twice, is refused.
    let dup_new = both((&new_name, &header), (&new_name, &header), choice);
    assert_eq!(
        run(&[&secret], &dup_new, body),
        Err(InboundError::DuplicateHeader(NEW.into()))
    );
});
