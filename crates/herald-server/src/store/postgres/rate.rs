//! Rate limits every node shares (GCRA buckets in an unlogged table).

use super::db::get;
use crate::store::{RateDecision, StoreResult};

/// A GCRA bucket kept in `rate_limits`, decided by one statement, so every node draws on
/// the same allowance (times in microseconds).
pub struct Gcra {
    /// Time one request uses up.
    interval: i64,
    /// How far ahead of now the bucket may run (the burst).
    tolerance: i64,
}

impl Gcra {
    pub fn new(per_s: u32, burst: u32) -> Gcra {
        let interval = 1_000_000 / i64::from(per_s.max(1));
        Gcra {
            interval,
            tolerance: interval * i64::from(burst.max(1) - 1),
        }
    }

    pub async fn take(
        &self,
        client: &deadpool_postgres::Object,
        key: &str,
        now_us: i64,
    ) -> StoreResult<RateDecision> {
        let st = client
            .prepare_cached(
                "INSERT INTO rate_limits (key, tat) VALUES ($1::TEXT, $2::BIGINT + $3::BIGINT) \
                 ON CONFLICT (key) DO UPDATE SET tat = greatest(rate_limits.tat, $2::BIGINT) + $3::BIGINT \
                 WHERE greatest(rate_limits.tat, $2::BIGINT) - $2::BIGINT <= $4::BIGINT RETURNING tat",
            )
            .await
            .map_err(super::db::pg)?;
        let taken = client
            .query_opt(&st, &[&key, &now_us, &self.interval, &self.tolerance])
            .await
            .map_err(super::db::pg)?;
        if taken.is_some() {
            return Ok(RateDecision::Allow);
        }
        let row = client
            .query_opt("SELECT tat FROM rate_limits WHERE key = $1", &[&key])
            .await
            .map_err(super::db::pg)?;
        let tat: i64 = row.map(|r| get(&r, 0)).transpose()?.unwrap_or(now_us);
        let wait_us = (tat - now_us - self.tolerance).max(1);
        Ok(RateDecision::Deny {
            wait_ms: (wait_us + 999) / 1000,
        })
    }
}
