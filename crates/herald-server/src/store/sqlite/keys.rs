//! API key queries (only hashes are stored).

use rusqlite::{params, Connection, OptionalExtension};

use super::writer::backend;
use crate::domain::Millis;
use crate::store::{ApiKey, ConsoleSession, StoreResult};

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        tenant: r.get(1)?,
        created_at: r.get(2)?,
        revoked_at: r.get(3)?,
    })
}

pub fn insert(conn: &Connection, id: &str, hash: &str, tenant: Option<&str>, now: Millis) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, hash, tenant, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (hash) DO NOTHING",
    )
    .and_then(|mut st| st.execute(params![id, hash, tenant, now]))
    .map_err(backend)?;
    Ok(())
}

pub fn find(conn: &Connection, hash: &str) -> StoreResult<Option<ApiKey>> {
    conn.prepare_cached(
        "SELECT id, tenant, created_at, revoked_at FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL",
    )
    .and_then(|mut st| st.query_row(params![hash], key_row).optional())
    .map_err(backend)
}

pub fn list(conn: &Connection, tenant: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    conn.prepare_cached(
        "SELECT id, tenant, created_at, revoked_at FROM api_keys WHERE (?1 IS NULL OR tenant = ?1) ORDER BY id",
    )
    .and_then(|mut st| st.query_map(params![tenant], key_row)?.collect())
    .map_err(backend)
}

/// Revokes a key; false when there is no such live key.
pub fn revoke(conn: &Connection, id: &str, now: Millis) -> StoreResult<bool> {
    conn.prepare_cached("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
        .and_then(|mut st| st.execute(params![id, now]))
        .map(|n| n > 0)
        .map_err(backend)
}

/// One statement, run by the single writer: the check and the insert cannot interleave.
pub fn insert_first_admin(conn: &Connection, id: &str, hash: &str, now: Millis) -> StoreResult<bool> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, hash, tenant, created_at) SELECT ?1, ?2, NULL, ?3 \
         WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE tenant IS NULL AND revoked_at IS NULL)",
    )
    .and_then(|mut st| st.execute(params![id, hash, now]))
    .map(|n| n > 0)
    .map_err(backend)
}

/// Stores a console session; those that expired before it began go.
pub fn create_session(conn: &Connection, s: &ConsoleSession) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM console_sessions WHERE expires_at < ?1")
        .and_then(|mut st| st.execute(params![s.created_at]))
        .map_err(backend)?;
    conn.prepare_cached(
        "INSERT INTO console_sessions (id_hash, key_hash, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| st.execute(params![s.id_hash, s.key_hash, s.csrf, s.created_at, s.expires_at]))
    .map_err(backend)?;
    Ok(())
}

pub fn find_session(conn: &Connection, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
    conn.prepare_cached(
        "SELECT id_hash, key_hash, csrf, created_at, expires_at FROM console_sessions WHERE id_hash = ?1",
    )
    .and_then(|mut st| {
        st.query_row(params![id_hash], |r| {
            Ok(ConsoleSession {
                id_hash: r.get(0)?,
                key_hash: r.get(1)?,
                csrf: r.get(2)?,
                created_at: r.get(3)?,
                expires_at: r.get(4)?,
            })
        })
        .optional()
    })
    .map_err(backend)
}

pub fn delete_session(conn: &Connection, id_hash: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM console_sessions WHERE id_hash = ?1")
        .and_then(|mut st| st.execute(params![id_hash]))
        .map_err(backend)?;
    Ok(())
}
