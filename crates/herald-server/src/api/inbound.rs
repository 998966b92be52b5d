//! `POST /in/{source_id}`: the public receiver. No API key: the source's own verification
//! decides. The 2xx is sent only after the event (or the duplicate) is durably recorded;
//! every request, accepted or refused, is logged with its reason. `GET /in/{source_id}`
//! answers Meta's subscription check, for `meta` sources only.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, RawQuery, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::read_limited;
use super::sources::ingest_url;
use super::AppState;
use crate::domain::source::Source;
use crate::domain::{new_id, new_id_at, NewEvent, Scope};
use crate::ingest::{check_sender, client_ip, decide, redacted_headers, Accepted, RawRequest, RefusalKind};
use crate::store::{InboundEvent, IngestOutcome, RequestRecord};
use herald_signing::{acknowledgement, meta_subscribe, Handshake};

/// The stored event's id, on every accepted inbound request.
const EVENT_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-herald-event-id");

/// Bytes of a refused request's body kept in the log.
const LOGGED_BODY: usize = 4096;

struct Log<'a> {
    state: &'a AppState,
    source: &'a Source,
    ip: String,
    headers: String,
    body_size: u64,
}

impl Log<'_> {
    fn record(
        &self,
        outcome: &str,
        status: u16,
        reason: Option<String>,
        body: Option<Vec<u8>>,
    ) -> RequestRecord {
        RequestRecord {
            id: new_id("req"),
            source_id: self.source.id.clone(),
            tenant: self.source.tenant.clone(),
            received_at: self.state.now_ms(),
            outcome: outcome.into(),
            status,
            reason,
            event_id: None,
            remote_ip: self.ip.clone(),
            headers: self.headers.clone(),
            body,
            body_size: self.body_size,
        }
    }

    /// Logs a refusal and answers it.
    async fn refuse(&self, err: ApiError, body: Option<&[u8]>) -> Response {
        let kept = body.map(|b| b[..b.len().min(LOGGED_BODY)].to_vec());
        let record = self.record("rejected", err.status.as_u16(), Some(err.message.clone()), kept);
        if let Err(e) = self.state.store.record_request(record).await {
            tracing::warn!(error = %e, source = %self.source.id, "could not log a refused inbound request");
        }
        tracing::info!(source = %self.source.id, status = err.status.as_u16(), reason = %err.message, "inbound request refused");
        err.into_response()
    }
}

/// How each kind of refusal is answered.
fn answer(kind: RefusalKind) -> (StatusCode, &'static str) {
    match kind {
        RefusalKind::SenderNotAllowed => (StatusCode::FORBIDDEN, "forbidden"),
        RefusalKind::BadSignature => (StatusCode::UNAUTHORIZED, "unauthorized"),
        RefusalKind::ReservedType => (StatusCode::UNPROCESSABLE_ENTITY, "reserved_event_type"),
        RefusalKind::MissingDedupeKey => (StatusCode::BAD_REQUEST, "malformed_request"),
    }
}

#[utoipa::path(post, path = "/in/{source_id}", tag = "inbound", summary = "Receive a provider's webhook (verified by the source, no API key)", params(("source_id" = String, Path, description = "The source id")), request_body = Vec<u8>, responses((status = 200, body = Object, description = "Stored (or a duplicate: the first event id)")))]
pub async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let source = match state.store.get_source(&Scope::Admin, &id).await {
        Ok(Some(s)) => s,
        Ok(None) => return ApiError::not_found("source").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = client_ip(peer.ip(), forwarded, &state.config.trusted_proxies);
    let mut log = Log {
        state: &state,
        source: &source,
        ip: ip.to_string(),
        headers: serde_json::to_string(&redacted_headers(&source, &headers)).expect("strings serialize"),
        body_size: 0,
    };
    // What a provider that signs the URL signed: the ingest URL it was given, and the query.
    let mut url = match source.spec.verify.signed_url() {
        Some(u) => u.to_string(),
        None => ingest_url(&state, &headers, &source.id),
    };
    if let Some(query) = req.uri().query() {
        url.push('?');
        url.push_str(query);
    }
    let method = req.method().as_str().to_string();
    if let Some(limit) = &state.limits.per_source {
        if let Err(mut e) = limit.check(state.store.as_ref(), &source.id).await {
            let Some(skipped) = state.limits.log_rate_refusal(&source.id) else {
                return e.into_response();
            };
            e.message = format!(
                "rate limited: over --inbound-rate-limit for this source ({}); {skipped} more since the last such entry",
                e.message
            );
            return log.refuse(e, None).await;
        }
    }
    // The inbound body is the payload itself: `--max-payload` exactly, no envelope.
    let body = match read_limited(req, &state, state.config.max_payload).await {
        Ok(b) => b,
        Err(e) => return log.refuse(e, None).await,
    };
    log.body_size = body.len() as u64;
    let raw = RawRequest {
        method: &method,
        url: &url,
        headers: &headers,
        body: &body,
        client_ip: ip,
        now_s: state.now_ms() / 1000,
    };
    let (event_type, dedupe_key) = match decide(&source, &raw) {
        Err(r) => {
            let (status, code) = answer(r.kind);
            return log
                .refuse(ApiError::with_status(status, code, r.reason), Some(&body))
                .await;
        }
        Ok(Accepted::Challenge(reply)) => {
            let what = format!("handshake answered: {}", reply.handshake.name());
            let record = log.record("challenge", 200, Some(what), None);
            if let Err(e) = state.store.record_request(record).await {
                return ApiError::from(e).into_response();
            }
            return ([(CONTENT_TYPE, reply.content_type)], reply.body).into_response();
        }
        Ok(Accepted::Event {
            event_type,
            dedupe_key,
        }) => (event_type, dedupe_key),
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let now = state.now_ms();
    let event = NewEvent {
        id: new_id_at("evt", now),
        event_type,
        tenant: source.tenant.clone(),
        payload: body.to_vec(),
        content_type,
        idempotency_key: None,
        caller_id: false,
        request_hash: String::new(),
        created_at: now,
        source_id: Some(source.id.clone()),
        headers: Some(log.headers.clone()),
        ordering_key: None,
    };
    let window = source
        .spec
        .dedupe
        .as_ref()
        .map_or(0, |d| d.window_s as i64 * 1000);
    let inbound = InboundEvent {
        event,
        dedupe: dedupe_key.map(|k| (k, window)),
        request: log.record("accepted", 200, None, None),
    };
    let ack = acknowledgement(source.spec.verify.scheme(), &body);
    let answer = |id: String, herald: Value| match ack {
        // The provider's own acknowledgement; the event's id in a header.
        Some(ack) => ([(CONTENT_TYPE, "application/json"), (EVENT_ID, id.as_str())], ack).into_response(),
        None => ([(EVENT_ID, id.as_str())], Json(herald)).into_response(),
    };
    match state.store.ingest(inbound).await {
        Ok(IngestOutcome::Accepted(summary)) => {
            state.metrics.event_published();
            if summary.deliveries > 0 {
                state.work_arrived();
            }
            let herald = json!({"id": summary.id, "type": summary.event_type, "duplicate": false});
            answer(summary.id, herald)
        }
        Ok(IngestOutcome::Duplicate(first)) => {
            let herald = json!({"id": first, "duplicate": true});
            answer(first, herald)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[utoipa::path(get, path = "/in/{source_id}", tag = "inbound", summary = "Answer Meta's subscription check (`meta` sources)", params(("source_id" = String, Path, description = "The source id")), responses((status = 200, body = String, description = "hub.challenge, echoed")))]
pub async fn subscribe(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let source = match state.store.get_source(&Scope::Admin, &id).await {
        Ok(Some(s)) => s,
        Ok(None) => return ApiError::not_found("source").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if source.spec.verify.scheme().preset().handshake != Some(Handshake::MetaSubscribe) {
        return ApiError::with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "providers POST to /in/{id}; GET is answered for `meta` sources only (hub.challenge)",
        )
        .into_response();
    }
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = client_ip(peer.ip(), forwarded, &state.config.trusted_proxies);
    let log = Log {
        state: &state,
        source: &source,
        ip: ip.to_string(),
        headers: serde_json::to_string(&redacted_headers(&source, &headers)).expect("strings serialize"),
        body_size: 0,
    };
    if let Err(r) = check_sender(&source, ip) {
        return log
            .refuse(ApiError::with_status(StatusCode::FORBIDDEN, "forbidden", r), None)
            .await;
    }
    // The verify token; without one, any of the source's secrets (DESIGN names no token
    // field, so a source made from it alone still answers; a token of its own is better:
    // Meta shows it in its dashboard and sends it in a URL).
    let verify = &source.spec.verify;
    let tokens: Vec<&str> = match verify.verify_token() {
        Some(t) => vec![t],
        None => verify.secrets().iter().map(String::as_str).collect(),
    };
    let Some(challenge) = meta_subscribe(query.as_deref().unwrap_or(""), &tokens) else {
        let why = "not a subscription check with this source's verify token \
                   (hub.mode=subscribe, hub.verify_token = verify.verify_token or else the secret, hub.challenge)";
        let err = ApiError::with_status(StatusCode::FORBIDDEN, "forbidden", why);
        return log.refuse(err, None).await;
    };
    let record = log.record(
        "challenge",
        200,
        Some(format!("handshake answered: {}", Handshake::MetaSubscribe.name())),
        None,
    );
    if let Err(e) = state.store.record_request(record).await {
        return ApiError::from(e).into_response();
    }
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response()
}
