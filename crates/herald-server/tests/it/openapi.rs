//! `/openapi.json` is generated from the router and covers every route.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

/// Every route herald serves (the API contract of DESIGN.md section 3).
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/endpoints"),
    ("GET", "/v1/endpoints"),
    ("GET", "/v1/endpoints/{id}"),
    ("PATCH", "/v1/endpoints/{id}"),
    ("DELETE", "/v1/endpoints/{id}"),
    ("GET", "/v1/endpoints/{id}/secret"),
    ("GET", "/v1/endpoints/{id}/health"),
    ("POST", "/v1/endpoints/{id}/keys/{key}/resume"),
    ("POST", "/v1/endpoints/{id}/keys/{key}/skip"),
    ("POST", "/v1/endpoints/{id}/secret/rotate"),
    ("POST", "/v1/endpoints/{id}/recover"),
    ("GET", "/v1/endpoints/{id}/stream"),
    ("POST", "/v1/endpoints/{id}/poll"),
    ("POST", "/v1/endpoints/{id}/ack"),
    ("POST", "/v1/endpoints/{id}/lease"),
    ("POST", "/v1/events"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events/{id}"),
    ("GET", "/v1/events/{id}/deliveries"),
    ("POST", "/v1/events/{id}/replay"),
    ("GET", "/v1/deliveries/{id}"),
    ("GET", "/v1/deliveries/{id}/attempts"),
    ("POST", "/v1/deliveries/{id}/retry"),
    ("GET", "/v1/deliveries"),
    ("POST", "/v1/deliveries/retry"),
    ("GET", "/v1/stats"),
    ("POST", "/v1/endpoints/{id}/test"),
    ("POST", "/v1/event-types"),
    ("GET", "/v1/event-types"),
    ("GET", "/v1/event-types/{name}"),
    ("PATCH", "/v1/event-types/{name}"),
    ("POST", "/v1/sources"),
    ("GET", "/v1/sources"),
    ("GET", "/v1/sources/{id}"),
    ("PATCH", "/v1/sources/{id}"),
    ("DELETE", "/v1/sources/{id}"),
    ("GET", "/v1/sources/{id}/requests"),
    ("GET", "/v1/source-presets"),
    ("POST", "/v1/keys"),
    ("GET", "/v1/keys"),
    ("DELETE", "/v1/keys/{id}"),
    ("POST", "/in/{source_id}"),
    ("GET", "/in/{source_id}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

fn spec_routes(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "patch", "delete", "put"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

store_tests! {
    async fn the_document_describes_exactly_the_routes_the_router_serves() {
        let app = spawn_app().await;
        let r = app
            .http
            .get(format!("{}/openapi.json", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let mut want: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        want.sort();
        assert_eq!(spec_routes(&doc), want);
        // And every documented route is really routed: none reaches the router's fallback.
        for (method, path) in &want {
            if path.ends_with("/stream") {
                continue; // a stream stays open; it is exercised by the pull tests
            }
            let concrete = path
                .replace("{id}", "x_unknown")
                .replace("{name}", "x.unknown")
                .replace("{source_id}", "src_x");
            let (status, body) = app
                .call(Method::from_bytes(method.as_bytes()).unwrap(), &concrete, None)
                .await;
            let fallback = body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("route "));
            assert!(
                !fallback && status != 405,
                "{method} {path} is documented but not routed ({status} {body})"
            );
        }
        // Operations on /v1 require the Bearer key; errors share one documented shape.
        let publish = &doc["paths"]["/v1/events"]["post"];
        assert_eq!(publish["security"][0]["bearer"], serde_json::json!([]));
        assert!(
            publish["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap()
                .ends_with("ErrorBody")
        );
        assert!(doc["paths"]["/in/{source_id}"]["post"]["security"].is_null());
    }
}
