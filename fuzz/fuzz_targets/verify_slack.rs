//! Slack verification (`verify_inbound` with `Scheme::SLACK`).
//!
//! Input: a choice byte, then lines `secret`, `X-Slack-Signature` value,
//! `X-Slack-Request-Timestamp` value, `now`; the rest is the body.
//!
//! Checks: no panic; an accepted request has a plain-digit timestamp within the tolerance
//! and carries `v0=` (any case) and the lower-case hex of HMAC-SHA256(secret, "v0:ts:body")
//! computed here (Slack's library compares the text); a request signed here verifies
//! (either header order), names the right secret of a rotation, and fails on a changed body,
//! in upper-case hex, or outside the tolerance.
#![no_main]

use herald_fuzz::{
    hmac_sha256, mix_case, skew_within_tolerance, tampered, usable_secret, usable_timestamp, Fields, TOL,
};
use herald_signing::{verify_inbound, InboundError, InboundRequest, Scheme, Verified};
use libfuzzer_sys::fuzz_target;

fn run(
    secrets: &[&str],
    sig: &str,
    ts: &str,
    body: &[u8],
    now: i64,
    swap: bool,
) -> Result<Verified, InboundError> {
    let mut headers = vec![("X-Slack-Signature", sig), ("X-Slack-Request-Timestamp", ts)];
    if swap {
        headers.reverse();
    }
    let req = InboundRequest::post(&headers, body);
    verify_inbound(&Scheme::SLACK, secrets, &req, now, TOL)
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let secret = f.text();
    let sig = f.text();
    let ts = f.text();
    let now = f.int(1_700_000_000);
    let body = f.rest();
    let swap = choice & 0x80 != 0;

    // 1. Whatever the fuzzer sent.
    let got = run(&[&secret], &sig, &ts, body, now, swap);
    if !usable_secret(&secret) {
        assert!(matches!(got, Err(InboundError::BadSecret(_))), "{got:?}");
    }
    if got.is_ok() {
        let t = ts.trim();
        assert!(
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()),
            "timestamp {t:?}"
        );
        assert!(now.abs_diff(t.parse::<i64>().unwrap()) <= TOL as u64);
        let s = sig.trim();
        let hex_part = s
            .get(..3)
            .filter(|p| p.eq_ignore_ascii_case("v0="))
            .map(|_| &s[3..])
            .expect("accepted without the v0= prefix");
        let expected = hmac_sha256(secret.as_bytes(), &[b"v0:", t.as_bytes(), b":", body]);
        assert_eq!(hex::decode(hex_part).ok(), Some(expected), "accepted a wrong MAC");
        assert!(!hex_part.bytes().any(|b| b.is_ascii_uppercase()), "accepted upper-case hex");
    }

    // 2. A request signed here must verify.
    let secret = if usable_secret(&secret) {
        secret
    } else {
        "8f742231b10e8888abcd99yyyzzz85a5".into()
    };
    let other = format!("{secret}-old");
    let t = usable_timestamp(now);
    let at = t + skew_within_tolerance(choice);
    let t_s = t.to_string();
    let mac = hex::encode(hmac_sha256(
        secret.as_bytes(),
        &[b"v0:", t_s.as_bytes(), b":", body],
    ));
    let header = format!("{}{mac}", mix_case("v0=", choice >> 4));
    let shouted = format!("v0={}", mac.to_ascii_uppercase());
    if shouted != format!("v0={mac}") {
        assert_eq!(
            run(&[&secret], &shouted, &t_s, body, at, swap),
            Err(InboundError::MalformedHeader("x-slack-signature".into()))
        );
    }
    assert_eq!(
        run(&[&other, &secret], &header, &t_s, body, at, swap),
        Ok(Verified {
            secret_index: Some(1)
        })
    );
    assert_eq!(
        run(&[&other], &header, &t_s, body, at, swap),
        Err(InboundError::NoMatch)
    );
    let late = run(&[&secret], &header, &t_s, body, t + TOL + 1, swap);
    assert!(
        matches!(late, Err(InboundError::TimestampOutOfTolerance { .. })),
        "{late:?}"
    );
    if let Some(changed) = tampered(body, choice) {
        assert_eq!(
            run(&[&secret], &header, &t_s, &changed, at, swap),
            Err(InboundError::NoMatch)
        );
    }
});
