//! Mapping between rows and domain types.

use rusqlite::Row;

use crate::domain::ordering::KeyPosition;
use crate::domain::{Attempt, Delivery, DeliveryState, Endpoint, Event, SignatureScheme};
use crate::store::StoreError;

pub const ENDPOINT_COLUMNS: &str = "id, tenant, url, description, event_types, headers, signature, \
     secrets, timeout_ms, max_in_flight, rate_limit_per_s, disabled, disabled_reason, created_at, updated_at, \
     retry_schedule, circuit_after, paused_until, consecutive_failures, circuit_wait_ms, circuit_until, ordering, destination";

pub const EVENT_COLUMNS: &str =
    "id, type, tenant, payload, content_type, deliveries, created_at, seq, source_id, headers, ordering_key";

pub const DELIVERY_COLUMNS: &str = "id, event_id, endpoint_id, state, attempts, next_attempt_at, \
     last_attempt_at, last_status, last_error, created_at, updated_at, ordering_key, sequence";

pub const ATTEMPT_COLUMNS: &str =
    "id, delivery_id, attempted_at, status_code, duration_ms, error, response_body";

fn corrupt(what: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(format!("{what}: {e}"))),
    )
}

fn json<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize, what: &str) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(what, e))
}

pub fn endpoint(row: &Row<'_>) -> rusqlite::Result<Endpoint> {
    let signature: String = row.get(6)?;
    Ok(Endpoint {
        id: row.get(0)?,
        tenant: row.get(1)?,
        url: row.get(2)?,
        description: row.get(3)?,
        event_types: json(row, 4, "event_types")?,
        headers: json(row, 5, "headers")?,
        signature: SignatureScheme::parse(&signature).ok_or_else(|| corrupt("signature", &signature))?,
        secrets: json(row, 7, "secrets")?,
        timeout_ms: row.get::<_, i64>(8)? as u64,
        max_in_flight: row.get::<_, i64>(9)? as u32,
        rate_limit_per_s: row.get::<_, Option<i64>>(10)?.map(|v| v as u32),
        disabled: row.get(11)?,
        disabled_reason: row.get(12)?,
        created_at: row.get(13)?,
        updated_at: row.get(14)?,
        retry_schedule: row.get(15)?,
        circuit_after: row.get::<_, i64>(16)? as u32,
        paused_until: row.get(17)?,
        breaker: crate::domain::breaker::Breaker {
            consecutive_failures: row.get::<_, i64>(18)? as u32,
            open: crate::domain::breaker::Open::from_columns(row.get(19)?, row.get(20)?),
        },
        ordering: row
            .get::<_, Option<String>>(21)?
            .map(|t| serde_json::from_str(&t).map_err(|e| corrupt("ordering", e)))
            .transpose()?,
        destination: row
            .get::<_, Option<String>>(22)?
            .map(|t| serde_json::from_str(&t).map_err(|e| corrupt("destination", e)))
            .transpose()?,
    })
}

pub fn event(row: &Row<'_>) -> rusqlite::Result<Event> {
    event_at(row, 0)
}

/// An event whose [`EVENT_COLUMNS`] start at column `at`.
pub fn event_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Event> {
    Ok(Event {
        id: row.get(at)?,
        event_type: row.get(at + 1)?,
        tenant: row.get(at + 2)?,
        payload: row.get(at + 3)?,
        content_type: row.get(at + 4)?,
        deliveries: row.get::<_, i64>(at + 5)? as u32,
        created_at: row.get(at + 6)?,
        seq: row.get(at + 7)?,
        source_id: row.get(at + 8)?,
        headers: row.get(at + 9)?,
        ordering_key: row.get(at + 10)?,
    })
}

pub fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let state: String = row.get(3)?;
    Ok(Delivery {
        id: row.get(0)?,
        event_id: row.get(1)?,
        endpoint_id: row.get(2)?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attempts: row.get::<_, i64>(4)? as u32,
        next_attempt_at: row.get(5)?,
        last_attempt_at: row.get(6)?,
        last_status: row.get::<_, Option<i64>>(7)?.map(|v| v as u16),
        last_error: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        ordering: KeyPosition::from_columns(row.get(11)?, row.get(12)?),
    })
}

pub fn attempt(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: row.get(0)?,
        delivery_id: row.get(1)?,
        attempted_at: row.get(2)?,
        status_code: row.get::<_, Option<i64>>(3)?.map(|v| v as u16),
        duration_ms: row.get::<_, i64>(4)? as u64,
        error: row.get(5)?,
        response_body: row.get(6)?,
    })
}

/// Serializes a value for a JSON text column.
pub fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}
