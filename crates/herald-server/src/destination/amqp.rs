//! AMQP 0-9-1 (RabbitMQ) through `lapin`: one connection and one confirming channel per
//! endpoint; each delivery is a persistent, `mandatory` publish, done when the broker
//! acknowledges it. A message the broker returns (no queue bound) is a failed attempt.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::protocol::{AMQPErrorKind, BasicProperties};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, ErrorKind};

use super::dial::{self, Dial};
use super::{BrokerError, Message};
use crate::domain::destination::{render, Amqp};
use crate::net::guard::Guard;

/// AMQP's persistent delivery mode.
const PERSISTENT: u8 = 2;

pub struct Link {
    connection: Connection,
    channel: Channel,
    exchange: String,
    routing_key: String,
}

impl Link {
    pub async fn open(d: &Amqp, guard: &Guard) -> Result<Link, BrokerError> {
        let mut uri: AMQPUri = d
            .url
            .parse()
            .map_err(|e: String| BrokerError::Rejected(format!("the amqp url cannot be used: {e}")))?;
        let tls = uri.scheme == AMQPScheme::AMQPS;
        let (host, port) = (uri.authority.host.clone(), uri.authority.port);
        if let Dial::Pinned(addr) = dial::check(guard, &host, port, tls).await? {
            uri.authority.host = addr.ip().to_string();
        }
        let connection = Connection::connect_uri(uri, ConnectionProperties::default())
            .await
            .map_err(|e| {
                BrokerError::Unreachable(format!("cannot connect to the AMQP broker at {host}:{port}: {e}"))
            })?;
        let channel = connection.create_channel().await.map_err(classify)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(classify)?;
        Ok(Link {
            connection,
            channel,
            exchange: d.exchange.clone(),
            routing_key: d.routing_key.clone(),
        })
    }

    pub fn alive(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }

    pub async fn publish(&self, m: &Message) -> Result<String, BrokerError> {
        let routing_key = render(&self.routing_key, &m.event_type);
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirm = self
            .channel
            .basic_publish(
                ShortString::from(self.exchange.as_str()),
                ShortString::from(routing_key.as_str()),
                options,
                &m.body,
                properties(m),
            )
            .await
            .map_err(classify)?;
        let where_to = format!("exchange `{}`, routing key `{routing_key}`", self.exchange);
        match confirm.await.map_err(classify)? {
            Confirmation::Ack(None) => Ok(format!("confirmed by the broker ({where_to})")),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(BrokerError::Rejected(format!(
                    "unroutable: the broker returned the message ({} {}): no queue is bound for {where_to}",
                    returned.reply_code, returned.reply_text
                )))
            }
            Confirmation::Nack(None) => Err(BrokerError::Rejected(format!(
                "the broker refused the message (nack) for {where_to}"
            ))),
            Confirmation::NotRequested => Err(BrokerError::Unreachable(
                "the channel is not in confirm mode".into(),
            )),
        }
    }
}

/// Persistent, with the event id as `message_id`, the type as `type`, and herald's
/// metadata as headers.
fn properties(m: &Message) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in &m.headers {
        headers.insert(
            ShortString::from(*name),
            AMQPValue::LongString(LongString::from(value.as_str())),
        );
    }
    BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type(ShortString::from(m.content_type.as_str()))
        .with_message_id(ShortString::from(m.event_id.as_str()))
        .with_type(ShortString::from(m.event_type.as_str()))
        .with_timestamp(m.timestamp)
        .with_headers(headers)
}

/// A channel-level refusal by the broker (no such exchange, access refused…) is the
/// broker's answer; anything else means the connection is gone.
fn classify(e: lapin::Error) -> BrokerError {
    match e.kind() {
        ErrorKind::ProtocolError(amqp) if matches!(amqp.kind(), AMQPErrorKind::Soft(_)) => {
            BrokerError::Rejected(format!("the broker refused the message: {amqp}"))
        }
        _ => BrokerError::Unreachable(format!("the AMQP connection failed: {e}")),
    }
}
