//! Where a push endpoint delivers when it is not an HTTP URL: a message broker (design
//! section 9). The rules about a destination live here: what a valid one is, what is
//! secret in it and how it is shown, and what a delivery is published as (the routing key
//! or subject of an event type).

use serde::{Deserialize, Serialize};

/// A broker an endpoint publishes its deliveries to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Destination {
    Amqp(Amqp),
    Nats(Nats),
    Sqs(Sqs),
}

/// RabbitMQ or any AMQP 0-9-1 broker: a persistent, mandatory, confirmed publish.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amqp {
    /// `amqp://` or `amqps://`, credentials in it (secret).
    pub url: String,
    /// `""` is the default exchange (routing key = queue name).
    pub exchange: String,
    /// `{type}` is replaced by the event type.
    pub routing_key: String,
}

/// NATS JetStream: a publish the stream acknowledges.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nats {
    /// `nats://` or `tls://`, credentials in it (secret).
    pub url: String,
    /// `{type}` is replaced by the event type.
    pub subject: String,
}

/// Amazon SQS or an SQS-compatible server: `SendMessage`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sqs {
    pub queue_url: String,
    pub region: String,
    /// Where the SQS API is (an SQS-compatible server); default the region's AWS endpoint.
    pub endpoint_url: Option<String>,
    /// `None`: requests are signed with placeholder keys, which an SQS-compatible server
    /// without authentication accepts and AWS refuses (herald never lends its own).
    #[serde(flatten)]
    pub keys: Option<AwsKeys>,
}

/// An AWS access key pair.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsKeys {
    pub access_key_id: String,
    /// Secret.
    pub secret_access_key: String,
}

/// The placeholder for the event type in routing keys and subjects.
pub const TYPE_PLACEHOLDER: &str = "{type}";
pub const DEFAULT_ROUTING_KEY: &str = "{type}";
pub const DEFAULT_SUBJECT: &str = "herald.{type}";

/// How a secret part is shown.
pub const MASK: &str = "****";

/// A field of a destination that is not valid, and why (the API answers 422 naming
/// `destination.<field>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// A destination as a caller describes it: every field optional, so that each missing or
/// misplaced one can be named.
#[derive(Debug, Default, Clone)]
pub struct DestinationSpec {
    pub kind: String,
    pub url: Option<String>,
    pub exchange: Option<String>,
    pub routing_key: Option<String>,
    pub subject: Option<String>,
    pub queue_url: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl DestinationSpec {
    /// The fields given, by name (to refuse those the kind does not have).
    fn given(&self) -> Vec<&'static str> {
        let fields = [
            ("url", self.url.is_some()),
            ("exchange", self.exchange.is_some()),
            ("routing_key", self.routing_key.is_some()),
            ("subject", self.subject.is_some()),
            ("queue_url", self.queue_url.is_some()),
            ("region", self.region.is_some()),
            ("endpoint_url", self.endpoint_url.is_some()),
            ("access_key_id", self.access_key_id.is_some()),
            ("secret_access_key", self.secret_access_key.is_some()),
        ];
        fields.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect()
    }

    /// Checks every field and fills in the defaults.
    pub fn validate(self) -> Result<Destination, Invalid> {
        let allowed: &[&str] = match self.kind.as_str() {
            "amqp" => &["url", "exchange", "routing_key"],
            "nats" => &["url", "subject"],
            "sqs" => &[
                "queue_url",
                "region",
                "endpoint_url",
                "access_key_id",
                "secret_access_key",
            ],
            other => return Err(invalid("kind", format!("`{other}` is not amqp, nats or sqs"))),
        };
        if let Some(extra) = self.given().into_iter().find(|f| !allowed.contains(f)) {
            return Err(invalid(
                field_name(extra),
                format!("is not a field of an {} destination", self.kind),
            ));
        }
        match self.kind.as_str() {
            "amqp" => Ok(Destination::Amqp(Amqp {
                url: broker_url("url", self.url, &["amqp", "amqps"])?,
                exchange: exchange(self.exchange.unwrap_or_default())?,
                routing_key: routing_key(self.routing_key.unwrap_or_else(|| DEFAULT_ROUTING_KEY.into()))?,
            })),
            "nats" => Ok(Destination::Nats(Nats {
                url: broker_url("url", self.url, &["nats", "tls"])?,
                subject: subject(self.subject.unwrap_or_else(|| DEFAULT_SUBJECT.into()))?,
            })),
            _ => sqs(self).map(Destination::Sqs),
        }
    }
}

/// The field names as `'static` (they come from a fixed list).
fn field_name(f: &str) -> &'static str {
    [
        "url",
        "exchange",
        "routing_key",
        "subject",
        "queue_url",
        "region",
        "endpoint_url",
        "access_key_id",
        "secret_access_key",
    ]
    .into_iter()
    .find(|n| *n == f)
    .unwrap_or("kind")
}

fn required(field: &'static str, v: Option<String>) -> Result<String, Invalid> {
    v.ok_or_else(|| invalid(field, "is required"))
}

/// A broker URL: one of `schemes`, a host, a port that is not 0, at most 2048 characters.
fn broker_url(field: &'static str, v: Option<String>, schemes: &[&str]) -> Result<String, Invalid> {
    let raw = required(field, v)?;
    if raw.len() > 2048 {
        return Err(invalid(field, "must be at most 2048 characters"));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid(field, format!("not a valid URL ({e})")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(invalid(field, format!("must use {}", schemes.join(" or "))));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(field, "must have a host"));
    }
    if url.port() == Some(0) {
        return Err(invalid(field, "port 0 cannot be connected to"));
    }
    Ok(raw.trim().to_string())
}

/// An HTTP(S) URL without credentials (the SQS queue and API endpoint).
fn http_url(field: &'static str, raw: String) -> Result<String, Invalid> {
    let url = broker_url(field, Some(raw), &["http", "https"])?;
    let parsed = url::Url::parse(&url).map_err(|e| invalid(field, e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(field, "must not carry credentials"));
    }
    Ok(url)
}

/// AMQP exchange names: at most 127 of letters, digits, `-`, `_`, `.`, `:`.
fn exchange(v: String) -> Result<String, Invalid> {
    let ok = v.len() <= 127 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if !ok {
        return Err(invalid(
            "exchange",
            "must be at most 127 letters, digits, `-`, `_`, `.` or `:` (\"\" is the default exchange)",
        ));
    }
    Ok(v)
}

/// A routing key template: 1-200 visible ASCII characters.
fn routing_key(v: String) -> Result<String, Invalid> {
    let ok = (1..=200).contains(&v.len()) && v.chars().all(|c| c.is_ascii_graphic());
    if !ok {
        return Err(invalid(
            "routing_key",
            "must be 1-200 visible ASCII characters (`{type}` is replaced by the event type)",
        ));
    }
    Ok(v)
}

/// A subject template: dot-separated tokens of visible ASCII, no wildcards, at most 200.
fn subject(v: String) -> Result<String, Invalid> {
    let ok = (1..=200).contains(&v.len())
        && v.split('.')
            .all(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic() && c != '*' && c != '>'));
    if !ok {
        return Err(invalid(
            "subject",
            "must be 1-200 characters: tokens of visible ASCII separated by `.`, no `*` or `>` (`{type}` is replaced by the event type)",
        ));
    }
    Ok(v)
}

fn sqs(spec: DestinationSpec) -> Result<Sqs, Invalid> {
    let queue_url = http_url("queue_url", required("queue_url", spec.queue_url)?)?;
    let region = required("region", spec.region)?;
    let region_ok = (1..=32).contains(&region.len())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return Err(invalid(
            "region",
            "must be an AWS region name such as us-east-1 (1-32 of a-z, 0-9, -)",
        ));
    }
    let endpoint_url = spec
        .endpoint_url
        .map(|u| http_url("endpoint_url", u))
        .transpose()?;
    Ok(Sqs {
        queue_url,
        region,
        endpoint_url,
        keys: aws_keys(spec.access_key_id, spec.secret_access_key)?,
    })
}

/// Both keys or neither.
fn aws_keys(id: Option<String>, secret: Option<String>) -> Result<Option<AwsKeys>, Invalid> {
    let (access_key_id, secret_access_key) = match (id, secret) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(invalid("secret_access_key", "is required with access_key_id")),
        (None, Some(_)) => return Err(invalid("access_key_id", "is required with secret_access_key")),
        (Some(id), Some(secret)) => (id, secret),
    };
    if !(1..=128).contains(&access_key_id.len()) || !access_key_id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(invalid("access_key_id", "must be 1-128 letters and digits"));
    }
    if !(1..=128).contains(&secret_access_key.len())
        || !secret_access_key.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(invalid(
            "secret_access_key",
            "must be 1-128 visible ASCII characters",
        ));
    }
    Ok(Some(AwsKeys {
        access_key_id,
        secret_access_key,
    }))
}

impl Destination {
    pub fn kind(&self) -> &'static str {
        match self {
            Destination::Amqp(_) => "amqp",
            Destination::Nats(_) => "nats",
            Destination::Sqs(_) => "sqs",
        }
    }

    /// The values sealed at rest and never shown in clear: the broker URLs (they carry
    /// credentials) and the SQS secret key.
    pub fn secrets_mut(&mut self) -> Vec<&mut String> {
        match self {
            Destination::Amqp(a) => vec![&mut a.url],
            Destination::Nats(n) => vec![&mut n.url],
            Destination::Sqs(s) => s.keys.iter_mut().map(|k| &mut k.secret_access_key).collect(),
        }
    }

    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Destination::Amqp(a) => vec![&a.url],
            Destination::Nats(n) => vec![&n.url],
            Destination::Sqs(s) => s.keys.iter().map(|k| k.secret_access_key.as_str()).collect(),
        }
    }

    /// The credentials themselves: a URL's password (or a NATS token), the SQS secret key.
    pub fn credentials(&self) -> Vec<String> {
        let of_url = |raw: &str| -> Vec<String> {
            let Ok(url) = url::Url::parse(raw) else {
                return Vec::new();
            };
            match url.password() {
                Some(p) => vec![p.to_string()],
                None if !url.username().is_empty() => vec![url.username().to_string()],
                None => Vec::new(),
            }
        };
        match self {
            Destination::Amqp(a) => of_url(&a.url),
            Destination::Nats(n) => of_url(&n.url),
            Destination::Sqs(s) => s.keys.iter().map(|k| k.secret_access_key.clone()).collect(),
        }
    }

    /// The destination as reads show it: a URL's password (or a NATS token) and the SQS
    /// secret key masked.
    pub fn masked(&self) -> Destination {
        let mut shown = self.clone();
        match &mut shown {
            Destination::Amqp(a) => a.url = mask_url_credentials(&a.url),
            Destination::Nats(n) => n.url = mask_url_credentials(&n.url),
            Destination::Sqs(s) => {
                if let Some(k) = &mut s.keys {
                    k.secret_access_key = mask_tail(&k.secret_access_key);
                }
            }
        }
        shown
    }

    /// A destination sent back as it was shown (masked secrets) keeps the stored secrets,
    /// so reading an endpoint and writing it back changes nothing.
    pub fn keeping_masked(mut self, current: &Destination) -> Destination {
        if self.kind() != current.kind() {
            return self;
        }
        let shown = current.masked();
        let pairs = shown.secrets().into_iter().zip(current.secrets());
        for (sent, (was, stored)) in self.secrets_mut().into_iter().zip(pairs) {
            if sent == was {
                *sent = stored.to_string();
            }
        }
        self
    }

    /// The host and port every connection for this destination goes to (for the SSRF
    /// rule), as the URL names them.
    pub fn address(&self) -> Option<(String, u16)> {
        let (url, default_port) = match self {
            Destination::Amqp(a) => (
                a.url.as_str(),
                if a.url.starts_with("amqps") { 5671 } else { 5672 },
            ),
            Destination::Nats(n) => (n.url.as_str(), 4222),
            Destination::Sqs(s) => {
                let api = s.api_url();
                let parsed = url::Url::parse(&api).ok()?;
                let port = parsed.port_or_known_default()?;
                return Some((parsed.host_str()?.to_string(), port));
            }
        };
        let parsed = url::Url::parse(url).ok()?;
        let host = parsed.host_str()?.trim_start_matches('[').trim_end_matches(']');
        Some((host.to_string(), parsed.port().unwrap_or(default_port)))
    }
}

impl Sqs {
    /// Where the SQS API is: the configured endpoint, or the region's AWS endpoint.
    pub fn api_url(&self) -> String {
        self.endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://sqs.{}.amazonaws.com", self.region))
    }

    /// A FIFO queue (its name ends in `.fifo`) needs a group and a deduplication id.
    pub fn is_fifo(&self) -> bool {
        self.queue_url.trim_end_matches('/').ends_with(".fifo")
    }
}

/// A routing key or subject for an event type.
pub fn render(template: &str, event_type: &str) -> String {
    template.replace(TYPE_PLACEHOLDER, event_type)
}

/// `scheme://user:****@host/…`; a user without a password (a NATS token) is masked.
fn mask_url_credentials(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return MASK.into();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    } else if !url.username().is_empty() {
        let _ = url.set_username(MASK);
    }
    url.to_string()
}

/// `****` and, for long values, their last four characters (to tell keys apart).
fn mask_tail(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 12 {
        return MASK.into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{MASK}{tail}")
}

/// Secrets never reach a log through `Debug`.
impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.masked();
        match &shown {
            Destination::Amqp(a) => f
                .debug_struct("Amqp")
                .field("url", &a.url)
                .field("exchange", &a.exchange)
                .field("routing_key", &a.routing_key)
                .finish(),
            Destination::Nats(n) => f
                .debug_struct("Nats")
                .field("url", &n.url)
                .field("subject", &n.subject)
                .finish(),
            Destination::Sqs(s) => f
                .debug_struct("Sqs")
                .field("queue_url", &s.queue_url)
                .field("region", &s.region)
                .field("endpoint_url", &s.endpoint_url)
                .finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str) -> DestinationSpec {
        DestinationSpec {
            kind: kind.into(),
            ..Default::default()
        }
    }

    fn amqp(url: &str) -> DestinationSpec {
        DestinationSpec {
            url: Some(url.into()),
            ..spec("amqp")
        }
    }

    fn sqs_spec() -> DestinationSpec {
        DestinationSpec {
            queue_url: Some("http://127.0.0.1:5000/123456789012/jobs".into()),
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:5000".into()),
            access_key_id: Some("AKIAEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
            ..spec("sqs")
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let Destination::Amqp(a) = amqp("amqp://guest:guest@127.0.0.1:5672/%2f").validate().unwrap() else {
            panic!()
        };
        assert_eq!((a.exchange.as_str(), a.routing_key.as_str()), ("", "{type}"));
        let nats = DestinationSpec {
            url: Some("nats://127.0.0.1:4222".into()),
            ..spec("nats")
        };
        let Destination::Nats(n) = nats.validate().unwrap() else {
            panic!()
        };
        assert_eq!(n.subject, "herald.{type}");
        assert_eq!(render(&n.subject, "ticket.created"), "herald.ticket.created");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(DestinationSpec, &str)> = vec![
            (spec("kafka"), "kind"),
            (spec("amqp"), "url"),
            (amqp("http://127.0.0.1"), "url"),
            (amqp("amqp://"), "url"),
            (amqp("amqp://h:0"), "url"),
            (
                DestinationSpec {
                    subject: Some("x".into()),
                    ..amqp("amqp://h")
                },
                "subject",
            ),
            (
                DestinationSpec {
                    exchange: Some("bad exchange".into()),
                    ..amqp("amqp://h")
                },
                "exchange",
            ),
            (
                DestinationSpec {
                    routing_key: Some(String::new()),
                    ..amqp("amqp://h")
                },
                "routing_key",
            ),
            (
                DestinationSpec {
                    url: Some("nats://h".into()),
                    subject: Some("herald.*".into()),
                    ..spec("nats")
                },
                "subject",
            ),
            (
                DestinationSpec {
                    url: Some("nats://h".into()),
                    subject: Some("a..b".into()),
                    ..spec("nats")
                },
                "subject",
            ),
            (
                DestinationSpec {
                    region: Some("US East".into()),
                    ..sqs_spec()
                },
                "region",
            ),
            (
                DestinationSpec {
                    secret_access_key: None,
                    ..sqs_spec()
                },
                "secret_access_key",
            ),
            (
                DestinationSpec {
                    queue_url: Some("http://u:p@h/q".into()),
                    ..sqs_spec()
                },
                "queue_url",
            ),
        ];
        for (spec, field) in cases {
            let err = spec.clone().validate().unwrap_err();
            assert_eq!(err.field, field, "{spec:?}: {}", err.message);
        }
    }

    #[test]
    fn secrets_are_masked_and_kept_when_sent_back_masked() {
        let d = amqp("amqp://app:s3cret@rabbit.internal:5672/prod")
            .validate()
            .unwrap();
        let shown = d.masked();
        let Destination::Amqp(a) = &shown else { panic!() };
        assert_eq!(a.url, "amqp://app:****@rabbit.internal:5672/prod");
        assert!(!format!("{d:?}").contains("s3cret"));
        assert_eq!(d.credentials(), ["s3cret"]);
        assert_eq!(shown.clone().keeping_masked(&d), d);
        let changed = amqp("amqp://app:other@rabbit.internal:5672/prod")
            .validate()
            .unwrap();
        assert_eq!(changed.clone().keeping_masked(&d), changed);

        let token = DestinationSpec {
            url: Some("nats://tok3n@127.0.0.1:4222".into()),
            ..spec("nats")
        };
        let Destination::Nats(n) = token.validate().unwrap().masked() else {
            panic!()
        };
        assert_eq!(n.url, "nats://****@127.0.0.1:4222");

        let s = sqs_spec().validate().unwrap();
        let Destination::Sqs(shown) = s.masked() else {
            panic!()
        };
        assert_eq!(shown.keys.as_ref().unwrap().secret_access_key, "****EKEY");
        assert_eq!(Destination::Sqs(shown).keeping_masked(&s), s);
        assert!(!format!("{s:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn the_address_is_what_connections_go_to() {
        let d = amqp("amqp://u:p@10.1.2.3/%2f").validate().unwrap();
        assert_eq!(d.address(), Some(("10.1.2.3".into(), 5672)));
        let d = amqp("amqps://u:p@[::1]:5999").validate().unwrap();
        assert_eq!(d.address(), Some(("::1".into(), 5999)));
        let s = sqs_spec().validate().unwrap();
        assert_eq!(s.address(), Some(("127.0.0.1".into(), 5000)));
        let Destination::Sqs(mut aws) = s else { panic!() };
        aws.endpoint_url = None;
        assert_eq!(aws.api_url(), "https://sqs.us-east-1.amazonaws.com");
        assert!(!aws.is_fifo());
        aws.queue_url.push_str(".fifo");
        assert!(aws.is_fifo());
    }
}
