//! The one source of "now" for business time: when deliveries are due, leases and
//! windows end, attempts are stamped, endpoints have been failing. Production uses the
//! system clock; tests use a [`Clock::driven`] one, which runs with the system clock but
//! can be moved forward, so a test can jump over a retry delay, a lease or an auto-disable
//! window instead of sleeping through it. Whoever waits on business time waits through
//! [`Clock::sleep_until`] or watches [`Clock::moves`], so a jump wakes them.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::Millis;

#[derive(Clone)]
pub struct Clock {
    /// How far this clock is ahead of the system clock, in ms; `None` for the system
    /// clock itself (it cannot be moved).
    offset: Option<Arc<watch::Sender<Millis>>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.offset {
            None => f.write_str("Clock::system"),
            Some(o) => write!(f, "Clock::driven(+{} ms)", *o.borrow()),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

fn system_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Clock {
    pub fn system() -> Clock {
        Clock { offset: None }
    }

    /// A clock that keeps time with the system clock until [`Clock::advance`] moves it on.
    pub fn driven() -> Clock {
        Clock {
            offset: Some(Arc::new(watch::channel(0).0)),
        }
    }

    /// Milliseconds since the unix epoch.
    pub fn now_ms(&self) -> Millis {
        system_ms() + self.offset.as_ref().map_or(0, |o| *o.borrow())
    }

    /// Moves a driven clock forward and wakes everyone waiting on it.
    ///
    /// # Panics
    /// On the system clock, which nobody may move.
    pub fn advance(&self, by: Duration) {
        let offset = self.offset.as_ref().expect("only a driven clock can be moved");
        offset.send_modify(|o| *o += by.as_millis() as Millis);
    }

    /// Sets a driven clock to read `now` (unix milliseconds), backwards if need be: for
    /// tests that replay requests signed at a fixed time. Nothing scheduled should be
    /// running when a test moves time back.
    ///
    /// # Panics
    /// On the system clock.
    pub fn set_now(&self, now: Millis) {
        let offset = self.offset.as_ref().expect("only a driven clock can be moved");
        offset.send_modify(|o| *o = now - system_ms());
    }

    /// A watch that changes whenever the clock jumps (never, for the system clock).
    pub fn moves(&self) -> watch::Receiver<Millis> {
        match &self.offset {
            Some(o) => o.subscribe(),
            // Its sender is gone at once; `moved` never resolves for it.
            None => watch::channel(0).1,
        }
    }

    /// Sleeps until the clock reads `at` or later.
    pub async fn sleep_until(&self, at: Millis) {
        let mut moves = self.moves();
        loop {
            let left = at - self.now_ms();
            if left <= 0 {
                return;
            }
            let nap = tokio::time::sleep(Duration::from_millis(left as u64));
            tokio::select! {
                _ = nap => {}
                _ = self.moved(&mut moves) => {}
            }
        }
    }

    /// Resolves when a driven clock jumps after `moves` last looked; never for the
    /// system clock.
    pub async fn moved(&self, moves: &mut watch::Receiver<Millis>) {
        if self.offset.is_none() || moves.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_the_system_time() {
        let before = system_ms();
        let now = Clock::system().now_ms();
        assert!(now >= before && now - before < 1000, "{before} {now}");
    }

    #[test]
    fn a_driven_clock_moves_forward_by_what_it_is_told() {
        let clock = Clock::driven();
        let before = clock.now_ms();
        clock.advance(Duration::from_secs(3600));
        let after = clock.now_ms();
        assert!(
            (3_600_000..3_601_000).contains(&(after - before)),
            "{}",
            after - before
        );
    }

    #[test]
    #[should_panic(expected = "only a driven clock")]
    fn the_system_clock_cannot_be_moved() {
        Clock::system().advance(Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_jump_ends_a_sleep_at_once() {
        let clock = Clock::driven();
        let at = clock.now_ms() + 3_600_000;
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(at).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sleeper.is_finished(), "woke before its time");
        clock.advance(Duration::from_secs(3600));
        tokio::time::timeout(Duration::from_secs(2), sleeper)
            .await
            .expect("the jump woke the sleeper")
            .unwrap();
    }
}
