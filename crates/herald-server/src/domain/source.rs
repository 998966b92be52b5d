//! Inbound sources: how a provider's requests are verified, filtered, de-duplicated and
//! turned into events.

use herald_signing::{parse_scheme, validate_secrets, HmacSpec, Scheme};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::Millis;

/// How requests to a source are verified. Secrets are never shown by the API (nor by
/// `Debug`, which counts them).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyConfig {
    pub scheme: String,
    pub secrets: Vec<String>,
    /// `hmac` only: the signature header (default `x-signature`).
    pub header: Option<String>,
    /// `hmac` only: `sha1`, `sha256` (default) or `sha512`.
    pub algorithm: Option<String>,
    /// `hmac` only: `hex` (default) or `base64`.
    pub encoding: Option<String>,
    /// `hmac` only: a prefix such as `sha256=`.
    pub prefix: Option<String>,
    /// Timestamped schemes: how far the signed time may be from now (default 300 s).
    pub tolerance_s: Option<i64>,
}

impl std::fmt::Debug for VerifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyConfig")
            .field("scheme", &self.scheme)
            .field("secrets", &format_args!("<{} redacted>", self.secrets.len()))
            .field("header", &self.header)
            .field("algorithm", &self.algorithm)
            .field("encoding", &self.encoding)
            .field("prefix", &self.prefix)
            .field("tolerance_s", &self.tolerance_s)
            .finish()
    }
}

pub const DEFAULT_TOLERANCE_S: i64 = 300;

impl VerifyConfig {
    /// The verification scheme, or why the configuration is unusable (names the field).
    pub fn scheme(&self) -> Result<Scheme, (String, String)> {
        let bad = |field: &str, e: &dyn std::fmt::Display| (format!("verify.{field}"), e.to_string());
        let mut scheme = parse_scheme(&self.scheme).map_err(|e| bad("scheme", &e))?;
        if let Scheme::Hmac(spec) = &mut scheme {
            *spec = HmacSpec {
                header: self.header.clone().unwrap_or_else(|| HmacSpec::default().header),
                algorithm: match &self.algorithm {
                    Some(a) => a.parse().map_err(|e| bad("algorithm", &e))?,
                    None => Default::default(),
                },
                encoding: match &self.encoding {
                    Some(e) => e.parse().map_err(|err| bad("encoding", &err))?,
                    None => Default::default(),
                },
                prefix: self.prefix.clone(),
            };
            if let Some(why) = spec.header_problem() {
                return Err(bad("header", &why));
            }
            if let Some(why) = spec.prefix_problem() {
                return Err(bad("prefix", &why));
            }
        } else if self.header.is_some()
            || self.algorithm.is_some()
            || self.encoding.is_some()
            || self.prefix.is_some()
        {
            return Err((
                "verify".into(),
                "header, algorithm, encoding and prefix apply to the `hmac` scheme only".into(),
            ));
        }
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        validate_secrets(&scheme, &secrets).map_err(|e| bad("secrets", &e))?;
        if !(1..=86_400).contains(&self.tolerance()) {
            return Err(bad("tolerance_s", &"must be between 1 and 86400"));
        }
        Ok(scheme)
    }

    pub fn tolerance(&self) -> i64 {
        self.tolerance_s.unwrap_or(DEFAULT_TOLERANCE_S)
    }
}

/// Where a value comes from in a request: `header:NAME`, `json:/pointer`, `body` (its
/// hash), or `const:VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extract {
    Header(String),
    Json(String),
    Body,
    Const(String),
}

/// Header names herald reads: 1 to 64 letters, digits and `-`.
fn valid_header_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Extract {
    pub fn parse(s: &str) -> Option<Extract> {
        if s == "body" {
            return Some(Extract::Body);
        }
        let (kind, rest) = s.split_once(':')?;
        match kind {
            "header" if valid_header_name(rest) => Some(Extract::Header(rest.to_string())),
            "json" if rest.is_empty() || rest.starts_with('/') => Some(Extract::Json(rest.to_string())),
            "const" if !rest.is_empty() => Some(Extract::Const(rest.to_string())),
            _ => None,
        }
    }

    pub fn to_spec(&self) -> String {
        match self {
            Extract::Header(h) => format!("header:{h}"),
            Extract::Json(p) => format!("json:{p}"),
            Extract::Body => "body".into(),
            Extract::Const(c) => format!("const:{c}"),
        }
    }
}

impl Serialize for Extract {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_spec())
    }
}

impl<'de> Deserialize<'de> for Extract {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Extract::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not header:NAME, json:/pointer, body or const:VALUE"
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dedupe {
    pub key: Extract,
    pub window_s: u64,
}

/// The parts of a source that say how its requests are handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpec {
    pub verify: VerifyConfig,
    pub allow_ips: Vec<IpNet>,
    pub dedupe: Option<Dedupe>,
    pub event_type: Extract,
    pub type_prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub tenant: Option<String>,
    pub spec: SourceSpec,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Where each provider says what happened, when the source does not say.
pub fn default_event_type(scheme: &str) -> Extract {
    match scheme {
        "github" => Extract::Header("x-github-event".into()),
        "shopify" => Extract::Header("x-shopify-topic".into()),
        "slack" => Extract::Json("/event/type".into()),
        "standard" | "stripe" => Extract::Json("/type".into()),
        _ => Extract::Const("webhook".into()),
    }
}

/// A change to a source; `None` leaves a field, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct SourcePatch {
    pub name: Option<String>,
    pub verify: Option<VerifyConfig>,
    pub allow_ips: Option<Vec<IpNet>>,
    pub dedupe: Option<Option<Dedupe>>,
    pub event_type: Option<Extract>,
    pub type_prefix: Option<Option<String>>,
}

impl SourcePatch {
    pub fn apply(self, s: &mut Source, now: Millis) {
        if let Some(v) = self.name {
            s.name = v;
        }
        if let Some(v) = self.verify {
            s.spec.verify = v;
        }
        if let Some(v) = self.allow_ips {
            s.spec.allow_ips = v;
        }
        if let Some(v) = self.dedupe {
            s.spec.dedupe = v;
        }
        if let Some(v) = self.event_type {
            s.spec.event_type = v;
        }
        if let Some(v) = self.type_prefix {
            s.spec.type_prefix = v;
        }
        s.updated_at = now;
    }
}
