//! Inbound source queries: sources, the request log, and the accept transaction.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::events;
use super::rows::to_json;
use super::writer::backend;
use crate::domain::source::{Source, SourcePatch};
use crate::domain::{Millis, Page, PublishOutcome, Scope};
use crate::store::{InboundEvent, IngestOutcome, RequestRecord, StoreError, StoreResult};

const SOURCE_COLUMNS: &str = "id, tenant, name, spec, created_at, updated_at";
const REQUEST_COLUMNS: &str =
    "id, source_id, tenant, received_at, outcome, status, reason, event_id, remote_ip, headers, body, body_size";

/// A source row with its spec still as JSON text.
type RawSource = (String, Option<String>, String, String, Millis, Millis);

fn source_row(r: &Row<'_>) -> rusqlite::Result<RawSource> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_source((id, tenant, name, spec, created_at, updated_at): RawSource) -> StoreResult<Source> {
    let spec = serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("source spec: {e}")))?;
    Ok(Source {
        id,
        tenant,
        name,
        spec,
        created_at,
        updated_at,
    })
}

pub fn insert(conn: &Connection, s: &Source) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO sources (id, tenant, name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| st.execute(params![s.id, s.tenant, s.name, to_json(&s.spec), s.created_at, s.updated_at]))
    .map_err(backend)?;
    Ok(())
}

/// A source visible in `scope`; `Scope::Admin` sees every source (the receiver uses it).
pub fn get(conn: &Connection, scope: &Scope, id: &str) -> StoreResult<Option<Source>> {
    let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row(params![id, scope.tenant()], source_row).optional())
        .map_err(backend)?
        .map(to_source)
        .transpose()
}

pub fn list(
    conn: &Connection,
    scope: &Scope,
    cursor: Option<&str>,
    limit: usize,
) -> StoreResult<Page<Source>> {
    let sql = format!(
        "SELECT {SOURCE_COLUMNS} FROM sources WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR id > ?2) \
         ORDER BY id LIMIT ?3"
    );
    let rows: Vec<RawSource> = conn
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params![scope.tenant(), cursor, (limit + 1) as i64], source_row)?
                .collect()
        })
        .map_err(backend)?;
    let items = rows.into_iter().map(to_source).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |s| s.id.clone()))
}

pub fn update(
    conn: &Connection,
    scope: &Scope,
    id: &str,
    patch: SourcePatch,
    now: Millis,
) -> StoreResult<Option<Source>> {
    let Some(mut s) = get(conn, scope, id)? else {
        return Ok(None);
    };
    patch.apply(&mut s, now);
    conn.prepare_cached("UPDATE sources SET name = ?2, spec = ?3, updated_at = ?4 WHERE id = ?1")
        .and_then(|mut st| st.execute(params![s.id, s.name, to_json(&s.spec), s.updated_at]))
        .map_err(backend)?;
    Ok(Some(s))
}

pub fn delete(conn: &Connection, scope: &Scope, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM sources WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)")
        .and_then(|mut st| st.execute(params![id, scope.tenant()]))
        .map_err(backend)?;
    if n > 0 {
        conn.prepare_cached("DELETE FROM inbound_dedup WHERE source_id = ?1")
            .and_then(|mut st| st.execute(params![id]))
            .map_err(backend)?;
    }
    Ok(n > 0)
}

pub fn record_request(conn: &Connection, r: &RequestRecord) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO inbound_requests ({REQUEST_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.execute(params![
                r.id,
                r.source_id,
                r.tenant,
                r.received_at,
                r.outcome,
                r.status,
                r.reason,
                r.event_id,
                r.remote_ip,
                r.headers,
                r.body,
                r.body_size as i64
            ])
        })
        .map_err(backend)?;
    Ok(())
}

fn request_row(r: &Row<'_>) -> rusqlite::Result<RequestRecord> {
    Ok(RequestRecord {
        id: r.get(0)?,
        source_id: r.get(1)?,
        tenant: r.get(2)?,
        received_at: r.get(3)?,
        outcome: r.get(4)?,
        status: r.get(5)?,
        reason: r.get(6)?,
        event_id: r.get(7)?,
        remote_ip: r.get(8)?,
        headers: r.get(9)?,
        body: r.get(10)?,
        body_size: r.get::<_, i64>(11)? as u64,
    })
}

/// Newest first; `None` when the source is not visible.
pub fn requests(
    conn: &Connection,
    scope: &Scope,
    source_id: &str,
    cursor: Option<&str>,
    limit: usize,
) -> StoreResult<Option<Page<RequestRecord>>> {
    if get(conn, scope, source_id)?.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM inbound_requests WHERE source_id = ?1 AND (?2 IS NULL OR id < ?2) \
         ORDER BY id DESC LIMIT ?3"
    );
    let items: Vec<RequestRecord> = conn
        .prepare_cached(&sql)
        .and_then(|mut st| {
            st.query_map(params![source_id, cursor, (limit + 1) as i64], request_row)?
                .collect()
        })
        .map_err(backend)?;
    Ok(Some(Page::from_overfetch(items, limit, |r| r.id.clone())))
}

/// Stores an accepted inbound request: de-duplication, the event and its deliveries, and
/// the request log entry, in one transaction.
pub fn ingest(conn: &Connection, inbound: InboundEvent) -> StoreResult<IngestOutcome> {
    let InboundEvent {
        event,
        dedupe,
        mut request,
    } = inbound;
    let now = event.created_at;
    if let Some((key, window_ms)) = &dedupe {
        let seen: Option<(String, Millis)> = conn
            .prepare_cached("SELECT event_id, seen_at FROM inbound_dedup WHERE source_id = ?1 AND key = ?2")
            .and_then(|mut st| {
                st.query_row(params![request.source_id, key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(backend)?;
        if let Some((first, _)) = seen.filter(|(_, at)| *at >= now - window_ms) {
            request.outcome = "duplicate".into();
            request.event_id = Some(first.clone());
            request.reason = Some(format!("duplicate of {first} inside the de-duplication window"));
            record_request(conn, &request)?;
            return Ok(IngestOutcome::Duplicate(first));
        }
    }
    let summary = match events::publish(conn, event)? {
        PublishOutcome::Created(s) | PublishOutcome::Repeated(s) => s,
        PublishOutcome::KeyConflict => return Err(StoreError::Corrupt("inbound event id collided".into())),
    };
    if let Some((key, _)) = &dedupe {
        conn.prepare_cached(
            "INSERT INTO inbound_dedup (source_id, key, event_id, seen_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (source_id, key) DO UPDATE SET event_id = excluded.event_id, seen_at = excluded.seen_at",
        )
        .and_then(|mut st| st.execute(params![request.source_id, key, summary.id, now]))
        .map_err(backend)?;
    }
    request.event_id = Some(summary.id.clone());
    record_request(conn, &request)?;
    Ok(IngestOutcome::Accepted(summary))
}
