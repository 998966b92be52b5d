//! Abuse limits: requests per second per API key and per inbound source (GCRA through
//! `governor`), answered with 429 and `Retry-After`. Off unless configured.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use crate::store::{RateDecision, Store};

/// One keyed limiter; a burst of twice the rate is allowed. When the store is shared by
/// several nodes, the limit is kept in the store so it holds across all of them; the
/// in-memory limiter serves a single process (and stands in if the store cannot answer).
pub struct Limit {
    /// Names the limit's buckets in a shared store (`key`, `source`).
    kind: &'static str,
    rate: u32,
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl Limit {
    pub fn per_second(kind: &'static str, rate: u32) -> Option<Limit> {
        let rate = NonZeroU32::new(rate)?;
        let burst = rate.saturating_mul(NonZeroU32::new(2).expect("2 is not zero"));
        Some(Limit {
            kind,
            rate: rate.get(),
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        })
    }

    /// Ok, or a 429 saying when to come back.
    pub async fn check(&self, store: &dyn Store, key: &str) -> Result<(), ApiError> {
        let bucket = format!("{}:{key}", self.kind);
        match store
            .take_shared_rate(&bucket, self.rate, self.rate.saturating_mul(2))
            .await
        {
            Ok(Some(RateDecision::Allow)) => return Ok(()),
            Ok(Some(RateDecision::Deny { wait_ms })) => {
                return Err(ApiError::rate_limited(Duration::from_millis(
                    wait_ms.max(1) as u64
                )))
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the shared rate limit is unavailable; limiting per node"),
        }
        match self.limiter.check_key(&key.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(ApiError::rate_limited(wait))
            }
        }
    }
}

/// The limits of this process.
#[derive(Default)]
pub struct Limits {
    pub per_key: Option<Limit>,
    pub per_source: Option<Limit>,
    /// Per source: when a rate-limited request was last logged, and how many were not
    /// logged since (a flood must not turn into as many writes).
    refusals_logged: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u64)>>,
}

/// Rate-limited requests of one source are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(1);

impl Limits {
    pub fn new(per_key: Option<u32>, per_source: Option<u32>) -> Limits {
        Limits {
            per_key: per_key.and_then(|r| Limit::per_second("key", r)),
            per_source: per_source.and_then(|r| Limit::per_second("source", r)),
            refusals_logged: Default::default(),
        }
    }

    /// Whether to log this rate-limited request of `source`: `Some(n)` with the number of
    /// its rate-limited requests left out of the log since the last entry.
    pub fn log_rate_refusal(&self, source: &str) -> Option<u64> {
        let mut seen = self.refusals_logged.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if seen.len() > 10_000 {
            seen.retain(|_, (at, _)| now.duration_since(*at) < REFUSAL_LOG_EVERY);
        }
        match seen.get_mut(source) {
            Some((at, skipped)) if now.duration_since(*at) < REFUSAL_LOG_EVERY => {
                *skipped += 1;
                None
            }
            Some((at, skipped)) => {
                let n = std::mem::take(skipped);
                *at = now;
                Some(n)
            }
            None => {
                seen.insert(source.to_string(), (now, 0));
                Some(0)
            }
        }
    }
}

/// Whole seconds for `Retry-After`, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}
