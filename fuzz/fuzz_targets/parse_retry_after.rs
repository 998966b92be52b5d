//! `Retry-After` parsing (`domain::outcome::parse_retry_after`): delta-seconds or an HTTP
//! date.
//!
//! Input: the header value (UTF-8 with replacement); its first bytes also give a number of
//! seconds for a round trip.
//!
//! Checks: no panic; plain delta-seconds give exactly that many seconds; a date that
//! httpdate reads and that is not in the future gives zero; an HTTP date formatted here for
//! now + N seconds comes back as about N seconds (never more), measured from the `now`
//! given.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald_server::domain::outcome::parse_retry_after;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    // Business time is whole milliseconds: judge against the same instant herald gets.
    let before = whole_ms(SystemTime::now());
    let got = parse_retry_after(&value, ms(before));
    let v = value.trim();

    if let Ok(secs) = v.parse::<u64>() {
        assert_eq!(got, Some(Duration::from_secs(secs)), "{v:?}");
    } else if let Ok(at) = httpdate::parse_http_date(v) {
        let d = got.expect("a date httpdate reads was refused");
        if at <= before {
            assert_eq!(d, Duration::ZERO, "{v:?}");
        } else {
            assert!(d <= at.duration_since(before).unwrap(), "{v:?}");
        }
    } else {
        assert_eq!(got, None, "{v:?}");
    }

    // Round trip through a date formatted here.
    let mut n = [0u8; 4];
    for (dst, src) in n.iter_mut().zip(data) {
        *dst = *src;
    }
    let ahead = u64::from(u32::from_le_bytes(n));
    let now = whole_ms(SystemTime::now());
    let date = httpdate::fmt_http_date(now + Duration::from_secs(ahead));
    let back = parse_retry_after(&date, ms(now)).expect("herald's own date format was refused");
    assert!(back <= Duration::from_secs(ahead), "{date}: {back:?} > {ahead} s");
    assert!(
        back + Duration::from_secs(5) >= Duration::from_secs(ahead),
        "{date}: {back:?} much less than {ahead} s"
    );
});

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn whole_ms(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms(t) as u64)
}
