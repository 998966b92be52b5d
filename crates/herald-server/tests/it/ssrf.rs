//! SSRF: without an allowlist, loopback forms are refused on the real delivery path.
//! (Other private ranges are tested at the guard's decision function, in the library's
//! unit tests: no test may send traffic off loopback.)

use serde_json::json;

use crate::helpers::*;

store_tests! {
    async fn loopback_forms_are_refused_without_the_allowlist() {
        let mut settings = test_settings();
        settings.allow_networks = None;
        let app = spawn_with(settings).await;
        let rx = Receiver::ok().await;
        let port = rx.url.rsplit(':').next().unwrap().to_string();
        let hosts = [
            "127.0.0.1",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "0.0.0.0",
            "localhost",
            "2130706433",
            "0x7f000001",
            "127.1",
        ];
        for host in hosts {
            app.create_endpoint(json!({"url": format!("http://{host}:{port}/hook"), "description": host}))
                .await;
        }
        let ev = app.publish(json!({"type": "t.x", "payload": {}})).await;
        assert_eq!(ev["deliveries"], hosts.len());
        let ds = app.settled(ev["id"].as_str().unwrap()).await;
        for d in &ds {
            assert_eq!(d["state"], "failed", "{d}");
            assert_eq!(d["attempts"], 1, "a refused address is not retried: {d}");
            let err = d["last_error"].as_str().unwrap();
            assert!(err.contains("SSRF") && err.contains("not allowed"), "{err}");
        }
        assert_eq!(rx.count(), 0, "nothing reached the receiver");
    }

    async fn the_allowlist_lets_loopback_through() {
        let app = spawn_app().await; // allows 127.0.0.0/8
        let rx = Receiver::ok().await;
        let port = rx.url.rsplit(':').next().unwrap().to_string();
        app.create_endpoint(json!({"url": format!("http://localhost:{port}/")}))
            .await;
        app.create_endpoint(json!({"url": format!("http://[::ffff:127.0.0.1]:{port}/")}))
            .await;
        app.publish(json!({"type": "t.x", "payload": {}})).await;
        rx.wait_for(2).await;
    }

    async fn numeric_hosts_are_normalized_when_stored() {
        let app = spawn_app().await;
        let ep = app.create_endpoint(json!({"url": "http://2130706433:9/x"})).await;
        assert_eq!(ep["url"], "http://127.0.0.1:9/x");
    }
}
