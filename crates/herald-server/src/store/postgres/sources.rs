//! Inbound source queries: sources, the request log, and the accept transaction.

use tokio_postgres::Row;

use super::db::{exec, get, query, query_opt, to_json, Tx};
use super::events;
use crate::domain::source::{Source, SourcePatch};
use crate::domain::{Millis, Page, PublishOutcome, Scope};
use crate::store::{InboundEvent, IngestOutcome, RequestRecord, StoreError, StoreResult};

const SOURCE_COLUMNS: &str = "id, tenant, name, spec, created_at, updated_at";
const REQUEST_COLUMNS: &str =
    "id, source_id, tenant, received_at, outcome, status, reason, event_id, remote_ip, headers, body, body_size";

fn source(r: &Row) -> StoreResult<Source> {
    let spec: String = get(r, 3)?;
    Ok(Source {
        id: get(r, 0)?,
        tenant: get(r, 1)?,
        name: get(r, 2)?,
        spec: serde_json::from_str(&spec).map_err(|e| StoreError::Corrupt(format!("source spec: {e}")))?,
        created_at: get(r, 4)?,
        updated_at: get(r, 5)?,
    })
}

pub async fn insert(tx: &Tx<'_>, s: &Source) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO sources (id, tenant, name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&s.id, &s.tenant, &s.name, &to_json(&s.spec), &s.created_at, &s.updated_at],
    )
    .await?;
    Ok(())
}

/// A source visible in `scope`; `Scope::Admin` sees every source (the receiver uses it).
pub async fn get_visible(tx: &Tx<'_>, scope: &Scope, id: &str) -> StoreResult<Option<Source>> {
    let sql =
        format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE id = $1 AND ($2::TEXT IS NULL OR tenant = $2)");
    query_opt(tx, &sql, &[&id, &scope.tenant()])
        .await?
        .as_ref()
        .map(source)
        .transpose()
}

pub async fn list(
    tx: &Tx<'_>,
    scope: &Scope,
    cursor: Option<&str>,
    limit: usize,
) -> StoreResult<Page<Source>> {
    let sql = format!(
        "SELECT {SOURCE_COLUMNS} FROM sources WHERE ($1::TEXT IS NULL OR tenant = $1) \
         AND ($2::TEXT IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );
    let rows = query(tx, &sql, &[&scope.tenant(), &cursor, &((limit + 1) as i64)]).await?;
    let items = rows.iter().map(source).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |s| s.id.clone()))
}

pub async fn update(
    tx: &Tx<'_>,
    scope: &Scope,
    id: &str,
    patch: SourcePatch,
    now: Millis,
) -> StoreResult<Option<Source>> {
    let Some(mut s) = get_visible(tx, scope, id).await? else {
        return Ok(None);
    };
    patch.apply(&mut s, now);
    exec(
        tx,
        "UPDATE sources SET name = $2, spec = $3, updated_at = $4 WHERE id = $1",
        &[&s.id, &s.name, &to_json(&s.spec), &s.updated_at],
    )
    .await?;
    Ok(Some(s))
}

pub async fn delete(tx: &Tx<'_>, scope: &Scope, id: &str) -> StoreResult<bool> {
    let n = exec(
        tx,
        "DELETE FROM sources WHERE id = $1 AND ($2::TEXT IS NULL OR tenant = $2)",
        &[&id, &scope.tenant()],
    )
    .await?;
    if n > 0 {
        exec(tx, "DELETE FROM inbound_dedup WHERE source_id = $1", &[&id]).await?;
    }
    Ok(n > 0)
}

pub async fn record_request(tx: &Tx<'_>, r: &RequestRecord) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO inbound_requests ({REQUEST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    exec(
        tx,
        &sql,
        &[
            &r.id,
            &r.source_id,
            &r.tenant,
            &r.received_at,
            &r.outcome,
            &i64::from(r.status),
            &r.reason,
            &r.event_id,
            &r.remote_ip,
            &r.headers,
            &r.body,
            &(r.body_size as i64),
        ],
    )
    .await?;
    Ok(())
}

fn request(r: &Row) -> StoreResult<RequestRecord> {
    Ok(RequestRecord {
        id: get(r, 0)?,
        source_id: get(r, 1)?,
        tenant: get(r, 2)?,
        received_at: get(r, 3)?,
        outcome: get(r, 4)?,
        status: get::<i64>(r, 5)? as u16,
        reason: get(r, 6)?,
        event_id: get(r, 7)?,
        remote_ip: get(r, 8)?,
        headers: get(r, 9)?,
        body: get(r, 10)?,
        body_size: get::<i64>(r, 11)? as u64,
    })
}

/// Newest first; `None` when the source is not visible.
pub async fn requests(
    tx: &Tx<'_>,
    scope: &Scope,
    source_id: &str,
    cursor: Option<&str>,
    limit: usize,
) -> StoreResult<Option<Page<RequestRecord>>> {
    if get_visible(tx, scope, source_id).await?.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM inbound_requests WHERE source_id = $1 AND ($2::TEXT IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    );
    let rows = query(tx, &sql, &[&source_id, &cursor, &((limit + 1) as i64)]).await?;
    let items = rows.iter().map(request).collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(Page::from_overfetch(items, limit, |r| r.id.clone())))
}

/// Stores an accepted inbound request: de-duplication, the event and its deliveries, and
/// the request log entry, in one transaction. The de-duplication key is taken first with
/// an upsert, so two nodes receiving the same delivery at once agree on one event: the
/// second waits for the first's row and sees it inside the window.
pub async fn ingest(tx: &Tx<'_>, inbound: InboundEvent) -> StoreResult<IngestOutcome> {
    let InboundEvent {
        event,
        dedupe,
        mut request,
    } = inbound;
    let now = event.created_at;
    if let Some((key, window_ms)) = &dedupe {
        let taken = query_opt(
            tx,
            "INSERT INTO inbound_dedup (source_id, key, event_id, seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (source_id, key) DO UPDATE SET event_id = excluded.event_id, seen_at = excluded.seen_at \
             WHERE inbound_dedup.seen_at < $5 RETURNING event_id",
            &[&request.source_id, key, &event.id, &now, &(now - window_ms)],
        )
        .await?;
        if taken.is_none() {
            let first: String = get(
                &query(
                    tx,
                    "SELECT event_id FROM inbound_dedup WHERE source_id = $1 AND key = $2",
                    &[&request.source_id, key],
                )
                .await?[0],
                0,
            )?;
            request.outcome = "duplicate".into();
            request.event_id = Some(first.clone());
            request.reason = Some(format!("duplicate of {first} inside the de-duplication window"));
            record_request(tx, &request).await?;
            return Ok(IngestOutcome::Duplicate(first));
        }
    }
    let summary = match events::publish(tx, event).await? {
        PublishOutcome::Created(s) | PublishOutcome::Repeated(s) => s,
        PublishOutcome::KeyConflict => return Err(StoreError::Corrupt("inbound event id collided".into())),
    };
    request.event_id = Some(summary.id.clone());
    record_request(tx, &request).await?;
    Ok(IngestOutcome::Accepted(summary))
}
