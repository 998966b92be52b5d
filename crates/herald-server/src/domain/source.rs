//! Inbound sources: how a provider's requests are verified, filtered, de-duplicated and
//! turned into events.

use herald_signing::{parse_scheme, validate_secrets, Handshake, HmacSpec, Scheme};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::Millis;

/// How requests to a source are verified, as given and stored: names and settings still
/// to be read. Secrets are never shown by the API (nor by `Debug`, which counts them).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyFields {
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
    /// Timestamped schemes: how far the signed time may be from now (default: the
    /// preset's, 300 s for most).
    pub tolerance_s: Option<i64>,
    /// `meta` only: the token Meta's subscription check (`GET ?hub.verify_token=`) must
    /// carry. Sealed at rest like the secrets, never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    /// The schemes that sign the URL (twilio, hubspot, square): the URL the provider was
    /// given, when it is not herald's `ingest_url` (a proxy rewrites the path, say). The
    /// request's query string is appended to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl std::fmt::Debug for VerifyFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyFields")
            .field("scheme", &self.scheme)
            .field("secrets", &format_args!("<{} redacted>", self.secrets.len()))
            .field("header", &self.header)
            .field("algorithm", &self.algorithm)
            .field("encoding", &self.encoding)
            .field("prefix", &self.prefix)
            .field("tolerance_s", &self.tolerance_s)
            .field("verify_token", &self.verify_token.as_ref().map(|_| "<redacted>"))
            .field("url", &self.url)
            .finish()
    }
}

pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// A source's verification, read once: the typed [`Scheme`] next to the fields it was read
/// from (which the API shows as given). It is built only from fields that read, when a
/// source is saved or loaded, so a request is never verified against an unread setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VerifyFields", into = "VerifyFields")]
pub struct VerifyConfig {
    fields: VerifyFields,
    scheme: Scheme,
}

/// A field of `verify` (as `verify.NAME`) and what is wrong with it.
pub type VerifyProblem = (String, String);

fn bad(field: &str, e: &dyn std::fmt::Display) -> VerifyProblem {
    (format!("verify.{field}"), e.to_string())
}

impl VerifyConfig {
    /// Reads the settings and checks the secrets: what the API and the CLI accept.
    pub fn new(fields: VerifyFields) -> Result<Self, VerifyProblem> {
        let config = Self::read(fields)?;
        let secrets: Vec<&str> = config.secrets().iter().map(String::as_str).collect();
        validate_secrets(&config.scheme, &secrets).map_err(|e| bad("secrets", &e))?;
        Ok(config)
    }

    /// Reads the settings (not the secrets, which a store may hold sealed).
    fn read(fields: VerifyFields) -> Result<Self, VerifyProblem> {
        let scheme = fields.read_scheme()?;
        Ok(Self { fields, scheme })
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    pub fn fields(&self) -> &VerifyFields {
        &self.fields
    }

    pub fn into_fields(self) -> VerifyFields {
        self.fields
    }

    pub fn secrets(&self) -> &[String] {
        &self.fields.secrets
    }

    /// The secrets and the verify token, to seal or open them in place (nothing else may
    /// change once read).
    pub fn sealable_mut(&mut self) -> impl Iterator<Item = &mut String> {
        self.fields
            .secrets
            .iter_mut()
            .chain(self.fields.verify_token.as_mut())
    }

    pub fn verify_token(&self) -> Option<&str> {
        self.fields.verify_token.as_deref()
    }

    /// The URL the provider signs, when the source sets it.
    pub fn signed_url(&self) -> Option<&str> {
        self.fields.url.as_deref()
    }

    pub fn tolerance(&self) -> i64 {
        self.fields
            .tolerance_s
            .unwrap_or(self.scheme.preset().tolerance_s)
    }
}

impl TryFrom<VerifyFields> for VerifyConfig {
    type Error = String;

    fn try_from(fields: VerifyFields) -> Result<Self, String> {
        Self::read(fields).map_err(|(field, why)| format!("{field}: {why}"))
    }
}

impl From<VerifyConfig> for VerifyFields {
    fn from(c: VerifyConfig) -> Self {
        c.fields
    }
}

impl VerifyFields {
    /// The verification scheme, or why the settings are unusable (names the field).
    fn read_scheme(&self) -> Result<Scheme, VerifyProblem> {
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
        if self.tolerance_s.is_some_and(|t| !(1..=86_400).contains(&t)) {
            return Err(bad("tolerance_s", &"must be between 1 and 86400"));
        }
        let meta = scheme.preset().handshake == Some(Handshake::MetaSubscribe);
        match &self.verify_token {
            Some(_) if !meta => {
                return Err(bad("verify_token", &"applies to the `meta` scheme only"));
            }
            Some(t) if t.is_empty() || t.len() > 256 || !t.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(bad("verify_token", &"must be 1 to 256 visible ASCII characters"));
            }
            _ => {}
        }
        if let Some(url) = &self.url {
            if !scheme.preset().signs_url {
                return Err(bad(
                    "url",
                    &"applies to the schemes that sign the URL (twilio, hubspot, square) only",
                ));
            }
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2048
                && !url.contains(['?', '#'])
                && url.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(bad(
                    "url",
                    &"must be an http(s) URL without query or fragment, at most 2048 characters",
                ));
            }
        }
        Ok(scheme)
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
    /// Only a provider's retries are duplicates: a request is one when its key *and* its
    /// body are those of an earlier request, and a request without the key is accepted,
    /// not refused. How a preset's default de-duplication works: a provider resends the
    /// same delivery byte for byte under the same id; a request that reuses an id with
    /// another body (a hand-made test, a fixture) is a new event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retries_only: bool,
}

/// How long a preset's de-duplication remembers a delivery id (a day: longer than any
/// provider's retries last in a burst, and what a user-set window defaults to).
pub const DEFAULT_DEDUPE_WINDOW_S: u64 = 86_400;

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

/// Where the provider says what happened, when the source does not say.
pub fn default_event_type(scheme: &Scheme) -> Extract {
    let rule = scheme.preset().event_type;
    Extract::parse(rule)
        .unwrap_or_else(|| panic!("preset {} has a bad event type rule {rule}", scheme.name()))
}

/// The provider's delivery id, de-duplicated for a day when present, when the source does
/// not say.
pub fn default_dedupe(scheme: &Scheme) -> Option<Dedupe> {
    let rule = scheme.preset().dedupe?;
    Some(Dedupe {
        key: Extract::parse(rule)
            .unwrap_or_else(|| panic!("preset {} has a bad dedupe rule {rule}", scheme.name())),
        window_s: DEFAULT_DEDUPE_WINDOW_S,
        retries_only: true,
    })
}

/// The provider's event type prefix, when the source does not say.
pub fn default_type_prefix(scheme: &Scheme) -> Option<String> {
    scheme.preset().type_prefix.map(str::to_string)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_fields() -> VerifyFields {
        VerifyFields {
            scheme: "hmac".into(),
            secrets: vec!["s3cret".into()],
            header: Some("X-Sig".into()),
            algorithm: Some("SHA-512".into()),
            encoding: Some("base64".into()),
            prefix: None,
            tolerance_s: None,
            verify_token: None,
            url: None,
        }
    }

    #[test]
    fn verification_is_read_once_and_stored_as_given() {
        let config = VerifyConfig::new(hmac_fields()).unwrap();
        let Scheme::Hmac(spec) = config.scheme() else {
            panic!("{config:?}")
        };
        assert_eq!(spec.algorithm, herald_signing::HmacAlgorithm::Sha512);
        assert_eq!(spec.header, "X-Sig");
        let stored = serde_json::to_value(&config).unwrap();
        assert_eq!(stored["algorithm"], "SHA-512", "stored as given: {stored}");
        let loaded: VerifyConfig = serde_json::from_value(stored).unwrap();
        assert_eq!(loaded, config);
    }

    #[test]
    fn unreadable_stored_settings_fail_to_load_naming_the_field() {
        let mut fields = hmac_fields();
        fields.encoding = Some("morse".into());
        let err = serde_json::from_value::<VerifyConfig>(serde_json::to_value(&fields).unwrap()).unwrap_err();
        assert!(err.to_string().contains("verify.encoding"), "{err}");
        // Sealed secrets are not secrets the scheme could check: loading does not look at them.
        let mut sealed = hmac_fields();
        sealed.scheme = "standard".into();
        sealed.header = None;
        sealed.algorithm = None;
        sealed.encoding = None;
        sealed.secrets = vec!["v1:sealed-bytes".into()];
        let json = serde_json::to_value(&sealed).unwrap();
        assert!(serde_json::from_value::<VerifyConfig>(json).is_ok());
        assert!(VerifyConfig::new(sealed).is_err(), "the API checks the secrets");
    }
}
