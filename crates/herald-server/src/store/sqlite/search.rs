//! Deliveries across endpoints, by filter: the search behind `GET /v1/deliveries` and the
//! console, bulk retry, the counts of `GET /v1/stats`, and a test delivery to one endpoint.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use super::events::{self, NewDeliveries};
use super::rows::{self, DELIVERY_COLUMNS};
use super::writer::backend;
use crate::domain::subscribers::Subscriber;
use crate::domain::{Delivery, DeliveryState, Millis, NewEvent, Page, PublishSummary, Scope};
use crate::store::{
    DeliveryFilter, DeliveryQuery, DeliveryStats, RecentDeliveries, RecentDelivery, StoreError, StoreResult,
    TypeFilter,
};

/// The filter as a WHERE clause over `deliveries d JOIN events e`, and its parameters
/// `?1`..`?10`; `?11` is the cursor, `?12` the limit, `?13` a window's floor (the id
/// bounds are added by [`DeliveryQuery::id_bounds`] so the primary key can range over them).
const MATCHING: &str = "FROM deliveries d JOIN events e ON e.id = d.event_id AND coalesce(e.tenant, '') = coalesce(d.tenant, '') \
     WHERE (?1 IS NULL OR d.tenant = ?1) AND (?2 IS NULL OR d.state = ?2) \
     AND (?3 IS NULL OR d.endpoint_id = ?3) AND (?4 IS NULL OR e.type = ?4) \
     AND (?5 IS NULL OR substr(e.type, 1, length(?5)) = ?5) AND (?6 IS NULL OR e.source_id = ?6) \
     AND (?7 IS NULL OR d.last_status BETWEEN ?7 AND ?8) \
     AND (?9 IS NULL OR d.created_at >= ?9) AND (?10 IS NULL OR d.created_at < ?10)";

fn bind(
    scope: &Scope,
    f: &DeliveryFilter,
    cursor: Option<&str>,
    limit: usize,
    floor: Option<&str>,
) -> Vec<Value> {
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_string()));
    let int = |n: Option<i64>| n.map_or(Value::Null, Value::Integer);
    let (exact, prefix) = TypeFilter::parts(f.event_type.as_ref());
    vec![
        text(scope.tenant()),
        text(f.state.map(DeliveryState::as_str)),
        text(f.endpoint_id.as_deref()),
        text(exact),
        text(prefix),
        text(f.source_id.as_deref()),
        int(f.status.map(|s| i64::from(s.0))),
        int(f.status.map(|s| i64::from(s.1))),
        int(f.since),
        int(f.until),
        text(cursor),
        Value::Integer(limit as i64),
        text(floor),
    ]
}

fn prefixed(columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn search(conn: &Connection, scope: &Scope, q: &DeliveryQuery) -> StoreResult<Page<Delivery>> {
    let floor = match q.examine {
        Some(n) => window_floor(conn, q.cursor.as_deref(), n)?,
        None => None,
    };
    let sql = format!(
        "SELECT {} {MATCHING}{} ORDER BY d.id DESC LIMIT ?12",
        prefixed(DELIVERY_COLUMNS),
        q.id_bounds(floor.is_some(), |n| format!("?{n}"))
    );
    let args = bind(
        scope,
        &q.filter,
        q.cursor.as_deref(),
        q.limit + 1,
        floor.as_deref(),
    );
    let items = conn
        .prepare_cached(&sql)
        .and_then(|mut st| st.query_map(params_from_iter(args), rows::delivery)?.collect())
        .map_err(backend)?;
    Ok(q.page(items, floor))
}

/// The `n`th newest delivery id below the cursor (over the primary key alone), or `None`
/// when fewer are left: the lower end of a window of `n` deliveries.
fn window_floor(conn: &Connection, cursor: Option<&str>, n: usize) -> StoreResult<Option<String>> {
    let sql = match cursor {
        Some(_) => "SELECT id FROM deliveries WHERE id < ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
        None => "SELECT id FROM deliveries WHERE ?1 IS NULL ORDER BY id DESC LIMIT 1 OFFSET ?2",
    };
    let offset = n.saturating_sub(1) as i64;
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            let mut rows = st.query_map(params![cursor, offset], |r| r.get(0))?;
            rows.next().transpose()
        })
        .map_err(backend)
}

/// The newest `examine` deliveries (by id), those the scope sees.
pub fn recent(conn: &Connection, scope: &Scope, examine: usize) -> StoreResult<RecentDeliveries> {
    let mut examined = 0;
    let mut reached = None;
    let mut rows = Vec::new();
    conn.prepare_cached(
        "SELECT endpoint_id, event_id, state, created_at, tenant FROM deliveries ORDER BY id DESC LIMIT ?1",
    )
    .and_then(|mut st| {
        let mut q = st.query(params![examine as i64])?;
        while let Some(r) = q.next()? {
            examined += 1;
            reached = Some(r.get(3)?);
            let tenant: Option<String> = r.get(4)?;
            if scope.tenant().is_some_and(|t| tenant.as_deref() != Some(t)) {
                continue;
            }
            let state: String = r.get(2)?;
            rows.push((r.get(0)?, r.get(1)?, state, r.get(3)?));
        }
        Ok(())
    })
    .map_err(backend)?;
    let rows = rows
        .into_iter()
        .map(|(endpoint_id, event_id, state, created_at)| {
            let state = DeliveryState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery state {state}")))?;
            Ok(RecentDelivery {
                endpoint_id,
                event_id,
                state,
                created_at,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(RecentDeliveries {
        examined,
        reached,
        rows,
    })
}

/// Pending and in-flight deliveries the scope sees, each state counted up to `cap`.
pub fn queued_count(conn: &Connection, scope: &Scope, cap: usize) -> StoreResult<u64> {
    let mut total = 0;
    for sql in [
        "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE state = 'pending' \
         AND (?1 IS NULL OR tenant = ?1) LIMIT ?2)",
        "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE state = 'delivering' \
         AND (?1 IS NULL OR tenant = ?1) LIMIT ?2)",
    ] {
        let n: i64 = conn
            .prepare_cached(sql)
            .and_then(|mut st| st.query_row(params![scope.tenant(), cap as i64], |r| r.get(0)))
            .map_err(backend)?;
        total += n as u64;
    }
    Ok(total)
}

/// Retries (or counts) finished deliveries matching the filter, newest first.
pub fn retry_matching(
    conn: &Connection,
    scope: &Scope,
    filter: &DeliveryFilter,
    dry_run: bool,
    max: usize,
    now: Millis,
) -> StoreResult<usize> {
    let sql = format!(
        "SELECT d.id {MATCHING} AND ?11 IS NULL AND d.state NOT IN ({queued}) ORDER BY d.id DESC LIMIT ?12",
        queued = DeliveryState::sql_list(&DeliveryState::QUEUED)
    );
    let mut args = bind(scope, filter, None, max, None);
    args.pop();
    let ids: Vec<String> = conn
        .prepare_cached(&sql)
        .and_then(|mut st| st.query_map(params_from_iter(args), |r| r.get(0))?.collect())
        .map_err(backend)?;
    if dry_run {
        return Ok(ids.len());
    }
    let mut retried = 0;
    for id in ids {
        if let crate::store::RetryOutcome::Queued(_) = super::recovery::retry(conn, scope, &id, now)? {
            retried += 1;
        }
    }
    Ok(retried)
}

pub fn stats(conn: &Connection, scope: &Scope, since: Millis) -> StoreResult<DeliveryStats> {
    let rows: Vec<(String, String, i64)> = conn
        .prepare_cached(
            "SELECT endpoint_id, state, count(*) FROM deliveries \
             WHERE (?1 IS NULL OR tenant = ?1) AND created_at >= ?2 GROUP BY endpoint_id, state",
        )
        .and_then(|mut st| {
            st.query_map(params![scope.tenant(), since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .map_err(backend)?;
    let events: i64 = conn
        .prepare_cached("SELECT count(*) FROM events WHERE (?1 IS NULL OR tenant = ?1) AND created_at >= ?2")
        .and_then(|mut st| st.query_row(params![scope.tenant(), since], |r| r.get(0)))
        .map_err(backend)?;
    let by_endpoint = rows
        .into_iter()
        .map(|(ep, state, n)| {
            let state = DeliveryState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery state {state}")))?;
            Ok((ep, state, n as u64))
        })
        .collect::<StoreResult<_>>()?;
    Ok(DeliveryStats {
        events: events as u64,
        by_endpoint,
    })
}

/// Stores an event owed to one endpoint only; `None` when the endpoint is not visible.
pub fn publish_to(conn: &Connection, ev: NewEvent, endpoint_id: &str) -> StoreResult<Option<PublishSummary>> {
    let scope = ev.tenant.clone().map_or(Scope::Admin, Scope::Tenant);
    let Some(ep) = super::endpoints::get(conn, &scope, endpoint_id)? else {
        return Ok(None);
    };
    events::insert_event(conn, &ev, 1)?;
    let target = Subscriber::of(&ep);
    let owed = NewDeliveries {
        event_id: &ev.id,
        tenant: ev.tenant.as_deref(),
        now: ev.created_at,
        keys: ev.key_source(),
    };
    owed.insert(conn, &[target], DeliveryState::Pending)?;
    Ok(Some(PublishSummary {
        id: ev.id,
        event_type: ev.event_type,
        deliveries: 1,
    }))
}
