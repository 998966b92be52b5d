//! HubSpot (signature v3): `X-HubSpot-Signature-v3: base64(HMAC-SHA256(client secret,
//! method + URI + body + timestamp))` with `X-HubSpot-Request-Timestamp` (unix
//! milliseconds, exactly as sent); HubSpot refuses requests older than five minutes. The URI
//! is the full URL HubSpot called, with the percent-escapes HubSpot decodes before signing
//! decoded.

use super::hmac::{decode, sha256};
use super::preset::{any_secret, Check, Clock, Preset, SecretKind};
use super::{header, match_any, parse_timestamp, InboundError, SigEncoding, Verified};

const SIGNATURE: &str = "x-hubspot-signature-v3";
const TIMESTAMP: &str = "x-hubspot-request-timestamp";

/// The escapes HubSpot decodes in the URI it signs.
const DECODED: [(&str, &str); 12] = [
    ("%3A", ":"),
    ("%2F", "/"),
    ("%3F", "?"),
    ("%40", "@"),
    ("%21", "!"),
    ("%24", "$"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2A", "*"),
    ("%2C", ","),
    ("%3B", ";"),
];

pub(crate) const PRESET: Preset = Preset {
    name: "hubspot",
    provider: "HubSpot (signature v3)",
    checks:
        "X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method + URL + body + X-HubSpot-Request-Timestamp; \
             timestamp no older than the tolerance",
    secret: "the app's client secret; herald must be told its public URL (--public-url)",
    secret_kind: SecretKind::Shared,
    signature_headers: &[SIGNATURE],
    clock: Clock::AgeOnly,
    tolerance_s: 300,
    signs_url: true,
    signs_body: true,
    event_type: "const:events",
    dedupe: None,
    type_prefix: Some("hubspot."),
    handshake: None,
    reference:
        "https://developers.hubspot.com/docs/api/webhooks/validating-requests (@hubspot/api-client Signature)",
    verify,
    check_secret: any_secret,
};

/// The URL as HubSpot signs it.
fn signed_uri(url: &str) -> String {
    let mut out = url.to_string();
    for (escape, plain) in DECODED {
        out = replace_ignore_case(&out, escape, plain);
    }
    out
}

fn replace_ignore_case(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.to_ascii_uppercase().find(from) {
        out.push_str(&rest[..i]);
        out.push_str(to);
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

fn verify(c: &Check<'_>) -> Result<Verified, InboundError> {
    let sig = header(c.headers(), &[SIGNATURE])?;
    let ts = header(c.headers(), &[TIMESTAMP])?;
    let ms = parse_timestamp(ts.value, &ts)?;
    c.clock(Clock::AgeOnly, ms.div_euclid(1000))?;
    let given = decode(SigEncoding::Base64, sig.value)
        .filter(|s| s.len() == 32)
        .ok_or_else(|| sig.malformed())?;
    let uri = signed_uri(c.req.url.ok_or(InboundError::UrlUnknown)?);
    match_any(c.secrets, &[given], |secret| {
        let parts: [&[u8]; 4] = [
            c.req.method.as_bytes(),
            uri.as_bytes(),
            c.body(),
            ts.value.as_bytes(),
        ];
        sha256(secret, &parts)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_escapes_are_decoded_in_either_case() {
        assert_eq!(
            signed_uri("https://h.example/in/src?a=%3a%2F%20%40x%2c"),
            "https://h.example/in/src?a=:/%20@x,"
        );
    }
}
