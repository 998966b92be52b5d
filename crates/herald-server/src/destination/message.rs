//! What one delivery is published as: the payload byte for byte, and the metadata of an
//! HTTP delivery (the `webhook-*` signature headers, the content type, the event type, the
//! delivery id, a keyed delivery's key and sequence) as broker headers or attributes.

use bytes::Bytes;

use crate::delivery::attempt::{ordering_headers, signed_headers};
use crate::domain::Millis;
use crate::store::Job;

/// One delivery, ready to publish.
#[derive(Debug, Clone)]
pub struct Message {
    pub body: Bytes,
    /// Header names in lower case, in a stable order.
    pub headers: Vec<(&'static str, String)>,
    pub event_id: String,
    pub event_type: String,
    pub delivery_id: String,
    pub content_type: String,
    /// Seconds since the epoch (the signature's timestamp).
    pub timestamp: u64,
    /// What keeps order on an SQS FIFO queue: the ordering key, or else the endpoint.
    pub group: String,
}

impl Message {
    /// The message of a claimed delivery, signed at `now`. Custom `headers` of the
    /// endpoint are HTTP headers and are not sent to brokers.
    pub fn of(job: &Job, now: Millis) -> Result<Message, String> {
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
}
