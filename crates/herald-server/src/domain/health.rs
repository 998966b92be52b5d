//! Endpoint health after an attempt, as pure rules: since when an endpoint has been
//! failing, when it is disabled (410 Gone, or failing for too long), and which operational
//! events report it. The stores read an endpoint's [`Standing`] inside the transaction that
//! records the attempt, ask [`after_failure`] what follows, and apply the [`Effect`]s.

use serde_json::json;

use super::breaker::Breaker;
use super::{rfc3339, Attempt, DeliveryState, Millis, OPERATIONAL_PREFIX};

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    RetryAt(Millis),
    /// Retries exhausted, or the attempt can never succeed.
    Failed,
    /// Retries exhausted at the head of a key that parks (`on_stuck: park`): the delivery
    /// stays owed, not due, and its key waits for a resume or a skip.
    Parked,
    /// The endpoint answered 410 Gone: fail this delivery, disable the endpoint and fail
    /// its other pending deliveries.
    EndpointGone,
}

impl NextStep {
    /// The delivery's state and next due time after the attempt (a parked head stays
    /// owed, due at no time).
    pub fn state_after(&self) -> (DeliveryState, Option<Millis>) {
        match self {
            NextStep::Succeeded => (DeliveryState::Succeeded, None),
            NextStep::RetryAt(t) => (DeliveryState::Pending, Some(*t)),
            NextStep::Parked => (DeliveryState::Pending, None),
            NextStep::Failed | NextStep::EndpointGone => (DeliveryState::Failed, None),
        }
    }
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
    /// The attempt was an open circuit's probe.
    pub probe: bool,
    /// The receiver asked for a pause of the endpoint until then (`Retry-After`).
    pub pause_until: Option<Millis>,
    /// The delivery's place in its key's order, on an ordered endpoint.
    pub ordering: Option<super::ordering::KeyPosition>,
}

/// What the store knows of the endpoint when an attempt of it failed, after noting the
/// failure (`failing_since` is set by then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub tenant: Option<String>,
    pub disabled: bool,
    pub failing_since: Option<Millis>,
    pub circuit_after: u32,
    pub breaker: Breaker,
    pub paused_until: Option<Millis>,
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
    /// Keep this breaker state and pause (see `domain::breaker`).
    Control {
        breaker: Breaker,
        paused_until: Option<Millis>,
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
    let breaker = ep.breaker.after_failure(ep.circuit_after, rec.probe, now);
    let paused_until = ep.paused_until.max(rec.pause_until).filter(|t| *t > now);
    if breaker != ep.breaker || paused_until != ep.paused_until {
        effects.push(Effect::Control {
            breaker,
            paused_until,
        });
    }
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
            probe: false,
            pause_until: None,
            ordering: None,
        }
    }

    fn standing(disabled: bool, since: Option<Millis>) -> Standing {
        Standing {
            tenant: Some("acme".into()),
            disabled,
            failing_since: since,
            circuit_after: 0,
            breaker: Breaker::default(),
            paused_until: None,
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
                Effect::Control { .. } => String::new(),
            })
            .filter(|k| !k.is_empty())
            .collect()
    }

    fn control(effects: &[Effect]) -> Option<(Breaker, Option<Millis>)> {
        effects.iter().find_map(|e| match e {
            Effect::Control {
                breaker,
                paused_until,
            } => Some((*breaker, *paused_until)),
            _ => None,
        })
    }

    #[test]
    fn a_retry_has_no_effect_until_the_endpoint_fails_too_long() {
        let rec = failed(NextStep::RetryAt(9_000), "a.b", Some(1_000));
        assert!(kinds(&after_failure(&rec, &standing(false, Some(2_000)), 9_000)).is_empty());
        let effects = after_failure(&rec, &standing(false, Some(1_000)), 9_000);
        assert_eq!(
            kinds(&effects),
            ["disable(fail_pending=false)", "herald.endpoint.disabled"]
        );
        // Already disabled: nothing more, reported once.
        assert!(kinds(&after_failure(&rec, &standing(true, Some(1_000)), 9_000)).is_empty());
        // Auto-disable off.
        let never = failed(NextStep::RetryAt(9_000), "a.b", None);
        assert!(kinds(&after_failure(&never, &standing(false, Some(0)), 9_000)).is_empty());
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
        let Some(Effect::Publish { payload, tenant, .. }) =
            effects.iter().find(|e| matches!(e, Effect::Publish { .. }))
        else {
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
        assert!(kinds(&after_failure(&rec, &standing(false, Some(5_000)), 9_000)).is_empty());
        let rec = failed(NextStep::Failed, "ticket.created", None);
        assert_eq!(
            kinds(&after_failure(&rec, &standing(false, Some(5_000)), 9_000)),
            ["herald.delivery.failed"]
        );
    }

    #[test]
    fn failures_count_toward_the_circuit_and_a_retry_after_pauses() {
        let mut ep = standing(false, Some(5_000));
        ep.circuit_after = 2;
        let rec = failed(NextStep::RetryAt(9_000), "a.b", None);
        let (breaker, paused) = control(&after_failure(&rec, &ep, 9_000)).unwrap();
        assert_eq!(
            (breaker.consecutive_failures, breaker.open, paused),
            (1, None, None)
        );
        ep.breaker = breaker;
        let (breaker, _) = control(&after_failure(&rec, &ep, 9_000)).unwrap();
        assert!(breaker.open.is_some(), "the second failure in a row opens it");
        let paused = AttemptRecord {
            pause_until: Some(20_000),
            ..rec.clone()
        };
        let (_, until) = control(&after_failure(&paused, &standing(false, Some(5_000)), 9_000)).unwrap();
        assert_eq!(until, Some(20_000));
        let mut later = standing(false, Some(5_000));
        later.paused_until = Some(30_000);
        let (_, until) = control(&after_failure(&paused, &later, 9_000)).unwrap();
        assert_eq!(until, Some(30_000), "a pause is only ever lengthened");
    }
}
