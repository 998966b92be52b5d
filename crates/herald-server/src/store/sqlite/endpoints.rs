//! Endpoint queries.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, to_json, ENDPOINT_COLUMNS};
use crate::domain::breaker::{held_until, Breaker};
use crate::domain::subscribers::{Subscriber, SubscriberIndex};
use crate::domain::{Endpoint, EndpointPatch, Millis, Page, Scope};
use crate::store::sqlite::writer::backend;
use crate::store::{EndpointQuery, SecretParts, StoreResult};

pub fn insert(conn: &Connection, ep: &Endpoint) -> StoreResult<()> {
    invalidate_subscribers();
    conn.prepare_cached(
        "INSERT INTO endpoints (id, tenant, url, description, event_types, headers, signature, secrets, \
         timeout_ms, max_in_flight, rate_limit_per_s, disabled, disabled_reason, created_at, updated_at, \
         retry_schedule, circuit_after, ordering, destination) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )
    .and_then(|mut st| {
        st.execute(params![
            ep.id,
            ep.tenant,
            ep.url,
            ep.description,
            to_json(&ep.event_types),
            to_json(&ep.headers),
            ep.signature.as_str(),
            to_json(&ep.secrets),
            ep.timeout_ms as i64,
            ep.max_in_flight as i64,
            ep.rate_limit_per_s.map(i64::from),
            ep.disabled,
            ep.disabled_reason,
            ep.created_at,
            ep.updated_at,
            ep.retry_schedule,
            i64::from(ep.circuit_after),
            ep.ordering.as_ref().map(to_json),
            ep.destination.as_ref().map(to_json),
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub fn get(conn: &Connection, scope: &Scope, id: &str) -> StoreResult<Option<Endpoint>> {
    let sql =
        format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)");
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_row(params![id, scope.tenant()], rows::endpoint)
                .optional()
        })
        .map_err(backend)
}

pub fn list(conn: &Connection, scope: &Scope, q: &EndpointQuery) -> StoreResult<Page<Endpoint>> {
    let Some(tenant) = scope.list_filter(q.tenant.as_deref()) else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints \
         WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
    );
    let items: Vec<Endpoint> = conn
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params![tenant, q.cursor, (q.limit + 1) as i64], rows::endpoint)?
                .collect()
        })
        .map_err(backend)?;
    Ok(Page::from_overfetch(items, q.limit, |e| e.id.clone()))
}

pub fn replace(conn: &Connection, ep: &Endpoint) -> StoreResult<()> {
    invalidate_subscribers();
    conn.prepare_cached(
        "UPDATE endpoints SET url = ?2, description = ?3, event_types = ?4, headers = ?5, secrets = ?6, \
         timeout_ms = ?7, max_in_flight = ?8, rate_limit_per_s = ?9, disabled = ?10, disabled_reason = ?11, \
         updated_at = ?12, retry_schedule = ?13, circuit_after = ?14, ordering = ?15, destination = ?16 WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.execute(params![
            ep.id,
            ep.url,
            ep.description,
            to_json(&ep.event_types),
            to_json(&ep.headers),
            to_json(&ep.secrets),
            ep.timeout_ms as i64,
            ep.max_in_flight as i64,
            ep.rate_limit_per_s.map(i64::from),
            ep.disabled,
            ep.disabled_reason,
            ep.updated_at,
            ep.retry_schedule,
            i64::from(ep.circuit_after),
            ep.ordering.as_ref().map(to_json),
            ep.destination.as_ref().map(to_json),
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub fn update(
    conn: &Connection,
    scope: &Scope,
    id: &str,
    patch: EndpointPatch,
    now: Millis,
) -> StoreResult<Option<Endpoint>> {
    let Some(mut ep) = get(conn, scope, id)? else {
        return Ok(None);
    };
    let re_enabled = ep.disabled && patch.disabled == Some(false);
    patch.apply(&mut ep, now);
    replace(conn, &ep)?;
    if re_enabled {
        // A fresh start: the failure streak that disabled it no longer counts.
        conn.prepare_cached(concat!(
            "UPDATE endpoints SET ",
            clean_standing!(),
            ", paused_until = NULL WHERE id = ?1"
        ))
        .and_then(|mut st| st.execute(params![id]))
        .map_err(backend)?;
    }
    Ok(Some(ep))
}

pub fn rotate(
    conn: &Connection,
    scope: &Scope,
    id: &str,
    secret: String,
    grace_until: Millis,
    now: Millis,
) -> StoreResult<Option<Endpoint>> {
    let Some(mut ep) = get(conn, scope, id)? else {
        return Ok(None);
    };
    ep.rotate(secret, now, grace_until);
    replace(conn, &ep)?;
    Ok(Some(ep))
}

/// Fails every pending delivery of an endpoint with a reason.
pub fn fail_pending(conn: &Connection, endpoint_id: &str, reason: &str, now: Millis) -> StoreResult<usize> {
    conn.prepare_cached(
        "UPDATE deliveries SET state = 'failed', next_attempt_at = NULL, lease_until = NULL, \
         last_error = ?2, updated_at = ?3 WHERE endpoint_id = ?1 AND state IN ('pending', 'delivering')",
    )
    .and_then(|mut st| st.execute(params![endpoint_id, reason, now]))
    .map_err(backend)
}

pub fn delete(conn: &Connection, scope: &Scope, id: &str, now: Millis) -> StoreResult<bool> {
    invalidate_subscribers();
    let n = conn
        .prepare_cached("DELETE FROM endpoints WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)")
        .and_then(|mut st| st.execute(params![id, scope.tenant()]))
        .map_err(backend)?;
    if n == 0 {
        return Ok(false);
    }
    fail_pending(conn, id, "endpoint deleted", now)?;
    Ok(true)
}

/// Disables an endpoint with a reason; its pending deliveries wait for it.
pub fn disable(conn: &Connection, id: &str, reason: &str, now: Millis) -> StoreResult<()> {
    invalidate_subscribers();
    conn.prepare_cached(
        "UPDATE endpoints SET disabled = 1, disabled_reason = ?2, updated_at = ?3 WHERE id = ?1",
    )
    .and_then(|mut st| st.execute(params![id, reason, now]))
    .map_err(backend)?;
    Ok(())
}

/// Keeps an endpoint's breaker state and pause (delivery control does not change who
/// subscribes: the subscriber cache stays).
pub fn set_control(
    conn: &Connection,
    id: &str,
    breaker: &Breaker,
    paused_until: Option<Millis>,
) -> StoreResult<()> {
    let open = breaker.open;
    conn.prepare_cached(
        "UPDATE endpoints SET consecutive_failures = ?2, circuit_wait_ms = ?3, circuit_until = ?4, \
         paused_until = ?5 WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.execute(params![
            id,
            i64::from(breaker.consecutive_failures),
            open.map(|o| o.wait_ms),
            open.map(|o| o.probe_at),
            paused_until,
        ])
    })
    .map_err(backend)?;
    if let Some(until) = held_until(open, paused_until) {
        conn.prepare_cached(
            "UPDATE deliveries SET next_attempt_at = ?2 WHERE endpoint_id = ?1 AND state = 'pending' \
             AND next_attempt_at < ?2",
        )
        .and_then(|mut st| st.execute(params![id, until]))
        .map_err(backend)?;
    }
    Ok(())
}

thread_local! {
    /// The writer thread's subscriber index per tenant. Only the writer thread publishes
    /// and changes endpoints, so the index lives there; every endpoint change (and any
    /// rolled-back group) drops it, and the next publish rebuilds it from the table.
    static SUBSCRIBERS: RefCell<HashMap<Option<String>, Rc<SubscriberIndex>>> = RefCell::new(HashMap::new());
}

/// Forgets the cached subscriber indexes (after an endpoint change or a rollback).
pub fn invalidate_subscribers() {
    SUBSCRIBERS.with(|c| c.borrow_mut().clear());
}

/// The endpoints of a tenant (exact match; none = none), indexed by their type filters.
pub fn subscribers(conn: &Connection, tenant: Option<&str>) -> StoreResult<Rc<SubscriberIndex>> {
    let key = tenant.map(str::to_string);
    if let Some(index) = SUBSCRIBERS.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(index);
    }
    let index = Rc::new(SubscriberIndex::new(load_subscribers(conn, tenant)?));
    SUBSCRIBERS.with(|c| c.borrow_mut().insert(key, index.clone()));
    Ok(index)
}

fn load_subscribers(conn: &Connection, tenant: Option<&str>) -> StoreResult<Vec<Subscriber>> {
    let corrupt =
        |what: &str, e: serde_json::Error| crate::store::StoreError::Corrupt(format!("{what}: {e}"));
    conn.prepare_cached(concat!(
        "SELECT id, event_types, disabled, NOT ",
        pushes!(""),
        ", ordering FROM endpoints WHERE tenant IS ?1"
    ))
    .and_then(|mut st| {
        st.query_map(params![tenant], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(backend)?
    .into_iter()
    .map(|(id, types, disabled, pull, ordering)| {
        Ok(Subscriber {
            id,
            patterns: serde_json::from_str(&types).map_err(|e| corrupt("event_types", e))?,
            disabled,
            pull,
            ordering: ordering
                .map(|o| serde_json::from_str(&o).map_err(|e| corrupt("ordering", e)))
                .transpose()?,
        })
    })
    .collect()
}

/// Writes an endpoint's secrets and headers as given; false when there is no such endpoint.
pub fn replace_secrets(conn: &Connection, id: &str, parts: &SecretParts) -> StoreResult<bool> {
    conn.prepare_cached("UPDATE endpoints SET secrets = ?2, headers = ?3, destination = ?4 WHERE id = ?1")
        .and_then(|mut st| {
            st.execute(params![
                id,
                to_json(&parts.secrets),
                to_json(&parts.headers),
                parts.destination.as_ref().map(to_json)
            ])
        })
        .map(|n| n > 0)
        .map_err(backend)
}
