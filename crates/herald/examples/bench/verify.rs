//! Scenario (14), `-- verify`: the CPU cost of checking one inbound signature, per preset,
//! over the signing crate's vectors (each signed by its provider's own library); the
//! baseline is GitHub's (one HMAC-SHA256 of the body), measured in the same run.

use std::time::Instant;

use herald_signing::{parse_scheme, verify_inbound, HmacSpec, InboundRequest, Scheme};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../herald-signing/tests/vectors");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("the signing crate's vectors")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            doc["vectors"].as_array().unwrap().clone()
        })
        .collect()
}

/// Nanoseconds per verification of vector `v`, over `rounds` runs.
fn cost(v: &Value, rounds: u32) -> f64 {
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let mut scheme = parse_scheme(&text("scheme")).unwrap();
    if let Scheme::Hmac(spec) = &mut scheme {
        let h = &v["hmac"];
        *spec = HmacSpec {
            header: h["header"].as_str().unwrap().into(),
            algorithm: h["algorithm"].as_str().unwrap().parse().unwrap(),
            encoding: h["encoding"].as_str().unwrap().parse().unwrap(),
            prefix: h["prefix"].as_str().map(str::to_string),
        };
    }
    let headers: Vec<(String, String)> = v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, x)| (n.as_str(), x.as_str())).collect();
    let (secret, body, url, method) = (text("secret"), text("body"), v["url"].as_str(), text("method"));
    let req = InboundRequest {
        headers: &pairs,
        body: body.as_bytes(),
        method: if method.is_empty() { "POST" } else { &method },
        url,
    };
    let now = v["timestamp"].as_i64().unwrap_or(1_700_000_000);
    let tolerance = scheme.preset().tolerance_s;
    assert!(
        verify_inbound(&scheme, &[&secret], &req, now, tolerance).is_ok(),
        "{}",
        text("name")
    );
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(verify_inbound(&scheme, &[&secret], &req, now, tolerance).is_ok());
    }
    start.elapsed().as_nanos() as f64 / f64::from(rounds)
}

pub fn run(smoke: bool) {
    let rounds = if smoke { 20 } else { 20_000 };
    let all = vectors();
    let mut by_scheme: std::collections::BTreeMap<String, (f64, usize, usize)> = Default::default();
    for v in &all {
        let ns = cost(v, rounds);
        let entry = by_scheme
            .entry(v["scheme"].as_str().unwrap().to_string())
            .or_default();
        entry.0 += ns;
        entry.1 += 1;
        entry.2 = entry.2.max(v["body"].as_str().unwrap().len());
    }
    let mean = |s: &str| {
        by_scheme
            .get(s)
            .map(|(t, n, _)| t / *n as f64)
            .unwrap_or(f64::NAN)
    };
    let baseline = mean("github");
    println!("\n(14) inbound verification, one core, µs per request (mean over each preset's vectors; baseline github = one HMAC-SHA256 of the body: {:.2} µs)", baseline / 1000.0);
    println!(
        "{:<12} {:>8} {:>10} {:>9} {:>10}",
        "scheme", "vectors", "µs/verify", "× github", "max body B"
    );
    for (scheme, (total, n, body)) in &by_scheme {
        let m = total / *n as f64;
        println!(
            "{scheme:<12} {n:>8} {:>10.2} {:>9.2} {body:>10}",
            m / 1000.0,
            m / baseline
        );
    }
}
