//! The background retention sweep.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::Clock;
use crate::store::{Purged, Store};

/// Rows of each kind deleted per transaction.
const BATCH: usize = 500;

/// How often to sweep for a given retention: a quarter of it, between 100 ms and 10 min.
pub fn sweep_interval(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_millis(100), Duration::from_secs(600))
}

/// Deletes what is older than `retention` until shutdown; one batch at a time, yielding
/// between batches so deliveries are never held up for long.
pub async fn run(store: Arc<dyn Store>, retention: Duration, clock: Clock, mut stop: watch::Receiver<bool>) {
    let interval = sweep_interval(retention);
    loop {
        let cutoff = clock.now_ms() - retention.as_millis() as i64;
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
            _ = clock.sleep_until(clock.now_ms() + interval.as_millis() as i64) => {}
            _ = stop.changed() => return,
        }
    }
}
