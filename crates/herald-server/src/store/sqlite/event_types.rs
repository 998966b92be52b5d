//! Event type queries.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::writer::backend;
use crate::domain::{EventType, EventTypePatch, Millis};
use crate::store::StoreResult;

const COLUMNS: &str = "name, description, schema, archived, created_at, updated_at";

fn row(r: &Row<'_>) -> rusqlite::Result<EventType> {
    Ok(EventType {
        name: r.get(0)?,
        description: r.get(1)?,
        schema: r.get(2)?,
        archived: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

/// False when the name is taken.
pub fn insert(conn: &Connection, t: &EventType) -> StoreResult<bool> {
    let sql = format!(
        "INSERT INTO event_types ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut st| {
            st.execute(params![
                t.name,
                t.description,
                t.schema,
                t.archived,
                t.created_at,
                t.updated_at
            ])
        })
        .map(|n| n == 1)
        .map_err(backend)
}

pub fn get(conn: &Connection, name: &str) -> StoreResult<Option<EventType>> {
    let sql = format!("SELECT {COLUMNS} FROM event_types WHERE name = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row(params![name], row).optional())
        .map_err(backend)
}

pub fn list(conn: &Connection, include_archived: bool) -> StoreResult<Vec<EventType>> {
    let sql = format!("SELECT {COLUMNS} FROM event_types WHERE ?1 OR archived = 0 ORDER BY name");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_map(params![include_archived], row)?.collect())
        .map_err(backend)
}

pub fn update(
    conn: &Connection,
    name: &str,
    patch: EventTypePatch,
    now: Millis,
) -> StoreResult<Option<EventType>> {
    let Some(mut t) = get(conn, name)? else {
        return Ok(None);
    };
    patch.apply(&mut t, now);
    conn.prepare_cached("UPDATE event_types SET description = ?2, schema = ?3, archived = ?4, updated_at = ?5 WHERE name = ?1")
        .and_then(|mut st| st.execute(params![t.name, t.description, t.schema, t.archived, t.updated_at]))
        .map_err(backend)?;
    Ok(Some(t))
}
