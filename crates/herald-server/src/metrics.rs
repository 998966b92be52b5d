//! Prometheus metrics. Counters and the latency histogram are updated where things
//! happen; queue gauges are read from the store when `/metrics` is scraped. Labels are
//! bounded: outcomes are a fixed set and per-endpoint failures cover the top 20 only.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::domain::Millis;
use crate::store::{NextStep, QueueStats};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

pub struct Metrics {
    registry: Registry,
    events_published: Counter,
    attempts: Family<Outcome, Counter>,
    attempt_seconds: Histogram,
    deliveries: Family<State, Gauge>,
    oldest_due_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    endpoint_failed: Family<EndpointLabel, Gauge>,
    endpoint_limit: Family<EndpointLabel, Gauge>,
    endpoint_circuit_open: Family<EndpointLabel, Gauge>,
    endpoint_paused: Family<EndpointLabel, Gauge>,
    endpoint_blocked_keys: Family<EndpointLabel, Gauge>,
    endpoint_parked_keys: Family<EndpointLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let events_published = Counter::default();
        registry.register(
            "events_published",
            "Events accepted (published or operational)",
            events_published.clone(),
        );
        let attempts = Family::<Outcome, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts by outcome: succeeded, retry, failed (exhausted or refused), gone (410)",
            attempts.clone(),
        );
        let attempt_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "attempt_duration_seconds",
            "Duration of delivery attempts",
            attempt_seconds.clone(),
        );
        let deliveries = Family::<State, Gauge>::default();
        registry.register(
            "deliveries",
            "Deliveries by state (read at scrape time)",
            deliveries.clone(),
        );
        let oldest_due_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "oldest_due_delivery_age_seconds",
            "How long the oldest due delivery has been waiting (0 when none is due)",
            oldest_due_age.clone(),
        );
        let endpoint_failed = Family::<EndpointLabel, Gauge>::default();
        registry.register(
            "endpoint_failed_deliveries",
            "Failed deliveries of the 20 endpoints with the most",
            endpoint_failed.clone(),
        );
        let endpoint_limit = Family::<EndpointLabel, Gauge>::default();
        registry.register(
            "endpoint_concurrency_limit",
            "The adaptive concurrency limit of each endpoint this node delivers to",
            endpoint_limit.clone(),
        );
        let endpoint_circuit_open = Family::<EndpointLabel, Gauge>::default();
        registry.register(
            "endpoint_circuit_open",
            "1 for endpoints whose circuit is open (at most 100 listed)",
            endpoint_circuit_open.clone(),
        );
        let endpoint_paused = Family::<EndpointLabel, Gauge>::default();
        registry.register(
            "endpoint_paused",
            "1 for endpoints paused by a Retry-After (at most 100 listed)",
            endpoint_paused.clone(),
        );
        let endpoint_blocked_keys = Family::<EndpointLabel, Gauge>::default();
        registry.register(
            "endpoint_blocked_keys",
            "Ordered keys whose head is retrying with deliveries behind it (at most 100 endpoints listed)",
            endpoint_blocked_keys.clone(),
        );
        let endpoint_parked_keys = Family::<EndpointLabel, Gauge>::default();
        registry.register(
            "endpoint_parked_keys",
            "Ordered keys parked after their head ran out of retries (at most 100 endpoints listed)",
            endpoint_parked_keys.clone(),
        );
        Metrics {
            registry,
            events_published,
            attempts,
            attempt_seconds,
            deliveries,
            oldest_due_age,
            endpoint_failed,
            endpoint_limit,
            endpoint_circuit_open,
            endpoint_paused,
            endpoint_blocked_keys,
            endpoint_parked_keys,
        }
    }

    pub fn event_published(&self) {
        self.events_published.inc();
    }

    pub fn attempt_finished(&self, next: &NextStep, seconds: f64) {
        let outcome = match next {
            NextStep::Succeeded => "succeeded",
            NextStep::RetryAt(_) => "retry",
            NextStep::Failed => "failed",
            NextStep::Parked => "parked",
            NextStep::EndpointGone => "gone",
        };
        self.attempts.get_or_create(&Outcome { outcome }).inc();
        self.attempt_seconds.observe(seconds);
    }

    /// Renders the exposition text after loading the queue gauges and this node's
    /// adaptive limits.
    pub fn render(&self, stats: &QueueStats, limits: &[(String, u32)], now: Millis) -> String {
        self.set_queue(stats, now);
        self.endpoint_limit.clear();
        for (endpoint, limit) in limits {
            let label = EndpointLabel {
                endpoint: endpoint.clone(),
            };
            self.endpoint_limit.get_or_create(&label).set(i64::from(*limit));
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    fn set_queue(&self, stats: &QueueStats, now: Millis) {
        self.deliveries.clear();
        for state in ["pending", "delivering", "succeeded", "failed", "skipped"] {
            self.deliveries
                .get_or_create(&State { state: state.into() })
                .set(0);
        }
        for (state, n) in &stats.by_state {
            self.deliveries
                .get_or_create(&State { state: state.clone() })
                .set(*n as i64);
        }
        let age = stats
            .oldest_due_at
            .map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
        self.oldest_due_age.set(age);
        self.endpoint_circuit_open.clear();
        self.endpoint_paused.clear();
        for (endpoint, open, paused) in &stats.held {
            let label = EndpointLabel {
                endpoint: endpoint.clone(),
            };
            self.endpoint_circuit_open
                .get_or_create(&label)
                .set(i64::from(*open));
            self.endpoint_paused.get_or_create(&label).set(i64::from(*paused));
        }
        self.endpoint_blocked_keys.clear();
        self.endpoint_parked_keys.clear();
        for (endpoint, blocked, parked) in &stats.keys {
            let label = EndpointLabel {
                endpoint: endpoint.clone(),
            };
            self.endpoint_blocked_keys
                .get_or_create(&label)
                .set(*blocked as i64);
            self.endpoint_parked_keys
                .get_or_create(&label)
                .set(*parked as i64);
        }
        self.endpoint_failed.clear();
        for (endpoint, n) in &stats.top_failing {
            self.endpoint_failed
                .get_or_create(&EndpointLabel {
                    endpoint: endpoint.clone(),
                })
                .set(*n as i64);
        }
    }
}
