//! The resource `herald://consumers/{name}/pending` (DESIGN section 11): what a consumer
//! has not acknowledged yet, read without leasing anything, and subscribable: an update is
//! sent whenever it changes (events arrive, are handed out, are acknowledged). Reads go
//! through the API with the caller's key, so a key sees only its own tenant's consumers.

use std::time::Duration;

use serde_json::{json, Value};

use super::backend::ApiCall;
use super::consumers::{self, find};
use super::tools::HeraldTools;

pub const TEMPLATE: &str = "herald://consumers/{name}/pending";
const PREFIX: &str = "herald://consumers/";
const SUFFIX: &str = "/pending";
/// Deliveries listed per state (more are counted as `more`).
const PAGE: usize = 100;
/// Deliveries shown in the resource, oldest first.
const SHOWN: usize = 20;
/// How often a subscription looks again.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// The resource of consumer `name`.
pub fn uri(name: &str) -> String {
    format!("{PREFIX}{name}{SUFFIX}")
}

/// The consumer a resource URI names, if it is one of ours.
pub fn consumer_of(uri: &str) -> Option<&str> {
    let name = uri.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    consumers::valid_name(name).then_some(name)
}

impl HeraldTools {
    /// The consumers the key sees (pull endpoints described `mcp:<name>`).
    pub(super) async fn consumer_names(&self, key: &str) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/endpoints?limit=250&cursor={c}"),
                None => "/v1/endpoints?limit=250".into(),
            };
            let page = self.api(key, ApiCall::get(path)).await?;
            for ep in page["data"].as_array().into_iter().flatten() {
                let name = ep["description"].as_str().and_then(|d| d.strip_prefix("mcp:"));
                if let Some(name) = name.filter(|_| consumers::is_pull(ep)) {
                    names.push(name.to_string());
                }
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(names),
            }
        }
    }

    /// What consumer `name` has not acknowledged: how many wait, how many are handed out
    /// (leased), and the oldest waiting ones. An error when the key sees no such consumer.
    pub(super) async fn pending(&self, key: &str, name: &str) -> Result<Value, String> {
        let endpoint = find(self.backend(), key, name)
            .await?
            .ok_or_else(|| format!("no consumer named {name} (events_wait creates it)"))?;
        let id = endpoint["id"].as_str().unwrap_or_default();
        let (waiting, more_waiting) = self.deliveries(key, id, "pending").await?;
        let (leased, more_leased) = self.deliveries(key, id, "delivering").await?;
        let oldest: Vec<Value> = waiting
            .iter()
            .rev()
            .take(SHOWN)
            .map(
                |d| json!({"delivery_id": d["id"], "event_id": d["event_id"], "created_at": d["created_at"]}),
            )
            .collect();
        Ok(json!({
            "consumer": name,
            "waiting": waiting.len(),
            "leased": leased.len(),
            "more": more_waiting || more_leased,
            "oldest_waiting": oldest,
        }))
    }

    /// The endpoint's deliveries in `state` (newest first, one page), and whether there are more.
    async fn deliveries(&self, key: &str, endpoint: &str, state: &str) -> Result<(Vec<Value>, bool), String> {
        let path = format!("/v1/deliveries?endpoint_id={endpoint}&state={state}&limit={PAGE}");
        let page = self.api(key, ApiCall::get(path)).await?;
        let items = page["data"].as_array().cloned().unwrap_or_default();
        Ok((items, !page["next_cursor"].is_null()))
    }

    /// Watches consumer `name` for the key, calling `changed` at once when events already
    /// wait (so one that arrived while the subscription was being set up is not missed)
    /// and then whenever what it has pending changes, until `changed` says the subscriber
    /// is gone, the key stops seeing the consumer (revoked, deleted) or `stop` is cancelled.
    pub(super) async fn watch<F, Fut>(
        &self,
        key: &str,
        name: &str,
        stop: &tokio_util::sync::CancellationToken,
        changed: F,
    ) where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let mut last = self.pending(key, name).await.ok();
        let waiting = last
            .as_ref()
            .is_some_and(|p| p["waiting"].as_u64().unwrap_or(0) > 0);
        if waiting && !changed().await {
            return;
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(LOOK_EVERY) => {}
            }
            let Ok(now) = self.pending(key, name).await else {
                return;
            };
            if last.as_ref() != Some(&now) {
                last = Some(now);
                if !changed().await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_a_valid_consumer() {
        assert_eq!(uri("triage"), "herald://consumers/triage/pending");
        assert_eq!(consumer_of("herald://consumers/triage/pending"), Some("triage"));
        for bad in [
            "herald://consumers//pending",
            "herald://consumers/a b/pending",
            "herald://consumers/x/acked",
            "file:///etc/passwd",
        ] {
            assert_eq!(consumer_of(bad), None, "{bad}");
        }
    }
}
