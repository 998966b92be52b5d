//! One attempt: build the signed request, send it, and decide what happens next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Request;
use rand::Rng;

use herald_signing::{
    hex_hmac_sha256, standard_signature_header, v1a_signature_header, SigningKey, StandardKey,
};

use crate::config::DeliveryConfig;
use crate::destination::{BrokerError, Brokers, Message};
use crate::domain::ordering::{self, KeyPosition};
use crate::domain::outcome::{judge, Answer, Policy};
use crate::domain::{new_id_at, Attempt, Clock, Endpoint, Event, Millis, SignatureScheme};
use crate::metrics::Metrics;
use crate::net::client::{HttpClient, SendError};
use crate::store::{AttemptRecord, Job, NextStep};

pub const USER_AGENT_VALUE: &str = concat!("herald/", env!("CARGO_PKG_VERSION"));

/// An attempt made: what to record, and what it says about the receiver's load.
pub struct Attempted {
    pub record: AttemptRecord,
    pub congested: bool,
}

/// Makes attempts for the dispatcher.
pub struct Deliverer {
    client: HttpClient,
    brokers: Brokers,
    config: DeliveryConfig,
    metrics: Arc<Metrics>,
    clock: Clock,
}

impl Deliverer {
    pub fn new(client: HttpClient, config: DeliveryConfig, metrics: Arc<Metrics>, clock: Clock) -> Self {
        Self {
            brokers: Brokers::new(client.clone()),
            client,
            config,
            metrics,
            clock,
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Sends one attempt of a claimed delivery and says what to record.
    pub async fn attempt(&self, job: &Job) -> Attempted {
        let attempted_at = self.clock.now_ms();
        let started = Instant::now();
        let endpoint = &job.endpoint;
        let sent = self.send(job, attempted_at).await;
        let elapsed = started.elapsed();
        let duration_ms = elapsed.as_millis() as u64;
        let attempt_no = job.round_attempts + 1;
        let mut attempt = Attempt {
            id: new_id_at("atm", attempted_at),
            delivery_id: job.delivery_id.clone(),
            attempted_at,
            status_code: None,
            duration_ms,
            error: None,
            response_body: None,
        };
        let answer = sent.answer(&endpoint.id);
        let verdict = judge(
            &answer,
            self.policy(endpoint).as_policy(),
            attempt_no,
            attempted_at,
            jitter,
        );
        attempt.error = verdict.error;
        match sent {
            Sent::Http(Ok(resp)) => {
                attempt.status_code = Some(resp.status);
                attempt.response_body = Some(resp.body);
            }
            Sent::Broker(Ok(confirmation)) => attempt.response_body = Some(confirmation),
            _ => {}
        }
        let next = match (&verdict.next, &job.ordering, &endpoint.ordering) {
            (NextStep::Failed, Some(_), Some(o)) => ordering::exhausted(o.on_stuck),
            _ => verdict.next,
        };
        self.metrics.attempt_finished(&next, elapsed.as_secs_f64());
        let record = AttemptRecord {
            attempt,
            endpoint_id: endpoint.id.clone(),
            event_id: job.event.id.clone(),
            event_type: job.event.event_type.clone(),
            next,
            disable_failing_since_before: self
                .config
                .auto_disable_after
                .map(|d| attempted_at - d.as_millis() as Millis),
            probe: job.probe,
            pause_until: verdict.pause_until,
            ordering: job.ordering.clone(),
        };
        Attempted {
            record,
            congested: verdict.congested,
        }
    }

    /// One send: a POST to the endpoint's URL, or a publish to its broker.
    async fn send(&self, job: &Job, now: Millis) -> Sent {
        let endpoint = &job.endpoint;
        let timeout = Duration::from_millis(endpoint.timeout_ms);
        if let Some(destination) = &endpoint.destination {
            let published = match message_of(job, now) {
                Ok(m) => self.brokers.publish(&endpoint.id, destination, &m, timeout).await,
                Err(e) => Err(BrokerError::Rejected(e)),
            };
            return Sent::Broker(published);
        }
        Sent::Http(match build_request(job, now) {
            Ok(req) => self.client.send(req, timeout).await,
            Err(e) => Err(SendError::Transport(e)),
        })
    }

    /// The endpoint's own retry schedule, or else the global one.
    fn policy(&self, endpoint: &Endpoint) -> OwnedPolicy {
        let own = endpoint
            .retry_schedule
            .as_deref()
            .and_then(|s| crate::config::parse_schedule(s).ok());
        OwnedPolicy {
            schedule: own.unwrap_or_else(|| self.config.retry_schedule.clone()),
            max_retry_after: self.config.max_retry_after,
        }
    }
}

struct OwnedPolicy {
    schedule: Vec<Duration>,
    max_retry_after: Duration,
}

impl OwnedPolicy {
    fn as_policy(&self) -> Policy<'_> {
        Policy {
            schedule: &self.schedule,
            max_retry_after: self.max_retry_after,
        }
    }
}

/// How a send ended: the receiver's HTTP answer, or the broker's.
enum Sent {
    Http(Result<crate::net::client::Response, SendError>),
    Broker(Result<String, BrokerError>),
}

impl Sent {
    /// What the rule needs to know of how the send ended.
    fn answer(&self, endpoint_id: &str) -> Answer<'_> {
        match self {
            Sent::Http(Ok(resp)) => Answer::Status {
                code: resp.status,
                retry_after: resp.retry_after.as_deref(),
            },
            Sent::Http(Err(SendError::Refused(r))) | Sent::Broker(Err(BrokerError::Refused(r))) => {
                // The resolved address is for the operator's log, not the attempt log a
                // tenant reads (it would map the internal network).
                tracing::warn!(endpoint = %endpoint_id, refused = %r, "delivery refused by the SSRF guard");
                Answer::Forbidden(r.kind.to_string())
            }
            Sent::Http(Err(SendError::Timeout(ms))) | Sent::Broker(Err(BrokerError::Timeout(ms))) => {
                Answer::Timeout { after_ms: *ms }
            }
            Sent::Http(Err(SendError::Transport(why))) | Sent::Broker(Err(BrokerError::Unreachable(why))) => {
                Answer::Unreachable(why)
            }
            Sent::Broker(Ok(_)) => Answer::Confirmed,
            Sent::Broker(Err(BrokerError::Rejected(why))) => Answer::Rejected(why),
        }
    }
}

/// ±20 % of the scheduled delay, so retries of many deliveries do not arrive in lockstep.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
}

/// The headers herald signs a delivery with (the same for push and pull): content type,
/// user agent, `webhook-id`, `webhook-timestamp`, `x-herald-event-type`, and
/// `webhook-signature` (one entry per live secret) or `x-signature`.
pub fn signed_headers(ep: &Endpoint, ev: &Event, now: Millis) -> Result<Vec<(&'static str, String)>, String> {
    let ts = now / 1000;
    let mut out = vec![
        ("content-type", ev.content_type.clone()),
        ("user-agent", USER_AGENT_VALUE.to_string()),
        ("webhook-id", ev.id.clone()),
        ("webhook-timestamp", ts.to_string()),
        ("x-herald-event-type", ev.event_type.clone()),
    ];
    match ep.signature {
        SignatureScheme::Standard => {
            let keys = ep
                .live_secrets(now)
                .map(StandardKey::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("endpoint secret unusable: {e}"))?;
            out.push((
                "webhook-signature",
                standard_signature_header(&keys, &ev.id, ts, &ev.payload),
            ));
        }
        SignatureScheme::HmacSha256Hex => {
            let secret = ep.live_secrets(now).next().ok_or("endpoint has no live secret")?;
            out.push(("x-signature", hex_hmac_sha256(secret.as_bytes(), &ev.payload)));
        }
        SignatureScheme::V1a => {
            let keys = ep
                .live_secrets(now)
                .map(SigningKey::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("endpoint signing key unusable: {e}"))?;
            out.push((
                "webhook-signature",
                v1a_signature_header(&keys, &ev.id, ts, &ev.payload),
            ));
        }
    }
    Ok(out)
}

/// The request of one attempt: the endpoint's own headers, then herald's (which win),
/// and a keyed delivery's `x-herald-ordering-key` and `x-herald-sequence`.
fn build_request(job: &Job, now: Millis) -> Result<Request<Full<Bytes>>, String> {
    let (ep, ev) = (&*job.endpoint, &*job.event);
    let url = ep.url.as_deref().ok_or("endpoint has no URL")?;
    let mut req = Request::post(url)
        .body(Full::new(Bytes::copy_from_slice(&ev.payload)))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let headers = req.headers_mut();
    for (name, value) in &ep.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(n, v);
        }
    }
    let mut ours = signed_headers(ep, ev, now)?;
    ours.extend(ordering_headers(job.ordering.as_ref()));
    for (name, value) in ours {
        let v = HeaderValue::try_from(value).map_err(|e| format!("bad header value: {e}"))?;
        headers.insert(name, v);
    }
    Ok(req)
}

/// The broker message of a claimed delivery, signed at `now`. Custom `headers` of the
/// endpoint are HTTP headers and are not sent to brokers.
fn message_of(job: &Job, now: Millis) -> Result<Message, String> {
    let (ep, ev) = (&*job.endpoint, &*job.event);
    let mut headers: Vec<(&'static str, String)> = signed_headers(ep, ev, now)?
        .into_iter()
        .filter(|(name, _)| *name != "user-agent")
        .collect();
    headers.push(("x-herald-delivery-id", job.delivery_id.clone()));
    headers.extend(ordering_headers(job.ordering.as_ref()));
    Ok(Message {
        body: Bytes::copy_from_slice(&ev.payload),
        headers,
        event_id: ev.id.clone(),
        event_type: ev.event_type.clone(),
        delivery_id: job.delivery_id.clone(),
        content_type: ev.content_type.clone(),
        timestamp: (now / 1000).max(0) as u64,
        group: job
            .ordering
            .as_ref()
            .map_or_else(|| ep.id.clone(), |p| p.key.clone()),
    })
}

/// The headers that say where a keyed delivery stands in its key's order.
pub fn ordering_headers(position: Option<&KeyPosition>) -> Vec<(&'static str, String)> {
    match position {
        Some(p) => vec![
            ("x-herald-ordering-key", p.key.clone()),
            ("x-herald-sequence", p.sequence.to_string()),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for _ in 0..1000 {
            let d = jitter(Duration::from_secs(100)).as_secs_f64();
            assert!((80.0..=120.0).contains(&d), "{d}");
        }
    }
}
