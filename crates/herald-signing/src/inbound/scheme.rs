//! The verification schemes a source can use, their names and the headers they read.

use std::fmt;
use std::str::FromStr;

use super::preset::{Preset, SecretKind};

/// How an inbound request proves where it comes from: a provider's [`Preset`] (see
/// [`super::catalogue`] for the list), or a generic HMAC with its own settings.
///
/// Header names are matched case-insensitively. A header a preset reads that is sent twice
/// is refused. "Tolerance" means the signed timestamp must be within `tolerance_s` of now
/// (a timestamp exactly `tolerance_s` away is accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    Preset(&'static Preset),
    /// A generic HMAC of the body in one header; see [`HmacSpec`].
    Hmac(HmacSpec),
}

/// The settings of [`Scheme::Hmac`]: `header` carries `prefix` + encode(HMAC-algorithm(
/// secret as UTF-8, body)). The default is `x-signature`, SHA-256, hex, no prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacSpec {
    /// The header holding the signature (any case).
    pub header: String,
    pub algorithm: HmacAlgorithm,
    pub encoding: SigEncoding,
    /// A prefix such as `sha256=` that must start the header value (compared
    /// case-insensitively) and is stripped before decoding.
    pub prefix: Option<String>,
}

impl Default for HmacSpec {
    fn default() -> Self {
        Self {
            header: "x-signature".to_string(),
            algorithm: HmacAlgorithm::default(),
            encoding: SigEncoding::default(),
            prefix: None,
        }
    }
}

/// The hash of a generic HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HmacAlgorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

/// How a generic HMAC signature is written: hex (either case) or standard base64
/// (padding optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigEncoding {
    #[default]
    Hex,
    Base64,
}

/// A name that is not one of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{given}`; expected one of: {expected}")]
pub struct UnknownName {
    /// What was being named ("verification scheme", "HMAC algorithm", "signature encoding").
    pub kind: &'static str,
    pub given: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

impl Scheme {
    pub const STANDARD: Scheme = Scheme::Preset(&super::standard::STANDARD);
    pub const STRIPE: Scheme = Scheme::Preset(&super::stripe::PRESET);
    pub const GITHUB: Scheme = Scheme::Preset(&super::github::PRESET);
    pub const SHOPIFY: Scheme = Scheme::Preset(&super::shopify::PRESET);
    pub const SLACK: Scheme = Scheme::Preset(&super::slack::PRESET);
    pub const BASIC: Scheme = Scheme::Preset(&super::auth::BASIC);
    pub const BEARER: Scheme = Scheme::Preset(&super::auth::BEARER);
    pub const NONE: Scheme = Scheme::Preset(&super::auth::NONE);

    /// The preset: the provider's, or for [`Scheme::Hmac`] the generic HMAC's description.
    pub fn preset(&self) -> &'static Preset {
        match self {
            Self::Preset(p) => p,
            Self::Hmac(_) => &super::hmac::PRESET,
        }
    }

    /// The scheme's name, as [`parse_scheme`] reads it.
    pub fn name(&self) -> &'static str {
        self.preset().name
    }

    /// True for the schemes that sign a timestamp, where the tolerance applies.
    pub fn is_timestamped(&self) -> bool {
        self.preset().is_timestamped()
    }

    /// True for [`Scheme::NONE`], which checks nothing.
    pub fn checks_nothing(&self) -> bool {
        self.preset().secret_kind == SecretKind::Nothing
    }

    /// See [`signature_headers`].
    pub fn signature_headers(&self) -> Vec<&str> {
        signature_headers(self)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_scheme(s)
    }
}

/// Maps a scheme name (case-insensitive) to its [`Scheme`]; `hmac` gets the default
/// [`HmacSpec`], which the caller may then adjust.
pub fn parse_scheme(name: &str) -> Result<Scheme, UnknownName> {
    let wanted = name.trim().to_ascii_lowercase();
    if wanted == super::hmac::PRESET.name {
        return Ok(Scheme::Hmac(HmacSpec::default()));
    }
    super::catalogue::find(&wanted)
        .map(Scheme::Preset)
        .ok_or_else(|| UnknownName {
            kind: "verification scheme",
            given: name.to_string(),
            expected: super::catalogue::names().join(", "),
        })
}

/// The headers that carry a scheme's signature or credentials: the ones a server should
/// redact before storing or showing a request. Names are in lower case, except a generic
/// HMAC header, given as configured; compare them case-insensitively. Every name a scheme
/// may read its signature from is listed (`svix-signature` and `webhook-signature`;
/// `x-shopify-hmac-sha256` and `shopify-hmac-sha256`). (The other headers a scheme reads,
/// ids and timestamps, are not secret.)
pub fn signature_headers(scheme: &Scheme) -> Vec<&str> {
    match scheme {
        Scheme::Hmac(spec) => vec![spec.header.as_str()],
        Scheme::Preset(p) => p.signature_headers.to_vec(),
    }
}

impl HmacAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// The length of the MAC in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

impl fmt::Display for HmacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HmacAlgorithm {
    type Err = UnknownName;

    /// `sha1`, `sha256`, `sha512` (any case, a dash allowed: `SHA-256`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha512" => Ok(Self::Sha512),
            _ => Err(UnknownName {
                kind: "HMAC algorithm",
                given: s.to_string(),
                expected: "sha1, sha256, sha512".into(),
            }),
        }
    }
}

impl SigEncoding {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hex => "hex",
            Self::Base64 => "base64",
        }
    }
}

impl fmt::Display for SigEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SigEncoding {
    type Err = UnknownName;

    /// `hex` or `base64` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hex" => Ok(Self::Hex),
            "base64" => Ok(Self::Base64),
            _ => Err(UnknownName {
                kind: "signature encoding",
                given: s.to_string(),
                expected: "hex, base64".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for name in super::super::catalogue::names() {
            let scheme: Scheme = name.parse().unwrap();
            assert_eq!(scheme.name(), name);
            assert_eq!(scheme.to_string(), name);
        }
        assert_eq!(parse_scheme(" GitHub "), Ok(Scheme::GITHUB));
        assert_eq!(parse_scheme("hmac"), Ok(Scheme::Hmac(HmacSpec::default())));
        let e = parse_scheme("svix2").unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.starts_with("unknown verification scheme `svix2`; expected one of: standard, "),
            "{shown}"
        );
        assert!(
            shown.contains(", twilio, ") && shown.contains(", hmac, "),
            "{shown}"
        );
    }

    #[test]
    fn hmac_settings_parse() {
        assert_eq!("SHA-512".parse(), Ok(HmacAlgorithm::Sha512));
        assert_eq!("sha1".parse(), Ok(HmacAlgorithm::Sha1));
        assert!("md5".parse::<HmacAlgorithm>().is_err());
        assert_eq!("Base64".parse(), Ok(SigEncoding::Base64));
        assert!("base32".parse::<SigEncoding>().is_err());
        let d = HmacSpec::default();
        assert_eq!(
            (d.header.as_str(), d.algorithm, d.encoding, d.prefix),
            ("x-signature", HmacAlgorithm::Sha256, SigEncoding::Hex, None)
        );
    }

    #[test]
    fn signature_headers_name_what_to_redact() {
        assert_eq!(signature_headers(&Scheme::STRIPE), ["stripe-signature"]);
        let mut shopify = signature_headers(&Scheme::SHOPIFY);
        shopify.sort_unstable();
        assert_eq!(shopify, ["shopify-hmac-sha256", "x-shopify-hmac-sha256"]);
        let mut standard = signature_headers(&Scheme::STANDARD);
        standard.sort_unstable();
        assert_eq!(standard, ["svix-signature", "webhook-signature"]);
        assert_eq!(Scheme::BEARER.signature_headers(), ["authorization"]);
        let spec = HmacSpec {
            header: "X-Custom-Sig".into(),
            ..HmacSpec::default()
        };
        assert_eq!(signature_headers(&Scheme::Hmac(spec)), ["X-Custom-Sig"]);
        assert!(signature_headers(&Scheme::NONE).is_empty());
        assert!(Scheme::SLACK.is_timestamped() && !Scheme::GITHUB.is_timestamped());
    }
}
