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
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
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
        version: 6,
        name: "event_blocks",
        // SQLite's event log moved into blocks; PostgreSQL keeps a row per event (its
        // `COPY` path is bound by the server's index maintenance, not by rows).
        sql: "SELECT 1",
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
    item_id    text PRIMARY KEY,            -- the id cart lines carry
    available  bigint NOT NULL,             -- units the shop can sell; <= 0 is out of stock
    updated_at bigint NOT NULL              -- when the shop counted (ms since the epoch, UTC)
);
";

/// Migration 7: store-wide settings, set once (`Store::claim_setting`): how the store keeps
/// user ids (`user_ids`: absent, or `pseudonymised:FINGERPRINT`; see `crate::user_ids`).
const STORE_SETTINGS: &str = "
CREATE TABLE store_settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
";

/// Migration 5: every decision records the state its policy was given and what each
/// proposal would have become (`cartback_policy::ope::LoggedState`), so other policies can
/// be evaluated on the decision log. `NULL` for the decisions before it.
const DECISION_STATE: &str = "ALTER TABLE engine_decisions ADD COLUMN state jsonb;";

/// Migration 4 changes nothing in PostgreSQL. In SQLite it moves the event ids into their
/// own table and drops the `user_id` index (the bulk import's cost there was two B-trees with
/// random keys); PostgreSQL keeps `events` with its `id` primary key and `user_id` index: its
/// bulk path is `COPY` plus one `INSERT … SELECT … ON CONFLICT`, and the server's index
/// maintenance is another matter. The version exists so both lists stay the same.
const SPLIT_EVENT_IDS: &str = "SELECT 1";

/// Migration 3: multi-step flows. A decision is keyed by (cart, abandonment, `step`)
/// instead of (cart, abandonment) — existing decisions become step 0 — and records the
/// coupon value it committed (`discount_minor`, for the daily discount budget). The old
/// unique constraint has the name PostgreSQL gave it in migration 2.
const DECISION_STEPS: &str = "
ALTER TABLE engine_decisions
    ADD COLUMN step BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN discount_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE engine_decisions DROP CONSTRAINT engine_decisions_cart_id_abandonment_key;
ALTER TABLE engine_decisions
    ADD CONSTRAINT engine_decisions_cart_id_abandonment_step_key UNIQUE (cart_id, abandonment, step);
CREATE INDEX engine_decisions_discounts ON engine_decisions (decided_at) WHERE discount_minor > 0;
";

/// Migration 2: the live engine's decisions, outbox, consent and tracking.
///
/// Before this migration the server created these tables itself, with the SQL of
/// `engine_tables!` (`CREATE TABLE IF NOT EXISTS`, verbatim), JSON in `TEXT` columns. The
/// migration runs that SQL — a database the server made adopts its tables and rows, a new one
/// gets them — and then turns the JSON columns into `jsonb` (as `events.payload` and
/// `carts.payload`), which checks every stored value on the way.
macro_rules! engine_tables {
    () => {
        "
CREATE TABLE IF NOT EXISTS engine_decisions (
    id BIGSERIAL PRIMARY KEY,
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    abandonment BIGINT NOT NULL,
    decided_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    channel TEXT,
    send_at BIGINT,
    propensity DOUBLE PRECISION NOT NULL,
    scores TEXT NOT NULL,
    reasons TEXT NOT NULL,
    guardrail TEXT NOT NULL,
    holdout BOOLEAN NOT NULL,
    UNIQUE (cart_id, abandonment)
);
CREATE INDEX IF NOT EXISTS engine_decisions_user ON engine_decisions (user_id);
CREATE TABLE IF NOT EXISTS engine_outbox (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    decision_id BIGINT NOT NULL REFERENCES engine_decisions (id),
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at BIGINT,
    cancel_reason TEXT,
    attributed_order TEXT
);
CREATE INDEX IF NOT EXISTS engine_outbox_due ON engine_outbox (status, due_at);
CREATE INDEX IF NOT EXISTS engine_outbox_cart ON engine_outbox (cart_id);
CREATE INDEX IF NOT EXISTS engine_outbox_user ON engine_outbox (user_id);
CREATE TABLE IF NOT EXISTS engine_consent (
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, channel)
);
CREATE TABLE IF NOT EXISTS engine_tracking (
    message_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS engine_tracking_message ON engine_tracking (message_id);
"
    };
}

const ENGINE_RECORDS: &str = concat!(
    engine_tables!(),
    "
ALTER TABLE engine_decisions
    ALTER COLUMN scores TYPE jsonb USING scores::jsonb,
    ALTER COLUMN reasons TYPE jsonb USING reasons::jsonb;
ALTER TABLE engine_outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
"
);

/// The engine tables as the server created them before migration 2: the starting point of
/// the test that migrates such a database.
#[cfg(test)]
pub(crate) const LEGACY_ENGINE_TABLES: &str = engine_tables!();

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
