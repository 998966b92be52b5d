//! Endpoint health after an attempt, as pure rules: since when an endpoint has been
//! failing, when it is disabled (410 Gone, or failing for too long), and which operational
//! events report it. The stores read an endpoint's [`Standing`] inside the transaction that
//! records the attempt, ask [`after_failure`] what follows, and apply the [`Effect`]s.

use serde_json::json;

use super::{rfc3339, Attempt, Millis, OPERATIONAL_PREFIX};

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    RetryAt(Millis),
    /// Retries exhausted, or the attempt can never succeed.
    Failed,
    /// The endpoint answered 410 Gone: fail this delivery, disable the endpoint and fail
    /// its other pending deliveries.
    EndpointGone,
}

/// The result of one attempt, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: Attempt,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub next: NextStep,
    /// Disable the endpoint if every attempt has failed since before this instant.
    pub disable_failing_since_before: Option<Millis>,
}

/// What the store knows of the endpoint when an attempt of it failed, after noting the
/// failure (`failing_since` is set by then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub tenant: Option<String>,
    pub disabled: bool,
    pub failing_since: Option<Millis>,
}

/// What a store must do after a failed attempt, in the order given, in the transaction
/// that records it (so a report commits with the change it reports).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Publish an operational event (with its copy for the operator: `NewEvent::operational`).
    Publish {
        event_type: &'static str,
        tenant: Option<String>,
        payload: serde_json::Value,
    },
    /// Disable the endpoint with this reason; `fail_pending` also fails what it still owes
    /// (with that text as the deliveries' last error).
    Disable {
        reason: String,
        fail_pending: Option<&'static str>,
    },
}

pub const GONE_REASON: &str = "the endpoint answered 410 Gone";

/// The report of a recovery: `recovered` deliveries of the endpoint created since `since`
/// were put back in the queue.
pub fn recovered(endpoint_id: &str, since: Millis, recovered: usize) -> (&'static str, serde_json::Value) {
    (
        "herald.endpoint.recovered",
        json!({"endpoint_id": endpoint_id, "since": rfc3339(since), "recovered": recovered}),
    )
}

/// The effects of a failed attempt: a report when the delivery is exhausted (never for
/// operational events, so failures cannot feed a loop), and a disable, reported once, on
/// 410 or when every attempt has failed since before the auto-disable cutoff.
pub fn after_failure(rec: &AttemptRecord, ep: &Standing, now: Millis) -> Vec<Effect> {
    let mut effects = Vec::new();
    let exhausted = matches!(rec.next, NextStep::Failed | NextStep::EndpointGone);
    if exhausted && !rec.event_type.starts_with(OPERATIONAL_PREFIX) {
        effects.push(Effect::Publish {
            event_type: "herald.delivery.failed",
            tenant: ep.tenant.clone(),
            payload: json!({
                "delivery_id": rec.attempt.delivery_id, "event_id": rec.event_id,
                "event_type": rec.event_type, "endpoint_id": rec.endpoint_id,
                "last_status": rec.attempt.status_code, "last_error": rec.attempt.error,
            }),
        });
    }
    let disable = match (
        rec.next == NextStep::EndpointGone,
        ep.failing_since,
        rec.disable_failing_since_before,
    ) {
        (true, _, _) => Some(Effect::Disable {
            reason: GONE_REASON.into(),
            fail_pending: Some("endpoint gone (410)"),
        }),
        (false, Some(since), Some(cutoff)) if since <= cutoff && !ep.disabled => Some(Effect::Disable {
            reason: format!("every attempt has failed since {}", rfc3339(since)),
            fail_pending: None,
        }),
        _ => None,
    };
    let Some(disable) = disable else { return effects };
    let report = match (&disable, ep.disabled) {
        (Effect::Disable { reason, .. }, false) => Some(Effect::Publish {
            event_type: "herald.endpoint.disabled",
            tenant: ep.tenant.clone(),
            payload: json!({"endpoint_id": rec.endpoint_id, "reason": reason, "disabled_at": rfc3339(now)}),
        }),
        _ => None,
    };
    effects.push(disable);
    effects.extend(report);
    effects
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(next: NextStep, event_type: &str, cutoff: Option<Millis>) -> AttemptRecord {
        AttemptRecord {
            attempt: Attempt {
                id: "att_1".into(),
                delivery_id: "dlv_1".into(),
                attempted_at: 5_000,
                status_code: Some(500),
                duration_ms: 3,
                error: Some("endpoint answered HTTP 500".into()),
                response_body: None,
            },
            endpoint_id: "ep_1".into(),
            event_id: "evt_1".into(),
            event_type: event_type.into(),
            next,
            disable_failing_since_before: cutoff,
        }
    }

    fn standing(disabled: bool, since: Option<Millis>) -> Standing {
        Standing {
            tenant: Some("acme".into()),
            disabled,
            failing_since: since,
        }
    }

    fn kinds(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Publish { event_type, .. } => event_type.to_string(),
                Effect::Disable { fail_pending, .. } => {
                    format!("disable(fail_pending={})", fail_pending.is_some())
                }
            })
            .collect()
    }

    #[test]
    fn a_retry_has_no_effect_until_the_endpoint_fails_too_long() {
        let rec = failed(NextStep::RetryAt(9_000), "a.b", Some(1_000));
        assert!(after_failure(&rec, &standing(false, Some(2_000)), 9_000).is_empty());
        let effects = after_failure(&rec, &standing(false, Some(1_000)), 9_000);
        assert_eq!(
            kinds(&effects),
            ["disable(fail_pending=false)", "herald.endpoint.disabled"]
        );
        // Already disabled: nothing more, reported once.
        assert!(after_failure(&rec, &standing(true, Some(1_000)), 9_000).is_empty());
        // Auto-disable off.
        let never = failed(NextStep::RetryAt(9_000), "a.b", None);
        assert!(after_failure(&never, &standing(false, Some(0)), 9_000).is_empty());
    }

    #[test]
    fn gone_disables_fails_what_is_owed_and_reports_both() {
        let rec = failed(NextStep::EndpointGone, "a.b", None);
        let effects = after_failure(&rec, &standing(false, Some(5_000)), 9_000);
        assert_eq!(
            kinds(&effects),
            [
                "herald.delivery.failed",
                "disable(fail_pending=true)",
                "herald.endpoint.disabled"
            ]
        );
        let Effect::Publish { payload, tenant, .. } = &effects[0] else {
            panic!()
        };
        assert_eq!(
            (payload["delivery_id"].as_str(), tenant.as_deref()),
            (Some("dlv_1"), Some("acme"))
        );
    }

    #[test]
    fn exhausted_operational_deliveries_are_not_reported_again() {
        let rec = failed(NextStep::Failed, "herald.delivery.failed", None);
        assert!(after_failure(&rec, &standing(false, Some(5_000)), 9_000).is_empty());
        let rec = failed(NextStep::Failed, "ticket.created", None);
        assert_eq!(
            kinds(&after_failure(&rec, &standing(false, Some(5_000)), 9_000)),
            ["herald.delivery.failed"]
        );
    }
}
