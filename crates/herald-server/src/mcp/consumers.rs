//! Consumers: an agent's named, durable cursor is a pull endpoint described `mcp:<name>`,
//! created on first use. Its position (what is acked, what is leased) lives in the store,
//! so it survives restarts of herald, of `herald mcp` and of the agent.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::backend::{ApiCall, Backend};

/// The endpoint description that marks a consumer.
pub fn description(name: &str) -> String {
    format!("mcp:{name}")
}

/// A consumer name: 1-64 letters, digits, `_`, `-`, `.`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// (hash of the key, consumer name).
type CacheKey = (String, String);
/// (endpoint id, its type patterns).
type Known = (String, Vec<String>);

/// Consumer endpoints already looked up, by (key, name): a key's tenant decides which
/// endpoint a name means, so the key is part of the cache's key.
#[derive(Default)]
pub struct Consumers {
    known: Mutex<HashMap<CacheKey, Known>>,
}

async fn call(backend: &dyn Backend, key: &str, c: ApiCall) -> Result<Value, String> {
    let answer = backend.call(key, c).await.map_err(|e| e.to_string())?;
    if answer.ok() {
        Ok(answer.body)
    } else {
        Err(answer.message())
    }
}

/// Whether an endpoint as the API shows it is a pull endpoint (no URL, no broker).
pub fn is_pull(ep: &Value) -> bool {
    ep["url"].is_null() && ep["destination"].is_null()
}

/// The consumers the key sees, as (name, endpoint); with `only`, just that one (the scan
/// stops at it).
pub(super) async fn scan(
    backend: &dyn Backend,
    key: &str,
    only: Option<&str>,
) -> Result<Vec<(String, Value)>, String> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/endpoints?limit=250&cursor={c}"),
            None => "/v1/endpoints?limit=250".into(),
        };
        let page = call(backend, key, ApiCall::get(path)).await?;
        for ep in page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|ep| is_pull(ep))
        {
            let Some(name) = ep["description"].as_str().and_then(|d| d.strip_prefix("mcp:")) else {
                continue;
            };
            if only.is_none_or(|o| o == name) {
                found.push((name.to_string(), ep.clone()));
                if only.is_some() {
                    return Ok(found);
                }
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(found),
        }
    }
}

/// The pull endpoint named `mcp:<name>` among those the key sees.
pub(super) async fn find(backend: &dyn Backend, key: &str, name: &str) -> Result<Option<Value>, String> {
    Ok(scan(backend, key, Some(name)).await?.pop().map(|(_, ep)| ep))
}

impl Consumers {
    /// The id of consumer `name`'s endpoint, created with `types` when it does not exist;
    /// when `types` differ from the endpoint's, the endpoint follows them.
    pub async fn endpoint(
        &self,
        backend: &dyn Backend,
        key: &str,
        name: &str,
        types: Option<&[String]>,
    ) -> Result<String, String> {
        if !valid_name(name) {
            return Err("consumer: must be 1-64 letters, digits, `_`, `-` or `.`".into());
        }
        let cache_key = (crate::api::extract::hash_key(key), name.to_string());
        let cached = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
            .cloned();
        let (id, known_types) = match cached {
            Some(found) => found,
            None => self.find_or_create(backend, key, name, types).await?,
        };
        let types = types.map(<[String]>::to_vec);
        let wanted = types.clone().unwrap_or_else(|| known_types.clone());
        if wanted != known_types {
            let body = json!({"event_types": wanted});
            call(backend, key, ApiCall::patch(format!("/v1/endpoints/{id}"), body)).await?;
        }
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cache_key, (id.clone(), wanted));
        Ok(id)
    }

    /// The consumer's endpoint id and its type patterns.
    async fn find_or_create(
        &self,
        backend: &dyn Backend,
        key: &str,
        name: &str,
        types: Option<&[String]>,
    ) -> Result<(String, Vec<String>), String> {
        let ep = match find(backend, key, name).await? {
            Some(ep) => ep,
            None => {
                let types = types.map(<[String]>::to_vec).unwrap_or_else(|| vec!["*".into()]);
                let body = json!({"description": description(name), "event_types": types});
                call(backend, key, ApiCall::post("/v1/endpoints", body)).await?
            }
        };
        let id = ep["id"].as_str().unwrap_or_default().to_string();
        let types = ep["event_types"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        Ok((id, types))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        assert!(valid_name("triage-agent.v2"));
        for bad in ["", "a b", "x/y", "é", &"n".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
