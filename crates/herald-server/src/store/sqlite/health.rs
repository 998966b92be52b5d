//! Endpoint health after each attempt: track since when an endpoint has been failing,
//! disable it on 410 or after failing too long, and report exhausted deliveries and
//! disables as operational events (`herald.…`) in the same transaction.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use super::endpoints;
use super::events::publish_internal;
use super::writer::backend;
use crate::domain::{rfc3339, Millis, OPERATIONAL_PREFIX};
use crate::store::{AttemptRecord, NextStep, StoreResult};

struct Health {
    tenant: Option<String>,
    disabled: bool,
    failing_since: Option<Millis>,
}

fn load(conn: &Connection, endpoint_id: &str) -> StoreResult<Option<Health>> {
    conn.prepare_cached("SELECT tenant, disabled, failing_since FROM endpoints WHERE id = ?1")
        .and_then(|mut st| {
            st.query_row(params![endpoint_id], |r| {
                Ok(Health {
                    tenant: r.get(0)?,
                    disabled: r.get(1)?,
                    failing_since: r.get(2)?,
                })
            })
            .optional()
        })
        .map_err(backend)
}

pub fn after_attempt(conn: &Connection, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    let succeeded = rec.next == NextStep::Succeeded;
    let mut st = if succeeded {
        conn.prepare_cached("UPDATE endpoints SET failing_since = NULL WHERE id = ?1 AND ?2 IS NOT NULL")
    } else {
        conn.prepare_cached("UPDATE endpoints SET failing_since = coalesce(failing_since, ?2) WHERE id = ?1")
    }
    .map_err(backend)?;
    st.execute(params![rec.endpoint_id, rec.attempt.attempted_at])
        .map_err(backend)?;
    if succeeded {
        return Ok(());
    }
    let Some(ep) = load(conn, &rec.endpoint_id)? else {
        return Ok(()); // deleted meanwhile
    };
    let tenant = ep.tenant.as_deref();
    let exhausted = matches!(rec.next, NextStep::Failed | NextStep::EndpointGone);
    // Failures of operational events are not reported again, so they cannot feed a loop.
    if exhausted && !rec.event_type.starts_with(OPERATIONAL_PREFIX) {
        let payload = json!({
            "delivery_id": rec.attempt.delivery_id, "event_id": rec.event_id, "event_type": rec.event_type,
            "endpoint_id": rec.endpoint_id, "last_status": rec.attempt.status_code, "last_error": rec.attempt.error,
        });
        publish_internal(conn, "herald.delivery.failed", tenant, payload, now)?;
    }
    let reason = if rec.next == NextStep::EndpointGone {
        endpoints::disable_gone(conn, &rec.endpoint_id, now)?;
        Some("the endpoint answered 410 Gone".to_string())
    } else {
        match (ep.disabled, ep.failing_since, rec.disable_failing_since_before) {
            (false, Some(since), Some(cutoff)) if since <= cutoff => {
                let reason = format!("every attempt has failed since {}", rfc3339(since));
                endpoints::disable(conn, &rec.endpoint_id, &reason, now)?;
                Some(reason)
            }
            _ => None,
        }
    };
    if let Some(reason) = reason.filter(|_| !ep.disabled) {
        let payload = json!({"endpoint_id": rec.endpoint_id, "reason": reason, "disabled_at": rfc3339(now)});
        publish_internal(conn, "herald.endpoint.disabled", tenant, payload, now)?;
    }
    Ok(())
}
