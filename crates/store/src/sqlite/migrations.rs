//! The SQLite schema, as an append-only list of migrations (see `crate::migrate`).

use crate::migrate::Migration;

/// Bookkeeping table of applied migrations.
pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)";

/// Every SQLite migration, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        name: "engine_records",
        sql: ENGINE_RECORDS,
    },
    Migration {
        version: 3,
        name: "decision_steps",
        sql: DECISION_STEPS,
    },
    Migration {
        version: 4,
        name: "split_event_ids",
        sql: SPLIT_EVENT_IDS,
    },
    Migration {
        version: 5,
        name: "decision_state",
        sql: DECISION_STATE,
    },
    Migration {
        version: EVENT_BLOCKS_VERSION,
        name: "event_blocks",
        sql: EVENT_BLOCKS,
    },
    Migration {
        version: 7,
        name: "store_settings",
        sql: STORE_SETTINGS,
    },
    Migration {
        version: 8,
        name: "item_stock",
        sql: ITEM_STOCK,
    },
];

/// Migration 8: the shop's stock levels, one row per item (`Store::upsert_stock`, module
/// `crate::stock`). Not personal data: erasure and retention leave it.
const ITEM_STOCK: &str = "
CREATE TABLE item_stock (
    item_id    TEXT PRIMARY KEY NOT NULL,   -- the id cart lines carry
    available  INTEGER NOT NULL,            -- units the shop can sell; <= 0 is out of stock
    updated_at INTEGER NOT NULL             -- when the shop counted (ms since the epoch, UTC)
) WITHOUT ROWID;
";

/// Migration 7: store-wide settings, set once (`Store::claim_setting`): how the store keeps
/// user ids (`user_ids`: absent, or `pseudonymised:FINGERPRINT`; see `crate::user_ids`).
const STORE_SETTINGS: &str = "
CREATE TABLE store_settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
";

/// Migration 5: every decision records the state its policy was given and what each
/// proposal would have become (`cartback_policy::ope::LoggedState` as JSON `TEXT`), so other
/// policies can be evaluated on the decision log. `NULL` for the decisions before it.
const DECISION_STATE: &str = "ALTER TABLE engine_decisions ADD COLUMN state TEXT;";

/// The version of [`EVENT_BLOCKS`]: after its SQL, the runner moves the event rows into
/// blocks (`event_blocks::move_rows_into_blocks`), in the same transaction.
pub(crate) const EVENT_BLOCKS_VERSION: u32 = 6;

/// Migration 6: events stored in blocks, many to a row (module `event_blocks` documents the
/// layout), instead of a row and a dedupe-index entry each. The SQL creates the new tables;
/// the runner then moves the rows of `events` into blocks and drops `events`, `event_ids` and
/// `event_user_hours` (each block lists its users instead).
const EVENT_BLOCKS: &str = "
CREATE TABLE event_blocks (
    id       INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the id copies catch up by it
    hour     INTEGER NOT NULL,    -- ts / 3600000, truncated towards zero, of every event
    first_ts INTEGER NOT NULL,    -- the block's earliest and latest event times (ms, UTC)
    last_ts  INTEGER NOT NULL,
    events   INTEGER NOT NULL CHECK (events > 0),
    users    BLOB NOT NULL,       -- the distinct user ids, for erasure (read without `ids`/`data`)
    ids      BLOB NOT NULL CHECK (length(ids) = 16 * events),
    data     BLOB NOT NULL        -- one record per event, in the order of `ids`
);
CREATE INDEX event_blocks_by_hour ON event_blocks (hour, id);
CREATE INDEX event_blocks_by_time ON event_blocks (first_ts, id);
CREATE TABLE event_log (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    events    INTEGER NOT NULL,   -- events stored
    rewrites  INTEGER NOT NULL    -- bumped whenever blocks are deleted or rewritten
);
INSERT INTO event_log (singleton, events, rewrites) VALUES (1, 0, 0);
";

/// Migration 4: the split event layout, for bulk imports. Every new event used to descend
/// two B-trees with random keys (the unique index on `id` and the index on `user_id`);
/// now the ids live in their own `WITHOUT ROWID` table, which the store fills in id order
/// per batch (the dedupe), `events` keeps only its rowid and the `(ts, id)` index (both
/// mostly appends), and `event_user_hours` records every (user, hour) that has events, so
/// erasing a user walks that user's hours through `(ts, id)` instead of needing a `user_id`
/// index. `hour` is `ts / 3600000` truncated towards zero (SQLite's integer division, the
/// same as Rust's `/`), so hour 0 spans the hour on either side of the epoch.
///
/// SQLite cannot drop the primary key of a rowid table, so `events` is rebuilt: copied into a
/// new table in `(ts, id)` order, dropped and replaced; every row and column is kept.
const SPLIT_EVENT_IDS: &str = "
CREATE TABLE event_ids (
    id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16)
) WITHOUT ROWID;
INSERT INTO event_ids (id) SELECT id FROM events ORDER BY id;
CREATE TABLE events_v4 (
    id         BLOB NOT NULL,               -- unique: every id is also in event_ids
    ts         INTEGER NOT NULL,            -- milliseconds since the Unix epoch, UTC
    kind       TEXT NOT NULL,               -- EventKind::as_str
    user_id    TEXT NOT NULL,
    session_id TEXT,
    cart_id    TEXT,
    order_id   TEXT,
    payload    TEXT NOT NULL
);
INSERT INTO events_v4 (id, ts, kind, user_id, session_id, cart_id, order_id, payload)
SELECT id, ts, kind, user_id, session_id, cart_id, order_id, payload FROM events
ORDER BY ts, id;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_by_time ON events (ts, id);
CREATE TABLE event_user_hours (
    user_id TEXT NOT NULL,
    hour    INTEGER NOT NULL,               -- ts / 3600000, truncated towards zero
    PRIMARY KEY (user_id, hour)
) WITHOUT ROWID;
INSERT INTO event_user_hours (user_id, hour)
SELECT DISTINCT user_id, ts / 3600000 FROM events ORDER BY 1, 2;
";

/// Migration 3: multi-step flows. A decision is keyed by (cart, abandonment, `step`)
/// instead of (cart, abandonment) — existing decisions become step 0 — and records the
/// coupon value it committed (`discount_minor`, for the daily discount budget).
///
/// SQLite cannot drop a table constraint, so both tables are rebuilt in the documented
/// order that keeps foreign keys enforced throughout (they stay on inside the migration's
/// transaction): copy decisions, copy the outbox (pointing at the copy), drop the old
/// outbox, then the old decisions, and rename; renaming a table rewrites the foreign keys
/// that name it. Ids are kept, so messages, tracking and tokens still match.
const DECISION_STEPS: &str = "
CREATE TABLE engine_decisions_v3 (
    id INTEGER PRIMARY KEY,
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    abandonment INTEGER NOT NULL,
    decided_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    channel TEXT,
    send_at INTEGER,
    propensity REAL NOT NULL,
    scores TEXT NOT NULL,
    reasons TEXT NOT NULL,
    guardrail TEXT NOT NULL,
    holdout INTEGER NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    discount_minor INTEGER NOT NULL DEFAULT 0,
    UNIQUE (cart_id, abandonment, step)
);
INSERT INTO engine_decisions_v3 (id, cart_id, user_id, abandonment, decided_at, action,
    channel, send_at, propensity, scores, reasons, guardrail, holdout)
SELECT id, cart_id, user_id, abandonment, decided_at, action, channel, send_at, propensity,
    scores, reasons, guardrail, holdout FROM engine_decisions;
CREATE TABLE engine_outbox_v3 (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    decision_id INTEGER NOT NULL REFERENCES engine_decisions_v3 (id),
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at INTEGER,
    cancel_reason TEXT,
    attributed_order TEXT
);
INSERT INTO engine_outbox_v3 SELECT id, idempotency_key, decision_id, cart_id, user_id,
    channel, payload, status, due_at, attempts, last_error, sent_at, cancel_reason,
    attributed_order FROM engine_outbox;
DROP TABLE engine_outbox;
DROP TABLE engine_decisions;
ALTER TABLE engine_decisions_v3 RENAME TO engine_decisions;
ALTER TABLE engine_outbox_v3 RENAME TO engine_outbox;
CREATE INDEX engine_decisions_user ON engine_decisions (user_id);
CREATE INDEX engine_decisions_discounts ON engine_decisions (decided_at) WHERE discount_minor > 0;
CREATE INDEX engine_outbox_due ON engine_outbox (status, due_at);
CREATE INDEX engine_outbox_cart ON engine_outbox (cart_id);
CREATE INDEX engine_outbox_user ON engine_outbox (user_id);
";

/// Migration 2: the live engine's decisions, outbox, consent and tracking, in the same file
/// as the events.
///
/// Before this migration the server created these tables itself, with this very SQL
/// (`CREATE TABLE IF NOT EXISTS`, verbatim): a database it made adopts its tables and rows
/// unchanged, and a new one gets the same tables. JSON columns (`scores`, `reasons`,
/// `payload`) are `TEXT`; `status` is `MessageStatus::as_str`.
macro_rules! engine_tables {
    () => {
        "
CREATE TABLE IF NOT EXISTS engine_decisions (
    id INTEGER PRIMARY KEY,
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    abandonment INTEGER NOT NULL,
    decided_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    channel TEXT,
    send_at INTEGER,
    propensity REAL NOT NULL,
    scores TEXT NOT NULL,
    reasons TEXT NOT NULL,
    guardrail TEXT NOT NULL,
    holdout INTEGER NOT NULL,
    UNIQUE (cart_id, abandonment)
);
CREATE INDEX IF NOT EXISTS engine_decisions_user ON engine_decisions (user_id);
CREATE TABLE IF NOT EXISTS engine_outbox (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    decision_id INTEGER NOT NULL REFERENCES engine_decisions (id),
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at INTEGER,
    cancel_reason TEXT,
    attributed_order TEXT
);
CREATE INDEX IF NOT EXISTS engine_outbox_due ON engine_outbox (status, due_at);
CREATE INDEX IF NOT EXISTS engine_outbox_cart ON engine_outbox (cart_id);
CREATE INDEX IF NOT EXISTS engine_outbox_user ON engine_outbox (user_id);
CREATE TABLE IF NOT EXISTS engine_consent (
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    granted INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel)
);
CREATE TABLE IF NOT EXISTS engine_tracking (
    message_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS engine_tracking_message ON engine_tracking (message_id);
"
    };
}

const ENGINE_RECORDS: &str = engine_tables!();

/// The engine tables as the server created them before migration 2: the starting point of
/// the test that migrates such a database.
#[cfg(test)]
pub(crate) const LEGACY_ENGINE_TABLES: &str = engine_tables!();
