//! An endpoint's circuit breaker, as a pure rule. After `circuit_after` consecutive failed
//! attempts the circuit opens: none of the endpoint's deliveries is sent, except one probe
//! (its oldest due delivery) once the wait is over. A failed probe doubles the wait (30 s
//! up to 1 h); any success closes the circuit. The stores keep the state in the endpoint's
//! row (so every node sees it) and apply what this rule says.

use super::Millis;

/// The default `circuit_after`.
pub const DEFAULT_CIRCUIT_AFTER: u32 = 5;
/// The largest `circuit_after` an endpoint may set.
pub const MAX_CIRCUIT_AFTER: u32 = 10_000;
pub const FIRST_WAIT_MS: Millis = 30_000;
pub const MAX_WAIT_MS: Millis = 3_600_000;

/// An open circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// The current wait between probes.
    pub wait_ms: Millis,
    /// When the next probe may start (while a probe is out: the end of its lease).
    pub probe_at: Millis,
}

/// Until when an endpoint is held (its circuit open, or paused by a `Retry-After`): none
/// of its deliveries is due before then, so a store moves their due time there and keeps
/// them out of every claim's way (a claim would otherwise pass over the whole backlog of a
/// held endpoint each time). The probe of an open circuit is claimed on its own.
pub fn held_until(open: Option<Open>, paused_until: Option<Millis>) -> Option<Millis> {
    match (open.map(|o| o.probe_at), paused_until) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Open {
    /// The open circuit two stored columns describe (both set), if any.
    pub fn from_columns(wait_ms: Option<Millis>, probe_at: Option<Millis>) -> Option<Open> {
        Some(Open {
            wait_ms: wait_ms?,
            probe_at: probe_at?,
        })
    }
}

/// The breaker's state as the endpoint row keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breaker {
    pub consecutive_failures: u32,
    pub open: Option<Open>,
}

/// The circuit as the health view names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed,
    Open,
    /// Open, and a probe may go (or is out) now.
    HalfOpen,
}

impl Circuit {
    pub fn as_str(self) -> &'static str {
        match self {
            Circuit::Closed => "closed",
            Circuit::Open => "open",
            Circuit::HalfOpen => "half_open",
        }
    }
}

impl Breaker {
    /// After a failed attempt (`probe`: the attempt was the open circuit's probe).
    /// `circuit_after` 0 never opens the circuit.
    pub fn after_failure(self, circuit_after: u32, probe: bool, now: Millis) -> Breaker {
        let consecutive_failures = self.consecutive_failures.saturating_add(1);
        let open = match self.open {
            // A failed probe: wait twice as long. An attempt that was already out when the
            // circuit opened changes nothing.
            Some(open) if probe => {
                let wait_ms = (open.wait_ms * 2).min(MAX_WAIT_MS);
                Some(Open {
                    wait_ms,
                    probe_at: now + wait_ms,
                })
            }
            Some(open) => Some(open),
            None if circuit_after > 0 && consecutive_failures >= circuit_after => Some(Open {
                wait_ms: FIRST_WAIT_MS,
                probe_at: now + FIRST_WAIT_MS,
            }),
            None => None,
        };
        Breaker {
            consecutive_failures,
            open,
        }
    }

    /// After a successful attempt: closed, nothing counted.
    pub fn after_success(self) -> Breaker {
        Breaker::default()
    }

    /// The circuit at `now`; `probing`: a delivery of the endpoint is out.
    pub fn circuit(&self, now: Millis, probing: bool) -> Circuit {
        match self.open {
            None => Circuit::Closed,
            Some(o) if o.probe_at <= now || probing => Circuit::HalfOpen,
            Some(_) => Circuit::Open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_n(mut b: Breaker, n: u32, after: u32, now: Millis) -> Breaker {
        for _ in 0..n {
            b = b.after_failure(after, false, now);
        }
        b
    }

    #[test]
    fn it_opens_after_the_configured_run_of_failures_only() {
        let b = fail_n(Breaker::default(), 4, 5, 0);
        assert_eq!((b.consecutive_failures, b.open), (4, None));
        let b = b.after_failure(5, false, 1000);
        assert_eq!(
            b.open,
            Some(Open {
                wait_ms: 30_000,
                probe_at: 31_000
            })
        );
        assert_eq!(b.circuit(1000, false), Circuit::Open);
        assert_eq!(b.circuit(31_000, false), Circuit::HalfOpen);
    }

    #[test]
    fn zero_never_opens() {
        assert_eq!(fail_n(Breaker::default(), 1000, 0, 0).open, None);
    }

    #[test]
    fn failed_probes_double_the_wait_up_to_an_hour_and_stragglers_change_nothing() {
        let mut b = fail_n(Breaker::default(), 5, 5, 0);
        let straggler = b.after_failure(5, false, 10);
        assert_eq!(straggler.open, b.open);
        let mut waits = Vec::new();
        for i in 0..10 {
            b = b.after_failure(5, true, i * 10_000_000);
            waits.push(b.open.unwrap().wait_ms / 1000);
        }
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
        assert_eq!(b.open.unwrap().probe_at, 90_000_000 + 3_600_000);
    }

    #[test]
    fn a_success_closes_and_forgets() {
        let b = fail_n(Breaker::default(), 7, 5, 0).after_success();
        assert_eq!(b, Breaker::default());
        assert_eq!(b.circuit(0, true), Circuit::Closed);
    }
}
