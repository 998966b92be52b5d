//! Endpoint health after each attempt: notes since when an endpoint has been failing, and
//! applies what `domain::health` decides follows a failure, in the same transaction.

use rusqlite::{params, Connection, OptionalExtension};

use super::endpoints;
use super::events::publish_internal;
use super::writer::backend;
use crate::domain::health::{after_failure, Effect, Standing};
use crate::domain::Millis;
use crate::store::{AttemptRecord, NextStep, StoreResult};

fn load(conn: &Connection, endpoint_id: &str) -> StoreResult<Option<Standing>> {
    conn.prepare_cached("SELECT tenant, disabled, failing_since FROM endpoints WHERE id = ?1")
        .and_then(|mut st| {
            st.query_row(params![endpoint_id], |r| {
                Ok(Standing {
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
    let Some(standing) = load(conn, &rec.endpoint_id)? else {
        return Ok(()); // deleted meanwhile
    };
    for effect in after_failure(rec, &standing, now) {
        match effect {
            Effect::Publish {
                event_type,
                tenant,
                payload,
            } => publish_internal(conn, event_type, tenant.as_deref(), payload, now)?,
            Effect::Disable { reason, fail_pending } => {
                endpoints::disable(conn, &rec.endpoint_id, &reason, now)?;
                if let Some(error) = fail_pending {
                    endpoints::fail_pending(conn, &rec.endpoint_id, error, now)?;
                }
            }
        }
    }
    Ok(())
}
