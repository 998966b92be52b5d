//! Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:{ts}:{body}")>`, with
//! `{ts}` the `X-Slack-Request-Timestamp` header exactly as sent.

use super::hmac::{decode, sha256, strip_prefix_ignore_case};
use super::{
    check_tolerance, header, match_any, parse_timestamp, InboundError, InboundRequest, SigEncoding, Verified,
};

pub(super) const SIGNATURE: &str = "x-slack-signature";
pub(super) const TIMESTAMP: &str = "x-slack-request-timestamp";

pub(super) fn verify(
    secrets: &[&str],
    req: &InboundRequest<'_>,
    now: i64,
    tolerance_s: i64,
) -> Result<Verified, InboundError> {
    let sig = header(req.headers, &[SIGNATURE])?;
    let ts = header(req.headers, &[TIMESTAMP])?;
    let timestamp = parse_timestamp(ts.value, &ts)?;
    check_tolerance(timestamp, now, tolerance_s)?;
    let given = strip_prefix_ignore_case(sig.value, "v0=")
        .and_then(|hex| decode(SigEncoding::Hex, hex))
        .filter(|mac| mac.len() == 32)
        .ok_or_else(|| sig.malformed())?;
    match_any(secrets, &[given], |secret| {
        sha256(secret, &[b"v0:", ts.value.as_bytes(), b":", req.body])
    })
}
