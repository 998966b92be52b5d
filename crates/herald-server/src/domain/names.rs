//! The rules for names: event types and the patterns that match them, tenants, and
//! caller-chosen keys.

/// The prefix of herald's own operational event types; callers cannot publish them.
pub const OPERATIONAL_PREFIX: &str = "herald.";

/// Whether an event type matches an endpoint's pattern: `*`, a prefix `a.b.*`, or exact.
/// Operational events (`herald.…`) are matched only by patterns that name them, never by
/// `*`, so a catch-all endpoint does not start receiving herald's own reports.
pub fn type_matches(pattern: &str, event_type: &str) -> bool {
    if pattern == "*" {
        return !event_type.starts_with(OPERATIONAL_PREFIX);
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix) && event_type.len() > prefix.len(),
        None => pattern == event_type,
    }
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
}

/// An event type: dot-separated segments of letters, digits, `_`, `-`, `:`; at most 200 chars.
pub fn valid_event_type(s: &str) -> bool {
    s.len() <= 200 && s.split('.').all(valid_segment)
}

/// A type pattern: `*`, an event type, or an event type prefix followed by `.*`.
pub fn valid_type_pattern(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    match s.strip_suffix(".*") {
        Some(prefix) => valid_event_type(prefix),
        None => valid_event_type(s),
    }
}

/// A tenant: 1-128 chars of letters, digits, `_`, `-`, `.`, `:`, `@`.
pub fn valid_tenant(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'@'))
}

/// A caller-chosen id or idempotency key: 1-128 URL-safe chars.
pub fn valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_documented() {
        assert!(type_matches("*", "ticket.created"));
        assert!(type_matches("ticket.*", "ticket.created"));
        assert!(type_matches("ticket.*", "ticket.comment.added"));
        assert!(!type_matches("ticket.*", "ticket"));
        assert!(!type_matches("ticket.*", "tickets.created"));
        assert!(type_matches("ticket.created", "ticket.created"));
        assert!(!type_matches("ticket.created", "ticket.created.v2"));
        assert!(!type_matches("*", "herald.endpoint.disabled"));
        assert!(type_matches("herald.*", "herald.endpoint.disabled"));
    }

    #[test]
    fn patterns_and_types_are_validated() {
        for ok in ["*", "ticket.*", "ticket.created", "a-b_c:d.e"] {
            assert!(valid_type_pattern(ok), "{ok}");
        }
        for bad in [
            "",
            "ticket.",
            ".x",
            "a..b",
            "*foo",
            "ti*cket",
            "ticket.*.x",
            "a b",
            "**",
        ] {
            assert!(!valid_type_pattern(bad), "{bad}");
        }
        assert!(!valid_event_type("ticket.*"));
        assert!(!valid_event_type(""));
    }
}
