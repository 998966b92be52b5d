//! Secrets sealed at rest: endpoint secrets, custom header values and source secrets are
//! encrypted (ChaCha20-Poly1305, from `ring`, which rustls already uses) before they reach
//! a store. A sealed value names the key that sealed it, so several keys can be read at
//! once while `herald rotate-key` moves everything to a new one.
//!
//! Format: `sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id is the
//! first 8 hex digits of the key's SHA-256. The associated data binds each value to the
//! row and field it belongs to, so a sealed value copied into another row does not open.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const PREFIX: &str = "sealed:v1:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("value was sealed with key {0}, which is not configured (HERALD_ENCRYPTION_KEY / HERALD_OLD_ENCRYPTION_KEYS)")]
    UnknownKey(String),
    #[error("sealed value is damaged or belongs to another record")]
    Damaged,
    #[error("an encryption key must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)")]
    BadKey,
}

struct Key {
    id: String,
    aead: LessSafeKey,
}

impl Key {
    fn parse(text: &str) -> Result<Key, SealError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        let id = hex::encode(&Sha256::digest(&bytes)[..4]);
        let aead =
            LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| SealError::BadKey)?);
        Ok(Key { id, aead })
    }
}

/// The keys of this process: the one that seals, and older ones that may still open.
pub struct Keyring {
    primary: Option<Key>,
    older: Vec<Key>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary.as_ref().map(|k| &k.id))
            .field("older", &self.older.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring from base64 keys: `primary` seals (none: values are stored in clear),
    /// `older` only open.
    pub fn new(primary: Option<&str>, older: &[String]) -> Result<Keyring, SealError> {
        Ok(Keyring {
            primary: primary.map(Key::parse).transpose()?,
            older: older.iter().map(|k| Key::parse(k)).collect::<Result<_, _>>()?,
            rng: SystemRandom::new(),
        })
    }

    pub fn seals(&self) -> bool {
        self.primary.is_some()
    }

    /// Id of the sealing key, if any.
    pub fn primary_id(&self) -> Option<&str> {
        self.primary.as_ref().map(|k| k.id.as_str())
    }

    /// Seals `plain` for the field `context` (e.g. `endpoint/ep_…/secret`); without a key
    /// the value stays as it is. An already sealed value is left alone.
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let Some(key) = &self.primary else {
            return plain.to_string();
        };
        if is_sealed(plain) {
            return plain.to_string();
        }
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("the system random source works");
        let mut data = plain.as_bytes().to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .expect("sealing a small value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}:{}", key.id, URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed for `context`; a value stored in clear (before a key was set)
    /// is returned as it is.
    pub fn open(&self, context: &str, stored: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, body) = rest.split_once(':').ok_or(SealError::Damaged)?;
        let key = self
            .primary
            .iter()
            .chain(&self.older)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_string()))?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Damaged)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Damaged)?;
        let mut data = sealed.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Damaged)
    }

    /// Whether `stored` is in clear or sealed by another key than the primary one.
    pub fn needs_reseal(&self, stored: &str) -> bool {
        match (&self.primary, stored.strip_prefix(PREFIX)) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(key), Some(rest)) => !rest.starts_with(&format!("{}:", key.id)),
        }
    }
}

pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let ring = Keyring::new(Some(A), &[]).unwrap();
        let sealed = ring.seal("endpoint/ep_1/secret", "whsec_top");
        assert!(sealed.starts_with("sealed:v1:") && !sealed.contains("whsec_top"));
        assert_ne!(
            sealed,
            ring.seal("endpoint/ep_1/secret", "whsec_top"),
            "a fresh nonce each time"
        );
        assert_eq!(ring.open("endpoint/ep_1/secret", &sealed).unwrap(), "whsec_top");
        assert_eq!(
            ring.open("endpoint/ep_2/secret", &sealed),
            Err(SealError::Damaged)
        );
        let other = Keyring::new(Some(B), &[]).unwrap();
        assert!(matches!(
            other.open("endpoint/ep_1/secret", &sealed),
            Err(SealError::UnknownKey(_))
        ));
        let rotated = Keyring::new(Some(B), &[A.to_string()]).unwrap();
        assert_eq!(
            rotated.open("endpoint/ep_1/secret", &sealed).unwrap(),
            "whsec_top"
        );
        assert!(rotated.needs_reseal(&sealed) && !ring.needs_reseal(&sealed));
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let ring = Keyring::new(Some(A), &[]).unwrap();
        let sealed = ring.seal("c", "value");
        let (head, body) = sealed.rsplit_once(':').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(body).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let tampered = format!("{head}:{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(ring.open("c", &tampered), Err(SealError::Damaged), "byte {i}");
            raw[i] ^= 1;
        }
    }

    #[test]
    fn without_a_key_values_stay_clear_and_bad_keys_are_refused() {
        let ring = Keyring::new(None, &[]).unwrap();
        assert_eq!(ring.seal("c", "plain"), "plain");
        assert_eq!(ring.open("c", "plain").unwrap(), "plain");
        assert_eq!(
            Keyring::new(Some("c2hvcnQ="), &[]).unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(
            Keyring::new(Some("not base64!"), &[]).unwrap_err(),
            SealError::BadKey
        );
    }
}
