//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
//!
//! GitHub also sends the legacy SHA-1 `X-Hub-Signature`; it is not read (a generic
//! [`HmacSpec`](super::HmacSpec) can check it if ever needed).

use super::hmac::{decode, sha256, strip_prefix_ignore_case};
use super::{header, match_any, InboundError, InboundRequest, SigEncoding, Verified};

pub(super) const HEADER: &str = "x-hub-signature-256";

pub(super) fn verify(secrets: &[&str], req: &InboundRequest<'_>) -> Result<Verified, InboundError> {
    let found = header(req.headers, &[HEADER])?;
    let given = strip_prefix_ignore_case(found.value, "sha256=")
        .and_then(|hex| decode(SigEncoding::Hex, hex))
        .filter(|sig| sig.len() == 32)
        .ok_or_else(|| found.malformed())?;
    match_any(secrets, &[given], |secret| sha256(secret, &[req.body]))
}
