//! Event types and their schemas.

use tokio_postgres::Row;

use super::db::{exec, get, query, query_opt, Tx};
use crate::domain::{EventType, EventTypePatch, Millis};
use crate::store::StoreResult;

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
