//! The `webhook-signature` header parser: space-separated `v1,<base64>` entries.
//!
//! Input: the header value (any bytes, read as UTF-8 with replacement). Everything else is
//! fixed: the Standard Webhooks specification's example secret, id, timestamp and body, so
//! the example's signature in the seed corpus is a valid header to mutate from.
//!
//! Checks, against a model written here: the value is accepted exactly when one of its
//! entries is `v1,` + base64 of the expected MAC; the inbound verifier calls a value with no
//! `v1,` (or `v1a,`) entry malformed and otherwise agrees with the crate-level verifier;
//! appending a junk entry never changes the answer and appending the right entry always
//! makes it Ok.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use herald_fuzz::{hmac_sha256, B64};
use herald_signing::{
    verify_inbound, verify_standard, InboundError, InboundRequest, Scheme, StandardHeaders, StandardKey,
    Verified,
};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: i64 = 1614265330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;

fn expected() -> &'static (Vec<u8>, String) {
    static E: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    E.get_or_init(|| {
        let key = B64.decode(SECRET.strip_prefix("whsec_").unwrap()).unwrap();
        let mac = hmac_sha256(
            &key,
            &[ID.as_bytes(), b".", TS.to_string().as_bytes(), b".", BODY],
        );
        let entry = format!("v1,{}", B64.encode(&mac));
        (mac, entry)
    })
}

fn inbound(value: &str) -> Result<Verified, InboundError> {
    let ts = TS.to_string();
    let headers = [
        ("webhook-id", ID),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", value),
    ];
    let req = InboundRequest::post(&headers, BODY);
    verify_inbound(&Scheme::STANDARD, &[SECRET], &req, TS, 300)
}

fn lib_ok(value: &str) -> bool {
    let key = StandardKey::parse(SECRET).unwrap();
    let ts = TS.to_string();
    let h = StandardHeaders {
        id: ID,
        timestamp: &ts,
        signature: value,
    };
    verify_standard(h, BODY, &[key], TS, 300).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let (mac, entry) = expected();

    // The model: entries split on single spaces; `v1,` then standard base64.
    let model = |v: &str| {
        v.split(' ')
            .filter_map(|e| e.strip_prefix("v1,"))
            .any(|b| B64.decode(b).ok().as_ref() == Some(mac))
    };
    let lib = lib_ok(&value);
    assert_eq!(lib, model(&value), "crate-level verifier vs model on {value:?}");

    let got = inbound(&value);
    let trimmed = value.trim();
    let signed = |v: &str| v.split(' ').any(|e| e.starts_with("v1,") || e.starts_with("v1a,"));
    if !signed(trimmed) {
        assert_eq!(
            got,
            Err(InboundError::MalformedHeader("webhook-signature".into()))
        );
    } else if model(trimmed) {
        assert_eq!(
            got,
            Ok(Verified {
                secret_index: Some(0)
            })
        );
    } else {
        assert_eq!(got, Err(InboundError::NoMatch));
    }
    assert_eq!(lib_ok(trimmed), got.is_ok());

    // Metamorphic: a junk entry changes nothing, the right entry always wins.
    let junk = format!("{trimmed} v1,AAAA");
    let with_junk = inbound(&junk);
    if got.is_ok() || signed(trimmed) {
        assert_eq!(with_junk, got);
    } else {
        assert_eq!(with_junk, Err(InboundError::NoMatch));
    }
    assert_eq!(
        inbound(&format!("{trimmed} {entry}")),
        Ok(Verified {
            secret_index: Some(0)
        })
    );
    assert_eq!(
        inbound(&format!("{entry} {trimmed}")),
        Ok(Verified {
            secret_index: Some(0)
        })
    );
});
