//! The `destination` of an endpoint as the API takes and shows it (design section 9); the
//! rules are `domain::destination`'s.

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use crate::domain::destination::{Destination, DestinationSpec};

/// A broker to publish deliveries to, in place of `url`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationBody {
    /// `amqp` (RabbitMQ), `nats` (JetStream) or `sqs`.
    #[schema(value_type = DestinationKind)]
    kind: Option<String>,
    /// amqp: `amqp://` or `amqps://`; nats: `nats://` or `tls://`; credentials in it.
    #[schema(max_length = 2048)]
    url: Option<String>,
    /// amqp: the exchange [default: "", the default exchange].
    #[schema(max_length = 127)]
    exchange: Option<String>,
    /// amqp: the routing key; `{type}` is replaced by the event type [default: "{type}"].
    #[schema(max_length = 200)]
    routing_key: Option<String>,
    /// nats: the subject; `{type}` is replaced by the event type [default: "herald.{type}"].
    #[schema(max_length = 200)]
    subject: Option<String>,
    /// sqs: the queue's URL (a `.fifo` queue gets a group and a deduplication id).
    queue_url: Option<String>,
    /// sqs: the AWS region, e.g. `us-east-1`.
    region: Option<String>,
    /// sqs: where the SQS API is, for an SQS-compatible server [default: the region's].
    endpoint_url: Option<String>,
    /// sqs: the access key id (with `secret_access_key`; without both, requests carry
    /// placeholder keys, for an SQS-compatible server that does not authenticate).
    access_key_id: Option<String>,
    /// sqs: the secret access key (never shown in clear).
    secret_access_key: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum DestinationKind {
    #[schema(rename = "amqp")]
    Amqp,
    #[schema(rename = "nats")]
    Nats,
    #[schema(rename = "sqs")]
    Sqs,
}

/// A destination as reads show it: credentials masked.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DestinationView {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exchange: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_access_key: Option<String>,
}

impl From<&Destination> for DestinationView {
    fn from(d: &Destination) -> Self {
        let mut view = DestinationView {
            kind: d.kind(),
            url: None,
            exchange: None,
            routing_key: None,
            subject: None,
            queue_url: None,
            region: None,
            endpoint_url: None,
            access_key_id: None,
            secret_access_key: None,
        };
        match d.masked() {
            Destination::Amqp(a) => {
                view.url = Some(a.url);
                view.exchange = Some(a.exchange);
                view.routing_key = Some(a.routing_key);
            }
            Destination::Nats(n) => {
                view.url = Some(n.url);
                view.subject = Some(n.subject);
            }
            Destination::Sqs(s) => {
                view.queue_url = Some(s.queue_url);
                view.region = Some(s.region);
                view.endpoint_url = s.endpoint_url;
                if let Some(keys) = s.keys {
                    view.access_key_id = Some(keys.access_key_id);
                    view.secret_access_key = Some(keys.secret_access_key);
                }
            }
        }
        view
    }
}

/// Checks a destination; each refusal names `destination.<field>`.
pub fn validate_destination(body: DestinationBody) -> ApiResult<Destination> {
    let kind = body
        .kind
        .ok_or_else(|| ApiError::invalid("destination.kind", "is required (amqp, nats or sqs)"))?;
    let spec = DestinationSpec {
        kind,
        url: body.url,
        exchange: body.exchange,
        routing_key: body.routing_key,
        subject: body.subject,
        queue_url: body.queue_url,
        region: body.region,
        endpoint_url: body.endpoint_url,
        access_key_id: body.access_key_id,
        secret_access_key: body.secret_access_key,
    };
    spec.validate()
        .map_err(|e| ApiError::invalid(&format!("destination.{}", e.field), e.message))
}

/// `url` and `destination` exclude each other.
pub fn one_target(url_given: bool, destination_given: bool) -> ApiResult<()> {
    if url_given && destination_given {
        return Err(ApiError::invalid(
            "destination",
            "give either url (HTTP) or destination (a broker), not both",
        ));
    }
    Ok(())
}
