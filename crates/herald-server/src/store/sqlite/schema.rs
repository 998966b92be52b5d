//! Schema migrations of the embedded store, applied in order at start
//! (`PRAGMA user_version` records how many ran).

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    tenant TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    tenant TEXT,
    url TEXT,
    description TEXT,
    event_types TEXT NOT NULL,
    headers TEXT NOT NULL,
    signature TEXT NOT NULL,
    secrets TEXT NOT NULL,
    timeout_ms INTEGER NOT NULL,
    max_in_flight INTEGER NOT NULL,
    rate_limit_per_s INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX endpoints_by_tenant ON endpoints (tenant, id);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    tenant TEXT,
    payload BLOB NOT NULL,
    content_type TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    deliveries INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_by_idempotency_key ON events (coalesce(tenant, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_by_tenant ON events (tenant, seq);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    tenant TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_until INTEGER,
    last_attempt_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'delivering';
CREATE INDEX deliveries_by_event ON deliveries (event_id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, state);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    attempted_at INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error TEXT,
    response_body TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempted_at);
"#,
    r#"
-- Attempts in the current round: a manual retry or a recovery starts a new round of the
-- retry schedule while `attempts` keeps counting every try.
ALTER TABLE deliveries ADD COLUMN round_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_by_endpoint_created ON deliveries (endpoint_id, created_at);
-- Since when every attempt to an endpoint has failed (NULL after a success).
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, id);
"#,
    r#"
-- Inbound: sources, every request they received, and de-duplication keys.
ALTER TABLE events ADD COLUMN source_id TEXT;
ALTER TABLE events ADD COLUMN headers TEXT;
CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    tenant TEXT,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sources_by_tenant ON sources (tenant, id);
CREATE TABLE inbound_requests (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    tenant TEXT,
    received_at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT,
    event_id TEXT,
    remote_ip TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB,
    body_size INTEGER NOT NULL
);
CREATE INDEX inbound_requests_by_source ON inbound_requests (source_id, id);
CREATE TABLE inbound_dedup (
    source_id TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, key)
);
"#,
    r#"
CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    description TEXT,
    schema TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
"#,
    r#"
-- Retention sweeps by age.
CREATE INDEX attempts_by_time ON attempts (attempted_at);
CREATE INDEX inbound_requests_by_time ON inbound_requests (received_at);
CREATE INDEX inbound_dedup_by_time ON inbound_dedup (seen_at);
"#,
    r#"
-- A pull endpoint's stream position of each delivery (0 for push endpoints). A delivery
-- sent again moves to the end of its stream, so a consumer's cursor never hides it.
ALTER TABLE deliveries ADD COLUMN pos INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET pos = rowid WHERE endpoint_id IN (SELECT id FROM endpoints WHERE url IS NULL);
CREATE INDEX deliveries_stream ON deliveries (endpoint_id, pos) WHERE pos > 0;
"#,
    r#"
-- One row the readiness check writes, so /readyz knows the store can still write.
CREATE TABLE readiness (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL);
"#,
    r#"
-- A caller-chosen event id is unique per tenant, not across tenants: the table is rebuilt
-- without the column's global UNIQUE (SQLite cannot drop it in place).
CREATE TABLE events_by_tenant_id (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    tenant TEXT,
    payload BLOB NOT NULL,
    content_type TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    deliveries INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    source_id TEXT,
    headers TEXT
);
INSERT INTO events_by_tenant_id (seq, id, type, tenant, payload, content_type, idempotency_key,
    request_hash, deliveries, created_at, source_id, headers)
    SELECT seq, id, type, tenant, payload, content_type, idempotency_key, request_hash, deliveries,
    created_at, source_id, headers FROM events;
DROP TABLE events;
ALTER TABLE events_by_tenant_id RENAME TO events;
CREATE UNIQUE INDEX events_by_id ON events (id, coalesce(tenant, ''));
CREATE UNIQUE INDEX events_by_idempotency_key ON events (coalesce(tenant, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_by_tenant ON events (tenant, seq);
CREATE INDEX deliveries_by_event_tenant ON deliveries (event_id, tenant);
DROP INDEX deliveries_by_event;
"#,
    r#"
-- An endpoint's own retry schedule (the global one when NULL).
ALTER TABLE endpoints ADD COLUMN retry_schedule TEXT;
"#,
    r#"
-- Delivery control (domain::breaker): the circuit breaker's setting and state, and the
-- pause a Retry-After asked for. A circuit is open when circuit_wait_ms is set.
ALTER TABLE endpoints ADD COLUMN circuit_after INTEGER NOT NULL DEFAULT 5;
ALTER TABLE endpoints ADD COLUMN paused_until INTEGER;
ALTER TABLE endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN circuit_wait_ms INTEGER;
ALTER TABLE endpoints ADD COLUMN circuit_until INTEGER;
"#,
    r#"
-- Ordered keys (domain::ordering): an endpoint's rule, a publisher's key, each keyed
-- delivery's key and sequence, and each key's last sequence (never reused). The index
-- finds what is ahead of a delivery in its key; the other, the open circuits to probe.
ALTER TABLE endpoints ADD COLUMN ordering TEXT;
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN sequence INTEGER;
CREATE TABLE ordering_keys (
    endpoint_id TEXT NOT NULL,
    key TEXT NOT NULL,
    last_sequence INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, key)
);
CREATE INDEX deliveries_by_key ON deliveries (endpoint_id, ordering_key, sequence)
    WHERE ordering_key IS NOT NULL AND state IN ('pending', 'delivering');
CREATE INDEX endpoints_open_circuits ON endpoints (circuit_until) WHERE circuit_wait_ms IS NOT NULL;
"#,
    r#"
-- Broker destinations (domain::destination): where an endpoint publishes instead of a
-- URL, as JSON, its credentials sealed.
ALTER TABLE endpoints ADD COLUMN destination TEXT;
"#,
    r#"
-- Console sign-ins (console::session): the hash of the cookie, the hash of the key.
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
"#,
];

/// SQLite's own consistency check (`PRAGMA quick_check`): `Err` with what it found.
pub fn quick_check(conn: &Connection) -> rusqlite::Result<Result<(), String>> {
    let found: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match found.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        problems => Err(problems.join("; ")),
    })
}

/// Brings the schema up to date, one transaction per migration.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Connection settings: WAL, fsync on every commit (durable through power loss, made
/// affordable by group commits), and a busy timeout for readers.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // Savepoint journals (one per operation of a group commit) stay in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}
