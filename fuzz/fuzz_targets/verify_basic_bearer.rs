//! Basic and Bearer credentials (`verify_inbound` with `Scheme::BASIC` / `Scheme::BEARER`).
//!
//! Input: a choice byte (bit 0: Basic or Bearer), then a line of secrets separated by tabs,
//! then the `Authorization` value.
//!
//! Checks: no panic; Basic refuses secrets without `:`, Bearer tokens that no header value
//! could carry; an accepted request names the
//! first secret equal to the credentials it carries (decoded here for Basic); credentials
//! built here from each secret (any case of the scheme word, one or more spaces, base64
//! with or without padding) are accepted and name that secret.
#![no_main]

use base64::Engine;
use herald_fuzz::{mix_case, Fields, B64, B64_ANY_PAD, B64_NO_PAD};
use herald_signing::{verify_inbound, InboundError, InboundRequest, Scheme, Verified};
use libfuzzer_sys::fuzz_target;

fn run(scheme: &Scheme, secrets: &[&str], value: &str) -> Result<Verified, InboundError> {
    let headers = [("Authorization", value)];
    let req = InboundRequest::post(&headers, b"");
    verify_inbound(scheme, secrets, &req, 0, 300)
}

/// A bearer token can be sent as a header value: visible ASCII, inner spaces and tabs
/// (values arrive trimmed).
fn sendable_token(s: &str) -> bool {
    s.trim() == s && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
}

/// What the credentials part of an Authorization value is, parsed here.
fn credentials<'a>(value: &'a str, word: &str) -> Option<&'a str> {
    let v = value.trim();
    let head = v.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    let rest = &v[word.len()..];
    let creds = rest.trim_start_matches(' ');
    (creds.len() < rest.len() && !creds.is_empty()).then_some(creds)
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let line = f.text();
    let value = f.text();
    let basic = choice & 1 == 0;
    let (scheme, word) = if basic {
        (Scheme::BASIC, "Basic")
    } else {
        (Scheme::BEARER, "Bearer")
    };
    let secrets: Vec<&str> = line.split('\t').collect();

    // 1. Whatever the fuzzer sent.
    let got = run(&scheme, &secrets, &value);
    let usable = secrets.iter().all(|s| {
        !s.trim().is_empty()
            && match basic {
                true => s.contains(':'),
                false => sendable_token(s),
            }
    });
    if !usable {
        assert!(matches!(got, Err(InboundError::BadSecret(_))), "{got:?}");
        return;
    }
    if let Ok(v) = &got {
        let creds = credentials(&value, word).expect("accepted a malformed Authorization");
        let given: Vec<u8> = if basic {
            B64_ANY_PAD.decode(creds).expect("accepted bad base64")
        } else {
            creds.as_bytes().to_vec()
        };
        let first = secrets.iter().position(|s| s.as_bytes() == given);
        assert_eq!(v.secret_index, first, "accepted credentials that are no secret");
    }

    // 2. Credentials built from each of the first eight secrets are accepted (each check
    // tries every secret).
    for (i, secret) in secrets.iter().enumerate().take(8) {
        let first = secrets.iter().position(|s| s == secret);
        let spaces = " ".repeat(1 + usize::from(choice >> 6));
        let creds = if basic {
            if choice & 2 == 0 {
                B64.encode(secret)
            } else {
                B64_NO_PAD.encode(secret)
            }
        } else {
            secret.to_string()
        };
        let value = format!("{}{spaces}{creds}", mix_case(word, choice.rotate_left(i as u32)));
        assert_eq!(
            run(&scheme, &secrets, &value),
            Ok(Verified { secret_index: first }),
            "{value:?}"
        );
    }
});
