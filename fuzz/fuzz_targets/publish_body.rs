//! The `POST /v1/events` body parser (`api::parse_publish`): JSON object with `type`,
//! `payload`, optional `tenant` and `id`.
//!
//! Input: the request body, parsed with a 1 MiB and with a 16-byte payload limit.
//!
//! Checks: no panic (deep nesting included); errors are 400 (malformed JSON), 422 (a field)
//! or 413 (payload over the limit) only; an accepted body starts with `{`, has a valid,
//! non-`herald.` type and a non-null payload within the limit that is valid JSON and a
//! byte-for-byte slice of the body (it is delivered as sent); the small limit accepts the
//! same bodies as the large one except those whose payload is too large for it, which get
//! 413.
#![no_main]

use herald_server::api::{parse_publish, ApiError, ParsedPublish};
use herald_server::domain::{valid_event_type, OPERATIONAL_PREFIX};
use libfuzzer_sys::fuzz_target;

const BIG: usize = 1024 * 1024;
const SMALL: usize = 16;

fn check(data: &[u8], max: usize, got: &Result<ParsedPublish<'_>, ApiError>) {
    match got {
        Ok(p) => {
            let first = data.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(first, Some(&b'{'));
            assert!(valid_event_type(&p.event_type), "{:?}", p.event_type);
            assert!(!p.event_type.starts_with(OPERATIONAL_PREFIX));
            let raw = p.payload.get();
            assert_ne!(raw, "null");
            assert!(raw.len() <= max);
            serde_json::from_str::<serde::de::IgnoredAny>(raw).expect("payload is not JSON");
            let range = data.as_ptr_range();
            let start = raw.as_ptr();
            assert!(
                range.start <= start && start.wrapping_add(raw.len()) <= range.end,
                "payload is not a slice of the body"
            );
        }
        Err(e) => {
            let s = e.status.as_u16();
            assert!(matches!(s, 400 | 422 | 413), "status {s}: {}", e.message);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let big = parse_publish(data, BIG);
    check(data, BIG, &big);
    let small = parse_publish(data, SMALL);
    check(data, SMALL, &small);
    match (&big, &small) {
        (Ok(b), Ok(s)) => {
            assert_eq!(b.event_type, s.event_type);
            assert_eq!(b.payload.get(), s.payload.get());
            assert_eq!((&b.tenant, &b.id), (&s.tenant, &s.id));
        }
        (Ok(b), Err(e)) => {
            assert!(b.payload.get().len() > SMALL);
            assert_eq!(e.status.as_u16(), 413);
        }
        (Err(_), Ok(_)) => panic!("a smaller limit accepted more"),
        (Err(b), Err(s)) => assert_eq!((b.status, &b.message), (s.status, &s.message)),
    }
});
