//! Time partitions of `events`, `deliveries` and `attempts` (schema migration 12). The three
//! tables are partitioned by id, and an id begins with the time it was made at, so one span
//! of time is one partition in each table. herald makes spans ahead (`make_part`, table by
//! table, then `record`) and, once a span is past retention and owes nothing, drops its
//! three partitions whole (`drop_settled`) instead of deleting their rows one by one.
//!
//! Each step is one transaction under an advisory lock, so nodes never race on it.
//! Statements that name a partition are not kept prepared (`query_planned`): partitions come
//! and go, their statements would pile up in every pooled connection's cache.
//! Dropping locks the three tables for a few milliseconds; it waits at most [`LOCK_WAIT`] for
//! that, shorter than PostgreSQL's deadlock timeout (1 s), so when it meets a claim or a
//! publish that locks the tables in another order, it is the drop that gives up (and tries
//! again on the next sweep), never the delivery work.

use tokio_postgres::error::SqlState;

use super::db::{exec, get, pg, query, query_opt, query_planned, Tx};
use crate::domain::{id_floor, Millis};
use crate::store::StoreResult;

/// Key of the advisory lock that serializes partition upkeep ("herald" + 1).
const LOCK: i64 = 0x6865_7261_6c65;

/// How long a drop waits for its locks.
const LOCK_WAIT: &str = "500ms";

/// The partitioned tables and the prefix of their ids.
const TABLES: [(&str, &str); 3] = [("events", "evt"), ("deliveries", "dlv"), ("attempts", "atm")];

/// One span of time: `[starts, ends)` in unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub starts: Millis,
    pub ends: Millis,
}

impl Span {
    /// The span's partition of `table`.
    pub fn table(&self, table: &str) -> String {
        format!("{table}_p{}", self.starts)
    }

    /// The default partition of `table`: what no span holds.
    pub fn default_table(table: &str) -> String {
        format!("{table}_default")
    }

    /// The span's ids with `prefix`: from the first inclusive to the second exclusive.
    fn ids(&self, prefix: &str) -> (String, String) {
        (id_floor(prefix, self.starts), id_floor(prefix, self.ends))
    }
}

async fn serialize(tx: &Tx<'_>) -> StoreResult<()> {
    exec(tx, "SELECT pg_advisory_xact_lock($1)", &[&LOCK]).await?;
    Ok(())
}

/// Whether a span overlaps one made before (then it is not made).
pub async fn overlaps(tx: &Tx<'_>, span: Span) -> StoreResult<bool> {
    let overlap = query_opt(
        tx,
        "SELECT 1 FROM time_partitions WHERE starts < $2 AND ends > $1",
        &[&span.starts, &span.ends],
    )
    .await?;
    Ok(overlap.is_some())
}

/// Makes the span's partition of one table, unless it is there already (an earlier try
/// made some tables' before it was interrupted). One table per transaction, so it waits
/// for one lock at a time and can never be part of a deadlock.
pub async fn make_part(tx: &Tx<'_>, span: Span, (table, prefix): (&str, &str)) -> StoreResult<Step> {
    serialize(tx).await?;
    let part = span.table(table);
    if query_opt(tx, "SELECT 1 WHERE to_regclass($1) IS NOT NULL", &[&part])
        .await?
        .is_some()
    {
        return Ok(Step::Done);
    }
    let (from, to) = span.ids(prefix);
    // Made apart and then attached, so the parent is never locked against writes
    // (ATTACH takes a weaker lock than CREATE TABLE … PARTITION OF).
    let ddl = format!(
        "SET LOCAL lock_timeout = '{LOCK_WAIT}'; \
         CREATE TABLE {part} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS); \
         ALTER TABLE {table} ATTACH PARTITION {part} FOR VALUES FROM ('{from}') TO ('{to}');"
    );
    ddl_step(tx.batch_execute(&ddl).await)
}

/// Records a span whose three partitions are made.
pub async fn record(tx: &Tx<'_>, span: Span) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO time_partitions (starts, ends) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&span.starts, &span.ends],
    )
    .await?;
    Ok(())
}

/// The tables partitioned by time, with the prefix of their ids.
pub fn tables() -> [(&'static str, &'static str); 3] {
    TABLES
}

/// How a step that needs a table lock went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Done,
    /// It gave up waiting for a lock (see [`LOCK_WAIT`]); try again.
    Busy,
}

fn ddl_step(r: Result<(), tokio_postgres::Error>) -> StoreResult<Step> {
    match r {
        Ok(()) => Ok(Step::Done),
        Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => Ok(Step::Busy),
        Err(e) => Err(pg(e)),
    }
}

/// The spans that end at or before `cutoff`, oldest first.
pub async fn expired(tx: &Tx<'_>, cutoff: Millis) -> StoreResult<Vec<Span>> {
    query(
        tx,
        "SELECT starts, ends FROM time_partitions WHERE ends <= $1 ORDER BY starts",
        &[&cutoff],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Span {
            starts: get(r, 0)?,
            ends: get(r, 1)?,
        })
    })
    .collect()
}

/// Whether a delivery of the span, or one elsewhere to an event of the span (a replay), is
/// still owed. Both are read through partial or ranged indexes, never the span's rows:
/// this runs while the tables are locked.
async fn owes(tx: &Tx<'_>, span: Span, [d_from, d_to, e_from, e_to]: [&String; 4]) -> StoreResult<bool> {
    let part = span.table("deliveries");
    let in_span = query_planned(
        tx,
        &format!(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM {part} WHERE state = 'pending') \
             OR EXISTS (SELECT 1 FROM {part} WHERE state = 'delivering')"
        ),
        &[],
    )
    .await?;
    if !in_span.is_empty() {
        return Ok(true);
    }
    let elsewhere = query_opt(
        tx,
        "SELECT 1 FROM deliveries WHERE (id < $1 OR id >= $2) AND event_id >= $3 AND event_id < $4 \
         AND state IN ('pending', 'delivering') LIMIT 1",
        &[d_from, d_to, e_from, e_to],
    )
    .await?;
    Ok(elsewhere.is_some())
}

/// What became of an expired span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Dropped,
    /// Kept: a delivery in it, or to one of its events, is still owed.
    Owed,
    /// Another node dropped it first.
    Gone,
    /// It gave up waiting for the tables' locks; try again.
    Busy,
}

/// Drops an expired span's partitions if nothing in it is owed, with what outlived them
/// elsewhere (later attempts of its deliveries, replayed deliveries of its events).
pub async fn drop_settled(tx: &Tx<'_>, span: Span) -> StoreResult<Expiry> {
    serialize(tx).await?;
    let still_there = query_opt(
        tx,
        "SELECT 1 FROM time_partitions WHERE starts = $1",
        &[&span.starts],
    )
    .await?;
    if still_there.is_none() {
        return Ok(Expiry::Gone);
    }
    let locked = ddl_step(
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{LOCK_WAIT}'; LOCK TABLE events, deliveries, attempts IN ACCESS EXCLUSIVE MODE;"
        ))
        .await,
    )?;
    if locked == Step::Busy {
        return Ok(Expiry::Busy);
    }
    let (d_from, d_to) = span.ids("dlv");
    let (e_from, e_to) = span.ids("evt");
    if owes(tx, span, [&d_from, &d_to, &e_from, &e_to]).await? {
        return Ok(Expiry::Owed);
    }
    tx.batch_execute(&format!(
        "DROP TABLE {}; DROP TABLE {};",
        span.table("attempts"),
        span.table("deliveries")
    ))
    .await
    .map_err(pg)?;
    exec(
        tx,
        "DELETE FROM attempts WHERE delivery_id >= $1 AND delivery_id < $2",
        &[&d_from, &d_to],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM attempts WHERE delivery_id IN \
         (SELECT id FROM deliveries WHERE event_id >= $1 AND event_id < $2)",
        &[&e_from, &e_to],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM deliveries WHERE event_id >= $1 AND event_id < $2",
        &[&e_from, &e_to],
    )
    .await?;
    exec(
        tx,
        "DELETE FROM idempotency_keys WHERE event_id >= $1 AND event_id < $2",
        &[&e_from, &e_to],
    )
    .await?;
    tx.batch_execute(&format!("DROP TABLE {};", span.table("events")))
        .await
        .map_err(pg)?;
    exec(
        tx,
        "DELETE FROM time_partitions WHERE starts = $1",
        &[&span.starts],
    )
    .await?;
    Ok(Expiry::Dropped)
}
