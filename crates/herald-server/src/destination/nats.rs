//! NATS JetStream through `async-nats`: one client per endpoint; each delivery is a
//! JetStream publish (the delivery id as `Nats-Msg-Id`, so the stream drops a retry it
//! already stored), done when the stream acknowledges it. No stream for the subject is a
//! failed attempt. Servers a cluster announces are ignored: only the checked address is
//! ever connected to.

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::HeaderMap;

use super::dial::{self, host_of, Dial};
use super::{BrokerError, Message};
use crate::domain::destination::{render, Nats};
use crate::net::guard::Guard;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The stream's ack is awaited up to the endpoint's timeout (which bounds the attempt).
const ACK_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Link {
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    subject: String,
}

impl Link {
    pub async fn open(d: &Nats, guard: &Guard) -> Result<Link, BrokerError> {
        let mut url = url::Url::parse(&d.url)
            .map_err(|e| BrokerError::Rejected(format!("the nats url cannot be used: {e}")))?;
        let tls = url.scheme() == "tls";
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port().unwrap_or(4222);
        if let Dial::Pinned(addr) = dial::check(guard, &host, port, tls).await? {
            url.set_host(Some(&host_of(&addr)))
                .map_err(|e| BrokerError::Rejected(format!("the nats url cannot be used: {e}")))?;
        }
        let client = async_nats::ConnectOptions::new()
            .ignore_discovered_servers()
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(url.as_str())
            .await
            .map_err(|e| BrokerError::Unreachable(format!("cannot connect to NATS at {host}:{port}: {e}")))?;
        let jetstream = async_nats::jetstream::context::ContextBuilder::new()
            .timeout(ACK_TIMEOUT)
            .build(client.clone());
        Ok(Link {
            client,
            jetstream,
            subject: d.subject.clone(),
        })
    }

    pub fn alive(&self) -> bool {
        self.client.connection_state() != State::Disconnected
    }

    pub async fn publish(&self, m: &Message) -> Result<String, BrokerError> {
        let subject = render(&self.subject, &m.event_type);
        let mut headers = HeaderMap::new();
        for (name, value) in &m.headers {
            headers.insert(*name, value.as_str());
        }
        let publish = PublishMessage::build()
            .payload(m.body.clone())
            .headers(headers)
            .message_id(&m.delivery_id);
        let ack = self
            .jetstream
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| classify(e, &subject))?
            .await
            .map_err(|e| classify(e, &subject))?;
        let again = if ack.duplicate {
            " (a retry the stream had already stored)"
        } else {
            ""
        };
        Ok(format!(
            "stored in stream `{}` at sequence {}{again}",
            ack.stream, ack.sequence
        ))
    }
}

fn classify(e: PublishError, subject: &str) -> BrokerError {
    match e.kind() {
        PublishErrorKind::StreamNotFound => {
            BrokerError::Rejected(format!("no JetStream stream captures subject `{subject}`"))
        }
        PublishErrorKind::BrokenPipe => BrokerError::Unreachable(format!("the NATS connection failed: {e}")),
        PublishErrorKind::TimedOut => BrokerError::Unreachable(format!(
            "the stream did not acknowledge the publish to `{subject}`: {e}"
        )),
        _ => BrokerError::Rejected(format!("the stream refused the publish to `{subject}`: {e}")),
    }
}
