//! The generic HMAC scheme ([`Scheme::Hmac`](super::Scheme::Hmac)), and the MAC and
//! encoding helpers the provider schemes share.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, match_any, HmacAlgorithm, HmacSpec, InboundError, SigEncoding, Verified};

/// The generic HMAC, described as a preset for the catalogue (its settings are the
/// source's own; this verifies with the defaults).
pub(crate) const PRESET: Preset = Preset {
    name: "hmac",
    provider: "any (generic HMAC)",
    checks: "one header (default X-Signature) = optional prefix + hex or base64 HMAC (sha1, sha256 or sha512) of the body",
    secret: "the shared secret",
    secret_kind: SecretKind::Shared,
    signature_headers: &["x-signature"],
    clock: Clock::Unsigned,
    tolerance_s: 300,
    signs_url: false,
    signs_body: true,
    event_type: "const:webhook",
    dedupe: None,
    type_prefix: None,
    handshake: None,
    reference: "settings: header, algorithm, encoding, prefix",
    verify: |c| verify(&HmacSpec::default(), c),
    check_secret: any_secret,
};

/// A header carrying one MAC: `prefix` (any case) + encode(MAC).
pub(crate) struct SignedHeader {
    pub name: &'static str,
    pub prefix: &'static str,
    pub algorithm: HmacAlgorithm,
    pub encoding: SigEncoding,
    /// Hex in lower case only (the provider's library compares the text).
    pub lower_hex: bool,
}

impl SignedHeader {
    /// The MAC the request carries in this header: missing, duplicated or not a MAC of the
    /// algorithm → refused.
    pub fn given(&self, c: &Check<'_>) -> Result<Vec<u8>, InboundError> {
        let found = header(c.headers(), &[self.name])?;
        strip_prefix_ignore_case(found.value, self.prefix)
            .filter(|text| !(self.lower_hex && text.bytes().any(|b| b.is_ascii_uppercase())))
            .and_then(|text| decode(self.encoding, text))
            .filter(|mac| mac.len() == self.algorithm.output_len())
            .ok_or_else(|| found.malformed())
    }
}

/// The schemes that sign the body alone, keyed with the secret's UTF-8 bytes (GitHub,
/// Meta, Intercom, Linear…).
pub(crate) fn body_signature(c: &Check<'_>, signed: &SignedHeader) -> Result<Verified, InboundError> {
    let given = signed.given(c)?;
    match_any(c.secrets, &[given], |secret| {
        mac(signed.algorithm, secret.as_bytes(), &[c.body()])
    })
}

/// Standard-alphabet base64 that accepts the value with or without its `=` padding.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// HMAC of the concatenation of `parts`, keyed with `key`.
pub(crate) fn mac(algorithm: HmacAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        HmacAlgorithm::Sha1 => run::<Hmac<Sha1>>(key, parts),
        HmacAlgorithm::Sha256 => run::<Hmac<Sha256>>(key, parts),
        HmacAlgorithm::Sha512 => run::<Hmac<Sha512>>(key, parts),
    }
}

/// HMAC-SHA256 keyed with a secret's UTF-8 bytes: what Stripe, GitHub, Shopify and Slack
/// all use.
pub(crate) fn sha256(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    mac(HmacAlgorithm::Sha256, secret.as_bytes(), parts)
}

/// Decodes a signature written in `encoding` (hex in either case, base64 with or without
/// padding); `None` when it is not valid in that encoding.
pub(crate) fn decode(encoding: SigEncoding, text: &str) -> Option<Vec<u8>> {
    match encoding {
        SigEncoding::Hex => hex::decode(text).ok(),
        SigEncoding::Base64 => BASE64.decode(text).ok(),
    }
}

/// `value` without `prefix`, compared ASCII-case-insensitively; `None` when it is absent.
pub(crate) fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &value[prefix.len()..])
}

/// Refuses settings that could never match a request.
pub(super) fn validate_spec(spec: &HmacSpec) -> Result<(), InboundError> {
    match spec.header_problem().or_else(|| spec.prefix_problem()) {
        Some(why) => Err(InboundError::BadScheme(why.to_string())),
        None => Ok(()),
    }
}

impl HmacSpec {
    /// Why `header` cannot name a request header, if it cannot.
    pub fn header_problem(&self) -> Option<&'static str> {
        let valid = !self.header.is_empty()
            && self
                .header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        (!valid).then_some("the generic HMAC header name is empty or not a valid HTTP header name")
    }

    /// Why `prefix` could never start a header value, if it could not: values arrive
    /// trimmed and in visible ASCII, spaces and tabs (RFC 9110 5.5).
    pub fn prefix_problem(&self) -> Option<&'static str> {
        let prefix = self.prefix.as_deref()?;
        (!super::sendable_in_header(prefix))
            .then_some("the generic HMAC prefix must be visible ASCII and cannot start with a space")
    }
}

/// `spec.header` = `spec.prefix` + encode(HMAC(secret as UTF-8, body)).
pub(super) fn verify(spec: &HmacSpec, c: &Check<'_>) -> Result<Verified, InboundError> {
    let found = header(c.headers(), &[spec.header.as_str()])?;
    let mut value = found.value;
    if let Some(prefix) = spec.prefix.as_deref().filter(|p| !p.is_empty()) {
        value = strip_prefix_ignore_case(value, prefix).ok_or_else(|| found.malformed())?;
    }
    let given = decode(spec.encoding, value.trim()).ok_or_else(|| found.malformed())?;
    // A signature of another length was made with another algorithm: say so rather than
    // report a mere mismatch.
    if given.len() != spec.algorithm.output_len() {
        return Err(found.malformed());
    }
    match_any(c.secrets, &[given], |secret| {
        mac(spec.algorithm, secret.as_bytes(), &[c.body()])
    })
}

#[cfg(test)]
mod tests {
    use super::super::{verify_inbound, InboundRequest, Scheme};
    use super::*;

    // RFC 2202 / RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    const KEY: &str = "Jefe";
    const DATA: &[u8] = b"what do ya want for nothing?";
    const SHA1_HEX: &str = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
    const SHA256_HEX: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    // The RFC 4231 SHA-512 value, base64-encoded.
    const SHA512_B64: &str =
        "Fkt6e/z4GeLjlfvnO1bgo4e9ZCIugx/WECcM1+olBVSXWL91wFqZSm0DT2X48Ob9yuqxo01Ka0tjbgcKOLznNw==";

    fn check(
        spec: &HmacSpec,
        headers: &[(&str, &str)],
        body: &[u8],
        secrets: &[&str],
    ) -> Result<Verified, InboundError> {
        let req = InboundRequest::post(headers, body);
        verify_inbound(&Scheme::Hmac(spec.clone()), secrets, &req, 0, 300)
    }

    #[test]
    fn default_is_hex_sha256_in_x_signature() {
        let spec = HmacSpec::default();
        let ok = Ok(Verified {
            secret_index: Some(0),
        });
        assert_eq!(check(&spec, &[("X-Signature", SHA256_HEX)], DATA, &[KEY]), ok);
        let upper = SHA256_HEX.to_uppercase();
        assert_eq!(check(&spec, &[("x-signature", &upper)], DATA, &[KEY]), ok);
        assert_eq!(
            check(
                &spec,
                &[("x-signature", SHA256_HEX)],
                b"what do ya want for nothing!",
                &[KEY]
            ),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            check(&spec, &[("x-signature", "zz")], DATA, &[KEY]),
            Err(InboundError::MalformedHeader("x-signature".into()))
        );
        assert_eq!(
            check(&spec, &[], DATA, &[KEY]),
            Err(InboundError::MissingHeader("x-signature".into()))
        );
        let dup = [("x-signature", SHA256_HEX), ("X-Signature", SHA256_HEX)];
        assert_eq!(
            check(&spec, &dup, DATA, &[KEY]),
            Err(InboundError::DuplicateHeader("x-signature".into()))
        );
        assert_eq!(
            check(&spec, &[("x-signature", SHA256_HEX)], DATA, &["old", KEY]),
            Ok(Verified {
                secret_index: Some(1)
            })
        );
    }

    #[test]
    fn sha1_hex_with_a_required_prefix() {
        let spec = HmacSpec {
            header: "X-Hub-Signature".into(),
            algorithm: HmacAlgorithm::Sha1,
            encoding: SigEncoding::Hex,
            prefix: Some("sha1=".into()),
        };
        let signed = format!("sha1={SHA1_HEX}");
        assert_eq!(
            check(&spec, &[("x-hub-signature", &signed)], DATA, &[KEY]),
            Ok(Verified {
                secret_index: Some(0)
            })
        );
        let shouted = format!("SHA1={SHA1_HEX}");
        assert!(check(&spec, &[("x-hub-signature", &shouted)], DATA, &[KEY]).is_ok());
        assert_eq!(
            check(&spec, &[("x-hub-signature", SHA1_HEX)], DATA, &[KEY]),
            Err(InboundError::MalformedHeader("x-hub-signature".into()))
        );
        assert_eq!(
            check(&spec, &[("x-hub-signature", &signed)], DATA, &["Jeff"]),
            Err(InboundError::NoMatch)
        );
    }

    #[test]
    fn sha512_base64_with_or_without_padding() {
        let spec = HmacSpec {
            algorithm: HmacAlgorithm::Sha512,
            encoding: SigEncoding::Base64,
            ..HmacSpec::default()
        };
        assert!(check(&spec, &[("x-signature", SHA512_B64)], DATA, &[KEY]).is_ok());
        let unpadded = SHA512_B64.trim_end_matches('=');
        assert!(check(&spec, &[("x-signature", unpadded)], DATA, &[KEY]).is_ok());
        assert_eq!(
            check(&spec, &[("x-signature", SHA512_B64)], b"x", &[KEY]),
            Err(InboundError::NoMatch)
        );
        assert_eq!(
            check(&spec, &[("x-signature", "not base64!")], DATA, &[KEY]),
            Err(InboundError::MalformedHeader("x-signature".into()))
        );
    }

    #[test]
    fn a_signature_of_another_algorithm_is_reported_as_malformed() {
        let spec = HmacSpec::default();
        assert_eq!(
            check(&spec, &[("x-signature", SHA1_HEX)], DATA, &[KEY]),
            Err(InboundError::MalformedHeader("x-signature".into()))
        );
    }

    #[test]
    fn the_header_name_must_be_usable() {
        for bad in ["", "x signature", "x-sig:"] {
            let spec = HmacSpec {
                header: bad.into(),
                ..HmacSpec::default()
            };
            assert!(
                matches!(check(&spec, &[], DATA, &[KEY]), Err(InboundError::BadScheme(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_prefix_that_could_never_match_is_refused() {
        for bad in [" sha256=", "\tsha256=", "sha256=\u{7f}", "é="] {
            let spec = HmacSpec {
                prefix: Some(bad.into()),
                ..HmacSpec::default()
            };
            assert!(
                matches!(check(&spec, &[], DATA, &[KEY]), Err(InboundError::BadScheme(_))),
                "{bad:?}"
            );
        }
        let spaced = HmacSpec {
            prefix: Some("v1 sig=".into()),
            ..HmacSpec::default()
        };
        assert_eq!(validate_spec(&spaced), Ok(()), "inner spaces can be sent");
    }

    #[test]
    fn prefix_stripping_is_boundary_safe() {
        assert_eq!(strip_prefix_ignore_case("Sha256=ab", "sha256="), Some("ab"));
        assert_eq!(strip_prefix_ignore_case("é", "e="), None);
        assert_eq!(strip_prefix_ignore_case("", "v0="), None);
    }
}
