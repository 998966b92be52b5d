//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(secret, body)>`, the secret being
//! the app's client secret (or the webhook signing secret shown in the admin).

use super::hmac::{decode, sha256};
use super::{header, match_any, InboundError, InboundRequest, SigEncoding, Verified};

pub(super) const HEADER: &str = "x-shopify-hmac-sha256";

pub(super) fn verify(secrets: &[&str], req: &InboundRequest<'_>) -> Result<Verified, InboundError> {
    let found = header(req.headers, &[HEADER])?;
    let given = decode(SigEncoding::Base64, found.value)
        .filter(|sig| sig.len() == 32)
        .ok_or_else(|| found.malformed())?;
    match_any(secrets, &[given], |secret| sha256(secret, &[req.body]))
}
