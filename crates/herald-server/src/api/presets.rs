//! `GET /v1/source-presets`: the verification schemes a source can use, with what each
//! checks, what it needs from the user and the defaults it fills in.

use axum::Json;
use herald_signing::inbound::catalogue::PRESETS;
use herald_signing::{Clock, Preset, SecretKind};
use serde::Serialize;

use super::extract::Caller;
use crate::domain::source::DEFAULT_DEDUPE_WINDOW_S;

#[derive(Serialize, utoipa::ToSchema)]
pub struct PresetList {
    data: Vec<PresetView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PresetView {
    /// The `verify.scheme` value.
    name: &'static str,
    provider: &'static str,
    /// What herald checks.
    verifies: &'static str,
    /// What the user gives as `verify.secret`.
    secret: &'static str,
    /// `shared`, `public_key`, `credentials` or `none`.
    secret_kind: &'static str,
    /// The headers carrying the signature (redacted from the request log).
    signature_headers: Vec<&'static str>,
    /// The signed time: `null` when none is signed.
    #[schema(value_type = Option<Object>)]
    timestamp: Option<serde_json::Value>,
    /// The provider signs the URL it calls: start herald with `--public-url`.
    needs_public_url: bool,
    /// What `POST /v1/sources` fills in when the field is absent.
    #[schema(value_type = Object)]
    defaults: serde_json::Value,
    /// The handshake herald answers, if the provider has one.
    handshake: Option<&'static str>,
    /// `hmac` only: the settings it takes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    settings: Vec<&'static str>,
    /// Where the details come from.
    reference: &'static str,
}

fn secret_kind(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::Shared => "shared",
        SecretKind::PublicKey => "public_key",
        SecretKind::Credentials => "credentials",
        SecretKind::Nothing => "none",
    }
}

fn timestamp(p: &Preset) -> Option<serde_json::Value> {
    let rule = match p.clock {
        Clock::Unsigned => return None,
        Clock::EitherWay => "either_way",
        Clock::AgeOnly => "age_only",
    };
    Some(serde_json::json!({"checked": rule, "tolerance_s": p.tolerance_s}))
}

fn view(p: &'static Preset) -> PresetView {
    let dedupe = p.dedupe.map(
        |key| serde_json::json!({"key": key, "window_s": DEFAULT_DEDUPE_WINDOW_S, "retries_only": true}),
    );
    PresetView {
        name: p.name,
        provider: p.provider,
        verifies: p.checks,
        secret: p.secret,
        secret_kind: secret_kind(p.secret_kind),
        signature_headers: p.signature_headers.to_vec(),
        timestamp: timestamp(p),
        needs_public_url: p.signs_url,
        defaults: serde_json::json!({
            "event_type": p.event_type,
            "dedupe": dedupe,
            "type_prefix": p.type_prefix,
        }),
        handshake: p.handshake.map(|h| h.name()),
        settings: match p.name {
            "hmac" => vec!["header", "algorithm", "encoding", "prefix"],
            "meta" => vec!["verify_token"],
            _ => vec![],
        },
        reference: p.reference,
    }
}

#[utoipa::path(get, path = "/v1/source-presets", tag = "sources", summary = "List the verification schemes (provider presets) a source can use", responses((status = 200, body = PresetList)))]
pub async fn list(Caller(_scope): Caller) -> Json<PresetList> {
    Json(PresetList {
        data: PRESETS.iter().copied().map(view).collect(),
    })
}
