//! The background retention sweep. A store that partitions by time (PostgreSQL) drops
//! whole partitions past retention first; what is left past it is deleted row by row.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::{Clock, Millis};
use crate::store::{PartitionPlan, Purged, Store};

const HOUR_MS: Millis = 3_600_000;

/// Spans per retention: few partitions, since every statement that cannot prune (the claim
/// reads each partition's queue) pays for each one; measured on `bench queue --postgres`:
/// at 8 dated partitions throughput and CPU stayed within the runs' spread, 36 doubled
/// PostgreSQL's CPU per delivery.
const SPANS_PER_RETENTION: Millis = 4;

/// Rows of each kind deleted per transaction.
const BATCH: usize = 500;

/// How often to sweep for a given retention: a quarter of it, between 100 ms and 10 min.
pub fn sweep_interval(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_millis(100), Duration::from_secs(600))
}

/// The span of one time partition: a quarter of the retention, rounded up to whole hours,
/// at least one. A partition goes once all of it is past retention, so a record outlives
/// the retention by at most one span; about eight partitions of each table live.
pub fn partition_period(retention: Duration) -> Millis {
    let quarter = retention.as_millis() as Millis / SPANS_PER_RETENTION;
    ((quarter + HOUR_MS - 1) / HOUR_MS).max(1) * HOUR_MS
}

/// The partitions to have at `now`: the span after next is made (the current and the next
/// one may already hold rows in the default partition, so they are never made late; each
/// was made as the span after next before); those wholly before `now - retention` are
/// dropped.
pub fn partition_plan(retention: Duration, now: Millis) -> PartitionPlan {
    let period = partition_period(retention);
    let current = now.div_euclid(period) * period;
    PartitionPlan {
        period,
        make_from: current + 2 * period,
        make_until: current + 3 * period,
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

    const DAY_MS: Millis = 24 * HOUR_MS;

    #[test]
    fn a_span_is_a_quarter_of_the_retention_in_whole_hours() {
        let span = |s: u64| partition_period(Duration::from_secs(s)) / HOUR_MS;
        assert_eq!(span(30 * 86_400), 180);
        assert_eq!(span(7 * 86_400), 42);
        assert_eq!(span(86_400 + 3600), 7, "6.25 h rounds up");
        assert_eq!(span(3600), 1);
        assert_eq!(span(60), 1);
    }

    #[test]
    fn the_span_after_next_is_made_and_spans_past_retention_dropped() {
        let now = 100 * DAY_MS + 5 * HOUR_MS + 17;
        let plan = partition_plan(Duration::from_secs(30 * 86_400), now);
        let span = 180 * HOUR_MS;
        let current = now / span * span;
        assert_eq!(plan.spans(), vec![(current + 2 * span, current + 3 * span)]);
        assert_eq!(plan.cutoff, now - 30 * DAY_MS);

        let hourly = partition_plan(Duration::from_secs(3600), now);
        assert_eq!(hourly.period, HOUR_MS);
        assert_eq!(
            hourly.spans(),
            vec![(100 * DAY_MS + 7 * HOUR_MS, 100 * DAY_MS + 8 * HOUR_MS)]
        );
    }
}
