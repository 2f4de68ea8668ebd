//! The PostgreSQL schema, as an append-only list of migrations (see `crate::migrate`). Same
//! versions, names, tables and columns as the SQLite list; PostgreSQL types.

use crate::migrate::Migration;

/// Bookkeeping table of applied migrations.
pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Every PostgreSQL migration, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "events_and_carts",
    sql: "
-- The event log. Each event is split between the columns and `payload`: the event's own
-- JSON (serde of cartback_core::Event) without the fields that have a column.
CREATE TABLE events (
    id         bytea PRIMARY KEY CHECK (octet_length(id) = 16),
    ts         bigint NOT NULL,             -- milliseconds since the Unix epoch, UTC
    kind       text NOT NULL,               -- EventKind::as_str
    user_id    text NOT NULL,
    session_id text,
    cart_id    text,
    order_id   text,
    payload    jsonb NOT NULL
);
CREATE INDEX events_by_time ON events (ts, id);
CREATE INDEX events_by_user ON events (user_id);

-- Carts as the tracker folded them. `payload` is the whole cart as JSON.
CREATE TABLE carts (
    id            text PRIMARY KEY,
    user_id       text NOT NULL,
    state         text NOT NULL,            -- CartState::as_str
    created_at    bigint NOT NULL,
    last_activity bigint NOT NULL,
    abandoned_at  bigint,
    closed_at     bigint,
    value         bigint NOT NULL,          -- minor units of `currency`
    currency      text,
    order_id      text,
    payload       jsonb NOT NULL
);
CREATE INDEX carts_by_user ON carts (user_id, created_at);
CREATE INDEX carts_by_state ON carts (state, last_activity);
",
}];

/// Per-connection staging tables that binary `COPY` fills before one set-based
/// `INSERT … ON CONFLICT` moves the rows into the real tables. Emptied at every commit.
pub(crate) const CREATE_STAGING_TABLES: &str = "
CREATE TEMPORARY TABLE IF NOT EXISTS events_incoming (
    id bytea NOT NULL, ts bigint NOT NULL, kind text NOT NULL, user_id text NOT NULL,
    session_id text, cart_id text, order_id text, payload jsonb NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS carts_incoming (
    id text NOT NULL, user_id text NOT NULL, state text NOT NULL,
    created_at bigint NOT NULL, last_activity bigint NOT NULL, abandoned_at bigint,
    closed_at bigint, value bigint NOT NULL, currency text, order_id text, payload jsonb NOT NULL
) ON COMMIT DELETE ROWS;
";
