//! Integer fields that also take integral JSON numbers written with a fraction (`198.0`):
//! JSON Schema counts those as integers, so the API does too.

use serde::{Deserialize, Deserializer};

fn whole<'de, D: Deserializer<'de>, T: TryFrom<i64>>(n: serde_json::Number) -> Result<T, D::Error> {
    let v = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
        _ => {
            return Err(serde::de::Error::custom(format!(
                "invalid value: {n}, expected a whole number"
            )))
        }
    };
    T::try_from(v).map_err(|_| serde::de::Error::custom(format!("invalid value: {n}, out of range")))
}

/// An optional whole number.
pub fn opt<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => whole::<D, T>(n).map(Some),
    }
}

/// A whole number that may be absent (`None`) or `null` (`Some(None)`).
pub fn nullable<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(Some(None)),
        Some(n) => whole::<D, T>(n).map(|v| Some(Some(v))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::opt")]
        n: Option<u32>,
    }

    #[test]
    fn integral_numbers_are_whole() {
        let n = |s: &str| {
            serde_json::from_str::<T>(s)
                .map(|t| t.n)
                .map_err(|e| e.to_string())
        };
        assert_eq!(n(r#"{"n": 198}"#), Ok(Some(198)));
        assert_eq!(n(r#"{"n": 198.0}"#), Ok(Some(198)));
        assert_eq!(n(r#"{}"#), Ok(None));
        assert!(n(r#"{"n": 1.5}"#).unwrap_err().contains("whole number"));
        assert!(n(r#"{"n": -1}"#).unwrap_err().contains("out of range"));
        assert!(n(r#"{"n": "7"}"#).is_err());
    }
}
