//! Stripe verification (`verify_inbound` with `Scheme::STRIPE`).
//!
//! Input: a choice byte, then lines `secret`, `Stripe-Signature` value, `now`; the rest is
//! the body.
//!
//! Checks: no panic; an accepted request carries one `t` at most the tolerance old (Stripe
//! checks the age only: any future `t` is fine) and a `v1` equal to
//! hex(HMAC-SHA256(secret, "t.body")) computed here; a header signed here (with `v0`,
//! unknown entries, a stale `v1` and `v1` entries that are no signature at all — bad hex,
//! too short, too long — around the right one, any hex case, optional spaces) verifies,
//! names the right secret of a rotation, verifies at the edge of the tolerance and at any
//! time before `t`, and fails on a changed body or once `t` is more than the tolerance old.
#![no_main]

use herald_fuzz::{
    hmac_sha256, skew_within_tolerance, tampered, usable_secret, usable_timestamp, Fields, TOL,
};
use herald_signing::{verify_inbound, InboundError, InboundRequest, Scheme, Verified};
use libfuzzer_sys::fuzz_target;

fn run(secrets: &[&str], value: &str, body: &[u8], now: i64) -> Result<Verified, InboundError> {
    let headers = [("Stripe-Signature", value)];
    let req = InboundRequest::post(&headers, body);
    verify_inbound(&Scheme::STRIPE, secrets, &req, now, TOL)
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let secret = f.text();
    let value = f.text();
    let now = f.int(1_700_000_000);
    let body = f.rest();

    // 1. Whatever the fuzzer sent.
    let got = run(&[&secret], &value, body, now);
    if !usable_secret(&secret) {
        assert!(matches!(got, Err(InboundError::BadSecret(_))), "{got:?}");
    }
    if let Ok(v) = &got {
        assert_eq!(v.secret_index, Some(0));
        let items: Vec<(&str, &str)> = value
            .split(',')
            .filter_map(|i| i.trim().split_once('='))
            .collect();
        let ts: Vec<i64> = items
            .iter()
            .filter(|(k, _)| *k == "t")
            .map(|(_, v)| v.trim().parse().expect("accepted a bad t"))
            .collect();
        assert_eq!(ts.len(), 1, "accepted with {} timestamps", ts.len());
        let t = ts[0];
        // The age only, computed without overflow; a negative age (the future) is fine.
        assert!(
            i128::from(now) - i128::from(t) <= i128::from(TOL),
            "accepted a t more than the tolerance old"
        );
        let expected = hmac_sha256(secret.as_bytes(), &[format!("{t}.").as_bytes(), body]);
        let carried = items
            .iter()
            .filter(|(k, _)| *k == "v1")
            .any(|(_, v)| hex::decode(v.trim()).ok().as_deref() == Some(&expected[..]));
        assert!(carried, "accepted without a matching v1");
    }

    // 2. A header signed here must verify.
    let secret = if usable_secret(&secret) {
        secret
    } else {
        "whsec_fallback".to_string()
    };
    let other = format!("{secret}-old");
    let t = usable_timestamp(now);
    let at = t + skew_within_tolerance(choice);
    let mac = hex::encode(hmac_sha256(
        secret.as_bytes(),
        &[format!("{t}.").as_bytes(), body],
    ));
    let gone = format!("{secret}-gone");
    let stale = hex::encode(hmac_sha256(gone.as_bytes(), &[format!("{t}.").as_bytes(), body]));
    let mac = if choice & 1 == 1 { mac.to_uppercase() } else { mac };
    let sep = if choice & 2 == 2 { ", " } else { "," };
    let header = match (choice >> 2) % 4 {
        0 => format!("t={t}{sep}v1={mac}"),
        1 => format!("v1={stale}{sep}t={t}{sep}v1={mac}{sep}v0={stale}"),
        2 => format!("v0=zz{sep}x=1{sep}noequals{sep}v1=zz{sep}t={t}{sep}v1={mac}"),
        // `v1` entries that are no signature (too short, too long) are skipped, not fatal.
        _ => format!("v1={}{sep}v1={mac}{sep}t={t}{sep}v1={mac}00", &mac[..32]),
    };
    assert_eq!(
        run(&[&other, &secret], &header, body, at),
        Ok(Verified {
            secret_index: Some(1)
        }),
        "{header}"
    );
    let ok = Ok(Verified {
        secret_index: Some(0),
    });
    // At the edge of the tolerance, and from the future however far (the clock at zero or
    // far before `t`): accepted.
    for clock in [
        t + TOL,
        t - TOL - 1,
        t - TOL - 1 - i64::from(choice) * 86_400,
        0,
        i64::MIN,
    ] {
        assert_eq!(run(&[&secret], &header, body, clock), ok, "now {clock}: {header}");
    }
    let late = run(&[&secret], &header, body, t + TOL + 1);
    assert!(
        matches!(
            late,
            Err(InboundError::TimestampOutOfTolerance { tolerance_s: TOL, .. })
        ),
        "{late:?}"
    );
    if let Some(changed) = tampered(body, choice) {
        assert_eq!(run(&[&secret], &header, &changed, at), Err(InboundError::NoMatch));
    }
});
