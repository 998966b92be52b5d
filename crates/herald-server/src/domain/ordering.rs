//! Ordered keys (design section 8), as pure rules: which key of an endpoint a delivery
//! belongs to, and what becomes of the key when its head's retries are exhausted.
//!
//! The stores keep the order: each keyed delivery gets the next sequence number of its
//! (endpoint, key) when it is written, and a claim takes a keyed delivery only when no
//! delivery of its key is in flight and none with a lower sequence is still owed. Waiting
//! deliveries are therefore not attempts: they keep no backoff of their own and go as soon
//! as the head settles.

use serde::{Deserialize, Serialize};

use super::health::NextStep;
use super::source::Extract;
use super::Millis;

/// The key of every delivery of an endpoint ordered as a whole (`"key": "endpoint"`).
pub const ENDPOINT_KEY: &str = "endpoint";

/// Longest key, in bytes; a longer extracted value is replaced by its hash.
pub const MAX_KEY_LEN: usize = 256;

/// Where an endpoint's deliveries take their ordering key from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRule {
    /// One key for the whole endpoint.
    Endpoint,
    /// A JSON pointer into the payload.
    Json(String),
    /// A header of the request that made the event (an inbound provider's request).
    Header(String),
}

/// What happens to a key when its head's retries are exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStuck {
    /// The head is `failed` (visible, replayable) and the key moves on.
    #[default]
    Skip,
    /// The key waits, the head still owed, until it is resumed or skipped by hand.
    Park,
}

/// An endpoint's ordering setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ordering {
    #[serde(with = "key_rule")]
    pub key: KeyRule,
    #[serde(default)]
    pub on_stuck: OnStuck,
}

/// Where a delivery stands in its key's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPosition {
    pub key: String,
    /// 1, 2, 3, … per endpoint and key; never reused, the same on every retry.
    pub sequence: i64,
}

/// What an event offers to find its key: the publisher's own `ordering_key`, the payload,
/// and the headers of the request that made it (JSON object), if any.
#[derive(Debug, Clone, Copy)]
pub struct KeySource<'a> {
    pub explicit: Option<&'a str>,
    pub payload: &'a [u8],
    pub headers: Option<&'a str>,
}

impl KeyPosition {
    /// From a delivery's two columns (both set on a keyed delivery, both NULL otherwise).
    pub fn from_columns(key: Option<String>, sequence: Option<i64>) -> Option<KeyPosition> {
        Some(KeyPosition {
            key: key?,
            sequence: sequence?,
        })
    }
}

impl KeyRule {
    /// `endpoint`, `json:/pointer` or `header:Name`.
    pub fn parse(s: &str) -> Option<KeyRule> {
        if s == ENDPOINT_KEY {
            return Some(KeyRule::Endpoint);
        }
        match Extract::parse(s)? {
            Extract::Json(p) => Some(KeyRule::Json(p)),
            Extract::Header(h) => Some(KeyRule::Header(h.to_ascii_lowercase())),
            Extract::Body | Extract::Const(_) => None,
        }
    }

    pub fn to_spec(&self) -> String {
        match self {
            KeyRule::Endpoint => ENDPOINT_KEY.to_string(),
            KeyRule::Json(p) => format!("json:{p}"),
            KeyRule::Header(h) => format!("header:{h}"),
        }
    }
}

impl Ordering {
    /// The key of an event's delivery to this endpoint: the publisher's `ordering_key`
    /// wins, else the endpoint's rule; `None` (not ordered) when the rule finds nothing.
    pub fn key_of(&self, ev: KeySource<'_>) -> Option<String> {
        if let Some(k) = ev.explicit {
            return Some(k.to_string());
        }
        let found = match &self.key {
            KeyRule::Endpoint => return Some(ENDPOINT_KEY.to_string()),
            KeyRule::Json(pointer) => {
                let v: serde_json::Value = serde_json::from_slice(ev.payload).ok()?;
                match v.pointer(pointer)? {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => return None,
                    other => other.to_string(),
                }
            }
            KeyRule::Header(name) => {
                let headers: std::collections::BTreeMap<String, String> =
                    serde_json::from_str(ev.headers?).ok()?;
                headers.get(name)?.clone()
            }
        };
        Some(as_key(found))
    }
}

/// A publisher's `ordering_key` is 1 to 256 visible ASCII characters or spaces (it is
/// sent back in a header).
pub fn valid_ordering_key(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_KEY_LEN && s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// An extracted value as a key: itself when it is a valid key, else `sha256:` and its hash
/// (so any value orders, and the header stays sendable).
fn as_key(value: String) -> String {
    if valid_ordering_key(&value) {
        return value;
    }
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(value.as_bytes())))
}

/// When the deliveries waiting behind a keyed delivery may go after its attempt: not
/// before its retry, now that it settled, or (parked) not until the key is resumed or
/// skipped (`Some(None)`); `None` when there is nothing to move (the endpoint is gone and
/// fails them all).
pub fn waiting_due(next: &NextStep, now: Millis) -> Option<Option<Millis>> {
    match next {
        NextStep::RetryAt(t) => Some(Some(*t)),
        NextStep::Succeeded | NextStep::Failed => Some(Some(now)),
        NextStep::Parked => Some(None),
        NextStep::EndpointGone => None,
    }
}

/// What an operator asks of a key (`POST /v1/endpoints/{id}/keys/{key}/resume|skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Retry the head now, in a new round of the retry schedule.
    Resume,
    /// Give the head up (`failed`, replayable) and let the key move on.
    Skip,
}

/// What a key action does to the key's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// Due now, a new round of retries.
    RetryNow,
    /// `failed` with this error; the deliveries waiting behind it become due.
    Fail(String),
}

/// Why a key action cannot be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Nothing of the key is owed.
    NothingOwed,
    /// The head is being attempted right now.
    InFlight,
}

/// What a key action does, given the key's head (its lowest-sequence owed delivery, or
/// one in flight): the head must be owed and not in flight.
pub fn key_action(action: KeyAction, head: Option<&super::Delivery>) -> Result<KeyChange, KeyRefusal> {
    let head = head.ok_or(KeyRefusal::NothingOwed)?;
    if head.state == super::DeliveryState::Delivering {
        return Err(KeyRefusal::InFlight);
    }
    Ok(match action {
        KeyAction::Resume => KeyChange::RetryNow,
        KeyAction::Skip => KeyChange::Fail(match &head.last_error {
            Some(e) => format!("skipped by an operator (last error: {e})"),
            None => "skipped by an operator".to_string(),
        }),
    })
}

/// What becomes of an exhausted head under `on_stuck`.
pub fn exhausted(on_stuck: OnStuck) -> NextStep {
    match on_stuck {
        OnStuck::Skip => NextStep::Failed,
        OnStuck::Park => NextStep::Parked,
    }
}

mod key_rule {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::KeyRule;

    pub fn serialize<S: Serializer>(rule: &KeyRule, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rule.to_spec())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KeyRule, D::Error> {
        let s = String::deserialize(d)?;
        KeyRule::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("`{s}` is not endpoint, json:/pointer or header:Name"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(explicit: Option<&'a str>, payload: &'a [u8], headers: Option<&'a str>) -> KeySource<'a> {
        KeySource {
            explicit,
            payload,
            headers,
        }
    }

    #[test]
    fn the_publishers_key_wins_over_the_rule() {
        let o = Ordering {
            key: KeyRule::parse("json:/customer").unwrap(),
            on_stuck: OnStuck::Skip,
        };
        let payload = br#"{"customer": "c_1", "n": 7, "nested": {"x": null}}"#;
        assert_eq!(o.key_of(source(None, payload, None)).as_deref(), Some("c_1"));
        assert_eq!(
            o.key_of(source(Some("mine"), payload, None)).as_deref(),
            Some("mine")
        );
        let by_number = Ordering {
            key: KeyRule::Json("/n".into()),
            ..o.clone()
        };
        assert_eq!(
            by_number.key_of(source(None, payload, None)).as_deref(),
            Some("7")
        );
        let missing = Ordering {
            key: KeyRule::Json("/nested/x".into()),
            ..o
        };
        assert_eq!(
            missing.key_of(source(None, payload, None)),
            None,
            "null is no key"
        );
        assert_eq!(missing.key_of(source(None, b"not json", None)), None);
    }

    #[test]
    fn whole_endpoint_and_header_keys() {
        let whole = Ordering {
            key: KeyRule::parse("endpoint").unwrap(),
            on_stuck: OnStuck::Park,
        };
        assert_eq!(
            whole.key_of(source(None, b"{}", None)).as_deref(),
            Some(ENDPOINT_KEY)
        );
        let by_header = Ordering {
            key: KeyRule::parse("header:X-Shop").unwrap(),
            on_stuck: OnStuck::Skip,
        };
        let headers = r#"{"x-shop": "shop-9"}"#;
        assert_eq!(
            by_header.key_of(source(None, b"{}", Some(headers))).as_deref(),
            Some("shop-9")
        );
        assert_eq!(by_header.key_of(source(None, b"{}", None)), None);
    }

    #[test]
    fn odd_values_become_hashed_keys_and_rules_parse_strictly() {
        let o = Ordering {
            key: KeyRule::Json("/k".into()),
            on_stuck: OnStuck::Skip,
        };
        let key = o
            .key_of(source(None, "{\"k\": \"caf\u{e9}\\n\"}".as_bytes(), None))
            .unwrap();
        assert!(key.starts_with("sha256:") && valid_ordering_key(&key), "{key}");
        assert!(
            !valid_ordering_key("")
                && !valid_ordering_key(&"k".repeat(257))
                && valid_ordering_key(&"k".repeat(256))
        );
        for bad in ["body", "const:x", "json:x", "header:", "everything"] {
            assert_eq!(KeyRule::parse(bad), None, "{bad}");
        }
        let parsed: Ordering = serde_json::from_str(r#"{"key": "header:X-A"}"#).unwrap();
        assert_eq!(
            (parsed.key, parsed.on_stuck),
            (KeyRule::Header("x-a".into()), OnStuck::Skip)
        );
        assert!(serde_json::from_str::<Ordering>(r#"{"key": "json:/a", "on_stuck": "wait"}"#).is_err());
    }
}
