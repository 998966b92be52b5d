//! GitHub verification (`verify_inbound` with `Scheme::GITHUB`).
//!
//! Input: a choice byte, then lines `secret`, `X-Hub-Signature-256` value; the rest is the
//! body.
//!
//! Checks: no panic; an accepted request carries `sha256=` (any case) and the hex of
//! HMAC-SHA256(secret, body) computed here; a header signed here (any case of prefix and
//! hex, any case of header name) verifies, names the right secret of a rotation, and fails
//! on a changed body.
#![no_main]

use herald_fuzz::{hmac_sha256, mix_case, tampered, usable_secret, Fields};
use herald_signing::{verify_inbound, InboundError, InboundRequest, Scheme, Verified};
use libfuzzer_sys::fuzz_target;

fn run(secrets: &[&str], name: &str, value: &str, body: &[u8]) -> Result<Verified, InboundError> {
    let headers = [(name, value)];
    let req = InboundRequest::post(&headers, body);
    verify_inbound(&Scheme::GITHUB, secrets, &req, 0, 300)
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let secret = f.text();
    let value = f.text();
    let body = f.rest();
    let name = mix_case("x-hub-signature-256", choice);

    // 1. Whatever the fuzzer sent.
    let got = run(&[&secret], &name, &value, body);
    if !usable_secret(&secret) {
        assert!(matches!(got, Err(InboundError::BadSecret(_))), "{got:?}");
    }
    if got.is_ok() {
        let v = value.trim();
        let hex_part = v
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256="))
            .map(|_| &v[7..])
            .expect("accepted without the sha256= prefix");
        let expected = hmac_sha256(secret.as_bytes(), &[body]);
        assert_eq!(hex::decode(hex_part).ok(), Some(expected), "accepted a wrong MAC");
    }

    // 2. A header signed here must verify.
    let secret = if usable_secret(&secret) {
        secret
    } else {
        "It's a Secret to Everybody".into()
    };
    let other = format!("{secret}-old");
    let mac = hex::encode(hmac_sha256(secret.as_bytes(), &[body]));
    let header = format!("{}{}", mix_case("sha256=", choice >> 3), mix_case(&mac, choice));
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
