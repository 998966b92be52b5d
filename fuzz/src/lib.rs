//! Helpers shared by the fuzz targets: splitting an input into fields, and independent
//! oracles (MACs computed here with the `hmac` crate, not with herald's code).
//!
//! Inputs are mostly text, one field per line, so that seed files are readable and
//! libFuzzer's mutations of a real header stay a header: `Fields` hands out the lines in
//! order (an exhausted input gives empty fields) and `rest` returns everything after them,
//! newlines included, for a body.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

/// The tolerance every timestamped verifier is run with.
pub const TOL: i64 = 300;

/// Standard base64 that accepts input with or without padding (what herald accepts for
/// Shopify, generic HMAC and Basic credentials).
pub const B64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64, padded, strict.
pub use base64::engine::general_purpose::STANDARD as B64;
/// Standard base64 without padding.
pub use base64::engine::general_purpose::STANDARD_NO_PAD as B64_NO_PAD;

/// Newline-separated fields of a fuzz input.
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// One raw byte from the front (0 when the input is exhausted), for choices.
    pub fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((b, rest)) => {
                self.rest = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next line's bytes, without its `\n`.
    pub fn bytes(&mut self) -> &'a [u8] {
        match self.rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                line
            }
            None => std::mem::take(&mut self.rest),
        }
    }

    /// The next line as text (invalid UTF-8 replaced).
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// The next line read as a whole number; anything else gives `default`.
    pub fn int(&mut self, default: i64) -> i64 {
        self.text().trim().parse().unwrap_or(default)
    }

    /// Everything not yet taken.
    pub fn rest(self) -> &'a [u8] {
        self.rest
    }
}

/// HMAC-SHA256 of the concatenated parts.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<sha2::Sha256>>(key, parts)
}

/// HMAC-SHA1 of the concatenated parts.
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<sha1::Sha1>>(key, parts)
}

/// HMAC-SHA512 of the concatenated parts.
pub fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<sha2::Sha512>>(key, parts)
}

fn mac<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// A timestamp herald's parsers accept (non-negative, at most 10 digits) derived from any
/// number, so round trips can start from whatever the fuzzer gave.
pub fn usable_timestamp(n: i64) -> i64 {
    n.rem_euclid(10_000_000_000)
}

/// A signed offset within the tolerance, derived from a byte.
pub fn skew_within_tolerance(b: u8) -> i64 {
    (i64::from(b) * (2 * TOL) / 255) - TOL
}

/// `s` with ASCII letters upper-cased where the matching bit of `mask` is set (cycling
/// through the mask), to check that case-insensitive parts are really case-insensitive.
pub fn mix_case(s: &str, mask: u8) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask.rotate_left(i as u32 % 8) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The body with one byte changed, or `None` for an empty body.
pub fn tampered(body: &[u8], at: u8) -> Option<Vec<u8>> {
    if body.is_empty() {
        return None;
    }
    let mut b = body.to_vec();
    let i = usize::from(at) % b.len();
    b[i] ^= 0x01;
    Some(b)
}

/// True when the secret passes herald's generic checks (not blank).
pub fn usable_secret(s: &str) -> bool {
    !s.trim().is_empty()
}
