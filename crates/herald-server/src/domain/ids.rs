//! Record ids: prefixed, URL-safe and ordered by creation within a process.
//!
//! An id is `{prefix}_` + 10 characters of millisecond time + 16 characters (80 bits) that
//! start random, in lowercase Crockford base32, like a ULID. Lists page by id, so ids made
//! in the same millisecond must still sort in the order they were made: within one
//! millisecond the 80-bit part is the previous one plus one (ULID's monotonic rule), and a
//! clock that steps back never makes an id sort before an earlier one. Ids made by
//! different nodes are ordered to the millisecond only.
//!
//! Events, deliveries and attempts take their ids at business time ([`new_id_at`], the
//! time they are stamped with), because the PostgreSQL store partitions those tables by id,
//! that is by time. Such a time far behind the last id (more than [`OTHER_TIMELINE_MS`]) is
//! another clock's, not this one stepping back (tests run servers whose clocks were moved
//! days on side by side in one process): its ids keep their own time, in creation order
//! within each millisecond, instead of borrowing the later clock's.

use std::sync::Mutex;

use rand::Rng;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RANDOM_BITS: u32 = 80;
const RANDOM_MASK: u128 = (1 << RANDOM_BITS) - 1;

/// The last (millisecond, 80-bit part) handed out.
static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));

/// How far behind the last id a time must be to count as another clock's.
const OTHER_TIMELINE_MS: u64 = 10_000;

/// Milliseconds of other clocks recently used, with their last 80-bit part.
static OTHERS: Mutex<Vec<(u64, u128)>> = Mutex::new(Vec::new());

/// How many of those are remembered.
const OTHERS_KEPT: usize = 256;

/// A new id with the given prefix, at system time.
pub fn new_id(prefix: &str) -> String {
    new_id_at(prefix, super::Clock::system().now_ms())
}

/// A new id with the given prefix for a record made at `now` (unix ms).
pub fn new_id_at(prefix: &str, now: super::Millis) -> String {
    let now = now.max(0) as u64;
    let last_ms = LAST.lock().unwrap_or_else(|e| e.into_inner()).0;
    let (ms, rnd) = if now + OTHER_TIMELINE_MS < last_ms {
        other_timeline(now)
    } else {
        next(now)
    };
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    push_time(&mut out, ms);
    for i in (0..16).rev() {
        out.push(CROCKFORD[((rnd >> (i * 5)) & 31) as usize] as char);
    }
    out
}

/// The next pair for a millisecond of another clock: after the last one made in it.
fn other_timeline(now_ms: u64) -> (u64, u128) {
    let mut others = OTHERS.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = || rand::thread_rng().gen::<u128>() & RANDOM_MASK;
    match others.iter_mut().find(|(ms, _)| *ms == now_ms) {
        Some(seen) => {
            *seen = step(*seen, now_ms, fresh);
            *seen
        }
        None => {
            if others.len() == OTHERS_KEPT {
                others.remove(0);
            }
            others.push((now_ms, fresh()));
            *others.last().expect("just pushed")
        }
    }
}

/// The smallest id with `prefix` made at `ms`: where a span of time starts among ids.
pub fn id_floor(prefix: &str, ms: super::Millis) -> String {
    let mut out = String::with_capacity(prefix.len() + 11);
    out.push_str(prefix);
    out.push('_');
    push_time(&mut out, ms.max(0) as u64);
    out
}

fn push_time(out: &mut String, ms: u64) {
    for i in (0..10).rev() {
        out.push(CROCKFORD[((ms >> (i * 5)) & 31) as usize] as char);
    }
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
    fn an_id_carries_the_time_it_is_made_at() {
        let later = super::super::Clock::system().now_ms() + 86_400_000 * 400;
        let id = new_id_at("dlv", later);
        let mut ms: u64 = 0;
        for c in id[4..14].bytes() {
            ms = ms * 32 + CROCKFORD.iter().position(|&x| x == c).unwrap() as u64;
        }
        assert_eq!(ms, later as u64);
        assert!(id_floor("dlv", later) <= id && id < id_floor("dlv", later + 1));
        assert!(id_floor("dlv", later - 1) < id_floor("dlv", later));
    }

    #[test]
    fn ids_of_a_clock_far_behind_keep_its_time_and_their_order() {
        let now = super::super::Clock::system().now_ms();
        let ahead = new_id_at("evt", now + 86_400_000 * 500);
        let behind: Vec<String> = (0..1000).map(|_| new_id_at("evt", now)).collect();
        assert!(
            behind.iter().all(|id| id[4..14] == id_floor("evt", now)[4..14]),
            "{behind:?}"
        );
        let mut sorted = behind.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, behind, "in order and unique");
        assert!(ahead > behind[999]);
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
