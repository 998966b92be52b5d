//! Whether this node's delivery workers have nothing left to do: nothing in flight, and no
//! push delivery pending at any time. The dispatcher reports after each look at the store;
//! whoever hands in new work says so at once ([`QueueIdle::work_arrived`]), and a report
//! made from a look older than that is dropped, so a waiter never sees a stale "idle" for
//! work it has just handed in. Tests wait on it instead of polling the API.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, Default)]
struct State {
    idle: bool,
    /// Counts hand-ins of work, so a report can tell whether it is still current.
    work: u64,
    /// Counts the workers' looks at the store (one a dispatcher round).
    looks: u64,
    /// Attempts in flight at the last look.
    in_flight: usize,
}

#[derive(Clone)]
pub struct QueueIdle(Arc<watch::Sender<State>>);

impl Default for QueueIdle {
    fn default() -> Self {
        QueueIdle(Arc::new(watch::channel(State::default()).0))
    }
}

impl std::fmt::Debug for QueueIdle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueueIdle({:?})", *self.0.borrow())
    }
}

/// What the workers knew when they looked at the store (see [`QueueIdle::report`]).
#[derive(Debug, Clone, Copy)]
pub struct Look(u64);

impl QueueIdle {
    /// New work was stored (or business time jumped): not idle until the next report.
    pub fn work_arrived(&self) {
        self.0.send_modify(|s| {
            s.work += 1;
            s.idle = false;
        });
    }

    /// Taken before looking at the store.
    pub fn look(&self) -> Look {
        Look(self.0.borrow().work)
    }

    /// Reports what a look found (and how many attempts are in flight); "idle" is
    /// ignored if work arrived since.
    pub fn report(&self, look: Look, idle: bool, in_flight: usize) {
        self.0.send_modify(|s| {
            s.looks += 1;
            s.in_flight = in_flight;
            if s.work == look.0 {
                s.idle = idle;
            }
        });
    }

    /// Resolves after the workers have looked at the store `n` more times, the last with
    /// nothing in flight: what they would send by then, they have sent and recorded
    /// (tests use it to show that nothing was).
    pub async fn rounds(&self, n: u64) {
        let mut rx = self.0.subscribe();
        let until = rx.borrow().looks + n;
        let _ = rx.wait_for(|s| s.looks >= until && s.in_flight == 0).await;
    }

    /// Resolves once the workers are idle.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so this cannot fail.
        let _ = rx.wait_for(|s| s.idle).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_from_before_new_work_is_dropped() {
        let idle = QueueIdle::default();
        let look = idle.look();
        idle.work_arrived();
        idle.report(look, true, 0);
        assert!(!idle.0.borrow().idle);
        let look = idle.look();
        idle.report(look, true, 0);
        assert!(idle.0.borrow().idle);
    }
}
