//! The PostgreSQL store: shared state when several engine processes run.
//!
//! Owns the connection (sync `postgres` client, no TLS), the PostgreSQL migration runner
//! (serialised across processes by an advisory lock), the prepared statements and the SQL of
//! every [`Store`] method. Bulk writes go through binary `COPY` into per-connection temporary
//! staging tables and one set-based `INSERT … ON CONFLICT` into the real table; scans read
//! from a portal (server-side cursor) page by page, so memory stays constant.

mod engine;
pub(crate) mod migrations;

pub(crate) use migrations::MIGRATIONS;

use crate::codec::{
    EventRow, check_storable_cart, check_storable_event, decode_event, decode_state,
    describe_event_id, split_event,
};
use crate::error::{count_from_i64, redact_url};
use crate::migrate::{AppliedMigration, pending};
use crate::stock::{StockReport, distinct_ids, newest_per_item};
use crate::{Backend, ErasureReport, InsertReport, PurgeReport, Store, StoreError};
use cartback_core::{Cart, CartState, Event, StockLevel, Timestamp};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{Json, ToSql, Type};
use postgres::{Client, Config, IsolationLevel, NoTls, Row, Statement};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::error::Error as _;
use std::time::Duration;

/// Rows fetched per round trip when scanning the event log.
const SCAN_PAGE_ROWS: i32 = 5_000;
/// Connection timeout used when the URL sets none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const COPY_EVENTS: &str = "COPY events_incoming \
    (id, ts, kind, user_id, session_id, cart_id, order_id, payload) FROM STDIN (FORMAT binary)";
const EVENT_COLUMN_TYPES: [Type; 8] = [
    Type::BYTEA,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
];
const MOVE_EVENTS: &str = "INSERT INTO events \
    (id, ts, kind, user_id, session_id, cart_id, order_id, payload) \
    SELECT id, ts, kind, user_id, session_id, cart_id, order_id, payload FROM events_incoming \
    ON CONFLICT (id) DO NOTHING RETURNING id";

const COPY_CARTS: &str = "COPY carts_incoming \
    (id, user_id, state, created_at, last_activity, abandoned_at, closed_at, value, currency, \
     order_id, payload) FROM STDIN (FORMAT binary)";
const CART_COLUMN_TYPES: [Type; 11] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
];
const MOVE_CARTS: &str = "INSERT INTO carts \
    (id, user_id, state, created_at, last_activity, abandoned_at, closed_at, value, currency, \
     order_id, payload) \
    SELECT id, user_id, state, created_at, last_activity, abandoned_at, closed_at, value, \
     currency, order_id, payload FROM carts_incoming \
    ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, state = EXCLUDED.state, \
    created_at = EXCLUDED.created_at, last_activity = EXCLUDED.last_activity, \
    abandoned_at = EXCLUDED.abandoned_at, closed_at = EXCLUDED.closed_at, \
    value = EXCLUDED.value, currency = EXCLUDED.currency, order_id = EXCLUDED.order_id, \
    payload = EXCLUDED.payload";

/// Writes a batch of stock levels (one per item, from `crate::stock::newest_per_item`), each
/// unless the stored level of its item is newer; the row count is the levels applied.
const UPSERT_STOCK: &str = "INSERT INTO item_stock (item_id, available, updated_at) \
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) \
    ON CONFLICT (item_id) DO UPDATE SET available = EXCLUDED.available, \
    updated_at = EXCLUDED.updated_at WHERE EXCLUDED.updated_at >= item_stock.updated_at";

/// Statements prepared once per connection.
struct Statements {
    move_events: Statement,
    move_carts: Statement,
    scan_events: Statement,
    cart_by_id: Statement,
    carts_of_user: Statement,
}

impl Statements {
    fn prepare(client: &mut Client) -> Result<Statements, StoreError> {
        let mut prepare = |sql: &str| {
            client
                .prepare(sql)
                .map_err(StoreError::postgres("preparing statements"))
        };
        Ok(Statements {
            move_events: prepare(MOVE_EVENTS)?,
            move_carts: prepare(MOVE_CARTS)?,
            scan_events: prepare(
                "SELECT id, ts, kind, user_id, session_id, cart_id, order_id, payload::text \
                 FROM events ORDER BY ts, id",
            )?,
            cart_by_id: prepare("SELECT id, payload FROM carts WHERE id = $1")?,
            carts_of_user: prepare(
                "SELECT id, payload FROM carts WHERE user_id = $1 \
                 ORDER BY created_at, id COLLATE \"C\"",
            )?,
        })
    }
}

/// A [`Store`] in a PostgreSQL database.
pub struct PostgresStore {
    client: Client,
    statements: Statements,
    engine_statements: engine::EngineStatements,
}

impl PostgresStore {
    /// Runs `statement` in one read-only snapshot and visits its rows through a portal, page
    /// by page; returns the number of rows.
    fn scan_rows(
        &mut self,
        statement: &Statement,
        context: &ScanContext,
        visit: &mut dyn FnMut(&Row) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(StoreError::postgres(context.start))?;
        let portal = tx
            .bind(statement, &[])
            .map_err(StoreError::postgres(context.open))?;
        let mut visited = 0u64;
        loop {
            let page = tx
                .query_portal(&portal, SCAN_PAGE_ROWS)
                .map_err(StoreError::postgres(context.read))?;
            let last_page = page.len() < SCAN_PAGE_ROWS as usize;
            for row in &page {
                visit(row)?;
                visited += 1;
            }
            if last_page {
                break;
            }
        }
        tx.commit().map_err(StoreError::postgres(context.finish))?;
        Ok(visited)
    }

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?options]`), uses
    /// the server's default `search_path` (normally `public`) and brings the schema up to date.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let client = connect_client(url)?;
        Self::finish_connect(client)
    }

    /// Like [`connect`](Self::connect), but keeps every table in `schema` (created if missing)
    /// by setting this connection's `search_path` to it. Lets tests and tenants share one
    /// database without seeing each other's data.
    pub fn connect_in_schema(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        validate_schema_name(schema)?;
        let mut client = connect_client(url)?;
        let mut tx = client
            .transaction()
            .map_err(StoreError::postgres("creating the schema"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('cartback schema ' || $1::text))",
            &[&schema],
        )
        .map_err(StoreError::postgres("locking schema creation"))?;
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .map_err(StoreError::postgres("creating the schema"))?;
        tx.commit()
            .map_err(StoreError::postgres("creating the schema"))?;
        client
            .batch_execute(&format!("SET search_path TO \"{schema}\""))
            .map_err(StoreError::postgres("setting search_path"))?;
        Self::finish_connect(client)
    }

    fn finish_connect(mut client: Client) -> Result<PostgresStore, StoreError> {
        migrate(&mut client)?;
        // Session memory for the staging tables (default 8 MB), so a large batch stays out of
        // temporary files. Only settable before the session first touches a temporary table.
        client
            .batch_execute("SET temp_buffers = '64MB'")
            .map_err(StoreError::postgres("sizing temp_buffers"))?;
        client
            .batch_execute(migrations::CREATE_STAGING_TABLES)
            .map_err(StoreError::postgres("creating staging tables"))?;
        let statements = Statements::prepare(&mut client)?;
        Ok(PostgresStore {
            client,
            statements,
            engine_statements: engine::EngineStatements::default(),
        })
    }

    fn write_carts(&mut self, carts: &[Cart], replace_all: bool) -> Result<(), StoreError> {
        // One row per id, the last occurrence winning, so the set-based upsert below never
        // touches a row twice (PostgreSQL refuses that).
        let mut last_index: HashMap<&str, usize> = HashMap::with_capacity(carts.len());
        for (index, cart) in carts.iter().enumerate() {
            last_index.insert(cart.id.as_str(), index);
        }
        let mut tx = self
            .client
            .transaction()
            .map_err(StoreError::postgres("starting a cart transaction"))?;
        if replace_all {
            tx.execute("DELETE FROM carts", &[])
                .map_err(StoreError::postgres("clearing carts"))?;
        }
        if !carts.is_empty() {
            let sink = tx
                .copy_in(COPY_CARTS)
                .map_err(StoreError::postgres("starting the cart copy"))?;
            let mut writer = BinaryCopyInWriter::new(sink, &CART_COLUMN_TYPES);
            for (index, cart) in carts.iter().enumerate() {
                if last_index.get(cart.id.as_str()) != Some(&index) {
                    continue;
                }
                check_storable_cart(cart)?;
                let row: [&(dyn ToSql + Sync); 11] = [
                    &cart.id,
                    &cart.user_id,
                    &cart.state.as_str(),
                    &cart.created_at.0,
                    &cart.last_activity.0,
                    &cart.abandoned_at.map(|t| t.0),
                    &cart.closed_at.map(|t| t.0),
                    &cart.value,
                    &cart.currency.map(|c| c.code()),
                    &cart.order_id,
                    &Json(cart),
                ];
                writer
                    .write(&row)
                    .map_err(StoreError::postgres("copying carts"))?;
            }
            writer
                .finish()
                .map_err(StoreError::postgres("copying carts"))?;
            tx.execute(&self.statements.move_carts, &[])
                .map_err(StoreError::postgres("upserting carts"))?;
        }
        tx.commit()
            .map_err(StoreError::postgres("committing carts"))
    }
}

fn connect_client(url: &str) -> Result<Client, StoreError> {
    let connect_error = |source| StoreError::ConnectPostgres {
        target: redact_url(url),
        source,
    };
    let mut config: Config = url.parse().map_err(connect_error)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("cartback");
    }
    config.connect(NoTls).map_err(connect_error)
}

fn validate_schema_name(schema: &str) -> Result<(), StoreError> {
    let mut bytes = schema.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if first_ok && rest_ok && schema.len() <= 63 {
        Ok(())
    } else {
        Err(StoreError::InvalidSchemaName(schema.to_string()))
    }
}

/// Applies pending migrations, one transaction each, under an advisory lock per schema so
/// concurrent processes never apply one twice (see `crate::migrate`).
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    loop {
        let mut tx = client
            .transaction()
            .map_err(StoreError::postgres("starting a migration"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('cartback migrations ' || \
             coalesce(current_schema(), '')))",
            &[],
        )
        .map_err(StoreError::postgres("locking the schema for migration"))?;
        tx.batch_execute(migrations::CREATE_MIGRATIONS_TABLE)
            .map_err(StoreError::postgres("creating schema_migrations"))?;
        let applied = tx
            .query(
                "SELECT version, name FROM schema_migrations ORDER BY version",
                &[],
            )
            .map_err(StoreError::postgres("reading schema_migrations"))?
            .iter()
            .map(|row| {
                let version: i32 = row.try_get(0)?;
                Ok(AppliedMigration {
                    version: u32::try_from(version).unwrap_or(0),
                    name: row.try_get(1)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(StoreError::postgres("reading schema_migrations"))?;
        let Some(next) = pending(MIGRATIONS, &applied)?.first() else {
            return tx
                .commit()
                .map_err(StoreError::postgres("finishing migration"));
        };
        let failed = |source| StoreError::MigrationFailed {
            version: next.version,
            name: next.name,
            source: Box::new(source),
        };
        let version = i32::try_from(next.version).unwrap_or(i32::MAX);
        tx.batch_execute(next.sql)
            .map_err(StoreError::postgres("running the migration's SQL"))
            .map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &next.name],
        )
        .map_err(StoreError::postgres("recording the migration"))
        .map_err(failed)?;
        tx.commit()
            .map_err(StoreError::postgres("committing the migration"))
            .map_err(failed)?;
    }
}

/// Reads an event row of the scan statement.
fn event_from_row(row: &Row) -> Result<Event, StoreError> {
    let columns = || -> Result<EventRow<'_>, postgres::Error> {
        Ok(EventRow {
            id: row.try_get(0)?,
            ts: row.try_get(1)?,
            kind: row.try_get(2)?,
            user_id: row.try_get(3)?,
            session_id: row.try_get(4)?,
            cart_id: row.try_get(5)?,
            order_id: row.try_get(6)?,
            payload: row.try_get::<_, &str>(7)?.as_bytes(),
        })
    };
    let columns = columns().map_err(|error| {
        let key = row
            .try_get::<_, &[u8]>(0)
            .map(describe_event_id)
            .unwrap_or_else(|_| "<unreadable id>".to_string());
        corrupt("events", key, &error)
    })?;
    decode_event(columns)
}

/// What a scan's errors say it was doing, step by step.
struct ScanContext {
    start: &'static str,
    open: &'static str,
    read: &'static str,
    finish: &'static str,
}

const EVENT_SCAN: ScanContext = ScanContext {
    start: "starting the event scan",
    open: "opening the event cursor",
    read: "scanning events",
    finish: "finishing the event scan",
};

const CART_SCAN: ScanContext = ScanContext {
    start: "starting the cart scan",
    open: "opening the cart cursor",
    read: "scanning carts",
    finish: "finishing the cart scan",
};

/// Reads the `(id, payload)` of a cart row.
fn cart_from_row(row: &Row) -> Result<Cart, StoreError> {
    row.try_get::<_, Json<Cart>>(1)
        .map(|Json(cart)| cart)
        .map_err(|error| {
            let key = row
                .try_get::<_, String>(0)
                .unwrap_or_else(|_| "<unreadable id>".to_string());
            corrupt("carts", key, &error)
        })
}

fn corrupt(table: &'static str, key: String, error: &postgres::Error) -> StoreError {
    let reason = match error.source() {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    };
    StoreError::CorruptRow { table, key, reason }
}

impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn schema_version(&mut self) -> Result<u32, StoreError> {
        let version: i32 = self
            .client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(StoreError::postgres("reading the schema version"))?;
        Ok(u32::try_from(version).unwrap_or(0))
    }

    fn insert_events(&mut self, events: &[Event]) -> Result<InsertReport, StoreError> {
        self.insert_events_flagged(events, &mut Vec::new())
    }

    fn insert_events_flagged(
        &mut self,
        events: &[Event],
        stored: &mut Vec<bool>,
    ) -> Result<InsertReport, StoreError> {
        stored.clear();
        if events.is_empty() {
            return Ok(InsertReport::default());
        }
        // Drop repeats inside the slice here (the first one wins), so the server only ever
        // resolves conflicts against rows stored earlier.
        let mut seen: HashSet<[u8; 16]> = HashSet::with_capacity(events.len());
        let mut tx = self
            .client
            .transaction()
            .map_err(StoreError::postgres("starting an event transaction"))?;
        {
            let sink = tx
                .copy_in(COPY_EVENTS)
                .map_err(StoreError::postgres("starting the event copy"))?;
            let mut writer = BinaryCopyInWriter::new(sink, &EVENT_COLUMN_TYPES);
            for event in events {
                if !seen.insert(event.id.0) {
                    continue;
                }
                check_storable_event(event)?;
                let (columns, details) = split_event(event);
                let row: [&(dyn ToSql + Sync); 8] = [
                    &columns.id,
                    &columns.ts,
                    &columns.kind,
                    &columns.user_id,
                    &columns.session_id,
                    &columns.cart_id,
                    &columns.order_id,
                    &Json(details),
                ];
                writer
                    .write(&row)
                    .map_err(StoreError::postgres("copying events"))?;
            }
            writer
                .finish()
                .map_err(StoreError::postgres("copying events"))?;
        }
        // The ids the move stored; an event is new when its id is among them and it is the
        // first occurrence in the slice (later repeats were never copied).
        let moved: HashSet<[u8; 16]> = tx
            .query(&self.statements.move_events, &[])
            .map_err(StoreError::postgres("inserting events"))?
            .iter()
            .map(|row| {
                row.try_get::<_, &[u8]>(0)
                    .ok()
                    .and_then(|id| <[u8; 16]>::try_from(id).ok())
                    .ok_or_else(|| StoreError::CorruptRow {
                        table: "events",
                        key: "an id returned by the insert".into(),
                        reason: "not a 16-byte event id".into(),
                    })
            })
            .collect::<Result<_, _>>()?;
        tx.commit()
            .map_err(StoreError::postgres("committing events"))?;
        let mut first = HashSet::with_capacity(moved.len());
        stored.extend(
            events
                .iter()
                .map(|event| moved.contains(&event.id.0) && first.insert(event.id.0)),
        );
        let inserted = moved.len() as u64;
        Ok(InsertReport {
            inserted,
            duplicates: events.len() as u64 - inserted,
        })
    }

    fn event_count(&mut self) -> Result<u64, StoreError> {
        let count: i64 = self
            .client
            .query_one("SELECT count(*) FROM events", &[])
            .and_then(|row| row.try_get(0))
            .map_err(StoreError::postgres("counting events"))?;
        count_from_i64("events", count)
    }

    fn scan_events(&mut self, visit: &mut dyn FnMut(Event)) -> Result<u64, StoreError> {
        let statement = self.statements.scan_events.clone();
        self.scan_rows(&statement, &EVENT_SCAN, &mut |row| {
            visit(event_from_row(row)?);
            Ok(())
        })
    }

    fn scan_carts(&mut self, visit: &mut dyn FnMut(Cart)) -> Result<u64, StoreError> {
        let statement = self
            .client
            .prepare("SELECT id, payload FROM carts ORDER BY id")
            .map_err(StoreError::postgres("preparing the cart scan"))?;
        self.scan_rows(&statement, &CART_SCAN, &mut |row| {
            visit(cart_from_row(row)?);
            Ok(())
        })
    }

    fn time_bounds(&mut self) -> Result<Option<(Timestamp, Timestamp)>, StoreError> {
        let row = self
            .client
            .query_one(
                "SELECT (SELECT min(ts) FROM events), (SELECT max(ts) FROM events)",
                &[],
            )
            .map_err(StoreError::postgres("reading event time bounds"))?;
        let bounds = row
            .try_get::<_, Option<i64>>(0)
            .and_then(|min| Ok(min.zip(row.try_get::<_, Option<i64>>(1)?)))
            .map_err(StoreError::postgres("reading event time bounds"))?;
        Ok(bounds.map(|(a, b)| (Timestamp(a), Timestamp(b))))
    }

    fn replace_carts(&mut self, carts: &[Cart]) -> Result<(), StoreError> {
        self.write_carts(carts, true)
    }

    fn upsert_carts(&mut self, carts: &[Cart]) -> Result<(), StoreError> {
        if carts.is_empty() {
            return Ok(());
        }
        self.write_carts(carts, false)
    }

    fn cart(&mut self, id: &str) -> Result<Option<Cart>, StoreError> {
        let row = self
            .client
            .query_opt(&self.statements.cart_by_id, &[&id])
            .map_err(StoreError::postgres("reading a cart"))?;
        row.as_ref().map(cart_from_row).transpose()
    }

    fn carts_of_user(&mut self, user_id: &str) -> Result<Vec<Cart>, StoreError> {
        self.client
            .query(&self.statements.carts_of_user, &[&user_id])
            .map_err(StoreError::postgres("reading a user's carts"))?
            .iter()
            .map(cart_from_row)
            .collect()
    }

    fn cart_counts(&mut self) -> Result<BTreeMap<CartState, u64>, StoreError> {
        let mut counts: BTreeMap<CartState, u64> =
            CartState::ALL.into_iter().map(|state| (state, 0)).collect();
        let rows = self
            .client
            .query("SELECT state, count(*) FROM carts GROUP BY state", &[])
            .map_err(StoreError::postgres("counting carts"))?;
        for row in rows {
            let state: &str = row
                .try_get(0)
                .map_err(StoreError::postgres("reading a cart state"))?;
            let count: i64 = row
                .try_get(1)
                .map_err(StoreError::postgres("counting carts"))?;
            counts.insert(decode_state(state)?, count_from_i64("carts", count)?);
        }
        Ok(counts)
    }

    fn erase_user(&mut self, user_id: &str) -> Result<ErasureReport, StoreError> {
        let mut tx = self
            .client
            .transaction()
            .map_err(StoreError::postgres("starting an erasure"))?;
        let events = tx
            .execute("DELETE FROM events WHERE user_id = $1", &[&user_id])
            .map_err(StoreError::postgres("erasing a user's events"))?;
        let carts = tx
            .execute("DELETE FROM carts WHERE user_id = $1", &[&user_id])
            .map_err(StoreError::postgres("erasing a user's carts"))?;
        let records = engine::erase_user_records(&mut tx, user_id)?;
        tx.commit()
            .map_err(StoreError::postgres("committing an erasure"))?;
        Ok(ErasureReport {
            events,
            carts,
            ..records
        })
    }

    fn purge_before(&mut self, cutoff: Timestamp) -> Result<PurgeReport, StoreError> {
        // One snapshot for every statement, so the carts whose records go are exactly the
        // carts that go; a concurrent change to one of them fails the purge (serialisation)
        // instead of leaving records behind.
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
            .map_err(StoreError::postgres("starting a purge"))?;
        let events = tx
            .execute("DELETE FROM events WHERE ts < $1", &[&cutoff.0])
            .map_err(StoreError::postgres("purging events"))?;
        let records = engine::purge_cart_records(&mut tx, cutoff.0)?;
        tx.commit()
            .map_err(StoreError::postgres("committing a purge"))?;
        Ok(PurgeReport { events, ..records })
    }

    fn setting(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        self.client
            .query_opt("SELECT value FROM store_settings WHERE name = $1", &[&name])
            .and_then(|row| row.map(|row| row.try_get(0)).transpose())
            .map_err(StoreError::postgres("reading a store setting"))
    }

    fn claim_setting(&mut self, name: &str, value: &str) -> Result<String, StoreError> {
        self.client
            .execute(
                "INSERT INTO store_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &value],
            )
            .map_err(StoreError::postgres("writing a store setting"))?;
        Ok(self.setting(name)?.unwrap_or_else(|| value.to_owned()))
    }

    fn upsert_stock(&mut self, levels: &[StockLevel]) -> Result<StockReport, StoreError> {
        let (newest, _) = newest_per_item(levels)?;
        let mut applied = 0u64;
        if !newest.is_empty() {
            let ids: Vec<&str> = newest.iter().map(|l| l.item_id.as_str()).collect();
            let counts: Vec<i64> = newest.iter().map(|l| l.available).collect();
            let stamps: Vec<i64> = newest.iter().map(|l| l.updated_at.0).collect();
            // One statement: atomic on its own, and one round trip for the whole batch.
            applied = self
                .client
                .execute(UPSERT_STOCK, &[&ids, &counts, &stamps])
                .map_err(StoreError::postgres("writing stock levels"))?;
        }
        Ok(StockReport {
            applied,
            stale: levels.len() as u64 - applied,
        })
    }

    fn stock_levels(&mut self, item_ids: &[String]) -> Result<Vec<StockLevel>, StoreError> {
        let ids = distinct_ids(item_ids);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .client
            .query(
                "SELECT item_id, available, updated_at FROM item_stock WHERE item_id = ANY($1)",
                &[&ids],
            )
            .map_err(StoreError::postgres("reading stock levels"))?;
        let mut levels = rows
            .iter()
            .map(|row| {
                Ok(StockLevel {
                    item_id: row.try_get(0)?,
                    available: row.try_get(1)?,
                    updated_at: Timestamp(row.try_get(2)?),
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(StoreError::postgres("reading stock levels"))?;
        levels.sort_by(|a, b| a.item_id.cmp(&b.item_id));
        Ok(levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["cartback", "_t1", "test_123_abc"] {
            assert!(validate_schema_name(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(64);
        for bad in [
            "",
            "1abc",
            "Caps",
            "a-b",
            "a\"b",
            "a; drop",
            too_long.as_str(),
        ] {
            assert!(
                matches!(
                    validate_schema_name(bad),
                    Err(StoreError::InvalidSchemaName(_))
                ),
                "{bad}"
            );
        }
    }
}
