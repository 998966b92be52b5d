//! Endpoint health after each attempt: notes since when an endpoint has been failing, and
//! applies what `domain::health` decides follows a failure, in the same transaction.

use rusqlite::{params, Connection, OptionalExtension};

use super::endpoints;
use super::events::publish_internal;
use super::writer::backend;
use crate::domain::breaker::Breaker;
use crate::domain::health::{after_failure, Effect, Standing};
use crate::domain::Millis;
use crate::store::{AttemptRecord, NextStep, StoreResult};

fn load(conn: &Connection, endpoint_id: &str) -> StoreResult<Option<Standing>> {
    conn.prepare_cached(
        "SELECT tenant, disabled, failing_since, circuit_after, consecutive_failures, circuit_wait_ms, \
         circuit_until, paused_until FROM endpoints WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.query_row(params![endpoint_id], |r| {
            Ok(Standing {
                tenant: r.get(0)?,
                disabled: r.get(1)?,
                failing_since: r.get(2)?,
                circuit_after: r.get::<_, i64>(3)? as u32,
                breaker: Breaker {
                    consecutive_failures: r.get::<_, i64>(4)? as u32,
                    open: crate::domain::breaker::Open::from_columns(r.get(5)?, r.get(6)?),
                },
                paused_until: r.get(7)?,
            })
        })
        .optional()
    })
    .map_err(backend)
}

pub fn after_attempt(conn: &Connection, rec: &AttemptRecord, now: Millis) -> StoreResult<()> {
    if rec.next == NextStep::Succeeded {
        // A success closes the circuit and forgets the failures (`Breaker::after_success`);
        // the row is written only when that changes it.
        conn.prepare_cached(concat!(
            "UPDATE endpoints SET ",
            clean_standing!(),
            " WHERE id = ?1 AND ",
            standing_not_clean!()
        ))
        .and_then(|mut st| st.execute(params![rec.endpoint_id]))
        .map_err(backend)?;
        if rec.probe {
            conn.prepare_cached(release_held!("?1", "?2"))
                .and_then(|mut st| st.execute(params![rec.endpoint_id, now]))
                .map_err(backend)?;
        }
        return Ok(());
    }
    conn.prepare_cached("UPDATE endpoints SET failing_since = coalesce(failing_since, ?2) WHERE id = ?1")
        .and_then(|mut st| st.execute(params![rec.endpoint_id, rec.attempt.attempted_at]))
        .map_err(backend)?;
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
            Effect::Control {
                breaker,
                paused_until,
            } => endpoints::set_control(conn, &rec.endpoint_id, &breaker, paused_until)?,
        }
    }
    Ok(())
}
