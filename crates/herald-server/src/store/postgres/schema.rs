//! Schema migrations of the PostgreSQL store. Every node runs them at start (and
//! `herald migrate` ahead of a rollout); a transaction-scoped advisory lock lets one node
//! apply them while the others wait, then find nothing left to do.

use tokio_postgres::Client;

/// Key of the advisory lock that serializes migrations ("herald" in ASCII).
const MIGRATION_LOCK: i64 = 0x6865_7261_6c64;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    tenant TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, id);

CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    tenant TEXT,
    url TEXT,
    description TEXT,
    event_types TEXT NOT NULL,
    headers TEXT NOT NULL,
    signature TEXT NOT NULL,
    secrets TEXT NOT NULL,
    timeout_ms BIGINT NOT NULL,
    max_in_flight BIGINT NOT NULL,
    rate_limit_per_s BIGINT,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason TEXT,
    failing_since BIGINT,
    -- Stream position of the last delivery owed to this (pull) endpoint.
    stream_pos BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX endpoints_by_tenant ON endpoints (tenant, id);

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    tenant TEXT,
    payload BYTEA NOT NULL,
    content_type TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT NOT NULL,
    deliveries BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    source_id TEXT,
    headers TEXT
);
CREATE UNIQUE INDEX events_by_idempotency_key ON events ((coalesce(tenant, '')), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_by_tenant ON events (tenant, seq);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    tenant TEXT,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    round_attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until BIGINT,
    last_attempt_at BIGINT,
    last_status BIGINT,
    last_error TEXT,
    -- Position in a pull endpoint's stream (0 for push endpoints).
    pos BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'delivering';
CREATE INDEX deliveries_by_event ON deliveries (event_id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, state);
CREATE INDEX deliveries_by_endpoint_pos ON deliveries (endpoint_id, pos);
CREATE INDEX deliveries_by_endpoint_created ON deliveries (endpoint_id, created_at);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    status_code BIGINT,
    duration_ms BIGINT NOT NULL,
    error TEXT,
    response_body TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempted_at);
CREATE INDEX attempts_by_time ON attempts (attempted_at);

CREATE TABLE sources (
    id TEXT PRIMARY KEY,
    tenant TEXT,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sources_by_tenant ON sources (tenant, id);

CREATE TABLE inbound_requests (
    id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    tenant TEXT,
    received_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    status BIGINT NOT NULL,
    reason TEXT,
    event_id TEXT,
    remote_ip TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BYTEA,
    body_size BIGINT NOT NULL
);
CREATE INDEX inbound_requests_by_source ON inbound_requests (source_id, id);
CREATE INDEX inbound_requests_by_time ON inbound_requests (received_at);

CREATE TABLE inbound_dedup (
    source_id TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (source_id, key)
);
CREATE INDEX inbound_dedup_by_time ON inbound_dedup (seen_at);

CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    description TEXT,
    schema TEXT,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
"#,
    r#"
-- Rate limits shared by every node: the theoretical arrival time (GCRA) of each bucket,
-- in microseconds. Unlogged: a crash forgets them, which only forgives a burst.
CREATE UNLOGGED TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
"#,
    r#"
-- A caller-chosen event id is unique per tenant, not across tenants.
ALTER TABLE events DROP CONSTRAINT events_id_key;
CREATE UNIQUE INDEX events_by_id ON events (id, (coalesce(tenant, '')));
CREATE INDEX deliveries_by_event_tenant ON deliveries (event_id, tenant);
DROP INDEX deliveries_by_event;
"#,
    r#"
-- A delivery's state is one of `DeliveryState`'s.
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_known
    CHECK (state IN ('pending', 'delivering', 'succeeded', 'failed', 'skipped'));
"#,
    r#"
-- An endpoint's own retry schedule (the global one when NULL).
ALTER TABLE endpoints ADD COLUMN retry_schedule TEXT;
"#,
    r#"
-- Delivery control (domain::breaker): the circuit breaker's setting and state, and the
-- pause a Retry-After asked for. A circuit is open when circuit_wait_ms is set.
ALTER TABLE endpoints ADD COLUMN circuit_after INTEGER NOT NULL DEFAULT 5;
ALTER TABLE endpoints ADD COLUMN paused_until BIGINT;
ALTER TABLE endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN circuit_wait_ms BIGINT;
ALTER TABLE endpoints ADD COLUMN circuit_until BIGINT;
"#,
    r#"
-- Ordered keys (domain::ordering): an endpoint's rule, a publisher's key, each keyed
-- delivery's key and sequence, and each key's last sequence (never reused). The index
-- finds what is ahead of a delivery in its key; the other, the open circuits to probe.
ALTER TABLE endpoints ADD COLUMN ordering TEXT;
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN sequence BIGINT;
CREATE TABLE ordering_keys (
    endpoint_id TEXT NOT NULL,
    key TEXT NOT NULL,
    last_sequence BIGINT NOT NULL,
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
    r#"
-- The claim works endpoint by endpoint (queue::claim): each endpoint's pending deliveries
-- in due order, and its deliveries in flight (also what expired leases are looked for in).
CREATE INDEX deliveries_pending_by_endpoint ON deliveries (endpoint_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (endpoint_id, lease_until) WHERE state = 'delivering';
DROP INDEX deliveries_leased;
"#,
    r#"
-- Fewer index entries per state change (each change of a delivery's state writes a new
-- row version into every index whose predicate it meets): what is queued is found through
-- the partial indexes; a pull endpoint's stream only holds what it still owes (pull
-- queries say `pos > 0`, which every stream position is).
DROP INDEX deliveries_by_endpoint;
DROP INDEX deliveries_by_endpoint_pos;
CREATE INDEX deliveries_stream ON deliveries (endpoint_id, pos)
    WHERE pos > 0 AND state IN ('pending', 'delivering');
"#,
    r#"
-- Time partitions (partitions.rs): events, deliveries and attempts are partitioned by id,
-- and an id begins with the time it was made at, so a partition holds a span of time and
-- retention drops it whole. Each table's default partition takes what was stored before,
-- ids of other shapes (event ids callers chose) and anything outside the partitions herald
-- made ahead; retention purges it row by row. An idempotency key cannot be unique across
-- partitions of `events`, so keys have a table of their own.
CREATE TABLE idempotency_keys (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_keys_by_event ON idempotency_keys (event_id);
INSERT INTO idempotency_keys (tenant, key, event_id)
    SELECT coalesce(tenant, ''), idempotency_key, id FROM events WHERE idempotency_key IS NOT NULL;
DROP INDEX events_by_idempotency_key;
ALTER TABLE events DROP CONSTRAINT events_pkey;

CREATE TABLE events_p (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (id);
CREATE UNIQUE INDEX events_p_by_id ON events_p (id, (coalesce(tenant, '')));
CREATE INDEX events_p_by_tenant ON events_p (tenant, seq);
CREATE INDEX events_p_by_seq ON events_p (seq);
ALTER TABLE events_p ATTACH PARTITION events DEFAULT;
ALTER TABLE events RENAME TO events_default;
ALTER TABLE events_p RENAME TO events;

CREATE TABLE deliveries_p (LIKE deliveries INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (id);
ALTER TABLE deliveries_p ADD PRIMARY KEY (id);
CREATE INDEX deliveries_p_due ON deliveries_p (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_p_by_event_tenant ON deliveries_p (event_id, tenant);
CREATE INDEX deliveries_p_by_endpoint_created ON deliveries_p (endpoint_id, created_at);
CREATE INDEX deliveries_p_by_key ON deliveries_p (endpoint_id, ordering_key, sequence)
    WHERE ordering_key IS NOT NULL AND state IN ('pending', 'delivering');
CREATE INDEX deliveries_p_pending_by_endpoint ON deliveries_p (endpoint_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX deliveries_p_in_flight ON deliveries_p (endpoint_id, lease_until) WHERE state = 'delivering';
CREATE INDEX deliveries_p_stream ON deliveries_p (endpoint_id, pos)
    WHERE pos > 0 AND state IN ('pending', 'delivering');
ALTER TABLE deliveries_p ATTACH PARTITION deliveries DEFAULT;
ALTER TABLE deliveries RENAME TO deliveries_default;
ALTER TABLE deliveries_p RENAME TO deliveries;

CREATE TABLE attempts_p (LIKE attempts INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (id);
ALTER TABLE attempts_p ADD PRIMARY KEY (id);
CREATE INDEX attempts_p_by_delivery ON attempts_p (delivery_id, attempted_at);
CREATE INDEX attempts_p_by_time ON attempts_p (attempted_at);
ALTER TABLE attempts_p ATTACH PARTITION attempts DEFAULT;
ALTER TABLE attempts RENAME TO attempts_default;
ALTER TABLE attempts_p RENAME TO attempts;

-- The spans herald made partitions for: [starts, ends) in unix ms, in all three tables.
CREATE TABLE time_partitions (
    starts BIGINT PRIMARY KEY,
    ends BIGINT NOT NULL
);
"#,
];

/// Applies the migrations this database has not seen yet; returns how many ran.
pub async fn migrate(client: &mut Client) -> Result<usize, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS herald_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let done: i64 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM herald_migrations", &[])
        .await?
        .get(0);
    let mut ran = 0;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO herald_migrations (version, applied_at) VALUES ($1, $2)",
            &[&((i + 1) as i64), &crate::domain::Clock::system().now_ms()],
        )
        .await?;
        ran += 1;
    }
    tx.commit().await?;
    Ok(ran)
}
