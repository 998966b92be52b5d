//! Replays the requests of `vectors/vectors.json`, signed by the providers' own libraries
//! (see `vectors/generate.py`), through `verify_inbound`, valid and altered; and each
//! vector's `cases`, variants judged by those libraries, whose verdicts herald must share.

use herald_signing::{
    parse_scheme, verify_inbound, HmacSpec, InboundError, InboundRequest, Scheme, Verified,
    DEFAULT_TOLERANCE_S,
};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/vectors.json");

/// `now` for the schemes that sign no timestamp (any value would do).
const UNTIMED_NOW: i64 = 1_700_000_000;

struct Vector {
    name: String,
    scheme: Scheme,
    secret: String,
    wrong_secret: String,
    timestamp: Option<i64>,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    signature_header: String,
    cases: Vec<Case>,
}

/// A variant of a vector's request and the verdict of the provider's own verifier.
struct Case {
    name: String,
    headers: Vec<(String, String)>,
    /// Instead of the vector's secret.
    secret: Option<String>,
    /// Instead of the vector's `now`.
    now: Option<i64>,
    accepted: bool,
    judged_by: String,
}

impl Vector {
    fn now(&self) -> i64 {
        self.timestamp.unwrap_or(UNTIMED_NOW)
    }

    fn check(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        secrets: &[&str],
        now: i64,
    ) -> Result<Verified, InboundError> {
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let req = InboundRequest {
            headers: &pairs,
            body,
        };
        let result = verify_inbound(&self.scheme, secrets, &req, now, DEFAULT_TOLERANCE_S);
        if let Err(e) = &result {
            let shown = e.to_string();
            for secret in secrets {
                assert!(
                    !shown.contains(secret),
                    "{}: error message quotes a secret: {shown}",
                    self.name
                );
            }
        }
        result
    }

    /// The request as signed, with the given headers.
    fn with_headers(&self, headers: &[(String, String)]) -> Result<Verified, InboundError> {
        self.check(headers, &self.body, &[&self.secret], self.now())
    }

    fn sig_value(&self) -> &str {
        &self
            .headers
            .iter()
            .find(|(n, _)| *n == self.signature_header)
            .expect("signature header")
            .1
    }

    fn replace_sig(&self, value: &str) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        for (n, v) in headers.iter_mut() {
            if *n == self.signature_header {
                *v = value.to_string();
            }
        }
        headers
    }
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
        .to_string()
}

fn hmac_spec(v: &Value) -> HmacSpec {
    HmacSpec {
        header: text(v, "header"),
        algorithm: text(v, "algorithm").parse().unwrap(),
        encoding: text(v, "encoding").parse().unwrap(),
        prefix: v["prefix"].as_str().map(str::to_string),
    }
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a header list: {v}"))
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn cases(v: &Value) -> Vec<Case> {
    let Some(list) = v["cases"].as_array() else {
        return Vec::new();
    };
    list.iter()
        .map(|c| Case {
            name: text(c, "name"),
            headers: pairs(&c["headers"]),
            secret: c["secret"].as_str().map(str::to_string),
            now: c["now"].as_i64(),
            accepted: c["accepted"].as_bool().expect("a verdict"),
            judged_by: text(c, "judged_by"),
        })
        .collect()
}

fn vectors() -> Vec<Vector> {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors.json parses");
    assert_eq!(doc["tolerance_s"].as_i64(), Some(DEFAULT_TOLERANCE_S));
    doc["vectors"]
        .as_array()
        .expect("a vector list")
        .iter()
        .map(|v| {
            let mut scheme = parse_scheme(&text(v, "scheme")).expect("known scheme");
            if let Scheme::Hmac(spec) = &mut scheme {
                *spec = hmac_spec(&v["hmac"]);
            }
            let headers = pairs(&v["headers"]);
            Vector {
                name: text(v, "name"),
                scheme,
                secret: text(v, "secret"),
                wrong_secret: text(v, "wrong_secret"),
                timestamp: v["timestamp"].as_i64(),
                body: text(v, "body").into_bytes(),
                headers,
                signature_header: text(v, "signature_header"),
                cases: cases(v),
            }
        })
        .collect()
}

const MATCHED_FIRST: Result<Verified, InboundError> = Ok(Verified {
    secret_index: Some(0),
});

#[test]
fn every_provider_is_covered() {
    let all = vectors();
    for name in ["standard", "stripe", "github", "shopify", "slack", "hmac"] {
        assert!(
            all.iter().any(|v| v.scheme.name() == name),
            "no vector for {name}"
        );
    }
    for name in [
        "standard secret without whsec_",
        "standard 16-byte key, unpadded base64",
        "shopify order, headers without X-",
    ] {
        assert!(all.iter().any(|v| v.name == name), "no vector `{name}`");
    }
    for v in &all {
        assert_eq!(v.timestamp.is_some(), v.scheme.is_timestamped(), "{}", v.name);
        let redacted = v.scheme.signature_headers();
        assert!(
            redacted
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&v.signature_header)),
            "{}",
            v.name
        );
    }
}

#[test]
fn the_official_libraries_verdicts_are_shared() {
    let mut seen = 0;
    for v in vectors() {
        for c in &v.cases {
            let secret = c.secret.as_deref().unwrap_or(&v.secret);
            let got = v.check(&c.headers, &v.body, &[secret], c.now.unwrap_or(v.now()));
            let what = format!("{} / {} ({})", v.name, c.name, c.judged_by);
            if c.accepted {
                assert_eq!(got, MATCHED_FIRST, "{what}: accepted by the library");
            } else {
                assert!(got.is_err(), "{what}: refused by the library, accepted here");
            }
            seen += 1;
        }
    }
    assert!(seen >= 60, "only {seen} cases");
}

#[test]
fn valid_requests_verify_whatever_the_header_case() {
    for v in vectors() {
        assert_eq!(v.with_headers(&v.headers), MATCHED_FIRST, "{}", v.name);
        for case in [str::to_ascii_uppercase, str::to_ascii_lowercase] {
            let cased: Vec<_> = v.headers.iter().map(|(n, val)| (case(n), val.clone())).collect();
            assert_eq!(v.with_headers(&cased), MATCHED_FIRST, "{}", v.name);
        }
    }
}

#[test]
fn a_tampered_body_does_not_match() {
    for v in vectors() {
        let mut longer = v.body.clone();
        longer.push(b' ');
        let mut flipped = v.body.clone();
        flipped[0] ^= 1;
        for body in [&longer, &flipped, &v.body[..v.body.len() - 1]] {
            let got = v.check(&v.headers, body, &[&v.secret], v.now());
            assert_eq!(got, Err(InboundError::NoMatch), "{}", v.name);
        }
    }
}

#[test]
fn timestamps_outside_the_tolerance_are_refused() {
    let tol = DEFAULT_TOLERANCE_S;
    for v in vectors().into_iter().filter(|v| v.scheme.is_timestamped()) {
        let ts = v.now();
        let at = |now| v.check(&v.headers, &v.body, &[&v.secret], now);
        assert_eq!(at(ts + tol), MATCHED_FIRST, "{}", v.name);
        assert_eq!(at(ts - tol), MATCHED_FIRST, "{}", v.name);
        let late = Err(InboundError::TimestampOutOfTolerance {
            age_s: tol + 1,
            tolerance_s: tol,
        });
        assert_eq!(at(ts + tol + 1), late, "{}", v.name);
        if v.scheme == Scheme::Stripe {
            // Stripe's libraries check the age only.
            assert_eq!(at(ts - tol - 1), MATCHED_FIRST, "{}", v.name);
            assert_eq!(at(ts - 86_400 * 365), MATCHED_FIRST, "{}", v.name);
        } else {
            let early = Err(InboundError::TimestampOutOfTolerance {
                age_s: -tol - 1,
                tolerance_s: tol,
            });
            assert_eq!(at(ts - tol - 1), early, "{}", v.name);
        }
        assert!(
            at(ts + 86_400).unwrap_err().to_string().contains("86400 s old"),
            "{}",
            v.name
        );
    }
}

#[test]
fn a_wrong_secret_does_not_match_and_rotation_accepts_any_live_one() {
    for v in vectors() {
        let run = |secrets: &[&str]| v.check(&v.headers, &v.body, secrets, v.now());
        assert_eq!(run(&[&v.wrong_secret]), Err(InboundError::NoMatch), "{}", v.name);
        assert_eq!(
            run(&[&v.wrong_secret, &v.secret]),
            Ok(Verified {
                secret_index: Some(1)
            }),
            "{}",
            v.name
        );
        assert_eq!(run(&[&v.secret, &v.wrong_secret]), MATCHED_FIRST, "{}", v.name);
        assert_eq!(run(&[]), Err(InboundError::NoSecret), "{}", v.name);
    }
}

#[test]
fn duplicated_and_missing_headers_are_refused() {
    for v in vectors() {
        for (i, (name, value)) in v.headers.iter().enumerate() {
            let mut without = v.headers.clone();
            without.remove(i);
            let missing = v.with_headers(&without);
            let read = missing != MATCHED_FIRST;
            if *name == v.signature_header {
                // Standard Webhooks reports the `webhook-` name of the `svix-` headers, and
                // Shopify the `x-` name of the unprefixed ones.
                let mut expected = name.to_ascii_lowercase().replace("svix-", "webhook-");
                if v.scheme == Scheme::Shopify && !expected.starts_with("x-") {
                    expected.insert_str(0, "x-");
                }
                assert_eq!(missing, Err(InboundError::MissingHeader(expected)), "{}", v.name);
            } else if read {
                assert!(
                    matches!(missing, Err(InboundError::MissingHeader(_))),
                    "{}: {missing:?}",
                    v.name
                );
            }
            for dup_name in [name.clone(), name.to_ascii_lowercase()] {
                let mut twice = v.headers.clone();
                twice.push((dup_name, value.clone()));
                let got = v.with_headers(&twice);
                if read {
                    assert_eq!(
                        got,
                        Err(InboundError::DuplicateHeader(name.to_ascii_lowercase())),
                        "{}",
                        v.name
                    );
                } else {
                    assert_eq!(
                        got, MATCHED_FIRST,
                        "{}: a header the scheme does not read",
                        v.name
                    );
                }
            }
        }
    }
}

#[test]
fn stripe_accepts_any_v1_and_ignores_v0() {
    let all = vectors();
    let stripe: Vec<&Vector> = all.iter().filter(|v| v.scheme == Scheme::Stripe).collect();
    let malformed = Err(InboundError::MalformedHeader("stripe-signature".to_string()));
    for v in &stripe {
        let v0_only = v.sig_value().replace("v1=", "v0=");
        assert_eq!(v.with_headers(&v.replace_sig(&v0_only)), malformed, "{}", v.name);
        let also_v0 = format!("{},v0={}", v.sig_value(), "ab".repeat(32));
        assert_eq!(
            v.with_headers(&v.replace_sig(&also_v0)),
            MATCHED_FIRST,
            "{}",
            v.name
        );
        let no_t: Vec<&str> = v
            .sig_value()
            .split(',')
            .filter(|e| !e.starts_with("t="))
            .collect();
        assert_eq!(
            v.with_headers(&v.replace_sig(&no_t.join(","))),
            malformed,
            "{}",
            v.name
        );
    }

    let roll = stripe
        .iter()
        .find(|v| v.name.contains("two v1"))
        .expect("the two-v1 vector");
    let entries: Vec<&str> = roll.sig_value().split(',').collect();
    let [t, first, second] = entries[..] else {
        panic!("expected t and two v1: {entries:?}")
    };
    assert!(first.starts_with("v1=") && second.starts_with("v1="));
    assert_eq!(roll.with_headers(&roll.headers), MATCHED_FIRST);
    assert_eq!(
        roll.with_headers(&roll.replace_sig(&format!("{t},{first}"))),
        Err(InboundError::NoMatch)
    );
    assert_eq!(
        roll.with_headers(&roll.replace_sig(&format!("{t},{second}"))),
        MATCHED_FIRST
    );
    assert_eq!(
        roll.with_headers(&roll.replace_sig(&format!("{second},{t}"))),
        MATCHED_FIRST
    );
}

#[test]
fn signatures_of_an_unknown_version_or_format_are_malformed() {
    for v in vectors() {
        let altered = match &v.scheme {
            Scheme::Standard => v.sig_value().replace("v1,", "v2,"),
            Scheme::Github => v.sig_value().replace("sha256=", "sha1="),
            Scheme::Slack => v.sig_value().replace("v0=", "v1="),
            Scheme::Shopify => format!("{}!", v.sig_value()),
            Scheme::Hmac(_) => format!("{}#", v.sig_value()),
            _ => continue,
        };
        let expected = v.signature_header.to_ascii_lowercase();
        assert_eq!(
            v.with_headers(&v.replace_sig(&altered)),
            Err(InboundError::MalformedHeader(expected)),
            "{}",
            v.name
        );
    }
}
