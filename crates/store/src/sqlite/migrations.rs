//! The SQLite schema, as an append-only list of migrations (see `crate::migrate`).

use crate::migrate::Migration;

/// Bookkeeping table of applied migrations.
pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)";

/// Every SQLite migration, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "events_and_carts",
    sql: "
-- The event log. Each event is split between the columns and `payload`: the event's own
-- JSON (serde of cartback_core::Event) without the fields that have a column.
CREATE TABLE events (
    id         BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    ts         INTEGER NOT NULL,            -- milliseconds since the Unix epoch, UTC
    kind       TEXT NOT NULL,               -- EventKind::as_str
    user_id    TEXT NOT NULL,
    session_id TEXT,
    cart_id    TEXT,
    order_id   TEXT,
    payload    TEXT NOT NULL
);
CREATE INDEX events_by_time ON events (ts, id);
CREATE INDEX events_by_user ON events (user_id);

-- Carts as the tracker folded them. `payload` is the whole cart as JSON.
CREATE TABLE carts (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    state         TEXT NOT NULL,            -- CartState::as_str
    created_at    INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    abandoned_at  INTEGER,
    closed_at     INTEGER,
    value         INTEGER NOT NULL,         -- minor units of `currency`
    currency      TEXT,
    order_id      TEXT,
    payload       TEXT NOT NULL
);
CREATE INDEX carts_by_user ON carts (user_id, created_at);
CREATE INDEX carts_by_state ON carts (state, last_activity);
",
}];
