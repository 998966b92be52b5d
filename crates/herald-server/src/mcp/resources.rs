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
        let found = consumers::scan(self.backend(), key, None).await?;
        Ok(found.into_iter().map(|(name, _)| name).collect())
    }

    /// What consumer `name` has not acknowledged: how many wait, how many are handed out
    /// (leased), and the oldest waiting ones. An error when the key sees no such consumer.
    pub(super) async fn pending(&self, key: &str, name: &str) -> Result<Value, String> {
        let id = self.consumer_id(key, name).await?;
        self.pending_at(key, name, &id).await
    }

    /// The endpoint of consumer `name`, if the key sees it.
    async fn consumer_id(&self, key: &str, name: &str) -> Result<String, String> {
        let endpoint = find(self.backend(), key, name)
            .await?
            .ok_or_else(|| format!("no consumer named {name} (events_wait creates it)"))?;
        Ok(endpoint["id"].as_str().unwrap_or_default().to_string())
    }

    /// [`Self::pending`] of the consumer whose endpoint is `id`.
    async fn pending_at(&self, key: &str, name: &str, id: &str) -> Result<Value, String> {
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
    /// is gone, a read is refused (the key revoked) or `stop` is cancelled. The consumer's
    /// endpoint is looked up once; each look after is its two delivery queries.
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
        let Ok(id) = self.consumer_id(key, name).await else {
            return;
        };
        let mut last = self.pending_at(key, name, &id).await.ok();
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
            let Ok(now) = self.pending_at(key, name, &id).await else {
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
