//! Event type patterns (`domain::type_matches`, `valid_type_pattern`, `valid_event_type`).
//!
//! Input: a line with a pattern, a line with an event type.
//!
//! Checks: no panic; every string matches itself as a pattern; `*` matches every type but
//! herald's own `herald.…` ones; between valid values, an exact pattern matches only its
//! type and `a.b.*` matches exactly the types under `a.b.` (whole segments, never `a.bc`);
//! a valid pattern that matches a `herald.…` type names `herald.`; every segment prefix of
//! a valid type, as a `.*` pattern, matches it.
#![no_main]

use herald_fuzz::Fields;
use herald_server::domain::{type_matches, valid_event_type, valid_type_pattern, OPERATIONAL_PREFIX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let pattern = f.text();
    let event_type = f.text();
    let m = type_matches(&pattern, &event_type);

    assert!(
        type_matches(&pattern, &pattern),
        "{pattern:?} does not match itself"
    );
    assert!(type_matches(&event_type, &event_type));
    assert_eq!(
        type_matches("*", &event_type),
        !event_type.starts_with(OPERATIONAL_PREFIX)
    );

    let valid_type = valid_event_type(&event_type);
    let valid_pattern = valid_type_pattern(&pattern);
    if valid_event_type(&pattern) {
        assert!(valid_pattern, "a valid type {pattern:?} is not a valid pattern");
    }
    if valid_pattern && valid_type {
        if pattern == "*" {
            assert_eq!(m, !event_type.starts_with(OPERATIONAL_PREFIX));
        } else if let Some(prefix) = pattern.strip_suffix(".*") {
            let under = event_type.starts_with(&format!("{prefix}."));
            assert_eq!(m, under, "{pattern:?} vs {event_type:?}");
        } else {
            assert_eq!(m, pattern == event_type, "{pattern:?} vs {event_type:?}");
        }
        if m && event_type.starts_with(OPERATIONAL_PREFIX) {
            assert!(
                pattern.starts_with(OPERATIONAL_PREFIX),
                "{pattern:?} caught {event_type:?}"
            );
        }
    }
    if valid_type {
        let segments: Vec<&str> = event_type.split('.').collect();
        for k in 1..segments.len() {
            let p = format!("{}.*", segments[..k].join("."));
            assert!(valid_type_pattern(&p), "{p:?}");
            assert!(type_matches(&p, &event_type), "{p:?} vs {event_type:?}");
        }
        let whole = format!("{event_type}.*");
        assert!(
            !type_matches(&whole, &event_type),
            "{whole:?} matched its own prefix"
        );
    }
});
