//! [`Secret`]: a value that must never be printed (an API key, a sealing key, a database
//! URL with its password). `Debug` shows only that it is there.

/// A secret string; read it with [`Secret::expose`], where it is used.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::from("hk_live_0123456789");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(
            format!("{:?}", Some(vec![s.clone()])),
            "Some([Secret(<redacted>)])"
        );
        assert_eq!(s.expose(), "hk_live_0123456789");
    }
}
