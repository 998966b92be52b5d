//! TLS for the API and the inbound receiver (rustls). The certificate and key are read
//! from PEM files and read again, without dropping connections, on SIGHUP or when the
//! files change; a bad new pair is refused and the current one stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read the private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the certificate and key do not form a usable pair: {0}")]
    Pair(String),
}

/// The current server configuration and where it comes from.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
    stamps: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn load(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert {
            path: cert.into(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Cert {
            path: cert.into(),
            reason: "no certificate in the file".into(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.into(),
        reason: e.to_string(),
    })?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| TlsError::Pair(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl Tls {
    pub fn load(cert: PathBuf, key: PathBuf) -> Result<Tls, TlsError> {
        let config = load(&cert, &key)?;
        let stamps = (modified(&cert), modified(&key));
        Ok(Tls {
            current: RwLock::new(Arc::new(config)),
            stamps: Mutex::new(stamps),
            cert,
            key,
        })
    }

    /// The configuration for a new connection.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the files again; on error the current pair stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = load(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = (modified(&self.cert), modified(&self.key));
        tracing::info!("TLS certificate reloaded");
        Ok(())
    }

    fn changed(&self) -> bool {
        let now = (modified(&self.cert), modified(&self.key));
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) != now
    }

    /// Reloads on SIGHUP, and when either file changes (checked every 2 s), until `stop`.
    pub async fn watch(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<()>();
            let forced = tokio::select! {
                _ = hup => true,
                _ = tokio::time::sleep(Duration::from_secs(2)) => false,
                _ = stop.changed() => return,
            };
            if forced || self.changed() {
                if let Err(e) = self.reload() {
                    tracing::error!(error = %e, "TLS reload failed; keeping the current certificate");
                    // Do not retry a bad pair every tick: wait for the next change.
                    *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) =
                        (modified(&self.cert), modified(&self.key));
                }
            }
        }
    }
}
