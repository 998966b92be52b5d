//! Standard Webhooks verification (`verify_inbound` with `Scheme::Standard`, and the
//! crate-level `verify_standard` / `verify`).
//!
//! Input: a choice byte, then lines `secret`, `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`, `now`; the rest is the body.
//!
//! Checks: no panic; an accepted request really carries HMAC-SHA256(key, "id.ts.body")
//! (computed here) within the tolerance; the inbound verifier and the crate-level one
//! agree; a message signed by herald's own signer (under a key derived from the input, with
//! the fuzzer's signature entries around it, under either header family) verifies, names
//! the right secret of a rotation, and fails once a body byte changes or time moves past
//! the tolerance.
#![no_main]

use base64::Engine;
use herald_fuzz::{
    hmac_sha256, mix_case, skew_within_tolerance, tampered, usable_timestamp, Fields, B64, TOL,
};
use herald_signing::{
    standard_signature_header, verify, verify_inbound, verify_standard, InboundError, InboundRequest, Scheme,
    StandardHeaders, StandardKey, Verified,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let secret = f.text();
    let id = f.text();
    let ts = f.text();
    let sig = f.text();
    let now = f.int(1_700_000_000);
    let body = f.rest();

    let family = if choice & 1 == 0 { "webhook" } else { "svix" };
    let names = [
        mix_case(&format!("{family}-id"), choice),
        mix_case(&format!("{family}-timestamp"), choice >> 1),
        mix_case(&format!("{family}-signature"), choice >> 2),
    ];

    // 1. Whatever the fuzzer sent.
    let headers = [
        (names[0].as_str(), id.as_str()),
        (names[1].as_str(), ts.as_str()),
        (names[2].as_str(), sig.as_str()),
    ];
    let req = InboundRequest {
        headers: &headers,
        body,
    };
    let got = verify_inbound(&Scheme::Standard, &[&secret], &req, now, TOL);
    let key = StandardKey::parse(&secret).ok();
    if let Ok(v) = &got {
        assert_eq!(v.secret_index, Some(0));
        assert!(key.is_some(), "accepted under an unusable secret");
        let t = ts.trim();
        assert!(
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()),
            "timestamp {t:?}"
        );
        let t: i64 = t.parse().unwrap();
        assert!(now.abs_diff(t) <= TOL as u64, "outside tolerance");
        let raw_key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        let expected = hmac_sha256(
            &raw_key,
            &[id.trim().as_bytes(), b".", t.to_string().as_bytes(), b".", body],
        );
        let carried = sig
            .trim()
            .split(' ')
            .filter_map(|e| e.strip_prefix("v1,"))
            .filter_map(|b| B64.decode(b).ok())
            .any(|m| m == expected);
        assert!(carried, "accepted without a matching v1 entry");
    }
    if let Some(key) = &key {
        // The crate-level verifier, on the values as the inbound one reads them (trimmed).
        let trimmed = StandardHeaders {
            id: id.trim(),
            timestamp: ts.trim(),
            signature: sig.trim(),
        };
        let lib = verify_standard(trimmed, body, std::slice::from_ref(key), now, TOL);
        let plain_digits = !ts.trim().is_empty() && ts.trim().bytes().all(|b| b.is_ascii_digit());
        if plain_digits {
            assert_eq!(got.is_ok(), lib.is_ok(), "inbound {got:?} vs crate {lib:?}");
        } else {
            assert!(got.is_err());
        }
        // `verify` with the default tolerance, on untrimmed values: must not panic.
        let _ = verify(&headers, body, &[&secret], now);
    }

    // 2. A message signed by herald's own signer must verify.
    let raw: Vec<u8> = if secret.is_empty() {
        vec![0x5a; 24]
    } else {
        secret.bytes().cycle().take(24 + secret.len() % 41).collect()
    };
    let good_secret = match &key {
        Some(_) => secret.clone(),
        None => StandardKey::encode(&raw).unwrap(),
    };
    let good = StandardKey::parse(&good_secret).unwrap();
    let mut other_raw = B64.decode(good_secret.strip_prefix("whsec_").unwrap()).unwrap();
    other_raw[0] ^= 0xff;
    let other_secret = StandardKey::encode(&other_raw).unwrap();
    let t = usable_timestamp(now);
    let at = t + skew_within_tolerance(choice);
    let msg_id = id.trim();
    let signed = standard_signature_header(std::slice::from_ref(&good), msg_id, t, body);
    // The fuzzer's own entries before ours: a rotation header still verifies.
    let sig_header = format!("{} {signed}", sig.trim());
    let t_s = t.to_string();
    let ok_headers = [
        (names[0].as_str(), msg_id),
        (names[1].as_str(), t_s.as_str()),
        (names[2].as_str(), sig_header.as_str()),
    ];
    let ok_req = InboundRequest {
        headers: &ok_headers,
        body,
    };
    assert_eq!(
        verify_inbound(
            &Scheme::Standard,
            &[&other_secret, &good_secret],
            &ok_req,
            at,
            TOL
        ),
        Ok(Verified {
            secret_index: Some(1)
        })
    );
    assert_eq!(
        verify_inbound(&Scheme::Standard, &[&other_secret], &ok_req, at, TOL),
        Err(InboundError::NoMatch)
    );
    let late = verify_inbound(&Scheme::Standard, &[&good_secret], &ok_req, t + TOL + 1, TOL);
    assert!(
        matches!(late, Err(InboundError::TimestampOutOfTolerance { .. })),
        "{late:?}"
    );
    if let Some(changed) = tampered(body, choice) {
        let bad_req = InboundRequest {
            headers: &ok_headers,
            body: &changed,
        };
        assert_eq!(
            verify_inbound(&Scheme::Standard, &[&good_secret], &bad_req, at, TOL),
            Err(InboundError::NoMatch)
        );
    }
});
