//! Revoking a key ends what it opened: an SSE stream held with a leaked key stops
//! receiving the tenant's events within seconds.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// Reads the stream until it ends or `limit` passes; true when it ended.
async fn ends_within(resp: &mut reqwest::Response, limit: Duration) -> (bool, String) {
    let deadline = Instant::now() + limit;
    let mut seen = String::new();
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), resp.chunk()).await {
            Err(_) => continue,
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) | Ok(Err(_)) => return (true, seen),
        }
    }
    (false, seen)
}

store_tests! {
    async fn revoking_a_key_ends_the_streams_it_opened() {
        let app = spawn_app().await;
        let (s, minted) = app.call(Method::POST, "/v1/keys", Some(json!({"tenant": "acme"}))).await;
        assert_eq!(s, 201, "{minted}");
        let key = minted["key"].as_str().unwrap().to_string();
        let (s, ep) = app
            .call_as(&key, Method::POST, "/v1/endpoints", Some(json!({"event_types": ["*"]})))
            .await;
        assert_eq!(s, 201, "{ep}");
        let stream_url = format!("{}/v1/endpoints/{}/stream", app.base, ep["id"].as_str().unwrap());
        let open = || app.http.get(&stream_url).bearer_auth(&key).send();
        let mut stream = open().await.unwrap();
        assert_eq!(stream.status(), 200);
        // A stream with the admin key stays open: only the revoked key's stream ends.
        let mut admin_stream = app.http.get(&stream_url).bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(admin_stream.status(), 200);

        let (s, _) = app.call(Method::DELETE, &format!("/v1/keys/{}", minted["id"].as_str().unwrap()), None).await;
        assert_eq!(s, 204);
        let revoked = Instant::now();
        app.publish(json!({"type": "secret.thing", "tenant": "acme", "payload": {"pin": 4242}})).await;
        let (ended, seen) = ends_within(&mut stream, Duration::from_secs(5)).await;
        assert!(ended, "the stream outlived its key: {seen}");
        assert!(revoked.elapsed() < Duration::from_secs(5));
        assert!(!seen.contains("4242"), "an event after the revocation reached the revoked key: {seen}");
        assert_eq!(open().await.unwrap().status(), 401, "and it cannot reopen");
        let (ended, seen) = ends_within(&mut admin_stream, Duration::from_secs(2)).await;
        assert!(!ended, "the admin's stream ended too");
        assert!(seen.contains("4242"), "the admin's stream still gets events: {seen}");
    }
}
