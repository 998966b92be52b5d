//! The real brokers the destination tests publish to and read back from: RabbitMQ and NATS
//! JetStream on this machine's standard ports, an SQS server (moto) each test starts, a
//! TCP relay that can cut every connection through it. (The `herald` crate's process tests and the
//! benchmark include this file too.)

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// Whether a broker listens at `addr`; without it a test is skipped, except in CI.
pub async fn up(addr: &str, what: &str) -> bool {
    let ok = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
        .await
        .is_ok_and(|c| c.is_ok());
    if !ok {
        assert!(std::env::var("CI").is_err(), "CI must run {what} on {addr}");
        eprintln!("SKIPPED: no {what} on {addr}");
    }
    ok
}

/// A unique name for this test's queue, stream or subject.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", herald_server::domain::new_id("t").to_lowercase())
}

/// A RabbitMQ queue of this test's own (deleted with the connection that declared it).
pub struct AmqpQueue {
    pub name: String,
    channel: lapin::Channel,
    _connection: lapin::Connection,
}

impl AmqpQueue {
    pub async fn declare(name: &str) -> AmqpQueue {
        let connection = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ");
        let channel = connection.create_channel().await.unwrap();
        let options = lapin::options::QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        };
        channel
            .queue_declare(name.into(), options, Default::default())
            .await
            .unwrap();
        AmqpQueue {
            name: name.to_string(),
            channel,
            _connection: connection,
        }
    }

    /// Takes up to `n` messages, waiting at most 15 s for them.
    pub async fn take(&self, n: usize) -> Vec<lapin::message::BasicGetMessage> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < deadline {
            let options = lapin::options::BasicGetOptions { no_ack: true };
            match self
                .channel
                .basic_get(self.name.as_str().into(), options)
                .await
                .unwrap()
            {
                Some(m) => got.push(m),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        got
    }

    /// Takes every message the queue holds now.
    pub async fn drain(&self) -> Vec<lapin::message::BasicGetMessage> {
        let mut got = Vec::new();
        let options = lapin::options::BasicGetOptions { no_ack: true };
        while let Some(m) = self
            .channel
            .basic_get(self.name.as_str().into(), options)
            .await
            .unwrap()
        {
            got.push(m);
        }
        got
    }
}

/// A header of an AMQP message, as text.
pub fn amqp_header(m: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    let headers = m.delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        lapin::types::AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        other => Some(format!("{other:?}")),
    }
}

/// A JetStream stream of this test's own over `subject` (deleted on `delete`).
pub struct NatsStream {
    pub name: String,
    jetstream: async_nats::jetstream::Context,
}

impl NatsStream {
    pub async fn connect() -> async_nats::jetstream::Context {
        let client = async_nats::connect(NATS_URL).await.expect("connect to NATS");
        // Requests to the JetStream API wait up to 30 s (not the default 5 s): a busy CI
        // machine running the whole suite at once can be that slow to answer.
        async_nats::jetstream::context::ContextBuilder::new()
            .timeout(Duration::from_secs(30))
            .build(client)
    }

    pub async fn create(name: &str, subject: &str) -> NatsStream {
        let jetstream = Self::connect().await;
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: name.to_string(),
                subjects: vec![subject.to_string()],
                ..Default::default()
            })
            .await
            .expect("create a stream");
        NatsStream {
            name: name.to_string(),
            jetstream,
        }
    }

    /// The stream's messages 1..=n, waiting at most 15 s for them to be stored.
    pub async fn messages(&self, n: u64) -> Vec<async_nats::jetstream::message::StreamMessage> {
        let stream = self.jetstream.get_stream(&self.name).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut s = stream.clone();
            let stored = s.info().await.unwrap().state.messages;
            if stored >= n || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut out = Vec::new();
        for seq in 1..=n {
            if let Ok(m) = stream.get_raw_message(seq).await {
                out.push(m);
            }
        }
        out
    }

    /// Publishes `body` to `subject` from the test's own client and awaits the stream's ack.
    pub async fn publish(&self, subject: &str, body: &'static [u8]) {
        let ack = self.jetstream.publish(subject.to_string(), body.into()).await;
        ack.expect("publish a probe")
            .await
            .expect("the stream acknowledges the probe");
    }

    pub async fn count(&self) -> u64 {
        let mut stream = self.jetstream.get_stream(&self.name).await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    pub async fn delete(self) {
        let _ = self.jetstream.delete_stream(&self.name).await;
    }
}

/// An SQS server (moto) on a port of its own, stopped when the last handle is dropped.
#[derive(Clone)]
pub struct Moto {
    pub url: String,
    _child: Arc<KillOnDrop>,
    http: reqwest::Client,
}

struct KillOnDrop(Mutex<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let mut child = self.0.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Moto {
    /// `None` (skipped) when moto is not installed, except in CI.
    pub async fn start() -> Option<Moto> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            assert!(std::env::var("CI").is_err(), "CI must install moto[server]");
            eprintln!("SKIPPED: moto_server is not installed (pip install 'moto[server]')");
            return None;
        };
        let moto = Moto {
            url: format!("http://127.0.0.1:{port}"),
            _child: Arc::new(KillOnDrop(Mutex::new(child))),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if moto.http.get(&moto.url).send().await.is_ok() {
                return Some(moto);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not start within 30 s");
    }

    /// One SQS call in the JSON protocol. moto does not check signatures, but it tells
    /// the service from the credential scope of the `Authorization` header.
    pub async fn call(&self, action: &str, body: Value) -> Value {
        let scope =
            "Credential=AKIDTEST/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";
        let resp = self
            .http
            .post(&self.url)
            .header("authorization", format!("AWS4-HMAC-SHA256 {scope}"))
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{action}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn create_queue(&self, name: &str) -> String {
        let mut body = json!({"QueueName": name});
        if name.ends_with(".fifo") {
            body["Attributes"] = json!({"FifoQueue": "true"});
        }
        self.call("CreateQueue", body).await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Receives (and deletes) what the queue holds now.
    pub async fn drain(&self, queue_url: &str) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let batch = self.receive(queue_url, 0).await;
            if batch.is_empty() {
                return got;
            }
            got.extend(batch);
        }
    }

    /// One receive of up to 10 messages (waiting up to `wait_s` for the first), each
    /// deleted once received.
    async fn receive(&self, queue_url: &str, wait_s: u32) -> Vec<Value> {
        let out = self
            .call(
                "ReceiveMessage",
                json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"],
                       "MessageSystemAttributeNames": ["All"], "WaitTimeSeconds": wait_s}),
            )
            .await;
        let messages = out["Messages"].as_array().cloned().unwrap_or_default();
        for m in &messages {
            let receipt = m["ReceiptHandle"].clone();
            self.call(
                "DeleteMessage",
                json!({"QueueUrl": queue_url, "ReceiptHandle": receipt}),
            )
            .await;
        }
        messages
    }

    /// Receives (and deletes) up to `n` messages, waiting at most 15 s.
    pub async fn take(&self, queue_url: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < deadline {
            got.extend(self.receive(queue_url, 1).await);
        }
        got
    }
}

/// A TCP relay on 127.0.0.1 to `target`; [`Relay::cut`] closes every connection through it
/// (new ones are relayed again).
pub struct Relay {
    pub port: u16,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    pub async fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (target, held) = (target.to_string(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                held.lock().unwrap().push(task.abort_handle());
            }
        });
        Relay { port, conns }
    }

    /// Closes every connection open through the relay now; returns how many.
    pub fn cut(&self) -> usize {
        let open: Vec<_> = std::mem::take(&mut *self.conns.lock().unwrap());
        for c in &open {
            c.abort();
        }
        open.len()
    }
}
