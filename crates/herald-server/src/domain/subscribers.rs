//! Who an event is owed to, as pure rules: who subscribes to an event type (answered
//! without scanning every endpoint: exact patterns are looked up in a map, only wildcard
//! patterns are tried one by one), which of them get a delivery now and which one kept
//! for a recovery, and where a replay goes. Both stores load the index and apply this.

use std::collections::HashMap;

use super::{type_matches, DeliveryState, Endpoint};

/// An endpoint as publishing sees it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: String,
    pub patterns: Vec<String>,
    pub disabled: bool,
    /// A pull endpoint (no URL).
    pub pull: bool,
    /// Its ordering rule, if its deliveries are ordered by key.
    pub ordering: Option<super::ordering::Ordering>,
}

impl Subscriber {
    /// An endpoint as a target of one event (patterns do not matter any more).
    pub fn of(endpoint: &Endpoint) -> Subscriber {
        Subscriber {
            id: endpoint.id.clone(),
            patterns: Vec::new(),
            disabled: endpoint.disabled,
            pull: endpoint.is_pull(),
            ordering: endpoint.ordering.clone(),
        }
    }

    /// The key an event's delivery to it is ordered by, if any.
    pub fn key_of(&self, ev: super::ordering::KeySource<'_>) -> Option<String> {
        self.ordering.as_ref()?.key_of(ev)
    }

    /// The state of a new delivery to it: due now, or (endpoint disabled) kept as
    /// `Skipped` until an operator recovers it.
    pub fn owed_state(&self) -> DeliveryState {
        if self.disabled {
            DeliveryState::Skipped
        } else {
            DeliveryState::Pending
        }
    }
}

/// An event's new deliveries.
#[derive(Debug, Default)]
pub struct FanOut {
    /// Due now.
    pub due: Vec<Subscriber>,
    /// To disabled endpoints: kept, not sent.
    pub skipped: Vec<Subscriber>,
}

/// Where a replay of an event goes: the endpoint asked for, which must be the event's
/// tenant's (`None` otherwise: the caller answers "not found"), or every subscriber that
/// is not disabled. A replay is never kept as skipped.
pub fn replay_targets(
    event_tenant: Option<&str>,
    asked: Option<Option<&Endpoint>>,
    index: impl FnOnce() -> FanOut,
) -> Option<Vec<Subscriber>> {
    match asked {
        Some(Some(ep)) if ep.tenant.as_deref() == event_tenant => Some(vec![Subscriber {
            disabled: false,
            ..Subscriber::of(ep)
        }]),
        Some(_) => None,
        None => Some(index().due),
    }
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

    /// The deliveries a new event of `event_type` is owed.
    pub fn fan_out(&self, event_type: &str) -> FanOut {
        let mut out = FanOut::default();
        for sub in self.matching(event_type) {
            match sub.owed_state() {
                DeliveryState::Skipped => out.skipped.push(sub.clone()),
                _ => out.due.push(sub.clone()),
            }
        }
        out
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
            ordering: None,
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

    fn ids(subs: &[Subscriber]) -> Vec<&str> {
        subs.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_disabled_subscriber_is_owed_a_skipped_delivery() {
        let mut off = sub("b", &["a.*"]);
        off.disabled = true;
        let index = SubscriberIndex::new(vec![sub("a", &["a.b"]), off, sub("c", &["x.*"])]);
        let out = index.fan_out("a.b");
        assert_eq!((ids(&out.due), ids(&out.skipped)), (vec!["a"], vec!["b"]));
    }

    fn endpoint(id: &str, tenant: Option<&str>, disabled: bool) -> Endpoint {
        Endpoint {
            id: id.into(),
            tenant: tenant.map(Into::into),
            url: Some("https://example.com/hook".into()),
            description: None,
            event_types: vec!["*".into()],
            headers: Default::default(),
            signature: super::super::SignatureScheme::Standard,
            secrets: Vec::new(),
            timeout_ms: 1000,
            max_in_flight: 1,
            rate_limit_per_s: None,
            disabled,
            disabled_reason: None,
            created_at: 0,
            updated_at: 0,
            retry_schedule: None,
            circuit_after: 5,
            paused_until: None,
            breaker: Default::default(),
            ordering: None,
            destination: None,
        }
    }

    #[test]
    fn a_replay_goes_to_the_endpoint_asked_for_only_within_the_events_tenant() {
        let subscribers = || SubscriberIndex::new(vec![sub("s", &["*"])]).fan_out("a.b");
        let acme = endpoint("e", Some("acme"), true);
        let got = replay_targets(Some("acme"), Some(Some(&acme)), subscribers).unwrap();
        assert_eq!(ids(&got), ["e"]);
        assert!(
            !got[0].disabled,
            "asked for by name, it is sent even while disabled"
        );
        assert!(replay_targets(Some("globex"), Some(Some(&acme)), subscribers).is_none());
        assert!(replay_targets(None, Some(Some(&acme)), subscribers).is_none());
        assert!(replay_targets(Some("acme"), Some(None), subscribers).is_none());
        let all = replay_targets(Some("acme"), None, subscribers).unwrap();
        assert_eq!(ids(&all), ["s"]);
    }
}
