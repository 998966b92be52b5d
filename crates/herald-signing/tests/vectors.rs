//! Replays the requests of every `vectors/*.json`, signed by the providers' own libraries
//! (see `vectors/generate.py` and `vectors/catalogue_*.py`), through `verify_inbound`,
//! valid and altered; each vector's `cases`, variants judged by those libraries, whose
//! verdicts herald must share; and each handshake's expected reply.

#[path = "vectors/model.rs"]
mod model;

use herald_signing::inbound::catalogue::PRESETS;
use herald_signing::{handshake_reply, Clock, InboundError, InboundRequest, Scheme, Verified};
use model::{vectors, Vector};

const MATCHED_FIRST: Result<Verified, InboundError> = Ok(Verified {
    secret_index: Some(0),
});

/// The generic schemes, covered by the unit tests of `auth.rs` rather than by vectors.
const GENERIC: [&str; 3] = ["basic", "bearer", "none"];

#[test]
fn every_provider_is_covered() {
    let all = vectors();
    for preset in PRESETS.iter().filter(|p| !GENERIC.contains(&p.name)) {
        assert!(
            all.iter().any(|v| v.scheme.name() == preset.name),
            "no vector for {}",
            preset.name
        );
    }
    for name in [
        "standard secret without whsec_",
        "standard 16-byte key, unpadded base64",
        "shopify order, headers without X-",
    ] {
        assert!(all.iter().any(|v| v.name == name), "no vector `{name}`");
    }
    let mut names = std::collections::BTreeSet::new();
    for v in &all {
        assert!(names.insert(v.name.clone()), "two vectors named {}", v.name);
        assert_eq!(v.timestamp.is_some(), v.scheme.is_timestamped(), "{}", v.name);
        assert_eq!(v.url.is_some(), v.scheme.preset().signs_url, "{}", v.name);
        let redacted = v.scheme.signature_headers();
        match &v.signature_header {
            Some(h) => assert!(redacted.iter().any(|r| r.eq_ignore_ascii_case(h)), "{}", v.name),
            None => assert!(redacted.is_empty(), "{}", v.name),
        }
    }
}

#[test]
fn the_official_libraries_verdicts_are_shared() {
    let mut seen = 0;
    for v in vectors() {
        for c in &v.cases {
            let secret = c.secret.as_deref().unwrap_or(&v.secret);
            let url = c.url.as_deref().or(v.url.as_deref());
            let body = c.body.as_deref().unwrap_or(&v.body);
            let got = v.check_at(url, &c.headers, body, &[secret], c.now.unwrap_or(v.now()));
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
    for v in vectors().into_iter().filter(|v| v.scheme.preset().signs_body) {
        let mut longer = v.body.clone();
        longer.push(b' ');
        let mut flipped = v.body.clone();
        flipped[0] ^= 1;
        for body in [&longer, &flipped, &v.body[..v.body.len() - 1]] {
            let got = v.check(&v.headers, body, &[&v.secret], v.now());
            // Twilio's JSON bodies are checked against the URL's hash of them.
            assert!(
                matches!(got, Err(InboundError::NoMatch | InboundError::MalformedBody(_))),
                "{}: {got:?}",
                v.name
            );
        }
    }
}

#[test]
fn handshakes_get_their_reply_and_other_requests_none() {
    let mut seen = 0;
    for v in vectors() {
        let pairs: Vec<(&str, &str)> = v.headers.iter().map(|(n, x)| (n.as_str(), x.as_str())).collect();
        let req = InboundRequest {
            headers: &pairs,
            body: &v.body,
            method: &v.method,
            url: v.url.as_deref(),
        };
        assert_eq!(v.with_headers(&v.headers), MATCHED_FIRST, "{}", v.name);
        let reply = handshake_reply(&v.scheme, &req, Some(&v.secret));
        let got = reply.map(|r| (r.content_type.to_string(), String::from_utf8(r.body).unwrap()));
        if let Some((content_type, body)) = &v.handshake {
            let (got_type, got_body) = got.unwrap_or_else(|| panic!("{}: no reply", v.name));
            assert!(
                got_type.starts_with(content_type.as_str()),
                "{}: {got_type}",
                v.name
            );
            assert_eq!(&got_body, body, "{}", v.name);
            seen += 1;
        } else {
            assert_eq!(got, None, "{}: an event is not a handshake", v.name);
        }
    }
    // Twitch, Zoom and Discord; Slack's is checked live in the server's tests.
    assert!(seen >= 3, "only {seen} handshake vectors");
}

#[test]
fn presets_that_sign_the_url_need_it_and_check_it() {
    for v in vectors().into_iter().filter(|v| v.scheme.preset().signs_url) {
        let got = v.check_at(None, &v.headers, &v.body, &[&v.secret], v.now());
        assert_eq!(got, Err(InboundError::UrlUnknown), "{}", v.name);
        assert!(got.unwrap_err().is_misconfiguration());
        let url = v.url.as_deref().unwrap();
        let other = url.replacen("/in/", "/in/x", 1);
        assert_ne!(other, url, "{}: the URL has no /in/", v.name);
        let got = v.check_at(Some(&other), &v.headers, &v.body, &[&v.secret], v.now());
        assert!(got.is_err(), "{}: another URL verified", v.name);
    }
}

#[test]
fn timestamps_outside_the_tolerance_are_refused() {
    for v in vectors().into_iter().filter(|v| v.scheme.is_timestamped()) {
        let tol = v.tolerance();
        let ts = v.now();
        let at = |now| v.check(&v.headers, &v.body, &[&v.secret], now);
        assert_eq!(at(ts + tol), MATCHED_FIRST, "{}", v.name);
        assert_eq!(at(ts - tol), MATCHED_FIRST, "{}", v.name);
        let late = Err(InboundError::TimestampOutOfTolerance {
            age_s: tol + 1,
            tolerance_s: tol,
        });
        assert_eq!(at(ts + tol + 1), late, "{}", v.name);
        if v.scheme.preset().clock == Clock::AgeOnly {
            // Stripe's, Paddle's and HubSpot's libraries check the age only.
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

/// The name a missing signature header is reported under: the Standard Webhooks family
/// reports the `webhook-` name of the `svix-` headers, and Shopify the `x-` name of the
/// unprefixed ones.
fn reported_missing(v: &Vector, name: &str) -> String {
    let mut expected = name.to_ascii_lowercase();
    if v.scheme.signature_headers().contains(&"svix-signature") {
        expected = expected.replace("svix-", "webhook-");
    }
    if v.scheme == Scheme::SHOPIFY && !expected.starts_with("x-") {
        expected.insert_str(0, "x-");
    }
    expected
}

#[test]
fn duplicated_and_missing_headers_are_refused() {
    for v in vectors() {
        for (i, (name, value)) in v.headers.iter().enumerate() {
            let mut without = v.headers.clone();
            without.remove(i);
            let missing = v.with_headers(&without);
            let read = missing != MATCHED_FIRST;
            if v.signature_header
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(name))
            {
                let expected = reported_missing(&v, name);
                assert_eq!(missing, Err(InboundError::MissingHeader(expected)), "{}", v.name);
            } else if read {
                // Missing; or, without Twilio's signature settings, the signature read as the
                // default HMAC-SHA1 (the wrong length, or no match).
                assert!(
                    matches!(
                        missing,
                        Err(InboundError::MissingHeader(_)
                            | InboundError::NoMatch
                            | InboundError::MalformedHeader(_))
                    ),
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
    let stripe: Vec<&Vector> = all.iter().filter(|v| v.scheme == Scheme::STRIPE).collect();
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
    let mut seen = 0;
    for v in vectors() {
        let Some(sig_header) = v.signature_header.clone() else {
            continue;
        };
        let sig = v.sig_value().to_string();
        let altered = match v.scheme.name() {
            "standard" | "svix" | "clerk" | "resend" | "openai" if !sig.contains("v1a,") => {
                sig.replace("v1,", "v2,")
            }
            "github" | "meta" | "twitch" => sig.replace("sha256=", "sha1="),
            "intercom" => sig.replace("sha1=", "sha256="),
            "slack" | "zoom" => sig.replace("v0=", "v1="),
            "pagerduty" => sig.replace("v1=", "v2="),
            "paddle" => sig.replace("h1=", "h2="),
            "shopify" | "square" | "twilio" | "hubspot" | "linear" | "discord" => format!("{sig}!"),
            "hmac" => format!("{sig}#"),
            _ => continue,
        };
        assert_ne!(altered, sig, "{}", v.name);
        assert_eq!(
            v.with_headers(&v.replace_sig(&altered)),
            Err(InboundError::MalformedHeader(sig_header.to_ascii_lowercase())),
            "{}",
            v.name
        );
        seen += 1;
    }
    assert!(seen >= 20, "only {seen}");
}
