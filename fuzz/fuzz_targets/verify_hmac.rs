//! Generic HMAC verification (`verify_inbound` with `Scheme::Hmac`), with the scheme built
//! the way a source's configuration builds it (`VerifyConfig::new`).
//!
//! Input: a choice byte, then lines `header name`, `algorithm`, `encoding`, `prefix`,
//! `secret`, signature header value; the rest is the body. When the configuration is
//! refused, the spec is taken from the choice byte instead, so the verifier still runs.
//!
//! Checks: no panic; an unusable header name or a prefix no header value could start with
//! is a configuration error; an accepted request
//! carries the prefix (any case) and the right encoding of HMAC-{SHA1,SHA256,SHA512}(secret,
//! body) computed here; a header signed here (hex in either case, base64 with or without
//! padding) verifies, names the right secret of a rotation, and fails on a changed body.
#![no_main]

use base64::Engine;
use herald_fuzz::{
    hmac_sha1, hmac_sha256, hmac_sha512, mix_case, tampered, usable_secret, Fields, B64, B64_ANY_PAD,
    B64_NO_PAD,
};
use herald_server::domain::source::{VerifyConfig, VerifyFields};
use herald_signing::{
    verify_inbound, HmacAlgorithm, HmacSpec, InboundError, InboundRequest, Scheme, SigEncoding, Verified,
};
use libfuzzer_sys::fuzz_target;

fn expected_mac(alg: HmacAlgorithm, secret: &str, body: &[u8]) -> Vec<u8> {
    match alg {
        HmacAlgorithm::Sha1 => hmac_sha1(secret.as_bytes(), &[body]),
        HmacAlgorithm::Sha256 => hmac_sha256(secret.as_bytes(), &[body]),
        HmacAlgorithm::Sha512 => hmac_sha512(secret.as_bytes(), &[body]),
    }
}

fn valid_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A prefix a header value can start with: visible ASCII, spaces and tabs, not leading
/// whitespace (values arrive trimmed).
fn sendable_prefix(p: &str) -> bool {
    p.trim_start() == p && p.bytes().all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
}

fn run(
    spec: &HmacSpec,
    secrets: &[&str],
    name: &str,
    value: &str,
    body: &[u8],
) -> Result<Verified, InboundError> {
    let headers = [(name, value)];
    let req = InboundRequest::post(&headers, body);
    verify_inbound(&Scheme::Hmac(spec.clone()), secrets, &req, 0, 300)
}

fn some_if(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let header = f.text();
    let algorithm = f.text();
    let encoding = f.text();
    let prefix = f.text();
    let secret = f.text();
    let value = f.text();
    let body = f.rest();

    let config = VerifyConfig::new(VerifyFields {
        scheme: "hmac".into(),
        secrets: vec![secret.clone()],
        header: some_if(header.clone()),
        algorithm: some_if(algorithm),
        encoding: some_if(encoding),
        prefix: (choice & 0x40 == 0).then(|| prefix.clone()),
        tolerance_s: None,
        verify_token: None,
        url: None,
    });
    let spec = match config.as_ref().map(VerifyConfig::scheme) {
        Ok(Scheme::Hmac(spec)) => spec.clone(),
        Ok(other) => panic!("hmac configuration gave {other:?}"),
        Err(_) => HmacSpec {
            header,
            algorithm: [HmacAlgorithm::Sha1, HmacAlgorithm::Sha256, HmacAlgorithm::Sha512]
                [usize::from(choice % 3)],
            encoding: if choice & 0x08 == 0 {
                SigEncoding::Hex
            } else {
                SigEncoding::Base64
            },
            prefix: (choice & 0x40 == 0).then_some(prefix),
        },
    };
    let name = mix_case(&spec.header, choice);
    let prefix = spec.prefix.clone().unwrap_or_default();

    // 1. Whatever the fuzzer sent.
    let got = run(&spec, &[&secret], &name, &value, body);
    if !valid_header_name(&spec.header) || !sendable_prefix(&prefix) {
        assert!(matches!(got, Err(InboundError::BadScheme(_))), "{got:?}");
    }
    if got.is_ok() {
        let mut v = value.trim();
        if !prefix.is_empty() {
            v = v
                .get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(&prefix))
                .map(|_| &v[prefix.len()..])
                .expect("accepted without the prefix");
        }
        let given = match spec.encoding {
            SigEncoding::Hex => hex::decode(v.trim()).ok(),
            SigEncoding::Base64 => B64_ANY_PAD.decode(v.trim()).ok(),
        };
        assert_eq!(
            given,
            Some(expected_mac(spec.algorithm, &secret, body)),
            "accepted a wrong MAC"
        );
    }

    // 2. A header signed here must verify (when the configuration is usable).
    if !valid_header_name(&spec.header) || !sendable_prefix(&prefix) {
        return;
    }
    let secret = if usable_secret(&secret) {
        secret
    } else {
        "Jefe".into()
    };
    let other = format!("{secret}-old");
    let mac = expected_mac(spec.algorithm, &secret, body);
    let encoded = match (spec.encoding, choice & 0x80 == 0) {
        (SigEncoding::Hex, true) => hex::encode(&mac),
        (SigEncoding::Hex, false) => hex::encode_upper(&mac),
        (SigEncoding::Base64, true) => B64.encode(&mac),
        (SigEncoding::Base64, false) => B64_NO_PAD.encode(&mac),
    };
    let signed = format!("{}{encoded}", mix_case(&prefix, choice >> 2));
    assert_eq!(
        run(&spec, &[&other, &secret], &name, &signed, body),
        Ok(Verified {
            secret_index: Some(1)
        }),
        "{spec:?} {signed}"
    );
    assert_eq!(
        run(&spec, &[&other], &name, &signed, body),
        Err(InboundError::NoMatch)
    );
    if let Some(changed) = tampered(body, choice) {
        assert_eq!(
            run(&spec, &[&secret], &name, &signed, &changed),
            Err(InboundError::NoMatch)
        );
    }
});
