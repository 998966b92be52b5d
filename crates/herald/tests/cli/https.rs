//! HTTPS with certificate reload.

use super::*;

#[tokio::test]
async fn https_is_served_and_the_certificate_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = self_signed(dir.path(), "first");
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, &cert_a).unwrap();
    std::fs::write(&key_path, &key_a).unwrap();
    let (tls_cert, tls_key) = (
        cert_path.to_str().unwrap().to_string(),
        key_path.to_str().unwrap().to_string(),
    );
    let herald = Herald::start(
        &dir.path().join("data"),
        &["--tls-cert", &tls_cert, "--tls-key", &tls_key],
    );
    let https = herald.base.replace("http://", "https://");
    let first = trusting(&cert_a);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let last = match first.get(format!("{https}/healthz")).send().await {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                break;
            }
            Err(e) => format!("{e:?}"),
        };
        assert!(Instant::now() < deadline, "herald did not serve HTTPS: {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        reqwest::get(format!("{}/healthz", herald.base)).await.is_err(),
        "no plain HTTP on a TLS port"
    );

    let (cert_b, key_b) = self_signed(dir.path(), "second");
    std::fs::write(&key_path, &key_b).unwrap();
    std::fs::write(&cert_path, &cert_b).unwrap();
    herald.signal("-HUP");
    let second = trusting(&cert_b);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if second.get(format!("{https}/healthz")).send().await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the new certificate was not loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        first.get(format!("{https}/healthz")).send().await.is_err(),
        "the old certificate is gone"
    );
}
