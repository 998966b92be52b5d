//! Standard Webhooks (and Svix) senders, through the crate's own Standard Webhooks code.

use super::{check_tolerance, header, parse_timestamp, InboundError, InboundRequest, Verified};
use crate::{verify_standard, StandardHeaders, StandardKey, VerifyError};

const ID: [&str; 2] = ["webhook-id", "svix-id"];
const TIMESTAMP: [&str; 2] = ["webhook-timestamp", "svix-timestamp"];
pub(super) const SIGNATURE: [&str; 2] = ["webhook-signature", "svix-signature"];

pub(super) fn verify(
    secrets: &[&str],
    req: &InboundRequest<'_>,
    now: i64,
    tolerance_s: i64,
) -> Result<Verified, InboundError> {
    let keys = secrets
        .iter()
        .map(|s| StandardKey::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InboundError::BadSecret(e.to_string()))?;
    let id = header(req.headers, &ID)?;
    let ts = header(req.headers, &TIMESTAMP)?;
    let sig = header(req.headers, &SIGNATURE)?;
    let timestamp = parse_timestamp(ts.value, &ts)?;
    check_tolerance(timestamp, now, tolerance_s)?;
    if !sig.value.split(' ').any(|entry| entry.starts_with("v1,")) {
        return Err(sig.malformed());
    }
    let headers = StandardHeaders {
        id: id.value,
        timestamp: ts.value,
        signature: sig.value,
    };
    for (i, key) in keys.iter().enumerate() {
        match verify_standard(headers, req.body, std::slice::from_ref(key), now, tolerance_s) {
            Ok(()) => {
                return Ok(Verified {
                    secret_index: Some(i),
                })
            }
            Err(VerifyError::NoMatch) => {}
            // The header and timestamp checks above already cover every other outcome.
            Err(_) => return Err(sig.malformed()),
        }
    }
    Err(InboundError::NoMatch)
}
