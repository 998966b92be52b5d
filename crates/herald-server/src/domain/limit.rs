//! An endpoint's adaptive concurrency limit, as a pure rule (AIMD, with a slow probe near
//! the last known capacity). The limit starts at the endpoint's `max_in_flight` (its
//! ceiling) and:
//!
//! - grows additively (+1 per `limit` successes) after successes, but only when the
//!   attempt was sent with the limit in use, so an idle endpoint does not build a limit it
//!   never tested;
//! - is cut multiplicatively (× 0.7) on congestion (429, 503, timeouts, connection errors),
//!   at most once per window: signals from attempts sent before the last cut are stale;
//! - grows 50 times slower in the last step below the concurrency at which congestion
//!   was last seen, so a receiver at capacity is probed rarely (few 429s), and at full
//!   speed again once it reaches that point without congestion (capacity came back).
//!
//! Latency plays no part: a slow receiver that succeeds keeps the full ceiling.

/// Slower growth near the last known capacity.
const SLOW: f64 = 50.0;
const CUT: f64 = 0.7;

#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    ceiling: u32,
    limit: f64,
    /// The in-flight count at which congestion was last seen.
    known: Option<f64>,
    next_send: u64,
    cut_at: u64,
}

/// One attempt as the limit saw it go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    ticket: u64,
    /// In flight with it (itself included).
    in_flight: u32,
}

impl Limit {
    pub fn new(ceiling: u32) -> Limit {
        let ceiling = ceiling.max(1);
        Limit {
            ceiling,
            limit: f64::from(ceiling),
            known: None,
            next_send: 0,
            cut_at: 0,
        }
    }

    /// Whether it says nothing a new limit would not (at its ceiling, nothing learnt):
    /// such a limit need not be kept while its endpoint is idle.
    pub fn is_fresh(&self) -> bool {
        self.known.is_none() && self.limit >= f64::from(self.ceiling)
    }

    /// How many attempts may be in flight now.
    pub fn current(&self) -> u32 {
        (self.limit.floor() as u32).clamp(1, self.ceiling)
    }

    /// The endpoint's `max_in_flight` changed.
    pub fn set_ceiling(&mut self, ceiling: u32) {
        self.ceiling = ceiling.max(1);
        self.limit = self.limit.min(f64::from(self.ceiling));
    }

    /// Starts again from one (a circuit just closed).
    pub fn restart_low(&mut self) {
        self.limit = 1.0;
        self.known = None;
        self.cut_at = self.next_send;
    }

    /// Notes an attempt going out with `in_flight` in flight (itself included).
    pub fn sent(&mut self, in_flight: u32) -> Sent {
        let ticket = self.next_send;
        self.next_send += 1;
        Sent { ticket, in_flight }
    }

    pub fn succeeded(&mut self, sent: Sent) {
        if sent.in_flight < self.current() {
            return; // the limit was not in use: this says nothing about it
        }
        let near_known = self
            .known
            .is_some_and(|k| self.limit >= k - 1.0 && self.limit < k);
        let step = if near_known {
            1.0 / (SLOW * self.limit)
        } else {
            1.0 / self.limit
        };
        self.limit = (self.limit + step).min(f64::from(self.ceiling));
        if self.known.is_some_and(|k| self.limit >= k) {
            self.known = None; // there without congestion: capacity came back
        }
    }

    pub fn congested(&mut self, sent: Sent) {
        if sent.ticket < self.cut_at {
            return; // sent before the last cut: already answered for
        }
        self.known = Some(f64::from(sent.in_flight));
        self.limit = (self.limit * CUT).max(1.0);
        self.cut_at = self.next_send;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver that takes `capacity` requests at once and refuses the rest, driven in
    /// rounds over a backlog: each round has the limit's worth in flight (as the
    /// dispatcher keeps it full), of which those past the capacity are refused. Returns
    /// (refused, sent) over the rounds and the limits seen.
    fn drive(limit: &mut Limit, capacity: u32, rounds: usize) -> (u32, u32, Vec<u32>) {
        let (mut refused, mut sent_total, mut seen) = (0, 0, Vec::new());
        for _ in 0..rounds {
            let n = limit.current();
            let sends: Vec<(u32, Sent)> = (1..=n).map(|i| (i, limit.sent(n))).collect();
            for (i, s) in sends {
                sent_total += 1;
                if i > capacity {
                    refused += 1;
                    limit.congested(s);
                } else {
                    limit.succeeded(s);
                }
            }
            seen.push(limit.current());
        }
        (refused, sent_total, seen)
    }

    #[test]
    fn a_healthy_endpoint_keeps_its_ceiling() {
        let mut l = Limit::new(20);
        let (refused, _, seen) = drive(&mut l, 1000, 50);
        assert_eq!(refused, 0);
        assert!(seen.iter().all(|&n| n == 20));
    }

    #[test]
    fn it_settles_near_a_receivers_capacity_with_few_refusals() {
        let mut l = Limit::new(20);
        drive(&mut l, 4, 40); // find it
        let (refused, sent, seen) = drive(&mut l, 4, 2000);
        assert!(seen.iter().all(|&n| (3..=5).contains(&n)), "{:?}", &seen[..40]);
        let mean = seen.iter().sum::<u32>() as f64 / seen.len() as f64;
        assert!((3.4..=4.6).contains(&mean), "mean {mean}");
        assert!(
            f64::from(refused) / f64::from(sent) < 0.01,
            "{refused} of {sent} refused"
        );
    }

    fn mean_of_last(seen: &[u32], n: usize) -> f64 {
        let tail = &seen[seen.len() - n..];
        f64::from(tail.iter().sum::<u32>()) / n as f64
    }

    #[test]
    fn it_follows_capacity_down_and_back_up_within_twenty_percent() {
        let mut l = Limit::new(60);
        let (_, _, seen) = drive(&mut l, 50, 300);
        assert!((40.0..=60.0).contains(&mean_of_last(&seen, 100)), "{seen:?}");
        let (_, _, seen) = drive(&mut l, 10, 100);
        assert!(seen[10..].iter().all(|n| (8..=12).contains(n)), "{seen:?}");
        let (_, _, seen) = drive(&mut l, 50, 300);
        assert!(seen[150..].iter().all(|n| (35..=51).contains(n)), "{seen:?}");
        assert!((40.0..=60.0).contains(&mean_of_last(&seen, 100)), "{seen:?}");
    }

    #[test]
    fn an_idle_endpoint_builds_no_limit_it_did_not_use() {
        let mut l = Limit::new(20);
        let s = l.sent(1);
        l.congested(s);
        let before = l.current();
        for _ in 0..100 {
            let s = l.sent(1);
            l.succeeded(s);
        }
        assert_eq!(
            l.current(),
            before,
            "one at a time never tests a limit of {before}"
        );
    }

    #[test]
    fn one_cut_per_window_and_restart_low() {
        let mut l = Limit::new(10);
        let burst: Vec<Sent> = (1..=10).map(|i| l.sent(i)).collect();
        for s in burst {
            l.congested(s);
        }
        assert_eq!(l.current(), 7, "ten refusals of one window cut once");
        l.restart_low();
        assert_eq!(l.current(), 1);
        let s = l.sent(1);
        l.succeeded(s);
        assert_eq!(l.current(), 2);
        l.set_ceiling(1);
        assert_eq!(l.current(), 1);
    }
}
