//! Property tests: for any key, id, time and body, signing then verifying succeeds, any
//! single changed byte fails, and the timestamp tolerance is exact at its boundaries
//! (either way, except for Stripe, which checks the age only).

use base64::Engine;
use hmac::Mac;
use proptest::prelude::*;

use crate::inbound::{verify_inbound, InboundError, InboundRequest, Scheme};
use crate::{standard_signature_header, verify_standard, StandardHeaders, StandardKey, VerifyError};

const TOL: i64 = 300;

fn hex_mac(secret: &[u8], data: &[u8]) -> String {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    m.update(data);
    hex::encode(m.finalize().into_bytes())
}

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 24..=64)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn standard_round_trips_and_detects_any_changed_byte(
        key in key_bytes(), id in "[a-z0-9_]{1,32}", ts in 0i64..4_000_000_000, body in body(), flip in any::<prop::sample::Index>()
    ) {
        let k = StandardKey::parse(&StandardKey::encode(&key).unwrap()).unwrap();
        let sig = standard_signature_header(std::slice::from_ref(&k), &id, ts, &body);
        let ts_s = ts.to_string();
        let h = StandardHeaders { id: &id, timestamp: &ts_s, signature: &sig };
        prop_assert_eq!(verify_standard(h, &body, std::slice::from_ref(&k), ts, TOL), Ok(()));
        let mut changed = body.clone();
        let i = flip.index(changed.len());
        changed[i] ^= 0x01;
        prop_assert_eq!(verify_standard(h, &changed, std::slice::from_ref(&k), ts, TOL), Err(VerifyError::NoMatch));
    }

    #[test]
    fn standard_tolerance_is_exact(key in key_bytes(), ts in 1_000_000i64..4_000_000_000, body in body()) {
        let k = StandardKey::parse(&StandardKey::encode(&key).unwrap()).unwrap();
        let sig = k.sign("msg", ts, &body);
        let ts_s = ts.to_string();
        let h = StandardHeaders { id: "msg", timestamp: &ts_s, signature: &sig };
        for now in [ts - TOL, ts + TOL] {
            prop_assert_eq!(verify_standard(h, &body, std::slice::from_ref(&k), now, TOL), Ok(()));
        }
        for now in [ts - TOL - 1, ts + TOL + 1] {
            prop_assert_eq!(verify_standard(h, &body, std::slice::from_ref(&k), now, TOL), Err(VerifyError::TimestampOutOfTolerance(TOL)));
        }
    }

    #[test]
    fn stripe_round_trips_with_exact_tolerance(
        secret in "whsec_[A-Za-z0-9]{8,40}", t in 1_000_000i64..4_000_000_000, body in body(), flip in any::<prop::sample::Index>()
    ) {
        let sig = format!("t={t},v1={}", hex_mac(secret.as_bytes(), &[format!("{t}.").as_bytes(), &body].concat()));
        let headers = [("Stripe-Signature", sig.as_str())];
        let req = InboundRequest::post(&headers, &body);
        // Stripe checks the age only: any timestamp from the future is accepted.
        for now in [t, t - TOL, t + TOL, t - TOL - 1, 0] {
            prop_assert!(verify_inbound(&Scheme::STRIPE, &[&secret], &req, now, TOL).is_ok());
        }
        let out_of_tolerance = matches!(
            verify_inbound(&Scheme::STRIPE, &[&secret], &req, t + TOL + 1, TOL),
            Err(InboundError::TimestampOutOfTolerance { .. })
        );
        prop_assert!(out_of_tolerance);
        let mut changed = body.clone();
        let i = flip.index(changed.len());
        changed[i] = changed[i].wrapping_add(1);
        let bad = InboundRequest::post(&headers, &changed);
        prop_assert_eq!(verify_inbound(&Scheme::STRIPE, &[&secret], &bad, t, TOL), Err(InboundError::NoMatch));
    }

    #[test]
    fn github_shopify_and_slack_round_trip_and_detect_changes(
        secret in "[ -~]{1,40}", t in 1_000_000i64..4_000_000_000, body in body(), flip in any::<prop::sample::Index>()
    ) {
        prop_assume!(!secret.trim().is_empty());
        let mac = |data: &[u8]| {
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        };
        let gh = format!("sha256={}", hex::encode(mac(&body)));
        let shop = base64::engine::general_purpose::STANDARD.encode(mac(&body));
        let slack = format!("v0={}", hex::encode(mac(&[format!("v0:{t}:").as_bytes(), &body].concat())));
        let ts = t.to_string();
        let cases: [(Scheme, Vec<(&str, &str)>); 3] = [
            (Scheme::GITHUB, vec![("X-Hub-Signature-256", gh.as_str())]),
            (Scheme::SHOPIFY, vec![("X-Shopify-Hmac-Sha256", shop.as_str())]),
            (Scheme::SLACK, vec![("X-Slack-Signature", slack.as_str()), ("X-Slack-Request-Timestamp", ts.as_str())]),
        ];
        let mut changed = body.clone();
        let i = flip.index(changed.len());
        changed[i] ^= 0x80;
        for (scheme, headers) in &cases {
            let ok = InboundRequest::post(headers, &body);
            prop_assert!(verify_inbound(scheme, &[&secret], &ok, t, TOL).is_ok(), "{:?}", scheme);
            let bad = InboundRequest::post(headers, &changed);
            prop_assert_eq!(verify_inbound(scheme, &[&secret], &bad, t, TOL), Err(InboundError::NoMatch));
        }
    }
}
