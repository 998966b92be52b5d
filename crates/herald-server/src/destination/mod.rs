//! Broker destinations (design section 9): one delivery attempt is one publish, confirmed
//! by the broker (AMQP publisher confirms, a JetStream ack, SQS `SendMessage`). Connections
//! are pooled per endpoint and opened again when one is lost; the attempts of one claim
//! batch run as concurrent tasks over the shared connection, so their publishes are
//! pipelined and their confirms awaited together. Every connection passes the SSRF
//! [`Guard`] first ([`dial`]).

#[cfg(feature = "amqp")]
mod amqp;
pub mod dial;
pub mod message;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "sqs")]
mod sqs;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

pub use self::message::Message;
use crate::domain::destination::{Destination, MASK};
use crate::net::client::HttpClient;
use crate::net::guard::{Guard, Refused};

/// Why a publish was not confirmed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrokerError {
    /// The SSRF guard refused the broker's address: it can never succeed.
    #[error(transparent)]
    Refused(Refused),
    /// No connection, or it broke: the pooled connection is dropped and opened again.
    #[error("{0}")]
    Unreachable(String),
    /// The broker answered and refused the message (unroutable, no stream, no queue…).
    #[error("{0}")]
    Rejected(String),
    #[error("timed out after {0} ms")]
    Timeout(u64),
}

impl BrokerError {
    /// The error with the destination's credentials masked, should a client library's
    /// text ever quote them (the attempt log is for the tenant to read).
    fn redacted(self, destination: &Destination) -> BrokerError {
        let mask = |text: String| {
            destination
                .credentials()
                .iter()
                .filter(|c| !c.is_empty())
                .fold(text, |t, c| t.replace(c.as_str(), MASK))
        };
        match self {
            BrokerError::Unreachable(t) => BrokerError::Unreachable(mask(t)),
            BrokerError::Rejected(t) => BrokerError::Rejected(mask(t)),
            other => other,
        }
    }
}

/// How long an unused connection is kept.
const IDLE_CLOSE: Duration = Duration::from_secs(600);
/// How often unused connections are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The connections to every broker destination, one per endpoint.
pub struct Brokers {
    guard: Arc<Guard>,
    http: HttpClient,
    slots: Mutex<Slots>,
}

struct Slots {
    by_endpoint: HashMap<String, Arc<Slot>>,
    swept: Instant,
}

/// One endpoint's connection, for the destination it was opened for.
struct Slot {
    destination: Destination,
    link: RwLock<Option<Arc<Link>>>,
    used: Mutex<Instant>,
}

enum Link {
    #[cfg(feature = "amqp")]
    Amqp(amqp::Link),
    #[cfg(feature = "nats")]
    Nats(nats::Link),
    #[cfg(feature = "sqs")]
    Sqs(sqs::Link),
}

impl Link {
    async fn open(d: &Destination, guard: &Guard, http: &HttpClient) -> Result<Link, BrokerError> {
        let _ = (guard, http);
        match d {
            #[cfg(feature = "amqp")]
            Destination::Amqp(a) => amqp::Link::open(a, guard).await.map(Link::Amqp),
            #[cfg(feature = "nats")]
            Destination::Nats(n) => nats::Link::open(n, guard).await.map(Link::Nats),
            #[cfg(feature = "sqs")]
            Destination::Sqs(s) => sqs::Link::open(s, http).map(Link::Sqs),
            #[allow(unreachable_patterns)]
            other => Err(BrokerError::Rejected(format!(
                "this herald was built without {} support",
                other.kind()
            ))),
        }
    }

    fn alive(&self) -> bool {
        match self {
            #[cfg(feature = "amqp")]
            Link::Amqp(l) => l.alive(),
            #[cfg(feature = "nats")]
            Link::Nats(l) => l.alive(),
            #[cfg(feature = "sqs")]
            Link::Sqs(_) => true,
            #[allow(unreachable_patterns)]
            _ => unreachable!("links exist only for the brokers built in"),
        }
    }

    async fn publish(&self, m: &Message) -> Result<String, BrokerError> {
        let _ = m;
        match self {
            #[cfg(feature = "amqp")]
            Link::Amqp(l) => l.publish(m).await,
            #[cfg(feature = "nats")]
            Link::Nats(l) => l.publish(m).await,
            #[cfg(feature = "sqs")]
            Link::Sqs(l) => l.publish(m).await,
            #[allow(unreachable_patterns)]
            _ => unreachable!("links exist only for the brokers built in"),
        }
    }
}

impl Brokers {
    /// `http` is the guarded HTTP client (SQS speaks HTTP through it); its guard judges
    /// every broker address.
    pub fn new(http: HttpClient) -> Brokers {
        Brokers {
            guard: http.guard(),
            http,
            slots: Mutex::new(Slots {
                by_endpoint: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Publishes one delivery and waits for the broker's confirmation; the whole of it
    /// (connecting included) is bounded by `timeout`. Ok carries what the broker said.
    pub async fn publish(
        &self,
        endpoint_id: &str,
        destination: &Destination,
        message: &Message,
        timeout: Duration,
    ) -> Result<String, BrokerError> {
        let slot = self.slot(endpoint_id, destination);
        let ms = timeout.as_millis() as u64;
        let attempt = async {
            let link = self.link(&slot).await?;
            let result = link.publish(message).await;
            if matches!(result, Err(BrokerError::Unreachable(_))) || !link.alive() {
                forget(&slot, &link).await;
            }
            result
        };
        let result = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| BrokerError::Timeout(ms))?;
        result.map_err(|e| e.redacted(destination))
    }

    /// The endpoint's slot, new when its destination changed; unused slots are closed.
    fn slot(&self, endpoint_id: &str, destination: &Destination) -> Arc<Slot> {
        let mut slots = self.slots.lock().expect("broker slots lock");
        let now = Instant::now();
        if now.duration_since(slots.swept) > SWEEP_EVERY {
            slots.swept = now;
            slots
                .by_endpoint
                .retain(|_, s| now.duration_since(*s.used.lock().expect("slot lock")) < IDLE_CLOSE);
        }
        let slot = slots
            .by_endpoint
            .entry(endpoint_id.to_string())
            .or_insert_with(|| Slot::new(destination));
        if slot.destination != *destination {
            *slot = Slot::new(destination);
        }
        *slot.used.lock().expect("slot lock") = now;
        slot.clone()
    }

    /// The slot's live connection, opened (once, for every waiting attempt) if needed.
    async fn link(&self, slot: &Slot) -> Result<Arc<Link>, BrokerError> {
        if let Some(link) = slot.link.read().await.as_ref().filter(|l| l.alive()) {
            return Ok(link.clone());
        }
        let mut held = slot.link.write().await;
        if let Some(link) = held.as_ref().filter(|l| l.alive()) {
            return Ok(link.clone());
        }
        let link = Arc::new(Link::open(&slot.destination, &self.guard, &self.http).await?);
        *held = Some(link.clone());
        Ok(link)
    }
}

impl Slot {
    fn new(destination: &Destination) -> Arc<Slot> {
        Arc::new(Slot {
            destination: destination.clone(),
            link: RwLock::new(None),
            used: Mutex::new(Instant::now()),
        })
    }
}

/// Drops the slot's connection if it is still this one (the next attempt opens another).
async fn forget(slot: &Slot, link: &Arc<Link>) {
    let mut held = slot.link.write().await;
    if held.as_ref().is_some_and(|l| Arc::ptr_eq(l, link)) {
        *held = None;
    }
}
