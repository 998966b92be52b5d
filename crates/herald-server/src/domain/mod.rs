//! Domain types shared by the API, the delivery workers and the store, and the pure
//! rules about them (ids, type patterns, the clock).

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use serde::Serialize;

pub mod breaker;
mod clock;
pub mod destination;
pub mod health;
mod idle;
mod ids;
pub mod limit;
mod names;
pub mod ordering;
pub mod outcome;
mod secret;
pub mod source;
pub mod subscribers;

pub use clock::Clock;
pub use idle::QueueIdle;
pub use names::{
    type_matches, valid_event_type, valid_key, valid_tenant, valid_type_pattern, OPERATIONAL_PREFIX,
};

/// Milliseconds since the unix epoch.
pub type Millis = i64;

/// Formats a timestamp for the API (RFC 3339, UTC, milliseconds).
pub fn rfc3339(ms: Millis) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Parses an RFC 3339 timestamp from the API (`Z` or a `±HH:MM` offset, any fraction).
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let s = s.trim().to_ascii_uppercase();
    if !s.is_ascii() {
        return None;
    }
    let (local, offset_min) = match s.strip_suffix('Z') {
        Some(l) => (l.to_string(), 0),
        None => {
            let (l, off) = s.split_at(s.len().checked_sub(6)?);
            let sign = match off.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = off[1..].split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            (l.to_string(), sign * (h * 60 + m))
        }
    };
    // Times before 1970 are valid RFC 3339 but precede every event: read them as 0.
    let year: i64 = local.get(..4)?.parse().ok()?;
    if year < 1970 {
        let shifted = format!("1970{}Z", local.get(4..)?);
        humantime::parse_rfc3339_weak(&shifted).ok()?;
        return Some(0);
    }
    let t = humantime::parse_rfc3339_weak(&format!("{local}Z")).ok()?;
    let ms = t.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64;
    Some(ms - offset_min * 60_000)
}

pub use self::ids::{id_floor, new_id, new_id_at};
pub use self::secret::Secret;

/// The tenant an API caller may see: everything (admin) or one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Admin,
    Tenant(String),
}

impl Scope {
    /// The tenant filter to apply to queries, `None` for admins.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Scope::Admin => None,
            Scope::Tenant(t) => Some(t),
        }
    }

    /// The tenant filter of a list where the caller may also ask for one: `None` when
    /// nothing can be visible (a tenant key asking for another tenant), else the filter
    /// to apply (`Some(None)`: no filter).
    pub fn list_filter<'a>(&'a self, asked: Option<&'a str>) -> Option<Option<&'a str>> {
        match (self.tenant(), asked) {
            (Some(own), Some(asked)) if own != asked => None,
            (own, asked) => Some(own.or(asked)),
        }
    }
}

/// How deliveries to an endpoint are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum SignatureScheme {
    #[serde(rename = "standard")]
    Standard,
    #[serde(rename = "hmac-sha256-hex")]
    HmacSha256Hex,
    /// Standard Webhooks `v1a`: Ed25519 with a `whsk_` key; receivers get the `whpk_` key.
    #[serde(rename = "v1a")]
    V1a,
}

impl SignatureScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::Standard => "standard",
            SignatureScheme::HmacSha256Hex => "hmac-sha256-hex",
            SignatureScheme::V1a => "v1a",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Self::Standard),
            "hmac-sha256-hex" => Some(Self::HmacSha256Hex),
            "v1a" => Some(Self::V1a),
            _ => None,
        }
    }

    /// What a receiver is given to verify deliveries signed with `secret`: the secret
    /// itself for the symmetric schemes, the public key for `v1a` (its signing key never
    /// leaves herald).
    pub fn for_receiver(self, secret: &str) -> String {
        match self {
            SignatureScheme::V1a => herald_signing::SigningKey::parse(secret)
                .map(|k| k.public_key())
                .unwrap_or_else(|_| "(unusable signing key)".into()),
            _ => secret.to_string(),
        }
    }
}

/// A signing secret of an endpoint; `expires_at` is set on the old one during a rotation.
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EndpointSecret {
    pub secret: String,
    pub expires_at: Option<Millis>,
}

impl std::fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSecret")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A subscriber.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub tenant: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub signature: SignatureScheme,
    /// Newest first.
    pub secrets: Vec<EndpointSecret>,
    pub timeout_ms: u64,
    pub max_in_flight: u32,
    pub rate_limit_per_s: Option<u32>,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// This endpoint's own retry schedule (`5s,5m,…`, validated), instead of the global one.
    pub retry_schedule: Option<String>,
    /// Consecutive failed attempts that open the circuit (0: never).
    pub circuit_after: u32,
    /// No attempt starts before this instant (a `Retry-After` paused the endpoint).
    pub paused_until: Option<Millis>,
    /// The circuit breaker's state (kept in the store, so every node sees it).
    pub breaker: breaker::Breaker,
    /// Ordered keys (`None`: deliveries go in any order).
    pub ordering: Option<ordering::Ordering>,
    /// A broker to publish to instead of `url` (never both; neither: a pull endpoint).
    pub destination: Option<destination::Destination>,
}

/// Custom header values may be credentials: `Debug` shows their names only.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("destination", &self.destination)
            .field("event_types", &self.event_types)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("signature", &self.signature)
            .field("secrets", &self.secrets)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A pull endpoint: no URL and no broker, its deliveries wait to be pulled.
    pub fn is_pull(&self) -> bool {
        self.url.is_none() && self.destination.is_none()
    }

    /// Whether this endpoint subscribes to an event type.
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|p| type_matches(p, event_type))
    }

    /// The secrets that sign at `now` (the current one and any in its grace period).
    pub fn live_secrets(&self, now: Millis) -> impl Iterator<Item = &str> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|e| e > now))
            .map(|s| s.secret.as_str())
    }
}

impl Endpoint {
    /// Puts a new secret first; secrets that still sign get `grace_until` as their end
    /// (now or earlier ends them at once); expired ones are dropped.
    pub fn rotate(&mut self, secret: String, now: Millis, grace_until: Millis) {
        self.secrets.retain(|s| s.expires_at.is_none_or(|e| e > now));
        for s in &mut self.secrets {
            s.expires_at = Some(s.expires_at.map_or(grace_until, |e| e.min(grace_until)));
        }
        self.secrets.retain(|s| s.expires_at.is_none_or(|e| e > now));
        self.secrets.insert(
            0,
            EndpointSecret {
                secret,
                expires_at: None,
            },
        );
        self.updated_at = now;
    }
}

/// A change to an endpoint; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub headers: Option<BTreeMap<String, String>>,
    pub timeout_ms: Option<u64>,
    pub max_in_flight: Option<u32>,
    pub rate_limit_per_s: Option<Option<u32>>,
    pub disabled: Option<bool>,
    pub retry_schedule: Option<Option<String>>,
    pub circuit_after: Option<u32>,
    pub ordering: Option<Option<ordering::Ordering>>,
    /// Setting one of `url` and `destination` clears the other.
    pub destination: Option<Option<destination::Destination>>,
}

impl EndpointPatch {
    pub fn apply(self, ep: &mut Endpoint, now: Millis) {
        if let Some(v) = self.url {
            if v.is_some() {
                ep.destination = None;
            }
            ep.url = v;
        }
        if let Some(v) = self.destination {
            if v.is_some() {
                ep.url = None;
            }
            ep.destination = v;
        }
        if let Some(v) = self.description {
            ep.description = v;
        }
        if let Some(v) = self.event_types {
            ep.event_types = v;
        }
        if let Some(v) = self.headers {
            ep.headers = v;
        }
        if let Some(v) = self.timeout_ms {
            ep.timeout_ms = v;
        }
        if let Some(v) = self.max_in_flight {
            ep.max_in_flight = v;
        }
        if let Some(v) = self.rate_limit_per_s {
            ep.rate_limit_per_s = v;
        }
        if let Some(v) = self.circuit_after {
            ep.circuit_after = v;
        }
        if let Some(v) = self.ordering {
            ep.ordering = v;
        }
        if let Some(v) = self.retry_schedule {
            ep.retry_schedule = v;
        }
        if let Some(v) = self.disabled {
            if ep.disabled != v {
                ep.disabled_reason = v.then(|| "disabled by an API call".to_string());
            }
            ep.disabled = v;
        }
        ep.updated_at = now;
    }
}

/// An event to store, as accepted by the API.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub event_type: String,
    pub tenant: Option<String>,
    pub payload: Vec<u8>,
    pub content_type: String,
    /// The key that makes a publish idempotent (the `Idempotency-Key` header, or the
    /// caller's own event id).
    pub idempotency_key: Option<String>,
    /// Whether `id` was chosen by the caller (then it is itself an idempotency key).
    pub caller_id: bool,
    /// Hash of what was asked, to tell a retry from a different request with the same key.
    pub request_hash: String,
    pub created_at: Millis,
    /// The inbound source it came from, and that request's headers (credentials
    /// redacted) as JSON.
    pub source_id: Option<String>,
    pub headers: Option<String>,
    /// The publisher's ordering key (wins over an endpoint's rule).
    pub ordering_key: Option<String>,
}

impl NewEvent {
    /// What the event offers an endpoint's ordering rule.
    pub fn key_source(&self) -> ordering::KeySource<'_> {
        ordering::KeySource {
            explicit: self.ordering_key.as_deref(),
            payload: &self.payload,
            headers: self.headers.as_deref(),
        }
    }

    /// The operational events (`herald.…`) herald publishes about something of `tenant`:
    /// one for the tenant's own endpoints and, for a tenant's, a copy without tenant for
    /// the operator's endpoints, so an operator subscribed to `herald.*` hears about every
    /// tenant (events with a tenant otherwise reach only that tenant's endpoints). Both
    /// payloads name the tenant.
    pub fn operational(
        event_type: &str,
        tenant: Option<&str>,
        payload: serde_json::Value,
        now: Millis,
    ) -> Vec<Self> {
        let mut payload = payload;
        if let serde_json::Value::Object(fields) = &mut payload {
            fields.insert("tenant".into(), tenant.into());
        }
        let mut audiences = vec![tenant];
        if tenant.is_some() {
            audiences.push(None);
        }
        audiences
            .into_iter()
            .map(|audience| {
                let body = serde_json::to_vec(&payload).expect("JSON values serialize");
                Self::generated(event_type, audience.map(str::to_string), body, now)
            })
            .collect()
    }

    /// An event herald makes itself (an operational event, a test delivery): a generated
    /// id, a JSON payload, no key, no source.
    pub fn generated(event_type: &str, tenant: Option<String>, payload: Vec<u8>, now: Millis) -> Self {
        Self {
            id: new_id_at("evt", now),
            event_type: event_type.to_string(),
            tenant,
            payload,
            content_type: "application/json".into(),
            idempotency_key: None,
            caller_id: false,
            request_hash: String::new(),
            created_at: now,
            source_id: None,
            headers: None,
            ordering_key: None,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub tenant: Option<String>,
    pub payload: Vec<u8>,
    pub content_type: String,
    pub deliveries: u32,
    pub created_at: Millis,
    /// Position in the event log, used as the list cursor.
    pub seq: i64,
    pub source_id: Option<String>,
    pub headers: Option<String>,
    pub ordering_key: Option<String>,
}

impl Event {
    /// What the event offers an endpoint's ordering rule.
    pub fn key_source(&self) -> ordering::KeySource<'_> {
        ordering::KeySource {
            explicit: self.ordering_key.as_deref(),
            payload: &self.payload,
            headers: self.headers.as_deref(),
        }
    }
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    Created(PublishSummary),
    /// The same key and the same request were seen before: here is the first answer.
    Repeated(PublishSummary),
    /// The same key was used for a different request.
    KeyConflict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublishSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub deliveries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivering,
    Succeeded,
    Failed,
    /// Owed while its endpoint was disabled: kept, not sent, recoverable.
    Skipped,
}

impl DeliveryState {
    /// The states a recovery puts back in the queue: given up on, or kept while the
    /// endpoint was disabled.
    pub const RECOVERABLE: [DeliveryState; 2] = [DeliveryState::Failed, DeliveryState::Skipped];
    /// The states in which a delivery is queued already (an operator's retry changes
    /// nothing).
    pub const QUEUED: [DeliveryState; 2] = [DeliveryState::Pending, DeliveryState::Delivering];

    /// Whether an operator's retry puts it back in the queue.
    pub fn retryable(self) -> bool {
        !Self::QUEUED.contains(&self)
    }

    /// `'a', 'b'`: the states as an SQL list, for `state IN (…)`.
    pub fn sql_list(states: &[DeliveryState]) -> String {
        let quoted: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        quoted.join(", ")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivering => "delivering",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
            DeliveryState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivering" => Some(Self::Delivering),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "skipped" => Some(Self::Skipped),
            _ => None,
        }
    }
}

/// One event owed to one endpoint.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: Option<Millis>,
    pub last_attempt_at: Option<Millis>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Its place in its key's order, on an ordered endpoint.
    pub ordering: Option<ordering::KeyPosition>,
}

/// One HTTP try of a delivery.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub attempted_at: Millis,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// A declared event type; with a schema, published payloads must match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventType {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema text.
    pub schema: Option<String>,
    pub archived: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A change to an event type; `Some(None)` clears a field.
#[derive(Debug, Clone, Default)]
pub struct EventTypePatch {
    pub description: Option<Option<String>>,
    pub schema: Option<Option<String>>,
    pub archived: Option<bool>,
}

impl EventTypePatch {
    pub fn apply(self, t: &mut EventType, now: Millis) {
        if let Some(v) = self.description {
            t.description = v;
        }
        if let Some(v) = self.schema {
            t.schema = v;
        }
        if let Some(v) = self.archived {
            t.archived = v;
        }
        t.updated_at = now;
    }
}

/// A page of a list, with the cursor of the next page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from a query that fetched `limit + 1` rows: the extra row only says
    /// that there is a next page, whose cursor is that of the last row kept.
    pub fn from_overfetch(mut items: Vec<T>, limit: usize, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(&cursor_of)
        });
        Page {
            items,
            next_cursor: next_cursor.flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_time_ordered_and_url_safe() {
        let a = new_id("evt");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("evt");
        assert!(a.starts_with("evt_") && a.len() == 30);
        assert!(a < b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
    }

    #[test]
    fn list_filters_never_widen_a_tenant_scope() {
        let acme = Scope::Tenant("acme".into());
        assert_eq!(acme.list_filter(None), Some(Some("acme")));
        assert_eq!(acme.list_filter(Some("acme")), Some(Some("acme")));
        assert_eq!(acme.list_filter(Some("globex")), None);
        assert_eq!(Scope::Admin.list_filter(Some("globex")), Some(Some("globex")));
        assert_eq!(Scope::Admin.list_filter(None), Some(None));
    }

    #[test]
    fn timestamps_round_trip() {
        let ms = 1_700_000_000_123;
        assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_rfc3339("2023-11-14t22:13:20.5z"), Some(1_700_000_000_500));
        assert_eq!(parse_rfc3339("yesterday"), None);
        // Found by schemathesis: a multi-byte character where the offset would start.
        assert_eq!(parse_rfc3339("\u{80}0\u{10000}"), None);
    }
}
