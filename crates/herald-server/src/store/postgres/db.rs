//! Small helpers over a pooled transaction, and the mapping between rows and domain types.

use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

use crate::domain::ordering::KeyPosition;
use crate::domain::{Attempt, Delivery, DeliveryState, Endpoint, Event, SignatureScheme};
use crate::store::{StoreError, StoreResult};

pub type Tx<'a> = deadpool_postgres::Transaction<'a>;
pub type Param<'a> = &'a (dyn ToSql + Sync);

/// A database error with its causes spelled out (tokio-postgres shows only the outermost,
/// e.g. "error performing TLS handshake" without saying the certificate was refused).
pub fn pg(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    StoreError::Backend(message.into())
}

pub async fn query(tx: &Tx<'_>, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
    let st = tx.prepare_cached(sql).await.map_err(pg)?;
    tx.query(&st, params).await.map_err(pg)
}

/// Like [`query`], planned for these parameters on every call: for a statement whose
/// filters are optional (`$n IS NULL OR …`), where a cached statement soon gets the
/// generic plan, which cannot tell an absent filter from a present one and, measured at
/// 1,000,000 deliveries, joined the whole table (200-300 ms; planned per call, 2-30 ms).
pub async fn query_planned(tx: &Tx<'_>, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
    tx.query(sql, params).await.map_err(pg)
}

/// Like [`exec`], planned for these parameters on every call (see [`query_planned`]).
pub async fn exec_planned(tx: &Tx<'_>, sql: &str, params: &[Param<'_>]) -> StoreResult<u64> {
    tx.execute(sql, params).await.map_err(pg)
}

/// Plans for a transaction on the queue's hot path (publish group, attempt records, the
/// loads after a claim), whose every statement from here on reaches a bounded set of rows
/// by key (a batch's ids). Each statement is planned once per connection and its plan kept
/// (`force_generic_plan`: measured, planning those statements per call was 0.29 ms of
/// PostgreSQL's CPU per delivery, more than half of it; the plan cache kept choosing custom
/// plans because a generic plan's guess at an array's length costs more than the real one).
/// A kept plan must suit every table size, so the planner is told to reach rows by index:
/// a plan made while a table was nearly empty would otherwise be a sequential scan and a
/// hash join, kept as the table grows (measured: the recorder's update read 1,100 pages
/// per batch of 20 that way). A scan left without an index then costs ~10^10, so JIT
/// compilation, which such a cost would set off (measured: 127 ms for a one-row table), is
/// off.
///
/// Sent as one simple query, so it goes out before any statement of the transaction that
/// is sent after it, prepared or not.
pub async fn plan_by_key(tx: &Tx<'_>) -> StoreResult<()> {
    tx.batch_execute(
        "SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off; \
         SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off",
    )
    .await
    .map_err(pg)
}

pub async fn query_opt(tx: &Tx<'_>, sql: &str, params: &[Param<'_>]) -> StoreResult<Option<Row>> {
    let st = tx.prepare_cached(sql).await.map_err(pg)?;
    tx.query_opt(&st, params).await.map_err(pg)
}

pub async fn exec(tx: &Tx<'_>, sql: &str, params: &[Param<'_>]) -> StoreResult<u64> {
    let st = tx.prepare_cached(sql).await.map_err(pg)?;
    tx.execute(&st, params).await.map_err(pg)
}

/// The smallest and largest of a batch's ids: said in a statement planned per call, they let
/// PostgreSQL leave out the time partitions the batch has nothing in (ids carry time).
pub fn id_bounds<'a>(ids: impl IntoIterator<Item = &'a str>) -> (&'a str, &'a str) {
    let mut ids = ids.into_iter();
    let first = ids.next().unwrap_or("");
    ids.fold((first, first), |(lo, hi), id| (lo.min(id), hi.max(id)))
}

/// Wakes every node's workers and pull consumers once this transaction commits.
pub async fn notify(tx: &Tx<'_>) -> StoreResult<()> {
    exec(tx, "SELECT pg_notify('herald_wake', '')", &[])
        .await
        .map(|_| ())
}

/// Column `i` of a row, as `T`.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> StoreResult<T> {
    row.try_get(i).map_err(pg)
}

fn json<T: serde::de::DeserializeOwned>(row: &Row, i: usize, what: &str) -> StoreResult<T> {
    let text: String = get(row, i)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub const ENDPOINT_COLUMNS: &str = "id, tenant, url, description, event_types, headers, signature, \
     secrets, timeout_ms, max_in_flight, rate_limit_per_s, disabled, disabled_reason, created_at, updated_at, \
     retry_schedule, circuit_after, paused_until, consecutive_failures, circuit_wait_ms, circuit_until, ordering, destination";

pub const EVENT_COLUMNS: &str =
    "id, type, tenant, payload, content_type, deliveries, created_at, seq, source_id, headers, ordering_key";

pub const DELIVERY_COLUMNS: &str = "id, event_id, endpoint_id, state, attempts, next_attempt_at, \
     last_attempt_at, last_status, last_error, created_at, updated_at, ordering_key, sequence";

pub const ATTEMPT_COLUMNS: &str =
    "id, delivery_id, attempted_at, status_code, duration_ms, error, response_body";

/// [`EVENT_COLUMNS`] qualified with a table alias.
pub fn event_columns_of(alias: &str) -> String {
    EVENT_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn endpoint(row: &Row) -> StoreResult<Endpoint> {
    let signature: String = get(row, 6)?;
    Ok(Endpoint {
        id: get(row, 0)?,
        tenant: get(row, 1)?,
        url: get(row, 2)?,
        description: get(row, 3)?,
        event_types: json(row, 4, "event_types")?,
        headers: json(row, 5, "headers")?,
        signature: SignatureScheme::parse(&signature)
            .ok_or_else(|| StoreError::Corrupt(format!("signature: {signature}")))?,
        secrets: json(row, 7, "secrets")?,
        timeout_ms: get::<i64>(row, 8)? as u64,
        max_in_flight: get::<i64>(row, 9)? as u32,
        rate_limit_per_s: get::<Option<i64>>(row, 10)?.map(|v| v as u32),
        disabled: get(row, 11)?,
        disabled_reason: get(row, 12)?,
        created_at: get(row, 13)?,
        updated_at: get(row, 14)?,
        retry_schedule: get(row, 15)?,
        circuit_after: get::<i32>(row, 16)? as u32,
        paused_until: get(row, 17)?,
        breaker: crate::domain::breaker::Breaker {
            consecutive_failures: get::<i32>(row, 18)? as u32,
            open: crate::domain::breaker::Open::from_columns(get(row, 19)?, get(row, 20)?),
        },
        ordering: get::<Option<String>>(row, 21)?
            .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("ordering: {e}"))))
            .transpose()?,
        destination: get::<Option<String>>(row, 22)?
            .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("destination: {e}"))))
            .transpose()?,
    })
}

/// An event whose [`EVENT_COLUMNS`] start at column `at`.
pub fn event_at(row: &Row, at: usize) -> StoreResult<Event> {
    Ok(Event {
        id: get(row, at)?,
        event_type: get(row, at + 1)?,
        tenant: get(row, at + 2)?,
        payload: get(row, at + 3)?,
        content_type: get(row, at + 4)?,
        deliveries: get::<i64>(row, at + 5)? as u32,
        created_at: get(row, at + 6)?,
        seq: get(row, at + 7)?,
        source_id: get(row, at + 8)?,
        headers: get(row, at + 9)?,
        ordering_key: get(row, at + 10)?,
    })
}

pub fn event(row: &Row) -> StoreResult<Event> {
    event_at(row, 0)
}

pub fn delivery(row: &Row) -> StoreResult<Delivery> {
    let state: String = get(row, 3)?;
    Ok(Delivery {
        id: get(row, 0)?,
        event_id: get(row, 1)?,
        endpoint_id: get(row, 2)?,
        state: DeliveryState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("state: {state}")))?,
        attempts: get::<i64>(row, 4)? as u32,
        next_attempt_at: get(row, 5)?,
        last_attempt_at: get(row, 6)?,
        last_status: get::<Option<i64>>(row, 7)?.map(|v| v as u16),
        last_error: get(row, 8)?,
        created_at: get(row, 9)?,
        updated_at: get(row, 10)?,
        ordering: KeyPosition::from_columns(get(row, 11)?, get(row, 12)?),
    })
}

pub fn attempt(row: &Row) -> StoreResult<Attempt> {
    Ok(Attempt {
        id: get(row, 0)?,
        delivery_id: get(row, 1)?,
        attempted_at: get(row, 2)?,
        status_code: get::<Option<i64>>(row, 3)?.map(|v| v as u16),
        duration_ms: get::<i64>(row, 4)? as u64,
        error: get(row, 5)?,
        response_body: get(row, 6)?,
    })
}

/// Maps every row with `f`.
pub fn all<T>(rows: &[Row], f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

/// Serializes a value for a JSON text column.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}
