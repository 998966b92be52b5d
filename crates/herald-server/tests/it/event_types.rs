//! Event types with JSON Schemas: published payloads are validated.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

fn ticket_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["ticket_id"],
                "properties": {"ticket_id": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}
            }
        }
    })
}

store_tests! {
    async fn payloads_are_validated_against_the_schema_of_their_type() {
        let app = spawn_app().await;
        let (s, t) = app
            .call(
                Method::POST,
                "/v1/event-types",
                Some(json!({"name": "ticket.created", "description": "A ticket was opened", "schema": ticket_schema()})),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        assert_eq!(t["schema"], ticket_schema());
        app.publish(json!({"type": "ticket.created", "payload": ticket_payload()}))
            .await;
        let cases = [
            (
                json!({"event": "x", "data": {"ticket_id": 5}}),
                "payload/data/ticket_id:",
            ),
            (
                json!({"event": "x", "data": {"ticket_id": "T", "tags": ["a", 7]}}),
                "payload/data/tags/1:",
            ),
            (json!({"event": "x"}), "payload:"),
            (json!("just a string"), "payload:"),
        ];
        for (payload, prefix) in cases {
            let (s, b) = app
                .call(
                    Method::POST,
                    "/v1/events",
                    Some(json!({"type": "ticket.created", "payload": payload})),
                )
                .await;
            assert_eq!(s, 422, "{b}");
            let msg = b["error"]["message"].as_str().unwrap();
            assert!(msg.starts_with(prefix), "{msg} should start with {prefix}");
        }
        // Types without a declared schema are not validated.
        app.publish(json!({"type": "ticket.closed", "payload": 5})).await;
        assert_eq!(
            app.get("/v1/events").await["data"].as_array().unwrap().len(),
            2,
            "refused payloads stored nothing"
        );
    }

    async fn types_can_be_changed_archived_and_listed() {
        let app = spawn_app().await;
        let body = json!({"name": "ticket.created", "schema": ticket_schema()});
        assert_eq!(
            app.call(Method::POST, "/v1/event-types", Some(body.clone()))
                .await
                .0,
            201
        );
        assert_eq!(app.call(Method::POST, "/v1/event-types", Some(body)).await.0, 409);
        let bad = [
            (
                json!({"name": "ticket.updated", "schema": {"type": 12}}),
                "schema",
            ),
            (json!({"name": "ticket.*", "schema": {}}), "name"),
            (json!({"schema": {}}), "name"),
            (json!({"name": "herald.endpoint.disabled"}), "name"),
        ];
        for (b, field) in bad {
            let (s, r) = app.call(Method::POST, "/v1/event-types", Some(b)).await;
            assert_eq!(s, 422, "{r}");
            assert!(r["error"]["message"].as_str().unwrap().starts_with(field));
        }
        let invalid = json!({"type": "ticket.created", "payload": {"nope": true}});
        assert_eq!(
            app.call(Method::POST, "/v1/events", Some(invalid.clone()))
                .await
                .0,
            422
        );
        let (s, t) = app
            .call(
                Method::PATCH,
                "/v1/event-types/ticket.created",
                Some(json!({"archived": true})),
            )
            .await;
        assert_eq!((s, t["archived"].as_bool()), (200, Some(true)), "{t}");
        assert!(app.get("/v1/event-types").await["data"]
            .as_array()
            .unwrap()
            .is_empty());
        let all = app.get("/v1/event-types?include_archived=true").await;
        assert_eq!(all["data"][0]["archived"], true);
        assert_eq!(
            app.call(Method::POST, "/v1/events", Some(invalid.clone()))
                .await
                .0,
            202,
            "archived: no validation"
        );
        let (s, t) = app
            .call(
                Method::PATCH,
                "/v1/event-types/ticket.created",
                Some(json!({"archived": false, "schema": null})),
            )
            .await;
        assert_eq!((s, t["schema"].is_null()), (200, true));
        assert_eq!(
            app.call(Method::POST, "/v1/events", Some(invalid)).await.0,
            202,
            "no schema: no validation"
        );
        assert_eq!(
            app.call(Method::GET, "/v1/event-types/nope.nope", None).await.0,
            404
        );
    }

    async fn only_admins_manage_types() {
        let app = spawn_app().await;
        let (_, k) = app
            .call(Method::POST, "/v1/keys", Some(json!({"tenant": "acme"})))
            .await;
        let key = k["key"].as_str().unwrap();
        let (s, _) = app
            .call_as(key, Method::POST, "/v1/event-types", Some(json!({"name": "a.b"})))
            .await;
        assert_eq!(s, 403);
        assert_eq!(
            app.call_as(key, Method::GET, "/v1/event-types", None).await.0,
            200
        );
    }
}
