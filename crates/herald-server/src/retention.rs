//! The background retention sweep. A store that partitions by time (PostgreSQL) drops
//! whole partitions past retention first; what is left past it is deleted row by row.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::{Clock, Millis};
use crate::store::{PartitionPlan, Purged, Store};

const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 24 * HOUR_MS;

/// How many spans ahead partitions are made, beyond the two skipped.
const SPANS_AHEAD: Millis = 3;

/// Rows of each kind deleted per transaction.
const BATCH: usize = 500;

/// How often to sweep for a given retention: a quarter of it, between 100 ms and 10 min.
pub fn sweep_interval(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_millis(100), Duration::from_secs(600))
}

/// The span of one time partition: an hour for a retention under two days, else a day. A
/// partition goes once all of it is past retention, so a record outlives the retention by
/// at most one span.
pub fn partition_period(retention: Duration) -> Millis {
    if retention < Duration::from_secs(2 * 86_400) {
        HOUR_MS
    } else {
        DAY_MS
    }
}

/// The partitions to have at `now`: the span after next and [`SPANS_AHEAD`] more are
/// made (the current and the next one may already hold rows in the default partition, so
/// they are never made late); those wholly before `now - retention` are dropped.
pub fn partition_plan(retention: Duration, now: Millis) -> PartitionPlan {
    let period = partition_period(retention);
    let current = now.div_euclid(period) * period;
    PartitionPlan {
        period,
        make_from: current + 2 * period,
        make_until: current + (3 + SPANS_AHEAD) * period,
        cutoff: now - retention.as_millis() as Millis,
    }
}

/// Deletes what is older than `retention` until shutdown; one batch at a time, yielding
/// between batches so deliveries are never held up for long.
pub async fn run(store: Arc<dyn Store>, retention: Duration, clock: Clock, mut stop: watch::Receiver<bool>) {
    let interval = sweep_interval(retention);
    loop {
        let now = clock.now_ms();
        let cutoff = now - retention.as_millis() as i64;
        match store.tend_partitions(partition_plan(retention, now)).await {
            Ok(p) if p.made + p.dropped + p.kept_owed > 0 => tracing::info!(
                made = p.made,
                dropped = p.dropped,
                kept_owed = p.kept_owed,
                "time partitions"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "partition upkeep failed; retrying later"),
        }
        let mut total = Purged::default();
        loop {
            match store.purge_before(cutoff, BATCH).await {
                Ok(p) => {
                    total.events += p.events;
                    total.attempts += p.attempts;
                    total.requests += p.requests;
                    if p.events < BATCH && p.attempts < BATCH && p.requests < BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention sweep failed; retrying later");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        if total.total() > 0 {
            tracing::info!(
                events = total.events,
                attempts = total.attempts,
                requests = total.requests,
                "retention sweep"
            );
        }
        tokio::select! {
            // From when this sweep began: a clock that jumped meanwhile makes the next one due.
            _ = clock.sleep_until(now + interval.as_millis() as i64) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_made_two_spans_ahead_and_dropped_past_retention() {
        let now = 10 * DAY_MS + 5 * HOUR_MS + 17;
        let plan = partition_plan(Duration::from_secs(30 * 86_400), now);
        assert_eq!(plan.period, DAY_MS);
        let spans = plan.spans();
        assert_eq!(spans.first(), Some(&(12 * DAY_MS, 13 * DAY_MS)));
        assert_eq!(spans.len(), 1 + SPANS_AHEAD as usize);
        assert_eq!(plan.cutoff, now - 30 * DAY_MS);

        let hourly = partition_plan(Duration::from_secs(3600), now);
        assert_eq!(hourly.period, HOUR_MS);
        assert_eq!(
            hourly.spans()[0],
            (10 * DAY_MS + 7 * HOUR_MS, 10 * DAY_MS + 8 * HOUR_MS)
        );
    }
}
