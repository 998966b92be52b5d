//! `herald verify`: checks a signed request with exactly the inbound gateway's verifier.
//! Exit code 0 when valid, 1 when not (with the reason), 2 on a usage error.

use std::io::Read;

use anyhow::Context;
use clap::Args;
use herald_server::domain::source::{VerifyConfig, VerifyFields};
use herald_signing::{handshake_reply, verify_inbound, InboundRequest};

#[derive(Args)]
pub struct VerifyArgs {
    /// A preset (`GET /v1/source-presets` lists them: standard, stripe, github, twilio,
    /// discord, …) or hmac, basic, bearer, none.
    #[arg(long)]
    scheme: String,
    /// A secret to try (repeatable: any one may match, as during a rotation).
    #[arg(long = "secret", required = true)]
    secrets: Vec<String>,
    /// A request header, as `name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The time to verify at, in unix seconds [default: now].
    #[arg(long)]
    now: Option<i64>,
    /// The full URL the provider called, for the schemes that sign it (twilio, hubspot,
    /// square).
    #[arg(long)]
    url: Option<String>,
    /// The request's method, for the schemes that sign it (hubspot).
    #[arg(long, default_value = "POST")]
    method: String,
    /// Timestamp tolerance in seconds for timestamped schemes [default: 300].
    #[arg(long)]
    tolerance: Option<i64>,
    /// hmac: the signature header [default: x-signature].
    #[arg(long = "sig-header")]
    sig_header: Option<String>,
    /// hmac: sha1, sha256 or sha512.
    #[arg(long)]
    algorithm: Option<String>,
    /// hmac: hex or base64.
    #[arg(long)]
    encoding: Option<String>,
    /// hmac: a prefix such as `sha256=`.
    #[arg(long)]
    prefix: Option<String>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let config = VerifyConfig::new(VerifyFields {
        scheme: args.scheme.to_ascii_lowercase(),
        secrets: args.secrets,
        header: args.sig_header,
        algorithm: args.algorithm,
        encoding: args.encoding,
        prefix: args.prefix,
        tolerance_s: args.tolerance,
        verify_token: None,
        url: None,
    })
    .map_err(|(field, e)| anyhow::anyhow!("{field}: {e}"))?;
    let scheme = config.scheme();
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("`{h}` is not a header line like `name: value`"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .context("reading the body from stdin")?;
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    let secrets: Vec<&str> = config.secrets().iter().map(String::as_str).collect();
    let request = InboundRequest {
        headers: &pairs,
        body: &body,
        method: &args.method,
        url: args.url.as_deref(),
    };
    match verify_inbound(scheme, &secrets, &request, now, config.tolerance()) {
        Ok(v) => {
            match v.secret_index {
                Some(i) => println!("valid (secret #{})", i + 1),
                None => println!("valid (scheme none)"),
            }
            let matched = v.secret_index.map(|i| secrets[i]);
            if let Some(reply) = handshake_reply(scheme, &request, matched) {
                let body = String::from_utf8_lossy(&reply.body);
                println!(
                    "handshake ({}): reply {} {body}",
                    reply.handshake.name(),
                    reply.content_type
                );
            }
            Ok(())
        }
        Err(e) => {
            println!("invalid: {e}");
            eprintln!("invalid: {e}");
            std::process::exit(1);
        }
    }
}
