//! What an attempt's outcome means, as one pure rule: the receiver's answer (or why there
//! was none) → the delivery's next state, the error text the attempt log shows, and the
//! delay before the next try. The delivery workers only gather the inputs.

use std::time::{Duration, UNIX_EPOCH};

use super::health::NextStep;
use super::Millis;

/// How an attempt ended, as far as the rule cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<'a> {
    /// The receiver answered with this status (and maybe a `Retry-After` header).
    Status { code: u16, retry_after: Option<&'a str> },
    /// No answer in time.
    Timeout { after_ms: u64 },
    /// Could not connect, or the connection failed (the text says how).
    Unreachable(&'a str),
    /// The SSRF guard refused the destination (of this kind): it can never succeed.
    Forbidden(String),
    /// A broker acknowledged the message.
    Confirmed,
    /// A broker answered and refused the message (the text says why).
    Rejected(&'a str),
}

/// The retry policy an attempt is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Delays after each failed try; its length is the number of retries.
    pub schedule: &'a [Duration],
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub next: NextStep,
    /// For the attempt log; `None` on success.
    pub error: Option<String>,
    /// The receiver named an instant to come back (429/503 with `Retry-After`): the whole
    /// endpoint pauses until then.
    pub pause_until: Option<Millis>,
    /// The receiver is overloaded or unreachable (429, 503, timeout, connection error):
    /// the adaptive limit comes down.
    pub congested: bool,
}

/// Judges attempt number `attempt_no` (1-based), made at `now`. `jitter` spreads a
/// scheduled delay (never a delay the receiver named).
pub fn judge(
    answer: &Answer<'_>,
    policy: Policy<'_>,
    attempt_no: u32,
    now: Millis,
    jitter: impl FnOnce(Duration) -> Duration,
) -> Verdict {
    let congested = matches!(
        answer,
        Answer::Status { code: 429 | 503, .. } | Answer::Timeout { .. } | Answer::Unreachable(_)
    );
    let mut pause_until = None;
    let retry = |hint: Option<Duration>| {
        let Some(base) = policy.schedule.get(attempt_no.saturating_sub(1) as usize) else {
            return NextStep::Failed;
        };
        // A hint comes capped (see the status arm below).
        let delay = hint.unwrap_or_else(|| jitter(*base));
        NextStep::RetryAt(now + delay.as_millis() as Millis)
    };
    let (next, error) = match *answer {
        Answer::Status { code: 200..=299, .. } | Answer::Confirmed => (NextStep::Succeeded, None),
        Answer::Rejected(why) => (retry(None), Some(why.to_string())),
        Answer::Status { code: 410, .. } => (
            NextStep::EndpointGone,
            Some("endpoint answered 410 Gone: endpoint disabled".to_string()),
        ),
        Answer::Status { code, retry_after } => {
            let hint = match code {
                429 | 503 => retry_after
                    .and_then(|v| parse_retry_after(v, now))
                    .map(|h| h.min(policy.max_retry_after)),
                _ => None,
            };
            pause_until = hint.map(|h| now + h.as_millis() as Millis);
            (retry(hint), Some(format!("endpoint answered HTTP {code}")))
        }
        Answer::Timeout { after_ms } => (retry(None), Some(format!("timed out after {after_ms} ms"))),
        Answer::Unreachable(why) => (retry(None), Some(why.to_string())),
        Answer::Forbidden(ref kind) => (
            NextStep::Failed,
            Some(format!(
                "refused by the SSRF guard: the destination is a {kind} address, which is not allowed (an operator can allow it with --allow-network)"
            )),
        ),
    };
    Verdict {
        next,
        error,
        pause_until,
        congested,
    }
}

/// `Retry-After` as delta-seconds or an HTTP date (how long after `now`).
pub fn parse_retry_after(v: &str, now: Millis) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let now = UNIX_EPOCH + Duration::from_millis(now.max(0) as u64);
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_445_412_480_000; // Wed, 21 Oct 2015 07:28:00 GMT
    const SCHEDULE: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(60)];

    fn policy() -> Policy<'static> {
        Policy {
            schedule: &SCHEDULE,
            max_retry_after: Duration::from_secs(3600),
        }
    }

    fn judged(answer: Answer<'_>, attempt_no: u32) -> Verdict {
        judge(&answer, policy(), attempt_no, NOW, |d| d * 2)
    }

    fn status(code: u16, retry_after: Option<&str>) -> Answer<'_> {
        Answer::Status { code, retry_after }
    }

    #[test]
    fn any_2xx_succeeds() {
        for code in [200, 201, 204, 299] {
            let v = judged(status(code, None), 1);
            assert_eq!(
                (v.next, v.error, v.pause_until, v.congested),
                (NextStep::Succeeded, None, None, false)
            );
        }
    }

    #[test]
    fn gone_is_final_and_says_so() {
        let v = judged(status(410, Some("5")), 1);
        assert_eq!(v.next, NextStep::EndpointGone);
        assert!(v.error.unwrap().contains("410 Gone"));
    }

    #[test]
    fn failures_follow_the_schedule_with_jitter_then_fail() {
        for answer in [
            status(500, None),
            status(404, None),
            status(301, None),
            Answer::Timeout { after_ms: 100 },
            Answer::Unreachable("connection refused"),
        ] {
            assert_eq!(
                judged(answer.clone(), 1).next,
                NextStep::RetryAt(NOW + 10_000),
                "{answer:?}"
            );
            assert_eq!(
                judged(answer.clone(), 2).next,
                NextStep::RetryAt(NOW + 120_000),
                "{answer:?}"
            );
            assert_eq!(judged(answer.clone(), 3).next, NextStep::Failed, "{answer:?}");
        }
        assert_eq!(
            judged(status(502, None), 1).error.as_deref(),
            Some("endpoint answered HTTP 502")
        );
        assert_eq!(
            judged(Answer::Timeout { after_ms: 100 }, 1).error.as_deref(),
            Some("timed out after 100 ms")
        );
    }

    #[test]
    fn retry_after_counts_on_429_and_503_only_unjittered_and_capped() {
        assert_eq!(
            judged(status(429, Some("7")), 1).next,
            NextStep::RetryAt(NOW + 7_000)
        );
        assert_eq!(
            judged(status(503, Some("Wed, 21 Oct 2015 07:29:30 GMT")), 1).next,
            NextStep::RetryAt(NOW + 90_000)
        );
        assert_eq!(
            judged(status(500, Some("7")), 1).next,
            NextStep::RetryAt(NOW + 10_000)
        );
        assert_eq!(
            judged(status(429, Some("soon")), 1).next,
            NextStep::RetryAt(NOW + 10_000)
        );
        assert_eq!(
            judged(status(429, Some("86400")), 1).next,
            NextStep::RetryAt(NOW + 3_600_000)
        );
        assert_eq!(
            judged(status(429, Some("7")), 3).next,
            NextStep::Failed,
            "retries are still counted"
        );
    }

    #[test]
    fn retry_after_pauses_the_endpoint_even_when_retries_are_exhausted() {
        assert_eq!(judged(status(429, Some("7")), 1).pause_until, Some(NOW + 7_000));
        assert_eq!(judged(status(503, Some("7")), 3).pause_until, Some(NOW + 7_000));
        assert_eq!(
            judged(status(429, Some("86400")), 1).pause_until,
            Some(NOW + 3_600_000),
            "capped"
        );
        assert_eq!(judged(status(500, Some("7")), 1).pause_until, None);
        assert_eq!(judged(status(429, None), 1).pause_until, None);
    }

    #[test]
    fn overload_and_unreachability_are_congestion_other_failures_are_not() {
        for a in [
            status(429, None),
            status(503, None),
            Answer::Timeout { after_ms: 5 },
            Answer::Unreachable("reset"),
        ] {
            assert!(judged(a.clone(), 1).congested, "{a:?}");
        }
        for a in [
            status(500, None),
            status(404, None),
            status(410, None),
            Answer::Forbidden("private".into()),
        ] {
            assert!(!judged(a.clone(), 1).congested, "{a:?}");
        }
    }

    #[test]
    fn a_forbidden_destination_fails_at_once_without_naming_the_address() {
        let v = judged(Answer::Forbidden("private".into()), 1);
        assert_eq!(v.next, NextStep::Failed);
        assert!(v.error.unwrap().contains("a private address"));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7", NOW), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 7 ", NOW), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("soon", NOW), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW),
            Some(Duration::ZERO)
        );
        let later = "Wed, 21 Oct 2015 07:29:30 GMT";
        assert_eq!(parse_retry_after(later, NOW), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after(later, NOW + 100_000), Some(Duration::ZERO));
    }
}
