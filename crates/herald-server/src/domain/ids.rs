//! Record ids: prefixed, URL-safe and ordered by creation within a process.
//!
//! An id is `{prefix}_` + 10 characters of millisecond time + 16 characters (80 bits) that
//! start random, in lowercase Crockford base32, like a ULID. Lists page by id, so ids made
//! in the same millisecond must still sort in the order they were made: within one
//! millisecond the 80-bit part is the previous one plus one (ULID's monotonic rule), and a
//! clock that steps back never makes an id sort before an earlier one. Ids made by
//! different nodes are ordered to the millisecond only.

use std::sync::Mutex;

use rand::Rng;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1 << RANDOM_BITS) - 1;

/// The last (millisecond, 80-bit part) handed out.
static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// A new id with the given prefix.
pub fn new_id(prefix: &str) -> String {
    let (ms, rnd) = next(super::Clock::system().now_ms().max(0) as u64);
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    for i in (0..10).rev() {
        out.push(CROCKFORD[((ms >> (i * 5)) & 31) as usize] as char);
    }
    for i in (0..16).rev() {
        out.push(CROCKFORD[((rnd >> (i * 5)) & 31) as usize] as char);
    }
    out
}

/// The next (millisecond, 80-bit part) pair, strictly greater than the last one.
fn next(now_ms: u64) -> (u64, u128) {
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    *last = step(*last, now_ms, || rand::thread_rng().gen::<u128>() & RANDOM_MASK);
    *last
}

/// The pair after `last` at time `now_ms`; `fresh` draws a new random part.
fn step((last_ms, last_rnd): (u64, u128), now_ms: u64, fresh: impl FnOnce() -> u128) -> (u64, u128) {
    if now_ms > last_ms {
        (now_ms, fresh())
    } else if last_rnd < RANDOM_MASK {
        (last_ms, last_rnd + 1)
    } else {
        // 2^80 ids in one millisecond cannot happen; borrowing the next one keeps order.
        (last_ms + 1, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_one_millisecond_sort_in_creation_order() {
        let ids: Vec<String> = (0..10_000).map(|_| new_id("req")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "ids are unique");
        assert!(ids.iter().all(|i| i.len() == 4 + 26));
    }

    #[test]
    fn a_clock_that_steps_back_never_reorders_ids() {
        let last = (5_000, 42);
        assert_eq!(step(last, 1_000, || 7), (5_000, 43));
        assert_eq!(step(last, 5_000, || 7), (5_000, 43));
        assert_eq!(step(last, 5_001, || 7), (5_001, 7));
        assert_eq!(step((5_000, RANDOM_MASK), 5_000, || 7), (5_001, 0));
    }
}
