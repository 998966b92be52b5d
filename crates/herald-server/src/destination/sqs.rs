//! Amazon SQS (or an SQS-compatible server) through the AWS SDK's client: each delivery is
//! one `SendMessage`. On a FIFO queue the group is the ordering key (or the endpoint) and
//! the deduplication id the delivery id. The SDK speaks HTTP through herald's own guarded
//! client, so the SSRF rule applies to the very address it connects to; the SDK's own
//! retries are off (herald's schedule retries).

use std::time::Duration;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::MessageAttributeValue;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use bytes::Bytes;
use http_body_util::Full;

use super::{BrokerError, Message};
use crate::domain::destination::Sqs;
use crate::net::client::{HttpClient as Guarded, SendError};

/// The placeholder keys of a destination without its own (an SQS-compatible server that
/// does not authenticate takes them; AWS refuses them).
const ANONYMOUS: &str = "anonymous";

/// The SDK's requests are bounded by the attempt's own timeout; this is a backstop.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Link {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    fifo: bool,
}

impl Link {
    pub fn open(d: &Sqs, http: &Guarded) -> Result<Link, BrokerError> {
        let (id, secret) = d.keys.as_ref().map_or((ANONYMOUS, ANONYMOUS), |k| {
            (k.access_key_id.as_str(), k.secret_access_key.as_str())
        });
        let credentials = Credentials::new(id, secret, None, None, "herald");
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(d.region.clone()))
            .credentials_provider(credentials)
            .endpoint_url(d.api_url())
            .retry_config(RetryConfig::disabled())
            .http_client(SdkHttp(http.clone()))
            .build();
        Ok(Link {
            client: aws_sdk_sqs::Client::from_conf(config),
            queue_url: d.queue_url.clone(),
            fifo: d.is_fifo(),
        })
    }

    pub async fn publish(&self, m: &Message) -> Result<String, BrokerError> {
        let body = std::str::from_utf8(&m.body).map_err(|_| {
            BrokerError::Rejected("an SQS message body is text: this payload is not UTF-8".into())
        })?;
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body);
        for (name, value) in &m.headers {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| BrokerError::Rejected(format!("attribute {name}: {e}")))?;
            send = send.message_attributes(*name, attribute);
        }
        if self.fifo {
            send = send
                .message_group_id(&m.group)
                .message_deduplication_id(&m.delivery_id);
        }
        let out = send.send().await.map_err(classify)?;
        Ok(format!(
            "sent to the queue as message {}",
            out.message_id().unwrap_or("(no id)")
        ))
    }
}

fn classify(
    e: SdkError<aws_sdk_sqs::operation::send_message::SendMessageError, HttpResponse>,
) -> BrokerError {
    match &e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            BrokerError::Rejected(format!(
                "SQS refused the message: {}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("no message")
            ))
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            match refusal(&e) {
                Some(r) => BrokerError::Refused(r),
                None => BrokerError::Unreachable(format!("cannot reach SQS: {}", chain(&e))),
            }
        }
        _ => BrokerError::Rejected(format!("the SQS request could not be made: {}", chain(&e))),
    }
}

/// The SSRF guard's refusal, wherever it sits in the error's chain.
fn refusal(e: &(dyn std::error::Error + 'static)) -> Option<crate::net::guard::Refused> {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(SendError::Refused(r)) = err.downcast_ref::<SendError>() {
            return Some(r.clone());
        }
        source = err.source();
    }
    None
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        out.push_str(": ");
        out.push_str(&err.to_string());
        source = err.source();
    }
    out
}

/// The SDK's HTTP client: herald's guarded client.
#[derive(Clone)]
struct SdkHttp(Guarded);

impl std::fmt::Debug for SdkHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SdkHttp")
    }
}

impl HttpClient for SdkHttp {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for SdkHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::other(Box::new(e), None))?;
            let (parts, body) = request.into_parts();
            let bytes = body
                .bytes()
                .map(Bytes::copy_from_slice)
                .ok_or_else(|| ConnectorError::other("a streaming body cannot be sent".into(), None))?;
            let request = hyper::Request::from_parts(parts, Full::new(bytes));
            let response = client
                .send_full(request, REQUEST_TIMEOUT)
                .await
                .map_err(|e| ConnectorError::io(Box::new(e)))?;
            let (parts, body) = response.into_parts();
            HttpResponse::try_from(hyper::Response::from_parts(parts, SdkBody::from(body)))
                .map_err(|e| ConnectorError::other(Box::new(e), None))
        })
    }
}
