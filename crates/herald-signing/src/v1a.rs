//! Standard Webhooks `v1a`: asymmetric signatures. Each `webhook-signature` entry is
//! `v1a,` followed by the base64 Ed25519 signature of `{id}.{timestamp}.{body}`, the bytes
//! `v1` MACs; the sender keeps a `whsk_` signing key and receivers verify with its `whpk_`
//! public key, so a receiver can check herald's deliveries without holding anything that
//! could forge one.
//!
//! A signing key is `whsk_` + base64 of the 32-byte Ed25519 seed (or of 64 bytes, seed then
//! public key, as libsodium writes secret keys); a public key is `whpk_` + base64 of its 32
//! bytes. Inbound, a source given a `whpk_` secret checks `v1a` entries
//! ([`crate::verify_inbound`] with the `standard` family).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::SecretError;

/// The prefix of a `v1a` signing (private) key.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// The prefix of a `v1a` public key.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// A parsed `whsk_` signing key.
pub struct SigningKey(Ed25519KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Parses a `whsk_` key: the base64 of a 32-byte seed, or of 64 bytes whose second half
    /// is the seed's public key.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        let b64 = secret
            .strip_prefix(SIGNING_KEY_PREFIX)
            .ok_or(SecretError::NotSigningKey)?;
        let bytes = B64.decode(b64).map_err(|_| SecretError::NotSigningKey)?;
        let (seed, public) = match bytes.len() {
            32 => (&bytes[..], None),
            64 => (&bytes[..32], Some(&bytes[32..])),
            _ => return Err(SecretError::NotSigningKey),
        };
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| SecretError::NotSigningKey)?;
        if public.is_some_and(|p| p != pair.public_key().as_ref()) {
            return Err(SecretError::NotSigningKey);
        }
        Ok(Self(pair))
    }

    /// The `whsk_` key of a 32-byte seed (random bytes from the caller).
    pub fn encode_seed(seed: &[u8; 32]) -> String {
        format!("{SIGNING_KEY_PREFIX}{}", B64.encode(seed))
    }

    /// The `whpk_` public key receivers verify with.
    pub fn public_key(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX}{}", B64.encode(self.0.public_key().as_ref()))
    }

    /// One `v1a,<base64>` signature of a message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let signed = [
            msg_id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ]
        .concat();
        format!("v1a,{}", B64.encode(self.0.sign(&signed).as_ref()))
    }
}

/// The `webhook-signature` header value: one `v1a,` entry per key, space-separated.
pub fn v1a_signature_header(keys: &[SigningKey], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| k.sign(msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{verify_inbound, InboundRequest, Scheme};

    // RFC 8032, section 7.1, test 1: the seed, its public key, and the signature of the
    // empty message.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn key() -> SigningKey {
        let seed: [u8; 32] = hex::decode(SEED).unwrap().try_into().unwrap();
        SigningKey::parse(&SigningKey::encode_seed(&seed)).unwrap()
    }

    #[test]
    fn keys_match_rfc_8032() {
        let public = key().public_key();
        let raw = B64.decode(public.strip_prefix("whpk_").unwrap()).unwrap();
        assert_eq!(hex::encode(raw), PUBLIC);
        let long = [hex::decode(SEED).unwrap(), hex::decode(PUBLIC).unwrap()].concat();
        let libsodium = format!("whsk_{}", B64.encode(&long));
        assert_eq!(SigningKey::parse(&libsodium).unwrap().public_key(), public);
        let mut wrong = long.clone();
        wrong[40] ^= 1;
        assert!(SigningKey::parse(&format!("whsk_{}", B64.encode(&wrong))).is_err());
        for bad in ["whsec_AAAA", "whsk_!!", "whsk_AAAA", ""] {
            assert_eq!(
                SigningKey::parse(bad).unwrap_err(),
                SecretError::NotSigningKey,
                "{bad}"
            );
        }
        assert!(!format!("{:?}", key()).contains(SEED));
    }

    #[test]
    fn signatures_verify_inbound_with_the_public_key_only() {
        let k = key();
        let sig = v1a_signature_header(&[k], "msg_1", 1_700_000_000, b"{}");
        assert!(sig.starts_with("v1a,") && !sig.contains(' '));
        let headers = [
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", sig.as_str()),
        ];
        let public = key().public_key();
        let req = InboundRequest::post(&headers, b"{}");
        let ok = verify_inbound(&Scheme::STANDARD, &[public.as_str()], &req, 1_700_000_000, 300);
        assert_eq!(ok.map(|v| v.secret_index), Ok(Some(0)));
        let tampered = InboundRequest::post(&headers, b"{ }");
        assert!(verify_inbound(
            &Scheme::STANDARD,
            &[public.as_str()],
            &tampered,
            1_700_000_000,
            300
        )
        .is_err());
    }
}
