//! What one delivery is published as: the payload byte for byte, and the metadata of an
//! HTTP delivery (the `webhook-*` signature headers, the content type, the event type, the
//! delivery id, a keyed delivery's key and sequence) as broker headers or attributes.

use bytes::Bytes;

/// One delivery, ready to publish (the delivery workers make it from a claimed job).
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
