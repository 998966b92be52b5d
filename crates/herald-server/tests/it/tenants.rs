//! Tenant-scoped keys: a tenant sees and changes only its own data; other tenants' ids
//! are 404 on every route, never data.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn mint(app: &TestApp, tenant: &str) -> String {
    let (s, k) = app
        .call(Method::POST, "/v1/keys", Some(json!({"tenant": tenant})))
        .await;
    assert_eq!(s, 201, "{k}");
    assert_eq!(k["tenant"], tenant);
    assert!(k["id"].as_str().unwrap().starts_with("key_"));
    k["key"].as_str().unwrap().to_string()
}

struct Owned {
    source: String,
    endpoint: String,
    event: String,
    delivery: String,
}

async fn populate(app: &TestApp, key: &str, rx: &Receiver) -> Owned {
    let (s, ep) = app
        .call_as(key, Method::POST, "/v1/endpoints", Some(json!({"url": rx.url})))
        .await;
    assert_eq!(s, 201, "{ep}");
    let (s, ev) = app
        .call_as(
            key,
            Method::POST,
            "/v1/events",
            Some(json!({"type": "ticket.created", "payload": {}})),
        )
        .await;
    assert_eq!(s, 202, "{ev}");
    let event = ev["id"].as_str().unwrap().to_string();
    let (_, ds) = app
        .call_as(key, Method::GET, &format!("/v1/events/{event}/deliveries"), None)
        .await;
    let (s, src) = app
        .call_as(
            key,
            Method::POST,
            "/v1/sources",
            Some(json!({"name": "n", "verify": {"scheme": "none"}})),
        )
        .await;
    assert_eq!(s, 201, "{src}");
    Owned {
        source: src["id"].as_str().unwrap().to_string(),
        endpoint: ep["id"].as_str().unwrap().to_string(),
        event,
        delivery: ds["data"][0]["id"].as_str().unwrap().to_string(),
    }
}

store_tests! {
    async fn a_caller_chosen_event_id_is_unique_per_tenant() {
        let app = spawn_app().await;
        let (acme, globex) = (mint(&app, "acme").await, mint(&app, "globex").await);
        let (rx_a, rx_g) = (Receiver::ok().await, Receiver::ok().await);
        for (key, rx) in [(&acme, &rx_a), (&globex, &rx_g)] {
            let (s, _) = app
                .call_as(key, Method::POST, "/v1/endpoints", Some(json!({"url": rx.url})))
                .await;
            assert_eq!(s, 201);
        }
        let app = &app;
        let publish = |key: String, n: u32| async move {
            let body = json!({"type": "order.paid", "id": "order-1", "payload": {"n": n}});
            app.call_as(&key, Method::POST, "/v1/events", Some(body)).await
        };
        let (s, a) = publish(acme.clone(), 1).await;
        assert_eq!((s, a["id"].as_str()), (202, Some("order-1")), "{a}");
        let (s, g) = publish(globex.clone(), 2).await;
        assert_eq!(s, 202, "another tenant's id is no conflict and reveals nothing: {g}");
        assert_eq!(g["id"], "order-1");
        assert_eq!(publish(acme.clone(), 1).await.0, 200, "the same request again is a repeat");
        assert_eq!(publish(acme.clone(), 3).await.0, 409, "another body under the tenant's own id");
        for (key, n) in [(&acme, 1), (&globex, 2)] {
            let (s, ev) = app.call_as(key, Method::GET, "/v1/events/order-1", None).await;
            assert_eq!((s, ev["payload"]["n"].as_u64()), (200, Some(n)), "{ev}");
            let (s, ds) = app.call_as(key, Method::GET, "/v1/events/order-1/deliveries", None).await;
            assert_eq!((s, ds["data"].as_array().unwrap().len()), (200, 1), "{ds}");
        }
        for (rx, n) in [(&rx_a, 1), (&rx_g, 2)] {
            let got = rx.wait_for(1).await;
            assert_eq!(got[0].header("webhook-id").as_deref(), Some("order-1"));
            let body: Value = serde_json::from_slice(&got[0].body).unwrap();
            assert_eq!(body["n"], n, "each tenant's endpoint gets its own event");
        }
    }

    async fn a_tenant_key_never_sees_or_touches_another_tenants_data() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let acme = mint(&app, "acme").await;
        let globex = mint(&app, "globex").await;
        let a = populate(&app, &acme, &rx).await;
        let g = populate(&app, &globex, &rx).await;
        rx.wait_for(2).await;

        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/endpoints/{}", a.endpoint), None),
            (
                Method::PATCH,
                format!("/v1/endpoints/{}", a.endpoint),
                Some(json!({"disabled": true})),
            ),
            (Method::GET, format!("/v1/endpoints/{}/secret", a.endpoint), None),
            (
                Method::POST,
                format!("/v1/endpoints/{}/secret/rotate", a.endpoint),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/v1/endpoints/{}/recover", a.endpoint),
                Some(json!({"since": "2000-01-01T00:00:00Z"})),
            ),
            (Method::GET, format!("/v1/events/{}", a.event), None),
            (Method::GET, format!("/v1/events/{}/deliveries", a.event), None),
            (
                Method::POST,
                format!("/v1/events/{}/replay", a.event),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/v1/events/{}/replay", g.event),
                Some(json!({"endpoint_id": a.endpoint})),
            ),
            (Method::GET, format!("/v1/deliveries/{}", a.delivery), None),
            (
                Method::GET,
                format!("/v1/deliveries/{}/attempts", a.delivery),
                None,
            ),
            (Method::POST, format!("/v1/deliveries/{}/retry", a.delivery), None),
            (Method::GET, format!("/v1/sources/{}", a.source), None),
            (
                Method::PATCH,
                format!("/v1/sources/{}", a.source),
                Some(json!({"name": "stolen"})),
            ),
            (Method::GET, format!("/v1/sources/{}/requests", a.source), None),
            (Method::DELETE, format!("/v1/sources/{}", a.source), None),
            (Method::DELETE, format!("/v1/endpoints/{}", a.endpoint), None),
        ];
        for (method, path, body) in routes {
            let (s, b) = app.call_as(&globex, method.clone(), &path, body).await;
            assert_eq!(s, 404, "{method} {path} with another tenant's key: {b}");
            assert_eq!(b["error"]["code"], "not_found");
            let text = b.to_string();
            assert!(!text.contains("acme") && !text.contains(&rx.url), "{text}");
        }
        // Nothing was changed by those calls.
        let ep = app.get(&format!("/v1/endpoints/{}", a.endpoint)).await;
        assert_eq!(ep["disabled"], false);
        assert_eq!(app.get(&format!("/v1/sources/{}", a.source)).await["name"], "n");
        assert_eq!(app.deliveries(&a.event).await.len(), 1);

        // Lists show only the caller's tenant, whatever the filter says.
        for path in [
            "/v1/sources",
            "/v1/endpoints",
            "/v1/events",
            "/v1/endpoints?tenant=acme",
            "/v1/events?tenant=acme",
        ] {
            let (s, list) = app.call_as(&globex, Method::GET, path, None).await;
            assert_eq!(s, 200);
            for item in list["data"].as_array().unwrap() {
                assert_eq!(item["tenant"], "globex", "{path}: {item}");
            }
        }
        let (_, mine) = app.call_as(&globex, Method::GET, "/v1/events", None).await;
        assert_eq!(mine["data"].as_array().unwrap().len(), 1);

        // The tenant's own data is fully usable.
        let (s, ev) = app
            .call_as(&acme, Method::GET, &format!("/v1/events/{}", a.event), None)
            .await;
        assert_eq!((s, ev["tenant"].as_str()), (200, Some("acme")));
        // The admin sees both tenants.
        assert_eq!(app.get("/v1/events").await["data"].as_array().unwrap().len(), 2);
    }

    async fn a_tenant_key_acts_only_for_its_tenant_and_cannot_manage_keys() {
        let app = spawn_app().await;
        let acme = mint(&app, "acme").await;
        let (s, b) = app
            .call_as(
                &acme,
                Method::POST,
                "/v1/events",
                Some(json!({"type": "a.b", "payload": {}, "tenant": "globex"})),
            )
            .await;
        assert_eq!(s, 403, "{b}");
        assert_eq!(b["error"]["code"], "forbidden");
        let (s, _) = app
            .call_as(
                &acme,
                Method::POST,
                "/v1/endpoints",
                Some(json!({"url": "http://127.0.0.1:9/", "tenant": "globex"})),
            )
            .await;
        assert_eq!(s, 403);
        for (method, path) in [
            (Method::GET, "/v1/keys"),
            (Method::POST, "/v1/keys"),
            (Method::DELETE, "/v1/keys/key_x"),
        ] {
            let body = (method == Method::POST).then(|| json!({"tenant": "acme"}));
            let (s, _) = app.call_as(&acme, method, path, body).await;
            assert_eq!(s, 403, "{path}");
        }
        assert_eq!(
            app.get("/v1/events").await["data"].as_array().unwrap().len(),
            0,
            "nothing stored"
        );
    }

    async fn keys_are_listed_without_secrets_and_can_be_revoked() {
        let app = spawn_app().await;
        let key = mint(&app, "acme").await;
        let (s, _) = app.call_as(&key, Method::GET, "/v1/endpoints", None).await;
        assert_eq!(s, 200);
        let list = app.get("/v1/keys").await;
        let listed = list["data"].as_array().unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].get("key").is_none() && !list.to_string().contains(&key));
        let id = listed[0]["id"].as_str().unwrap();
        let (s, _) = app.call(Method::DELETE, &format!("/v1/keys/{id}"), None).await;
        assert_eq!(s, 204);
        let (s, _) = app.call_as(&key, Method::GET, "/v1/endpoints", None).await;
        assert_eq!(s, 401, "a revoked key no longer works");
        let (s, _) = app.call(Method::DELETE, &format!("/v1/keys/{id}"), None).await;
        assert_eq!(s, 404);
        assert!(app.get("/v1/keys").await["data"][0]["revoked_at"].is_string());
    }
}
