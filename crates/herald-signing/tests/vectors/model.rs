//! The vectors' model: every `*.json` of this directory read into [`Vector`]s, and how
//! one is replayed through `verify_inbound`.

use herald_signing::{
    parse_scheme, verify_inbound, HmacSpec, InboundError, InboundRequest, Scheme, Verified,
    DEFAULT_TOLERANCE_S,
};
use serde_json::Value;

/// The vector files, read at run time so that a new one needs no change here.
fn vector_files() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/vectors")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("readable"),
            )
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "vector files: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    files
}

/// `now` for the schemes that sign no timestamp (any value would do).
const UNTIMED_NOW: i64 = 1_700_000_000;

pub struct Vector {
    pub name: String,
    pub scheme: Scheme,
    pub secret: String,
    pub wrong_secret: String,
    pub timestamp: Option<i64>,
    pub method: String,
    pub url: Option<String>,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// `None` when the signature is not in a header (Mailgun's is in the body).
    pub signature_header: Option<String>,
    /// The reply a handshake request must get: content type and body.
    pub handshake: Option<(String, String)>,
    pub cases: Vec<Case>,
}

/// A variant of a vector's request and the verdict of the provider's own verifier.
pub struct Case {
    pub name: String,
    pub headers: Vec<(String, String)>,
    /// Instead of the vector's secret.
    pub secret: Option<String>,
    /// Instead of the vector's `now`.
    pub now: Option<i64>,
    /// Instead of the vector's URL and body.
    pub url: Option<String>,
    pub body: Option<Vec<u8>>,
    pub accepted: bool,
    pub judged_by: String,
}

impl Vector {
    pub fn now(&self) -> i64 {
        self.timestamp.unwrap_or(UNTIMED_NOW)
    }

    pub fn tolerance(&self) -> i64 {
        self.scheme.preset().tolerance_s
    }

    pub fn check(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        secrets: &[&str],
        now: i64,
    ) -> Result<Verified, InboundError> {
        self.check_at(self.url.as_deref(), headers, body, secrets, now)
    }

    pub fn check_at(
        &self,
        url: Option<&str>,
        headers: &[(String, String)],
        body: &[u8],
        secrets: &[&str],
        now: i64,
    ) -> Result<Verified, InboundError> {
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let req = InboundRequest {
            headers: &pairs,
            body,
            method: &self.method,
            url,
        };
        let result = verify_inbound(&self.scheme, secrets, &req, now, self.tolerance());
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
    pub fn with_headers(&self, headers: &[(String, String)]) -> Result<Verified, InboundError> {
        self.check(headers, &self.body, &[&self.secret], self.now())
    }

    pub fn sig_name(&self) -> &str {
        self.signature_header.as_deref().expect("a signature header")
    }

    pub fn sig_value(&self) -> &str {
        &self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(self.sig_name()))
            .expect("signature header")
            .1
    }

    pub fn replace_sig(&self, value: &str) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        for (n, v) in headers.iter_mut() {
            if n.eq_ignore_ascii_case(self.sig_name()) {
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
            url: c["url"].as_str().map(str::to_string),
            body: c["body"].as_str().map(|b| b.as_bytes().to_vec()),
            accepted: c["accepted"].as_bool().expect("a verdict"),
            judged_by: text(c, "judged_by"),
        })
        .collect()
}

pub fn vectors() -> Vec<Vector> {
    vector_files()
        .iter()
        .flat_map(|(path, text)| {
            let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
            if let Some(t) = doc["tolerance_s"].as_i64() {
                assert_eq!(t, DEFAULT_TOLERANCE_S, "{path}");
            }
            let list = doc["vectors"].as_array().expect("a vector list").clone();
            list.into_iter().map(|v| vector(&v)).collect::<Vec<_>>()
        })
        .collect()
}

fn vector(v: &Value) -> Vector {
    let mut scheme = parse_scheme(&text(v, "scheme")).expect("known scheme");
    if let Scheme::Hmac(spec) = &mut scheme {
        *spec = hmac_spec(&v["hmac"]);
    }
    let handshake = &v["handshake"];
    Vector {
        name: text(v, "name"),
        scheme,
        secret: text(v, "secret"),
        wrong_secret: text(v, "wrong_secret"),
        timestamp: v["timestamp"].as_i64(),
        method: v["method"].as_str().unwrap_or("POST").to_string(),
        url: v["url"].as_str().map(str::to_string),
        body: text(v, "body").into_bytes(),
        headers: pairs(&v["headers"]),
        signature_header: v["signature_header"].as_str().map(str::to_string),
        handshake: handshake
            .is_object()
            .then(|| (text(handshake, "content_type"), text(handshake, "body"))),
        cases: cases(v),
    }
}
