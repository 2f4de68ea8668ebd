//! The SQLite store: one file, zero set-up, the embedded default.
//!
//! Owns the connection settings (WAL journal, `synchronous = NORMAL`, a busy timeout so
//! several handles on one file wait for each other instead of failing, foreign keys on), the
//! SQLite migration runner and the SQL of every [`Store`] method. Statements are prepared once
//! per connection and cached by rusqlite; writes take the write lock up front
//! (`BEGIN IMMEDIATE`) so two writers never deadlock on a lock upgrade.
//!
//! The event log is split over three tables (migration 4): `event_ids` (the dedupe, filled in
//! id order per batch), `events` (rows in arrival order, indexed by `(ts, id)` only) and
//! `event_user_hours` (every hour in which a user has events, for erasure).

mod engine;
pub(crate) mod migrations;

pub(crate) use migrations::MIGRATIONS;

use crate::codec::{
    EventColumns, EventRow, check_storable_event, decode_cart, decode_event, decode_state,
    encode_cart, encode_checked_event,
};
use crate::error::count_from_i64;
use crate::migrate::{AppliedMigration, pending};
use crate::{Backend, ErasureReport, InsertReport, Store, StoreError};
use cartback_core::{Cart, CartState, Event, Timestamp};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a handle waits for another handle's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Page size of new database files (SQLite's default is 4 KiB; it cannot change later in WAL
/// mode). Bigger pages make the B-trees shallower: inserting 1M events measured 40–60% faster
/// than with 4 KiB pages, in batches of 8,192 and of 65,536 alike; 32 KiB was no better.
const PAGE_SIZE_BYTES: u32 = 16 * 1024;
/// Page size for a new file that will mostly see small transactions (the live engine's):
/// every commit writes each page it touched whole into the WAL, so smaller pages mean less
/// to write and to checkpoint (measured with `cartback-server`'s `examples/loadgen`: p99 of
/// single-event requests at 2,000/s 4.6 ms with 4 KiB pages against 10.8 ms with 16 KiB).
pub const SMALL_TRANSACTION_PAGE_SIZE: u32 = 4 * 1024;
/// Page cache per connection, in KiB (negative `cache_size` means KiB in SQLite).
const CACHE_KIB: i64 = 64 * 1024;
/// WAL size after which SQLite copies its pages back into the database (default about 4 MiB).
/// The random-key indexes (event id, user id) dirty thousands of pages per import batch;
/// letting the WAL reach 64 MiB means a page rewritten by several commits is copied back once,
/// which measured 20% less CPU and 50% less wall time for 1M events in batches of 8,192.
const WAL_AUTOCHECKPOINT_BYTES: u32 = 64 * 1024 * 1024;
/// Size the WAL file is truncated back to after a checkpoint, so it does not stay at its peak.
const WAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Claims an event id: changes one row when the id is new, none when it is known.
const CLAIM_EVENT_ID: &str = "INSERT OR IGNORE INTO event_ids (id) VALUES (?1)";

/// Appends an event whose id this transaction has just claimed. `OR IGNORE` although
/// `events` has no unique key: an insert that cannot abort half-way needs no statement
/// journal, which otherwise copies the table's and the index's last pages (16 KiB each) at
/// every execution (measured 10% of the insert's CPU time). Every NOT NULL column is bound
/// from a non-optional value, and [`append_events`] checks that every row went in.
const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events \
    (id, ts, kind, user_id, session_id, cart_id, order_id, payload) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Event rows appended by one execution of [`INSERT_EVENTS`]: fewer statement executions
/// for the same rows (1M events: 16 rows 10% less CPU than 1, 64 rows no better than 16).
const ROWS_PER_INSERT: usize = 16;
/// Columns bound per event row.
const EVENT_COLUMNS: usize = 8;

/// [`INSERT_EVENT`] with [`ROWS_PER_INSERT`] rows.
static INSERT_EVENTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let rows: Vec<String> = (0..ROWS_PER_INSERT)
        .map(|row| {
            let first = row * EVENT_COLUMNS + 1;
            let placeholders: Vec<String> = (first..first + EVENT_COLUMNS)
                .map(|n| format!("?{n}"))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let (first_row, _) = INSERT_EVENT
        .split_once("VALUES")
        .expect("INSERT_EVENT has VALUES");
    format!("{first_row}VALUES {}", rows.join(", "))
});

/// Binds one event's columns as row `row` (from 0) of an event insert.
fn bind_event(
    statement: &mut rusqlite::Statement<'_>,
    row: usize,
    columns: &EventColumns<'_>,
    payload: &[u8],
) -> Result<(), StoreError> {
    let first = row * EVENT_COLUMNS + 1;
    let bind = |statement: &mut rusqlite::Statement<'_>| -> rusqlite::Result<()> {
        statement.raw_bind_parameter(first, columns.id)?;
        statement.raw_bind_parameter(first + 1, columns.ts)?;
        statement.raw_bind_parameter(first + 2, columns.kind)?;
        statement.raw_bind_parameter(first + 3, columns.user_id)?;
        statement.raw_bind_parameter(first + 4, columns.session_id)?;
        statement.raw_bind_parameter(first + 5, columns.cart_id)?;
        statement.raw_bind_parameter(first + 6, columns.order_id)?;
        statement.raw_bind_parameter(first + 7, json_text(payload))
    };
    bind(statement).map_err(StoreError::sqlite("binding an event"))
}

const INSERT_USER_HOUR: &str =
    "INSERT OR IGNORE INTO event_user_hours (user_id, hour) VALUES (?1, ?2)";

/// Milliseconds in an `event_user_hours.hour`.
const MILLIS_PER_HOUR: i64 = 3_600_000;

/// The `event_user_hours.hour` of an event time: truncated towards zero, like SQLite's
/// integer division in migration 4.
fn hour_of(ts: i64) -> i64 {
    ts / MILLIS_PER_HOUR
}

/// The event times (inclusive) that [`hour_of`] maps to `hour`. Hour 0 covers the hour on
/// either side of the epoch; the ends saturate at the limits of `i64`.
fn hour_bounds(hour: i64) -> (i64, i64) {
    let start = hour.saturating_mul(MILLIS_PER_HOUR);
    let span = MILLIS_PER_HOUR - 1;
    match hour.signum() {
        1 => (start, start.saturating_add(span)),
        -1 => (start.saturating_sub(span), start),
        _ => (-span, span),
    }
}

const UPSERT_CART: &str = "INSERT INTO carts \
    (id, user_id, state, created_at, last_activity, abandoned_at, closed_at, value, currency, \
     order_id, payload) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
    ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state, \
    created_at = excluded.created_at, last_activity = excluded.last_activity, \
    abandoned_at = excluded.abandoned_at, closed_at = excluded.closed_at, \
    value = excluded.value, currency = excluded.currency, order_id = excluded.order_id, \
    payload = excluded.payload";

/// A [`Store`] in a SQLite database file (or in memory).
pub struct SqliteStore {
    conn: Connection,
    /// Reused JSON buffer, so encoding a payload allocates nothing in steady state.
    payload: Vec<u8>,
    /// Reused buffer: the positions of an insert's events, sorted by id.
    by_id: Vec<(u128, usize)>,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it (and its parent directories) when
    /// missing, and brings its schema up to date. A new file gets 16 KiB pages, the
    /// fastest for bulk imports.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::open_with_page_size(path, PAGE_SIZE_BYTES)
    }

    /// [`SqliteStore::open`], giving a file it creates pages of `page_size` bytes (a power of
    /// two from 512 to 65,536; SQLite ignores other values). An existing file keeps the page
    /// size it was created with: SQLite cannot change it in WAL mode.
    pub fn open_with_page_size(
        path: impl AsRef<Path>,
        page_size: u32,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        if path == Path::new(":memory:") {
            return Self::in_memory();
        }
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDirectory {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open_error = |source| StoreError::OpenSqlite {
            path: PathBuf::from(path),
            source,
        };
        // Handles opening a new file at the same moment can find it locked while another one
        // switches it to WAL or migrates it, in ways SQLite reports at once instead of
        // waiting; opening is rare, so such an open is simply tried again.
        let give_up_at = Instant::now() + BUSY_TIMEOUT;
        loop {
            let conn = Connection::open_with_flags(path, flags).map_err(open_error)?;
            match Self::configure(conn, true, page_size) {
                Err(error) if error.is_sqlite_busy() && Instant::now() < give_up_at => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Rewrites the database file at `path` compactly (SQLite's `VACUUM`), with pages of
    /// `page_size` bytes when given (else the file's own), and returns the page sizes before
    /// and after. This is the only way
    /// to change the page size of an existing file: SQLite fixes it at creation in WAL mode,
    /// so the file leaves WAL for the rewrite and returns to it. It also gives the free pages
    /// left by erasure and retention back to the file system.
    ///
    /// Needs the file to itself: with another connection open (a running `cartback serve`,
    /// an import) it fails with [`StoreError::InUse`] and leaves the file as it was.
    pub fn rebuild(
        path: impl AsRef<Path>,
        page_size: Option<u32>,
    ) -> Result<(u32, u32), StoreError> {
        let path = path.as_ref();
        if let Some(page_size) = page_size
            && (!(512..=65_536).contains(&page_size) || !page_size.is_power_of_two())
        {
            return Err(StoreError::InvalidPageSize { page_size });
        }
        if !path.exists() {
            return Err(StoreError::MissingDatabase {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::OpenSqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let in_use = |error: rusqlite::Error| {
            let error = StoreError::sqlite("rebuilding the database file")(error);
            if error.is_sqlite_busy() {
                StoreError::InUse {
                    path: path.to_path_buf(),
                }
            } else {
                error
            }
        };
        let page_size_now = |conn: &Connection| -> Result<u32, StoreError> {
            conn.pragma_query_value(None, "page_size", |row| row.get(0))
                .map_err(StoreError::sqlite("reading the page size"))
        };
        let before = page_size_now(&conn)?;
        let page_size = page_size.unwrap_or(before);
        // Leaving WAL needs every other connection closed; SQLite says "busy" otherwise.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))
            .map_err(in_use)?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(StoreError::InUse {
                path: path.to_path_buf(),
            });
        }
        let rebuilt = conn
            .pragma_update(None, "page_size", page_size)
            .and_then(|()| conn.execute_batch("VACUUM"))
            .map_err(in_use);
        // Back to WAL whatever happened, so the file is left as the store expects it.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(StoreError::sqlite("switching back to the WAL journal"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal { mode });
        }
        rebuilt?;
        Ok((before, page_size_now(&conn)?))
    }

    /// A private database in memory, gone when the store is dropped (tests, dry runs).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::OpenSqlite {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::configure(conn, false, PAGE_SIZE_BYTES)
    }

    fn configure(
        conn: Connection,
        on_disk: bool,
        new_page_size: u32,
    ) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(StoreError::sqlite("setting the busy timeout"))?;
        // Only takes effect while the file is still empty.
        conn.pragma_update(None, "page_size", new_page_size)
            .map_err(StoreError::sqlite("setting the page size"))?;
        if on_disk {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(StoreError::sqlite("switching to the WAL journal"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::NotWal { mode });
            }
        }
        let page_size: u32 = conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .map_err(StoreError::sqlite("reading the page size"))?;
        let checkpoint_pages = WAL_AUTOCHECKPOINT_BYTES / page_size.max(512);
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{CACHE_KIB}; \
             PRAGMA wal_autocheckpoint = {checkpoint_pages}; \
             PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES};"
        ))
        .map_err(StoreError::sqlite("setting connection pragmas"))?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = SqliteStore {
            conn,
            payload: Vec::with_capacity(1024),
            by_id: Vec::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Applies pending migrations, one transaction each (see `crate::migrate`).
    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(migrations::CREATE_MIGRATIONS_TABLE)
            .map_err(StoreError::sqlite("creating schema_migrations"))?;
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::sqlite("locking the database for migration"))?;
            let applied = read_applied(&tx)?;
            let Some(next) = pending(MIGRATIONS, &applied)?.first() else {
                return tx
                    .commit()
                    .map_err(StoreError::sqlite("finishing migration"));
            };
            let failed = |source| StoreError::MigrationFailed {
                version: next.version,
                name: next.name,
                source: Box::new(source),
            };
            tx.execute_batch(next.sql)
                .map_err(StoreError::sqlite("running the migration's SQL"))
                .map_err(failed)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                params![next.version, next.name],
            )
            .map_err(StoreError::sqlite("recording the migration"))
            .map_err(failed)?;
            tx.commit()
                .map_err(StoreError::sqlite("committing the migration"))
                .map_err(failed)?;
        }
    }

    fn write_carts(&mut self, carts: &[Cart], replace_all: bool) -> Result<(), StoreError> {
        let SqliteStore { conn, payload, .. } = self;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("starting a cart transaction"))?;
        if replace_all {
            tx.execute("DELETE FROM carts", [])
                .map_err(StoreError::sqlite("clearing carts"))?;
        }
        {
            let mut upsert = tx
                .prepare_cached(UPSERT_CART)
                .map_err(StoreError::sqlite("preparing the cart upsert"))?;
            for cart in carts {
                encode_cart(cart, payload)?;
                upsert
                    .execute(params![
                        cart.id,
                        cart.user_id,
                        cart.state.as_str(),
                        cart.created_at.0,
                        cart.last_activity.0,
                        cart.abandoned_at.map(|t| t.0),
                        cart.closed_at.map(|t| t.0),
                        cart.value,
                        cart.currency.map(|c| c.code()),
                        cart.order_id,
                        json_text(payload),
                    ])
                    .map_err(StoreError::sqlite("writing a cart"))?;
            }
        }
        tx.commit().map_err(StoreError::sqlite("committing carts"))
    }

    fn query_carts(&mut self, sql: &str, key: &str) -> Result<Vec<Cart>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(sql)
            .map_err(StoreError::sqlite("preparing a cart query"))?;
        let mut rows = statement
            .query([key])
            .map_err(StoreError::sqlite("querying carts"))?;
        let mut carts = Vec::new();
        while let Some(row) = rows.next().map_err(StoreError::sqlite("reading carts"))? {
            let id = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(StoreError::sqlite("reading a cart id"))?;
            let payload = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_bytes()?))
                .map_err(StoreError::sqlite("reading a cart payload"))?;
            carts.push(decode_cart(id, payload)?);
        }
        Ok(carts)
    }
}

/// Appends the events flagged in `stored` to `events`, in slice order (their rowids follow
/// arrival), and records the hours they add to their users in `event_user_hours`.
fn append_events(
    conn: &Connection,
    events: &[Event],
    stored: &[bool],
    payload: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let new_events: Vec<&Event> = events
        .iter()
        .zip(stored)
        .filter(|(_, new)| **new)
        .map(|(event, _)| event)
        .collect();
    // A batch's events come from a few thousand user-hours: deduplicated here, so the
    // table is written once per user-hour and not once per event.
    let mut hours = UserHours::default();
    let mut chunks = new_events.chunks_exact(ROWS_PER_INSERT);
    let mut insert_many = conn
        .prepare_cached(&INSERT_EVENTS)
        .map_err(StoreError::sqlite("preparing the event insert"))?;
    for chunk in &mut chunks {
        append_rows(&mut insert_many, chunk, payload, &mut hours)?;
    }
    let mut insert_one = conn
        .prepare_cached(INSERT_EVENT)
        .map_err(StoreError::sqlite("preparing the event insert"))?;
    for event in chunks.remainder() {
        append_rows(
            &mut insert_one,
            std::slice::from_ref(event),
            payload,
            &mut hours,
        )?;
    }
    // In key order, so consecutive inserts share leaves.
    let mut hours: Vec<(&str, i64)> = hours.into_iter().collect();
    hours.sort_unstable();
    let mut insert_hour = conn
        .prepare_cached(INSERT_USER_HOUR)
        .map_err(StoreError::sqlite("preparing the user-hour insert"))?;
    for (user_id, hour) in hours {
        insert_hour
            .execute(params![user_id, hour])
            .map_err(StoreError::sqlite("recording a user's hour"))?;
    }
    Ok(())
}

/// Distinct (user id, hour) pairs.
type UserHours<'e> = HashSet<(&'e str, i64), foldhash::fast::RandomState>;

/// Binds `rows` to an insert of as many rows and runs it; adds their hours to `hours`.
fn append_rows<'e>(
    statement: &mut rusqlite::Statement<'_>,
    rows: &[&'e Event],
    payload: &mut Vec<u8>,
    hours: &mut UserHours<'e>,
) -> Result<(), StoreError> {
    for (row, event) in rows.iter().enumerate() {
        let columns = encode_checked_event(event, payload)?;
        bind_event(statement, row, &columns, payload)?;
        hours.insert((columns.user_id, hour_of(columns.ts)));
    }
    let appended = statement
        .raw_execute()
        .map_err(StoreError::sqlite("inserting events"))?;
    if appended != rows.len() {
        return Err(StoreError::EventRowsSkipped {
            expected: rows.len(),
            appended,
        });
    }
    Ok(())
}

/// Deletes a user's events inside the caller's erasure transaction: for every hour of the
/// user in `event_user_hours`, finds the user's events of that hour through `(ts, id)` and
/// deletes them and their ids; then the user's hours. Returns the number of events deleted.
/// The cost is that of reading every event (any user's) in those hours.
fn erase_user_events(conn: &Connection, user_id: &str) -> Result<u64, StoreError> {
    let hours: Vec<i64> = conn
        .prepare_cached("SELECT hour FROM event_user_hours WHERE user_id = ?1")
        .and_then(|mut statement| {
            statement
                .query_map([user_id], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(StoreError::sqlite("reading a user's hours"))?;
    let mut find = conn
        .prepare_cached("SELECT rowid, id FROM events WHERE ts BETWEEN ?1 AND ?2 AND user_id = ?3")
        .map_err(StoreError::sqlite(
            "preparing the search for a user's events",
        ))?;
    let mut delete_event = conn
        .prepare_cached("DELETE FROM events WHERE rowid = ?1")
        .map_err(StoreError::sqlite("preparing the erasure of events"))?;
    let mut forget_id = conn
        .prepare_cached("DELETE FROM event_ids WHERE id = ?1")
        .map_err(StoreError::sqlite("preparing the erasure of event ids"))?;
    let mut erased = 0u64;
    for hour in hours {
        let (first, last) = hour_bounds(hour);
        let found: Vec<(i64, Vec<u8>)> = find
            .query_map(params![first, last, user_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("finding a user's events"))?;
        erased += found.len() as u64;
        for (rowid, id) in &found {
            delete_event
                .execute([rowid])
                .map_err(StoreError::sqlite("erasing a user's events"))?;
            forget_id
                .execute([id])
                .map_err(StoreError::sqlite("erasing a user's event ids"))?;
        }
    }
    conn.prepare_cached("DELETE FROM event_user_hours WHERE user_id = ?1")
        .and_then(|mut statement| statement.execute([user_id]))
        .map_err(StoreError::sqlite("erasing a user's hours"))?;
    Ok(erased)
}

/// Borrows the columns of a scanned event row.
fn event_row<'r>(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<EventRow<'r>> {
    Ok(EventRow {
        id: row.get_ref(0)?.as_blob()?,
        ts: row.get(1)?,
        kind: row.get_ref(2)?.as_str()?,
        user_id: row.get(3)?,
        session_id: row.get(4)?,
        cart_id: row.get(5)?,
        order_id: row.get(6)?,
        payload: row.get_ref(7)?.as_bytes()?,
    })
}

/// Binds JSON bytes as TEXT without re-checking UTF-8 (serde_json only writes UTF-8).
fn json_text(payload: &[u8]) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(payload))
}

fn read_applied(conn: &Connection) -> Result<Vec<AppliedMigration>, StoreError> {
    let mut statement = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .map_err(StoreError::sqlite("reading schema_migrations"))?;
    let rows = statement
        .query_map([], |row| {
            Ok(AppliedMigration {
                version: row.get(0)?,
                name: row.get(1)?,
            })
        })
        .map_err(StoreError::sqlite("reading schema_migrations"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("reading schema_migrations"))
}

impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn schema_version(&mut self) -> Result<u32, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                [],
                |row| row.get(0),
            )
            .map_err(StoreError::sqlite("reading the schema version"))
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
        // Refused before anything is written, like any other failure: the call is one
        // transaction.
        for event in events {
            check_storable_event(event)?;
        }
        stored.resize(events.len(), false);
        let SqliteStore {
            conn,
            payload,
            by_id,
        } = self;
        // Ids are claimed in id order: consecutive claims land on the same or the next leaf
        // of `event_ids`, instead of one random leaf each. Equal ids stay in slice order, so
        // the first occurrence is the one that claims.
        by_id.clear();
        by_id.extend(
            events
                .iter()
                .enumerate()
                .map(|(n, event)| (u128::from_be_bytes(event.id.0), n)),
        );
        by_id.sort_unstable();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("starting an event transaction"))?;
        {
            let mut claim = tx
                .prepare_cached(CLAIM_EVENT_ID)
                .map_err(StoreError::sqlite("preparing the event id claim"))?;
            let mut previous = None;
            for &(key, n) in by_id.iter() {
                if previous.replace(key) == Some(key) {
                    continue; // a repeat inside the slice: the earlier occurrence decided
                }
                // The id from the sorted key, not from `events[n]`: reading the events in id
                // order would jump around the batch's memory (a cache miss per event).
                let claimed = claim
                    .execute([&key.to_be_bytes()[..]])
                    .map_err(StoreError::sqlite("claiming an event id"))?;
                stored[n] = claimed == 1;
            }
        }
        let inserted = stored.iter().filter(|new| **new).count() as u64;
        append_events(&tx, events, stored, payload)?;
        tx.commit()
            .map_err(StoreError::sqlite("committing events"))?;
        Ok(InsertReport {
            inserted,
            duplicates: events.len() as u64 - inserted,
        })
    }

    fn event_count(&mut self) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
            .map_err(StoreError::sqlite("counting events"))?;
        count_from_i64("events", count)
    }

    fn scan_events(&mut self, visit: &mut dyn FnMut(Event)) -> Result<u64, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT id, ts, kind, user_id, session_id, cart_id, order_id, payload \
                 FROM events ORDER BY ts, id",
            )
            .map_err(StoreError::sqlite("preparing the event scan"))?;
        let mut rows = statement
            .query([])
            .map_err(StoreError::sqlite("scanning events"))?;
        let mut visited = 0u64;
        while let Some(row) = rows.next().map_err(StoreError::sqlite("scanning events"))? {
            let event = event_row(row)
                .map_err(StoreError::sqlite("reading an event row"))
                .and_then(decode_event)?;
            visit(event);
            visited += 1;
        }
        Ok(visited)
    }

    fn time_bounds(&mut self) -> Result<Option<(Timestamp, Timestamp)>, StoreError> {
        // Two sub-queries: SQLite answers a lone min() or max() from the index, but not both
        // in one SELECT.
        let (min, max): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT (SELECT min(ts) FROM events), (SELECT max(ts) FROM events)",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(StoreError::sqlite("reading event time bounds"))?;
        Ok(min.zip(max).map(|(a, b)| (Timestamp(a), Timestamp(b))))
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
        let payload: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT payload FROM carts WHERE id = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([id], |row| Ok(row.get_ref(0)?.as_bytes()?.to_vec()))
                    .optional()
            })
            .map_err(StoreError::sqlite("reading a cart"))?;
        payload.map(|payload| decode_cart(id, &payload)).transpose()
    }

    fn carts_of_user(&mut self, user_id: &str) -> Result<Vec<Cart>, StoreError> {
        self.query_carts(
            "SELECT id, payload FROM carts WHERE user_id = ?1 ORDER BY created_at, id",
            user_id,
        )
    }

    fn cart_counts(&mut self) -> Result<BTreeMap<CartState, u64>, StoreError> {
        let mut counts: BTreeMap<CartState, u64> =
            CartState::ALL.into_iter().map(|state| (state, 0)).collect();
        let mut statement = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM carts GROUP BY state")
            .map_err(StoreError::sqlite("preparing cart counts"))?;
        let mut rows = statement
            .query([])
            .map_err(StoreError::sqlite("counting carts"))?;
        while let Some(row) = rows.next().map_err(StoreError::sqlite("counting carts"))? {
            let state = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(StoreError::sqlite("reading a cart state"))?;
            let count: i64 = row.get(1).map_err(StoreError::sqlite("counting carts"))?;
            counts.insert(decode_state(state)?, count_from_i64("carts", count)?);
        }
        Ok(counts)
    }

    fn erase_user(&mut self, user_id: &str) -> Result<ErasureReport, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("starting an erasure"))?;
        let events = erase_user_events(&tx, user_id)?;
        let carts = tx
            .execute("DELETE FROM carts WHERE user_id = ?1", [user_id])
            .map_err(StoreError::sqlite("erasing a user's carts"))?;
        let records = engine::erase_user_records(&tx, user_id)?;
        tx.commit()
            .map_err(StoreError::sqlite("committing an erasure"))?;
        Ok(ErasureReport {
            events,
            carts: carts as u64,
            ..records
        })
    }
}
