//! `herald mcp` (stdio) driven by an MCP client (rmcp's), against a real `herald serve`:
//! waits that return at once, block until a publish, or time out; the types filter; acks;
//! redelivery after the lease and after a restart of `herald mcp`; tenant scope; and bad
//! arguments as tool errors.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};

use super::*;

type Client = RunningService<RoleClient, ()>;

async fn connect(base: &str, key: &str, lease_ms: &str) -> Client {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(["mcp", "--server", base, "--key", key, "--lease-ms", lease_ms])
        .env_remove("HERALD_KEY")
        .env_remove("HERALD_SERVER");
    let transport = TokioChildProcess::new(cmd).unwrap();
    ().serve(transport).await.expect("an MCP session with herald mcp")
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone());
    client.call_tool(params).await.expect("a tool result")
}

/// The structured result, checked to be the same JSON as the text content.
fn structured(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool error: {result:?}");
    let value = result.structured_content.clone().expect("structuredContent");
    let text = result.content[0].as_text().expect("text content").text.clone();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        value,
        "text and structure agree"
    );
    value
}

/// `events_wait` with these arguments: its structured result.
async fn wait(client: &Client, args: Value) -> Value {
    structured(&call(client, "events_wait", args).await)
}

/// `events_ack` of one delivery: its structured result.
async fn ack(client: &Client, consumer: &str, delivery_id: &Value) -> Value {
    let args = json!({"consumer": consumer, "delivery_ids": [delivery_id]});
    structured(&call(client, "events_ack", args).await)
}

fn tool_error(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "expected a tool error: {result:?}");
    result.content[0].as_text().unwrap().text.clone()
}

async fn publish(base: &str, key: &str, body: Value) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/events"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_agent_waits_acks_and_gets_back_what_it_did_not_ack() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let client = connect(&herald.base, KEY, "1500").await;
    let tools = client.list_all_tools().await.unwrap();
    for name in [
        "events_wait",
        "events_ack",
        "events_list",
        "event_get",
        "deliveries_list",
        "delivery_retry",
        "endpoint_health",
        "publish",
    ] {
        let t = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        assert!(t.output_schema.is_some(), "{name} has an output schema");
    }
    // The consumer exists from its first wait on: nothing published after is skipped.
    let first = wait(
        &client,
        json!({"consumer": "triage", "types": ["ticket.*"], "timeout_ms": 0}),
    )
    .await;
    assert_eq!(
        (first["events"].as_array().unwrap().len(), &first["timed_out"]),
        (0, &json!(true))
    );
    let ticket = publish(
        &herald.base,
        KEY,
        json!({"type": "ticket.created", "payload": {"subject": "Cannot log in"}}),
    )
    .await;
    publish(&herald.base, KEY, json!({"type": "order.paid", "payload": {}})).await;
    let got = wait(&client, json!({"consumer": "triage", "timeout_ms": 5000})).await;
    let events = got["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "only ticket.*: {got}");
    assert_eq!(
        (events[0]["event_id"].as_str(), &events[0]["payload"]["subject"]),
        (Some(ticket.as_str()), &json!("Cannot log in"))
    );
    assert_eq!(
        (&events[0]["verified"], &events[0]["source_id"]),
        (&json!(true), &Value::Null)
    );

    // Not acked: back after the lease.
    let again = wait(&client, json!({"consumer": "triage", "timeout_ms": 8000})).await;
    assert_eq!(
        again["events"][0]["event_id"].as_str(),
        Some(ticket.as_str()),
        "{again}"
    );
    let dlv = again["events"][0]["delivery_id"].clone();
    let acked = ack(&client, "triage", &dlv).await;
    assert_eq!(acked["acked"], 1);

    // A wait blocks until something is published, then returns it.
    let base = herald.base.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        publish(&base, KEY, json!({"type": "ticket.closed", "payload": {}})).await
    });
    let started = Instant::now();
    let woke = wait(&client, json!({"consumer": "triage", "timeout_ms": 20000})).await;
    let closed = later.await.unwrap();
    assert_eq!(woke["events"][0]["event_id"].as_str(), Some(closed.as_str()));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "returned when published: {:?}",
        started.elapsed()
    );

    // A new `herald mcp` process (the agent restarted) finds the same consumer.
    client.cancel().await.unwrap();
    let client = connect(&herald.base, KEY, "1500").await;
    let back = wait(&client, json!({"consumer": "triage", "timeout_ms": 8000})).await;
    assert_eq!(
        back["events"][0]["event_id"].as_str(),
        Some(closed.as_str()),
        "unacked, so back: {back}"
    );
    let dlv = back["events"][0]["delivery_id"].clone();
    ack(&client, "triage", &dlv).await;
    let none = wait(&client, json!({"consumer": "triage", "timeout_ms": 2500})).await;
    assert_eq!(none["timed_out"], true, "acked events never come back: {none}");

    // Bad arguments are tool errors.
    assert!(
        tool_error(&call(&client, "events_wait", json!({"consumer": "no spaces"})).await)
            .contains("consumer")
    );
    assert!(
        tool_error(&call(&client, "events_wait", json!({"consumer": "c", "max": 0})).await).contains("max")
    );
    assert!(
        tool_error(&call(&client, "event_get", json!({"event_id": "evt_missing"})).await).contains("404")
    );
    let unknown = client
        .call_tool(CallToolRequestParams::new("events_delete"))
        .await;
    assert!(
        unknown.is_err() || unknown.unwrap().is_error == Some(true),
        "an unknown tool is refused"
    );
}

#[tokio::test]
async fn a_tenant_agent_sees_and_publishes_only_its_own_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (s, k) = api(
        &herald.base,
        reqwest::Method::POST,
        "/v1/keys",
        Some(json!({"tenant": "acme"})),
    )
    .await;
    assert_eq!(s, 201);
    let acme = k["key"].as_str().unwrap().to_string();
    let client = connect(&herald.base, &acme, "60000").await;
    wait(&client, json!({"consumer": "acme-agent", "timeout_ms": 0})).await;
    publish(
        &herald.base,
        KEY,
        json!({"type": "a.b", "tenant": "globex", "payload": {"secret": 1}}),
    )
    .await;
    let mine = structured(
        &call(
            &client,
            "publish",
            json!({"type": "a.b", "payload": {"n": 2}, "idempotency_key": "k1"}),
        )
        .await,
    );
    let again = structured(
        &call(
            &client,
            "publish",
            json!({"type": "a.b", "payload": {"n": 2}, "idempotency_key": "k1"}),
        )
        .await,
    );
    assert_eq!(mine["id"], again["id"], "published once");
    let got = wait(&client, json!({"consumer": "acme-agent", "timeout_ms": 5000})).await;
    let events = got["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{got}");
    assert_eq!(events[0]["payload"]["n"], 2, "only acme's own event");
    let listed = structured(&call(&client, "events_list", json!({})).await);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenant"] == "acme"),
        "{listed}"
    );
    let (_, ev) = api(
        &herald.base,
        reqwest::Method::GET,
        &format!("/v1/events/{}", mine["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(ev["tenant"], "acme", "a tenant key publishes for its tenant");
}

/// An MCP client that passes on every `notifications/resources/updated` it gets.
#[derive(Clone)]
struct Updates(tokio::sync::mpsc::UnboundedSender<String>);

impl rmcp::ClientHandler for Updates {
    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _: rmcp::service::NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params.uri);
    }
}

#[tokio::test]
#[allow(deprecated)] // resources/subscribe: what a session on an initialize-era version uses
async fn a_subscribed_agent_hears_when_its_consumer_has_something_new() {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(dir.path(), &[]);
    herald.ready().await;
    let (tx, mut updates) = tokio::sync::mpsc::unbounded_channel();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(["mcp", "--server", &herald.base, "--key", KEY]);
    let client = Updates(tx)
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .expect("an MCP session with herald mcp");
    let first = CallToolRequestParams::new("events_wait").with_arguments(
        json!({"consumer": "inbox", "timeout_ms": 0})
            .as_object()
            .unwrap()
            .clone(),
    );
    client.call_tool(first).await.unwrap();
    let uri = "herald://consumers/inbox/pending";
    let unknown = rmcp::model::SubscribeRequestParams::new("herald://consumers/nobody/pending");
    assert!(client.subscribe(unknown).await.is_err(), "no such consumer");
    client
        .subscribe(rmcp::model::SubscribeRequestParams::new(uri))
        .await
        .expect("resources/subscribe");
    publish(
        &herald.base,
        KEY,
        json!({"type": "ticket.created", "payload": {}}),
    )
    .await;
    let heard = tokio::time::timeout(Duration::from_secs(10), updates.recv())
        .await
        .expect("an update within 10 s");
    assert_eq!(heard.as_deref(), Some(uri));
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
        .await
        .expect("resources/read");
    let text = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("{other:?}"),
    };
    let pending: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(pending["waiting"], 1, "{pending}");
    // After unsubscribing, a change is not announced.
    client
        .unsubscribe(rmcp::model::UnsubscribeRequestParams::new(uri))
        .await
        .unwrap();
    while updates.try_recv().is_ok() {}
    publish(
        &herald.base,
        KEY,
        json!({"type": "ticket.created", "payload": {}}),
    )
    .await;
    let quiet = tokio::time::timeout(Duration::from_secs(2), updates.recv()).await;
    assert!(quiet.is_err(), "no update after unsubscribe: {quiet:?}");
}
