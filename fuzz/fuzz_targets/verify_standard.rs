//! Standard Webhooks verification (`verify_inbound` with `Scheme::STANDARD`, and the
//! crate-level `verify_standard` / `verify`).
//!
//! Input: a choice byte, then lines `secret`, `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`, `now`; the rest is the body. The choice byte puts each of the three
//! values under its `webhook-` or its `svix-` name (any case).
//!
//! The inbound rules are the reference libraries' (`standardwebhooks`, `svix`), stated here
//! on their own: a secret is usable exactly when, after an optional `whsec_`, it is standard
//! base64 (padded or not) of at least one byte; each value is read from its `svix-` header
//! when there is one, else from its `webhook-` one.
//!
//! Checks: no panic; an unusable secret, and only that, is refused as a bad secret; every
//! secret herald's own `StandardKey::parse` takes is usable; an accepted request really
//! carries HMAC-SHA256(key, "id.ts.body") (computed here) within the tolerance, either
//! way; the inbound verifier and the crate-level one agree on the secrets both take; a
//! `webhook-` header next to a `svix-` one is never read. A message signed here (under a
//! key derived from the input, of any length, written with or without `whsec_` and
//! padding; herald's own signer gives the same entry whenever it takes the key), with the
//! fuzzer's signature entries before it, verifies, names the right secret of a rotation,
//! verifies at both edges of the tolerance and fails past either, or once a body byte
//! changes. With both families sent, the `svix-` values decide: decoys under the `webhook-`
//! names change nothing, and a decoy under one `svix-` name is what the request is judged
//! on.
#![no_main]

use base64::Engine;
use herald_fuzz::{
    hmac_sha256, mix_case, skew_within_tolerance, tampered, usable_timestamp, Fields, B64, B64_ANY_PAD,
    B64_NO_PAD, TOL,
};
use herald_signing::{
    standard_signature_header, verify, verify_inbound, verify_standard, InboundError, InboundRequest, Scheme,
    StandardHeaders, StandardKey, Verified,
};
use libfuzzer_sys::fuzz_target;

const SUFFIXES: [&str; 3] = ["id", "timestamp", "signature"];

/// The key a secret stands for under the inbound rules: an optional `whsec_`, then
/// standard base64 with or without its `=` padding, decoding to at least one byte.
fn inbound_key(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    B64_ANY_PAD.decode(b64).ok().filter(|k| !k.is_empty())
}

/// `v1,` + base64 of HMAC-SHA256(key, "id.ts.body").
fn entry(key: &[u8], id: &str, ts: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", B64.encode(mac))
}

/// The three header names of a family, each in a case the choice byte picks.
fn family(prefix: &str, choice: u8) -> [String; 3] {
    std::array::from_fn(|i| mix_case(&format!("{prefix}-{}", SUFFIXES[i]), choice >> i))
}

fn run(secrets: &[&str], headers: &[(&str, &str)], body: &[u8], now: i64) -> Result<Verified, InboundError> {
    let req = InboundRequest::post(headers, body);
    verify_inbound(&Scheme::STANDARD, secrets, &req, now, TOL)
}

/// Both families' headers (`svix-` first or last), the values in `SUFFIXES` order.
fn layout<'a>(
    svix_names: &'a [String; 3],
    webhook_names: &'a [String; 3],
    svix: [&'a str; 3],
    webhook: [&'a str; 3],
    svix_first: bool,
) -> Vec<(&'a str, &'a str)> {
    let s = pairs(svix_names, svix.map(Some));
    let w = pairs(webhook_names, webhook.map(Some));
    if svix_first {
        [s, w].concat()
    } else {
        [w, s].concat()
    }
}

/// Value `i` under the name of `names`, for the values that are `Some`.
fn pairs<'a>(names: &'a [String; 3], values: [Option<&'a str>; 3]) -> Vec<(&'a str, &'a str)> {
    names
        .iter()
        .zip(values)
        .filter_map(|(n, v)| Some((n.as_str(), v?)))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let choice = f.byte();
    let secret = f.text();
    let id = f.text();
    let ts = f.text();
    let sig = f.text();
    let now = f.int(1_700_000_000);
    let body = f.rest();
    if secret.starts_with("whpk_") {
        // A v1a public key, not a MAC key: `verify_presets` covers it.
        return;
    }

    let svix_names = family("svix", choice);
    let webhook_names = family("webhook", choice);
    // Bit 0 picks the family of all three, bits 5 to 7 flip it value by value.
    let in_svix: [bool; 3] = std::array::from_fn(|i| (choice & 1 == 1) ^ ((choice >> (5 + i)) & 1 == 1));
    let names: [String; 3] = std::array::from_fn(|i| {
        if in_svix[i] {
            svix_names[i].clone()
        } else {
            webhook_names[i].clone()
        }
    });

    // 1. Whatever the fuzzer sent.
    let headers = pairs(&names, [Some(id.as_str()), Some(ts.as_str()), Some(sig.as_str())]);
    let got = run(&[&secret], &headers, body, now);
    let key = inbound_key(&secret);
    assert_eq!(
        key.is_none(),
        matches!(got, Err(InboundError::BadSecret(_))),
        "secret {secret:?}: {got:?}"
    );
    if let Ok(v) = &got {
        assert_eq!(v.secret_index, Some(0));
        let t = ts.trim();
        assert!(
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()),
            "timestamp {t:?}"
        );
        let t: i64 = t.parse().unwrap();
        assert!(now.abs_diff(t) <= TOL as u64, "outside tolerance");
        let raw_key = key.as_deref().unwrap();
        let expected = hmac_sha256(
            raw_key,
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
    if let Ok(strict) = StandardKey::parse(&secret) {
        assert!(key.is_some(), "a secret herald issues is refused inbound");
        // The crate-level verifier, on the values as the inbound one reads them (trimmed).
        let trimmed = StandardHeaders {
            id: id.trim(),
            timestamp: ts.trim(),
            signature: sig.trim(),
        };
        let lib = verify_standard(trimmed, body, std::slice::from_ref(&strict), now, TOL);
        let plain_digits = !ts.trim().is_empty() && ts.trim().bytes().all(|b| b.is_ascii_digit());
        if plain_digits {
            assert_eq!(got.is_ok(), lib.is_ok(), "inbound {got:?} vs crate {lib:?}");
        } else {
            assert!(got.is_err());
        }
    }
    // `verify` with the default tolerance, on untrimmed values: must not panic.
    let _ = verify(&headers, body, &[&secret], now);
    // A `webhook-` header next to a `svix-` one is not read: decoys (a signature that
    // would verify were the `webhook-` headers read instead) change nothing.
    if in_svix.contains(&true) {
        let now_s = now.to_string();
        let read_id = if in_svix[0] { "decoy" } else { id.trim() };
        let read_ts = if in_svix[1] { now_s.as_str() } else { ts.trim() };
        let decoy_sig = match &key {
            Some(k) => entry(k, read_id, read_ts, body),
            None => "v1,AAAA".into(),
        };
        let decoys = [Some("decoy"), Some(now_s.as_str()), Some(decoy_sig.as_str())];
        let mut with_decoys = headers.clone();
        for (i, d) in decoys.into_iter().enumerate() {
            if in_svix[i] {
                let mut one = [None; 3];
                one[i] = d;
                with_decoys.extend(pairs(&webhook_names, one));
            }
        }
        assert_eq!(run(&[&secret], &with_decoys, body, now), got, "{with_decoys:?}");
    }

    // 2. A message signed here must verify.
    let good_raw: Vec<u8> = match &key {
        Some(k) => k.clone(),
        None if secret.is_empty() => vec![0x5a; 24],
        None => secret.bytes().cycle().take(1 + secret.len() % 64).collect(),
    };
    let good_secret = match &key {
        Some(_) => secret.clone(),
        None => {
            let prefix = if choice & 0x10 == 0 { "whsec_" } else { "" };
            let b64 = if choice & 0x08 == 0 {
                B64.encode(&good_raw)
            } else {
                B64_NO_PAD.encode(&good_raw)
            };
            format!("{prefix}{b64}")
        }
    };
    assert_eq!(
        inbound_key(&good_secret).as_ref(),
        Some(&good_raw),
        "{good_secret:?}"
    );
    let mut other_raw = good_raw.clone();
    other_raw[0] ^= 0xff;
    let other_secret = format!("whsec_{}", B64.encode(&other_raw));
    let t = usable_timestamp(now);
    let at = t + skew_within_tolerance(choice);
    let msg_id = id.trim();
    let t_s = t.to_string();
    let signed = entry(&good_raw, msg_id, &t_s, body);
    if let Ok(strict) = StandardKey::parse(&good_secret) {
        let herald = standard_signature_header(std::slice::from_ref(&strict), msg_id, t, body);
        assert_eq!(herald, signed, "herald's signer vs the MAC computed here");
    }
    // The fuzzer's own entries before ours: a rotation header still verifies.
    let sig_header = format!("{} {signed}", sig.trim());
    let ok_headers = pairs(&names, [Some(msg_id), Some(&t_s), Some(&sig_header)]);
    let ok = |i| {
        Ok(Verified {
            secret_index: Some(i),
        })
    };
    assert_eq!(run(&[&other_secret, &good_secret], &ok_headers, body, at), ok(1));
    assert_eq!(
        run(&[&other_secret], &ok_headers, body, at),
        Err(InboundError::NoMatch)
    );
    for edge in [t - TOL, t + TOL] {
        assert_eq!(run(&[&good_secret], &ok_headers, body, edge), ok(0), "now {edge}");
    }
    for skewed in [t + TOL + 1, t - TOL - 1] {
        let out = run(&[&good_secret], &ok_headers, body, skewed);
        assert!(
            matches!(out, Err(InboundError::TimestampOutOfTolerance { .. })),
            "now {skewed}: {out:?}"
        );
    }
    if let Some(changed) = tampered(body, choice) {
        // Only our entry: the fuzzer's own may be a real signature of the changed body
        // (it found the Standard Webhooks example this way).
        let ours_only = pairs(&names, [Some(msg_id), Some(&t_s), Some(&signed)]);
        assert_eq!(
            run(&[&good_secret], &ours_only, &changed, at),
            Err(InboundError::NoMatch)
        );
    }

    // 3. Both families: the `svix-` values decide, value by value.
    let decoy_id = format!("{msg_id}-decoy");
    let decoy_ts = (t + 1).to_string();
    let decoy_sig = entry(&other_raw, msg_id, &t_s, body);
    let good = [msg_id, t_s.as_str(), sig_header.as_str()];
    let decoy = [decoy_id.as_str(), decoy_ts.as_str(), decoy_sig.as_str()];
    let svix_first = choice & 0x04 == 0;
    let good_svix = layout(&svix_names, &webhook_names, good, decoy, svix_first);
    assert_eq!(run(&[&good_secret], &good_svix, body, at), ok(0), "{good_svix:?}");
    // One value's decoy under its `svix-` name, the good value under its `webhook-` one.
    let flip = usize::from(choice % 3);
    let mut svix = good;
    let mut webhook = decoy;
    svix[flip] = decoy[flip];
    webhook[flip] = good[flip];
    let mixed = layout(&svix_names, &webhook_names, svix, webhook, svix_first);
    let judged = run(&[&good_secret], &mixed, body, at);
    assert!(judged.is_err(), "{mixed:?}: {judged:?}");
    let svix_alone = pairs(&svix_names, svix.map(Some));
    assert_eq!(judged, run(&[&good_secret], &svix_alone, body, at), "{mixed:?}");
});
