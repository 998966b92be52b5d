//! The `Stripe-Signature` header parser: `t=<unix>,v1=<hex>[,v1=…][,v0=…]`.
//!
//! Input: the header value (any bytes, read as UTF-8 with replacement). The secret, body
//! and clock are fixed, and the seed corpus holds a valid header for them.
//!
//! Checks, against a model of the format as Stripe's libraries read it, written here: the
//! verifier's answer (Ok, no match, malformed, too old) is exactly the model's; entries of
//! other kinds (`v0`, unknown keys, items without `=`) and `v1` entries that are no
//! signature (bad hex, wrong length), appended or prepended, never change the answer.
#![no_main]

use herald_fuzz::{hmac_sha256, TOL};
use herald_signing::{verify_inbound, InboundError, InboundRequest, Scheme, Verified};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "whsec_test_secret";
const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
const NOW: i64 = 1_700_000_000;

#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    NoMatch,
    Malformed,
    Skewed,
}

fn verify(value: &str) -> Outcome {
    let headers = [("Stripe-Signature", value)];
    let req = InboundRequest::post(&headers, BODY);
    match verify_inbound(&Scheme::STRIPE, &[SECRET], &req, NOW, TOL) {
        Ok(Verified {
            secret_index: Some(0),
        }) => Outcome::Ok,
        Err(InboundError::NoMatch) => Outcome::NoMatch,
        Err(InboundError::MalformedHeader(h)) if h == "stripe-signature" => Outcome::Malformed,
        Err(InboundError::TimestampOutOfTolerance { tolerance_s: TOL, .. }) => Outcome::Skewed,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// The format, read independently: comma-separated `key=value` items (items without `=`
/// and unknown keys are ignored), exactly one `t` of plain digits, at most the tolerance
/// old (a `t` from the future is fine: Stripe checks the age only); each `v1` that is 32
/// bytes of hex is a candidate signature, any other `v1` is skipped; malformed when no
/// candidate is left.
fn model(value: &str) -> Outcome {
    let mut ts = Vec::new();
    let mut sigs = Vec::new();
    for item in value.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k {
            "t" => {
                let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                match v.parse::<i64>() {
                    Ok(t) if digits => ts.push(t),
                    _ => return Outcome::Malformed,
                }
            }
            "v1" => match hex::decode(v) {
                Ok(sig) if sig.len() == 32 => sigs.push(sig),
                _ => {}
            },
            _ => {}
        }
    }
    let [t] = ts[..] else { return Outcome::Malformed };
    // `t` is plain digits, so not negative: `NOW - t` cannot overflow.
    if NOW - t > TOL {
        return Outcome::Skewed;
    }
    if sigs.is_empty() {
        return Outcome::Malformed;
    }
    let want = hmac_sha256(SECRET.as_bytes(), &[format!("{t}.").as_bytes(), BODY]);
    if sigs.contains(&want) {
        Outcome::Ok
    } else {
        Outcome::NoMatch
    }
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let got = verify(&value);
    assert_eq!(got, model(&value), "{value:?}");
    for extra in [
        format!("{value},v0=00ff"),
        format!("x=1,{value}"),
        format!("{value},novalue"),
        format!("{value},v1=zz"),
        format!("v1=00ff,{value}"),
        format!("{value},v1={}", "ab".repeat(33)),
    ] {
        assert_eq!(verify(&extra), got, "{extra:?}");
    }
});
