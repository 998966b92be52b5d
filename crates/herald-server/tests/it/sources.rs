//! `/v1/sources`: definitions checked field by field, the life of a source, and the
//! limits of `/in/{id}` (size, unknown sources, methods).

use base64::Engine;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::inbound::{create_source, deliver_in, mac, request_log};

store_tests! {
    async fn limits_unknown_sources_and_methods() {
        let mut settings = test_settings();
        settings.max_payload = Some("1KiB".into());
        let app = spawn_with(settings).await;
        let src = create_source(
            &app,
            json!({"name": "n", "verify": {"scheme": "bearer", "secret": "tok-123"}}),
        )
        .await;
        let id = src["id"].as_str().unwrap();
        let auth = vec![("authorization", "Bearer tok-123".to_string())];
        assert_eq!(deliver_in(&app, id, b"{}", &auth).await.0, 200);
        assert_eq!(
            deliver_in(&app, id, b"{}", &[("authorization", "Bearer nope".into())])
                .await
                .0,
            401
        );
        let (s, r) = deliver_in(&app, id, &vec![b'x'; 200 * 1024], &auth).await;
        assert_eq!((s, r["error"]["code"].as_str()), (413, Some("payload_too_large")));
        let (s, _) = deliver_in(&app, "src_unknown", b"{}", &auth).await;
        assert_eq!(s, 404);
        let r = app
            .http
            .get(format!("{}/in/{id}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        let log = request_log(&app, id).await;
        assert_eq!(
            log.iter()
                .map(|r| r["status"].as_u64().unwrap())
                .collect::<Vec<_>>(),
            [413, 401, 200]
        );
    }

    async fn bad_source_definitions_are_refused() {
        let app = spawn_app().await;
        let cases = [
            (json!({"verify": {"scheme": "none"}}), "name"),
            (json!({"name": "x"}), "verify"),
            (
                json!({"name": "x", "verify": {"scheme": "carrier-pigeon", "secret": "s"}}),
                "verify.scheme",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "stripe"}}),
                "verify.secrets",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "standard", "secret": "not-whsec"}}),
                "verify.secrets",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "hmac", "secret": "s", "algorithm": "md5"}}),
                "verify.algorithm",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "hmac", "secret": "s", "prefix": " sha256="}}),
                "verify.prefix",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "hmac", "secret": "s", "header": "x sig"}}),
                "verify.header",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "bearer", "secret": "tok "}}),
                "verify.secrets",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "none"}, "allow_ips": ["10.0.0.0/40"]}),
                "allow_ips[0]",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "none"}, "dedupe": {"key": "cookie:x"}}),
                "dedupe.key",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "none"}, "event_type": "body"}),
                "event_type",
            ),
            (
                json!({"name": "x", "verify": {"scheme": "none"}, "type_prefix": "bad prefix"}),
                "type_prefix",
            ),
        ];
        for (body, field) in cases {
            let (s, r) = app.call(Method::POST, "/v1/sources", Some(body.clone())).await;
            assert_eq!(s, 422, "{body}: {r}");
            assert!(
                r["error"]["message"].as_str().unwrap().starts_with(field),
                "{body}: {r}"
            );
        }
        assert!(app.get("/v1/sources").await["data"]
            .as_array()
            .unwrap()
            .is_empty());
    }

    async fn sources_can_be_read_changed_listed_and_deleted() {
        let app = spawn_app().await;
        let src = create_source(
            &app,
            json!({"name": "shop", "verify": {"scheme": "shopify", "secret": "hush"}}),
        )
        .await;
        let id = src["id"].as_str().unwrap();
        assert_eq!(src["event_type"], "header:x-shopify-topic");
        let path = format!("/v1/sources/{id}");
        let (s, changed) = app
            .call(Method::PATCH, &path, Some(json!({"name": "shop-eu", "type_prefix": "shopify.", "dedupe": {"key": "header:X-Shopify-Webhook-Id"}})))
            .await;
        assert_eq!(s, 200, "{changed}");
        assert_eq!(
            (changed["name"].as_str(), changed["dedupe"]["window_s"].as_u64()),
            (Some("shop-eu"), Some(86400))
        );
        let body = br#"{"id": 1}"#;
        let sig = base64::engine::general_purpose::STANDARD.encode(mac(b"hush", body));
        let headers = [
            ("x-shopify-hmac-sha256", sig),
            ("x-shopify-topic", "orders/create".into()),
            ("x-shopify-webhook-id", "w1".into()),
        ];
        let (s, r) = deliver_in(&app, id, body, &headers).await;
        assert_eq!((s, r["type"].as_str()), (200, Some("shopify.orders.create")));
        assert_eq!(app.get("/v1/sources").await["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.call(Method::DELETE, &path, None).await.0, 204);
        assert_eq!(app.call(Method::GET, &path, None).await.0, 404);
        assert_eq!(deliver_in(&app, id, body, &headers).await.0, 404);
    }
}
