//! Who subscribes to an event type, answered without scanning every endpoint: exact
//! patterns are looked up in a map, only wildcard patterns are tried one by one.

use std::collections::HashMap;

use crate::domain::type_matches;

/// An endpoint as publishing sees it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: String,
    pub patterns: Vec<String>,
    pub disabled: bool,
    /// A pull endpoint (no URL).
    pub pull: bool,
}

/// One tenant's subscribers, indexed by pattern.
#[derive(Debug, Default)]
pub struct SubscriberIndex {
    subs: Vec<Subscriber>,
    exact: HashMap<String, Vec<usize>>,
    wildcard: Vec<usize>,
}

impl SubscriberIndex {
    pub fn new(subs: Vec<Subscriber>) -> SubscriberIndex {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wildcard = Vec::new();
        for (i, sub) in subs.iter().enumerate() {
            for p in &sub.patterns {
                if p.contains('*') {
                    wildcard.push(i);
                } else {
                    exact.entry(p.clone()).or_default().push(i);
                }
            }
        }
        SubscriberIndex {
            subs,
            exact,
            wildcard,
        }
    }

    /// The subscribers of `event_type`, each once, in the order they were given.
    pub fn matching(&self, event_type: &str) -> Vec<&Subscriber> {
        let mut hits: Vec<usize> = self.exact.get(event_type).cloned().unwrap_or_default();
        hits.extend(self.wildcard.iter().copied().filter(|&i| {
            self.subs[i]
                .patterns
                .iter()
                .any(|p| p.contains('*') && type_matches(p, event_type))
        }));
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter().map(|i| &self.subs[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, patterns: &[&str]) -> Subscriber {
        Subscriber {
            id: id.into(),
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            disabled: false,
            pull: false,
        }
    }

    #[test]
    fn matches_like_the_patterns_do_each_endpoint_once() {
        let index = SubscriberIndex::new(vec![
            sub("a", &["ticket.created"]),
            sub("b", &["ticket.*", "ticket.created"]),
            sub("c", &["*"]),
            sub("d", &["herald.*"]),
            sub("e", &["payment.failed"]),
        ]);
        let ids = |t: &str| index.matching(t).iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids("ticket.created"), ["a", "b", "c"]);
        assert_eq!(ids("ticket.closed"), ["b", "c"]);
        assert_eq!(ids("herald.endpoint.disabled"), ["d"]);
        assert_eq!(ids("payment.failed"), ["c", "e"]);
        assert!(ids("ticket").iter().all(|id| id == "c"));
    }
}
