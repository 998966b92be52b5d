//! `/mcp` (Streamable HTTP) spoken by hand, JSON-RPC over real HTTP, on both stores: a key
//! is required, the tools are listed with their schemas, results come as
//! `structuredContent` plus the same JSON as text, consumers are durable and scoped to the
//! key's tenant, and a revoked key is refused at once.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// One JSON-RPC request to `/mcp`; the response message (from JSON or from the SSE stream).
async fn rpc(app: &TestApp, key: &str, method: &str, params: Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let resp = app
        .http
        .post(format!("{}/mcp", app.base))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let message = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m["id"] == 7)
        .or_else(|| serde_json::from_str(&text).ok())
        .unwrap_or(Value::String(text));
    (status, message)
}

async fn tool(app: &TestApp, key: &str, name: &str, args: Value) -> Value {
    let (status, message) = rpc(app, key, "tools/call", json!({"name": name, "arguments": args})).await;
    assert_eq!(status, 200, "{message}");
    let result = &message["result"];
    assert_ne!(result["isError"], true, "{name}: {result}");
    let structured = result["structuredContent"].clone();
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, structured, "the text content is the same JSON");
    structured
}

store_tests! {
    async fn the_tools_answer_over_streamable_http_with_the_callers_scope() {
        let app = spawn_app().await;
        let (status, _) = rpc(&app, "not-a-key", "tools/list", json!({})).await;
        assert_eq!(status, 401, "a key is required");
        let (status, init) = rpc(&app, &app.key, "initialize", json!({
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}
        })).await;
        assert_eq!(status, 200, "{init}");
        assert_eq!(init["result"]["serverInfo"]["name"], "herald", "{init}");
        let (_, list) = rpc(&app, &app.key, "tools/list", json!({})).await;
        let tools = list["result"]["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 8, "{list}");
        for t in tools {
            assert!(t["inputSchema"].is_object() && t["outputSchema"].is_object(), "{t}");
            assert!(t["description"].as_str().unwrap().len() > 40, "{t}");
        }

        let (_, k) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "acme"}))).await;
        let (acme, acme_id) = (k["key"].as_str().unwrap().to_string(), k["id"].as_str().unwrap().to_string());
        let empty = tool(&app, &acme, "events_wait", json!({"consumer": "inbox", "timeout_ms": 0})).await;
        assert_eq!(empty["timed_out"], true);
        app.publish(json!({"type": "ticket.created", "payload": {"for": "nobody"}})).await;
        let published = tool(&app, &acme, "publish", json!({"type": "ticket.created", "payload": {"for": "acme"}})).await;
        let got = tool(&app, &acme, "events_wait", json!({"consumer": "inbox", "timeout_ms": 5000})).await;
        let events = got["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "only acme's: {got}");
        assert_eq!((&events[0]["event_id"], &events[0]["payload"]["for"]), (&published["id"], &json!("acme")));
        let acked = tool(&app, &acme, "events_ack", json!({"consumer": "inbox", "delivery_ids": [events[0]["delivery_id"]]})).await;
        assert_eq!(acked["acked"], 1);
        // The consumer is a pull endpoint of acme's, visible in the API.
        let (_, eps) = app.call_as(&acme, Method::GET, "/v1/endpoints", None).await;
        assert!(eps["data"].as_array().unwrap().iter().any(|e| e["description"] == "mcp:inbox"), "{eps}");
        let dl = tool(&app, &acme, "deliveries_list", json!({"state": "succeeded"})).await;
        assert_eq!(dl["data"].as_array().unwrap().len(), 1, "{dl}");
        let consumer = eps["data"].as_array().unwrap().iter().find(|e| e["description"] == "mcp:inbox").unwrap();
        let health = tool(&app, &acme, "endpoint_health", json!({"endpoint_id": consumer["id"]})).await;
        assert_eq!((health["circuit"].as_str(), health["pending"].as_u64()), (Some("closed"), Some(0)), "{health}");
        assert_eq!(health["last_24h"]["succeeded"], 1, "{health}");

        // Revoking the key ends its access at once.
        let (s, _) = app.call(Method::DELETE, &format!("/v1/keys/{acme_id}"), None).await;
        assert_eq!(s, 204);
        let (status, _) = rpc(&app, &acme, "tools/call", json!({"name": "events_list", "arguments": {}})).await;
        assert_eq!(status, 401);
    }

    async fn a_consumers_pending_resource_is_listed_read_without_leasing_and_scoped() {
        let app = spawn_app().await;
        let (_, templates) = rpc(&app, &app.key, "resources/templates/list", json!({})).await;
        assert_eq!(
            templates["result"]["resourceTemplates"][0]["uriTemplate"],
            "herald://consumers/{name}/pending",
            "{templates}"
        );
        let mut keys = Vec::new();
        for tenant in ["acme", "initech"] {
            let (_, k) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": tenant}))).await;
            keys.push(k["key"].as_str().unwrap().to_string());
        }
        let (acme, initech) = (&keys[0], &keys[1]);
        tool(&app, acme, "events_wait", json!({"consumer": "triage", "timeout_ms": 0})).await;
        let uri = "herald://consumers/triage/pending";
        let read = |key: String| {
            let app = &app;
            async move {
                let (_, m) = rpc(app, &key, "resources/read", json!({"uri": uri})).await;
                m
            }
        };
        let pending = |m: &Value| -> Value {
            serde_json::from_str(m["result"]["contents"][0]["text"].as_str().unwrap_or("null")).unwrap()
        };
        assert_eq!(pending(&read(acme.clone()).await)["waiting"], 0);
        for n in 0..3 {
            tool(&app, acme, "publish", json!({"type": "ticket.created", "payload": {"n": n}})).await;
        }
        let now = pending(&read(acme.clone()).await);
        assert_eq!((now["waiting"].as_u64(), now["leased"].as_u64()), (Some(3), Some(0)), "{now}");
        assert_eq!(now["oldest_waiting"].as_array().unwrap().len(), 3);
        let again = pending(&read(acme.clone()).await);
        assert_eq!(again["waiting"], 3, "reading leases nothing");
        let got = tool(&app, acme, "events_wait", json!({"consumer": "triage", "max": 2})).await;
        let after_wait = pending(&read(acme.clone()).await);
        assert_eq!((after_wait["waiting"].as_u64(), after_wait["leased"].as_u64()), (Some(1), Some(2)), "{after_wait}");
        let ids: Vec<Value> = got["events"].as_array().unwrap().iter().map(|e| e["delivery_id"].clone()).collect();
        tool(&app, acme, "events_ack", json!({"consumer": "triage", "delivery_ids": ids})).await;
        assert_eq!(pending(&read(acme.clone()).await)["leased"], 0, "acknowledged ones are gone");

        let (_, listed) = rpc(&app, acme, "resources/list", json!({})).await;
        assert_eq!(listed["result"]["resources"][0]["uri"], uri, "{listed}");
        let (_, theirs) = rpc(&app, initech, "resources/list", json!({})).await;
        assert_eq!(theirs["result"]["resources"], json!([]), "another tenant lists none: {theirs}");
        let foreign = read(initech.clone()).await;
        assert!(foreign["error"]["message"].as_str().unwrap().contains("no consumer named triage"), "{foreign}");
        let (_, bad) = rpc(&app, acme, "resources/read", json!({"uri": "file:///etc/passwd"})).await;
        assert!(bad["error"].is_object(), "{bad}");
    }

    async fn subscriptions_listen_over_stateless_http_carries_each_update_on_its_own_stream() {
        let app = spawn_app().await;
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}});
        let post = |method: &str, params: Value| {
            app.http
                .post(format!("{}/mcp", app.base))
                .bearer_auth(&app.key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", method)
                .json(&json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params}))
        };
        let wait = json!({"_meta": meta, "name": "events_wait", "arguments": {"consumer": "inbox", "timeout_ms": 0}});
        let created = post("tools/call", wait).header("mcp-name", "events_wait").send().await.unwrap();
        assert_eq!(created.status(), 200);
        created.text().await.unwrap();
        let uri = "herald://consumers/inbox/pending";
        let listen = json!({"_meta": meta, "notifications": {"resourceSubscriptions": [uri]}});
        let mut stream = post("subscriptions/listen", listen).send().await.unwrap();
        assert_eq!(stream.status(), 200);
        let mut seen = String::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut published = false;
        while !seen.contains("notifications/resources/updated") {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let chunk = tokio::time::timeout(left, stream.chunk()).await.expect("an update within 10 s");
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream stays open")));
            if seen.contains("subscriptions/acknowledged") && !published {
                app.publish(json!({"type": "ticket.created", "payload": {}})).await;
                published = true;
            }
        }
        assert!(seen.contains(uri), "{seen}");
        let unknown = json!({"_meta": meta, "notifications": {"resourceSubscriptions": ["herald://consumers/nobody/pending"]}});
        let refused = post("subscriptions/listen", unknown).send().await.unwrap().text().await.unwrap();
        assert!(refused.contains("no consumer named nobody"), "{refused}");
    }

    #[cfg_attr(not(herald_pymcp), ignore = "needs the official MCP Python SDK: pip install mcp")]
    async fn the_official_python_sdk_drives_the_tools() {
        let app = spawn_app().await;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/official_mcp.py");
        let out = tokio::process::Command::new("python3")
            .arg(script)
            .arg(format!("{}/mcp", app.base))
            .arg(&app.key)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let seen: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
        assert_eq!(seen["server"], "herald");
        assert_eq!(seen["tools"].as_array().unwrap().len(), 8, "{seen}");
        assert_eq!(seen["first_timed_out"], true);
        assert_eq!(seen["waited_ids"], json!([seen["published_id"]]), "{seen}");
        assert_eq!((&seen["text_matches"], &seen["acked"], &seen["bad_is_error"]), (&json!(true), &json!(1), &json!(true)));
    }
}
