//! Unknown request fields are refused, naming the field (a misspelt `event_type` for
//! `event_types` must not silently create an endpoint subscribed to everything).
//!
//! The names a body type accepts are the ones serde's derive passes to
//! `deserialize_struct`; [`struct_fields`] captures them with a deserializer that does
//! nothing else, so the list can never drift from the type.

use std::collections::BTreeMap;

use serde::de::{self, Deserialize, IgnoredAny, Visitor};

/// The field names a derived struct accepts, or `None` for a type that is not a struct.
pub fn struct_fields<'de, T: Deserialize<'de>>() -> Option<&'static [&'static str]> {
    let mut captured = None;
    let _ = T::deserialize(Capture {
        fields: &mut captured,
    });
    captured
}

/// The first top-level key of `bytes` (a JSON object) that `T` does not accept.
pub fn first_unknown<'de, T: Deserialize<'de>>(bytes: &[u8]) -> Option<String> {
    let known = struct_fields::<T>()?;
    let keys: BTreeMap<String, IgnoredAny> = serde_json::from_slice(bytes).ok()?;
    keys.into_keys().find(|k| !known.contains(&k.as_str()))
}

/// The message for an unknown field: what the request accepts instead.
pub fn unknown_message<'de, T: Deserialize<'de>>() -> String {
    let known = struct_fields::<T>().unwrap_or_default();
    let list = known
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("is not a field of this request (or cannot be changed); the fields are {list}")
}

struct Capture<'a> {
    fields: &'a mut Option<&'static [&'static str]>,
}

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names captured")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for Capture<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.fields = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        url: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }

    #[test]
    fn captures_the_renamed_field_names() {
        assert_eq!(struct_fields::<Body>(), Some(&["url", "type"][..]));
        assert_eq!(struct_fields::<serde_json::Value>(), None);
    }

    #[test]
    fn finds_the_first_unknown_key() {
        assert_eq!(first_unknown::<Body>(br#"{"url": "x", "type": "a"}"#), None);
        assert_eq!(
            first_unknown::<Body>(br#"{"url": "x", "event_type": "a"}"#),
            Some("event_type".into())
        );
    }
}
