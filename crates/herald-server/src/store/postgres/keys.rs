//! API keys: stored as hashes only.

use tokio_postgres::Row;

use super::db::{exec, get, query, query_opt, Tx};
use crate::domain::Millis;
use crate::store::{ApiKey, ConsoleSession, StoreResult};

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

/// Stores a console session; those that expired before it began go.
pub async fn create_session(tx: &Tx<'_>, s: &ConsoleSession) -> StoreResult<()> {
    exec(
        tx,
        "DELETE FROM console_sessions WHERE expires_at < $1",
        &[&s.created_at],
    )
    .await?;
    exec(
        tx,
        "INSERT INTO console_sessions (id_hash, key_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[&s.id_hash, &s.key_hash, &s.csrf, &s.created_at, &s.expires_at],
    )
    .await?;
    Ok(())
}

pub async fn find_session(tx: &Tx<'_>, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
    let row = query_opt(
        tx,
        "SELECT id_hash, key_hash, csrf, created_at, expires_at FROM console_sessions WHERE id_hash = $1",
        &[&id_hash],
    )
    .await?;
    row.map(|r| {
        Ok(ConsoleSession {
            id_hash: get(&r, 0)?,
            key_hash: get(&r, 1)?,
            csrf: get(&r, 2)?,
            created_at: get(&r, 3)?,
            expires_at: get(&r, 4)?,
        })
    })
    .transpose()
}

pub async fn delete_session(tx: &Tx<'_>, id_hash: &str) -> StoreResult<()> {
    exec(tx, "DELETE FROM console_sessions WHERE id_hash = $1", &[&id_hash]).await?;
    Ok(())
}
