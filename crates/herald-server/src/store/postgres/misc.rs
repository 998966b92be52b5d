//! API keys (hashes only), event types, and retention.

use tokio_postgres::Row;

use super::db::{exec, get, query, query_opt, Tx};
use crate::domain::{EventType, EventTypePatch, Millis};
use crate::store::{ApiKey, Purged, RateDecision, StoreResult};

fn key(r: &Row) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: get(r, 0)?,
        tenant: get(r, 1)?,
        created_at: get(r, 2)?,
        revoked_at: get(r, 3)?,
    })
}

pub async fn insert_key(
    tx: &Tx<'_>,
    id: &str,
    hash: &str,
    tenant: Option<&str>,
    now: Millis,
) -> StoreResult<()> {
    exec(
        tx,
        "INSERT INTO api_keys (id, hash, tenant, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
        &[&id, &hash, &tenant, &now],
    )
    .await?;
    Ok(())
}

pub async fn find_key(tx: &Tx<'_>, hash: &str) -> StoreResult<Option<ApiKey>> {
    query_opt(
        tx,
        "SELECT id, tenant, created_at, revoked_at FROM api_keys WHERE hash = $1 AND revoked_at IS NULL",
        &[&hash],
    )
    .await?
    .as_ref()
    .map(key)
    .transpose()
}

pub async fn list_keys(tx: &Tx<'_>, tenant: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    query(
        tx,
        "SELECT id, tenant, created_at, revoked_at FROM api_keys WHERE ($1::TEXT IS NULL OR tenant = $1) ORDER BY id",
        &[&tenant],
    )
    .await?
    .iter()
    .map(key)
    .collect()
}

pub async fn revoke_key(tx: &Tx<'_>, id: &str, now: Millis) -> StoreResult<bool> {
    exec(
        tx,
        "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&id, &now],
    )
    .await
    .map(|n| n > 0)
}

/// Nodes starting together on an empty database would each see no admin key under READ
/// COMMITTED; a transaction-scoped advisory lock makes the check and the insert one step.
pub async fn insert_first_admin_key(tx: &Tx<'_>, id: &str, hash: &str, now: Millis) -> StoreResult<bool> {
    exec(
        tx,
        "SELECT pg_advisory_xact_lock(hashtext('herald.first_admin_key'))",
        &[],
    )
    .await?;
    exec(
        tx,
        "INSERT INTO api_keys (id, hash, tenant, created_at) SELECT $1, $2, NULL, $3 \
         WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE tenant IS NULL AND revoked_at IS NULL)",
        &[&id, &hash, &now],
    )
    .await
    .map(|n| n > 0)
}

const TYPE_COLUMNS: &str = "name, description, schema, archived, created_at, updated_at";

fn event_type(r: &Row) -> StoreResult<EventType> {
    Ok(EventType {
        name: get(r, 0)?,
        description: get(r, 1)?,
        schema: get(r, 2)?,
        archived: get(r, 3)?,
        created_at: get(r, 4)?,
        updated_at: get(r, 5)?,
    })
}

/// False when the name is taken.
pub async fn insert_type(tx: &Tx<'_>, t: &EventType) -> StoreResult<bool> {
    let sql = format!(
        "INSERT INTO event_types ({TYPE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING"
    );
    exec(
        tx,
        &sql,
        &[
            &t.name,
            &t.description,
            &t.schema,
            &t.archived,
            &t.created_at,
            &t.updated_at,
        ],
    )
    .await
    .map(|n| n == 1)
}

pub async fn get_type(tx: &Tx<'_>, name: &str) -> StoreResult<Option<EventType>> {
    let sql = format!("SELECT {TYPE_COLUMNS} FROM event_types WHERE name = $1");
    query_opt(tx, &sql, &[&name])
        .await?
        .as_ref()
        .map(event_type)
        .transpose()
}

pub async fn list_types(tx: &Tx<'_>, include_archived: bool) -> StoreResult<Vec<EventType>> {
    let sql = format!("SELECT {TYPE_COLUMNS} FROM event_types WHERE $1 OR NOT archived ORDER BY name");
    query(tx, &sql, &[&include_archived])
        .await?
        .iter()
        .map(event_type)
        .collect()
}

pub async fn update_type(
    tx: &Tx<'_>,
    name: &str,
    patch: EventTypePatch,
    now: Millis,
) -> StoreResult<Option<EventType>> {
    let sql = format!("SELECT {TYPE_COLUMNS} FROM event_types WHERE name = $1 FOR UPDATE");
    let Some(mut t) = query_opt(tx, &sql, &[&name])
        .await?
        .as_ref()
        .map(event_type)
        .transpose()?
    else {
        return Ok(None);
    };
    patch.apply(&mut t, now);
    exec(
        tx,
        "UPDATE event_types SET description = $2, schema = $3, archived = $4, updated_at = $5 WHERE name = $1",
        &[&t.name, &t.description, &t.schema, &t.archived, &t.updated_at],
    )
    .await?;
    Ok(Some(t))
}

/// Deletes up to `limit` of each kind of record older than `cutoff`; events only when
/// they owe nothing.
pub async fn purge(tx: &Tx<'_>, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
    let limit = limit as i64;
    let rows = query(
        tx,
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events e WHERE e.created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
             AND coalesce(d.tenant, '') = coalesce(e.tenant, '') AND d.state IN ('pending', 'delivering')) \
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, coalesce(tenant, '')",
        &[&cutoff, &limit],
    )
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| get(r, 0)).collect::<StoreResult<_>>()?;
    let tenants: Vec<String> = rows.iter().map(|r| get(r, 1)).collect::<StoreResult<_>>()?;
    let owned = "SELECT d.id FROM deliveries d JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS k(id, tenant) \
                 ON d.event_id = k.id AND coalesce(d.tenant, '') = k.tenant";
    let mut attempts = exec(
        tx,
        &format!("DELETE FROM attempts WHERE delivery_id IN ({owned})"),
        &[&ids, &tenants],
    )
    .await? as usize;
    exec(
        tx,
        &format!("DELETE FROM deliveries WHERE id IN ({owned})"),
        &[&ids, &tenants],
    )
    .await?;
    attempts += exec(
        tx,
        "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < $1 LIMIT $2)",
        &[&cutoff, &limit],
    )
    .await? as usize;
    let requests = exec(
        tx,
        "DELETE FROM inbound_requests WHERE id IN \
         (SELECT id FROM inbound_requests WHERE received_at < $1 LIMIT $2)",
        &[&cutoff, &limit],
    )
    .await? as usize;
    exec(
        tx,
        "DELETE FROM inbound_dedup WHERE (source_id, key) IN \
         (SELECT source_id, key FROM inbound_dedup WHERE seen_at < $1 LIMIT $2)",
        &[&cutoff, &limit],
    )
    .await?;
    Ok(Purged {
        events: ids.len(),
        attempts,
        requests,
    })
}

/// A GCRA bucket kept in `rate_limits`, decided by one statement, so every node draws on
/// the same allowance (times in microseconds).
pub struct Gcra {
    /// Time one request uses up.
    interval: i64,
    /// How far ahead of now the bucket may run (the burst).
    tolerance: i64,
}

impl Gcra {
    pub fn new(per_s: u32, burst: u32) -> Gcra {
        let interval = 1_000_000 / i64::from(per_s.max(1));
        Gcra {
            interval,
            tolerance: interval * i64::from(burst.max(1) - 1),
        }
    }

    pub async fn take(
        &self,
        client: &deadpool_postgres::Object,
        key: &str,
        now_us: i64,
    ) -> StoreResult<RateDecision> {
        let st = client
            .prepare_cached(
                "INSERT INTO rate_limits (key, tat) VALUES ($1::TEXT, $2::BIGINT + $3::BIGINT) \
                 ON CONFLICT (key) DO UPDATE SET tat = greatest(rate_limits.tat, $2::BIGINT) + $3::BIGINT \
                 WHERE greatest(rate_limits.tat, $2::BIGINT) - $2::BIGINT <= $4::BIGINT RETURNING tat",
            )
            .await
            .map_err(super::db::pg)?;
        let taken = client
            .query_opt(&st, &[&key, &now_us, &self.interval, &self.tolerance])
            .await
            .map_err(super::db::pg)?;
        if taken.is_some() {
            return Ok(RateDecision::Allow);
        }
        let row = client
            .query_opt("SELECT tat FROM rate_limits WHERE key = $1", &[&key])
            .await
            .map_err(super::db::pg)?;
        let tat: i64 = row.map(|r| get(&r, 0)).transpose()?.unwrap_or(now_us);
        let wait_us = (tat - now_us - self.tolerance).max(1);
        Ok(RateDecision::Deny {
            wait_ms: (wait_us + 999) / 1000,
        })
    }
}
