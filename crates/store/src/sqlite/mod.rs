//! The SQLite store: one file, zero set-up, the embedded default.
//!
//! Owns the connection settings (WAL journal, `synchronous = NORMAL`, a busy timeout so
//! several handles on one file wait for each other instead of failing, foreign keys on), the
//! SQLite migration runner and the SQL of every [`Store`] method. Statements are prepared once
//! per connection and cached by rusqlite; writes take the write lock up front
//! (`BEGIN IMMEDIATE`) so two writers never deadlock on a lock upgrade.
//!
//! The event log is stored in blocks of many events per row, each listing its users for
//! erasure (retention deletes and rewrites blocks by time), and deduplicated against each
//! connection's in-memory copy of the stored ids (migration 6, module `event_blocks`; the
//! record format is module `event_record`).

mod engine;
mod event_blocks;
mod event_record;
pub(crate) mod migrations;

#[cfg(test)]
pub(crate) use event_blocks::MAX_BLOCK_EVENTS;
pub(crate) use migrations::MIGRATIONS;

use crate::codec::{decode_cart, decode_state, encode_cart};
use crate::error::count_from_i64;
use crate::migrate::{AppliedMigration, pending};
use crate::stock::{StockReport, distinct_ids, newest_per_item};
use crate::{Backend, ErasureReport, InsertReport, PurgeReport, Store, StoreError};
use cartback_core::{Cart, CartState, Event, StockLevel, Timestamp};
use event_blocks::{BlockBuffers, StoredIds};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
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

const UPSERT_CART: &str = "INSERT INTO carts \
    (id, user_id, state, created_at, last_activity, abandoned_at, closed_at, value, currency, \
     order_id, payload) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
    ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state, \
    created_at = excluded.created_at, last_activity = excluded.last_activity, \
    abandoned_at = excluded.abandoned_at, closed_at = excluded.closed_at, \
    value = excluded.value, currency = excluded.currency, order_id = excluded.order_id, \
    payload = excluded.payload";

/// Writes one stock level unless the stored one of its item is newer (`Store::upsert_stock`).
const UPSERT_STOCK: &str = "INSERT INTO item_stock (item_id, available, updated_at) \
    VALUES (?1, ?2, ?3) \
    ON CONFLICT (item_id) DO UPDATE SET available = excluded.available, \
    updated_at = excluded.updated_at WHERE excluded.updated_at >= item_stock.updated_at";

/// A [`Store`] in a SQLite database file (or in memory).
pub struct SqliteStore {
    conn: Connection,
    /// Reused JSON buffer, so encoding a payload allocates nothing in steady state.
    payload: Vec<u8>,
    /// Reused buffers of the event block writer.
    blocks: BlockBuffers,
    /// This connection's copy of the stored event ids, loaded by its first insert (`None`
    /// before, and after a failed insert or an erasure, which leave it unknown).
    stored_ids: Option<StoredIds>,
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
            blocks: BlockBuffers::default(),
            stored_ids: None,
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
            if next.version == migrations::EVENT_BLOCKS_VERSION {
                // The one step SQL cannot do: encoding the old rows into blocks.
                event_blocks::move_rows_into_blocks(&tx).map_err(failed)?;
            }
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
            carts.push(cart_of_row(row)?);
        }
        Ok(carts)
    }
}

/// The cart of an `(id, payload)` row.
fn cart_of_row(row: &rusqlite::Row<'_>) -> Result<Cart, StoreError> {
    let id = row
        .get_ref(0)
        .and_then(|v| Ok(v.as_str()?))
        .map_err(StoreError::sqlite("reading a cart id"))?;
    let payload = row
        .get_ref(1)
        .and_then(|v| Ok(v.as_bytes()?))
        .map_err(StoreError::sqlite("reading a cart payload"))?;
    decode_cart(id, payload)
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
        // Text PostgreSQL cannot store (U+0000) is refused as the records are encoded: the
        // call is one transaction, so nothing of it is stored. (A duplicate is skipped before
        // it is encoded, so its text is not looked at; it is not stored either.)
        stored.resize(events.len(), false);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("starting an event transaction"))?;
        // Taken out while the transaction runs: if anything fails, the copy (which may
        // already hold this call's ids) is dropped and the next insert reloads it.
        let mut ids = StoredIds::refreshed(&tx, self.stored_ids.take())?;
        for (event, new) in events.iter().zip(stored.iter_mut()) {
            *new = ids.claim(u128::from_be_bytes(event.id.0));
        }
        let inserted =
            event_blocks::append_events(&tx, events, stored, &mut self.blocks, &mut ids)?;
        tx.commit()
            .map_err(StoreError::sqlite("committing events"))?;
        self.stored_ids = Some(ids);
        Ok(InsertReport {
            inserted,
            duplicates: events.len() as u64 - inserted,
        })
    }

    fn event_count(&mut self) -> Result<u64, StoreError> {
        count_from_i64("events", event_blocks::event_count(&self.conn)?)
    }

    fn scan_events(&mut self, visit: &mut dyn FnMut(Event)) -> Result<u64, StoreError> {
        event_blocks::scan_events(&self.conn, visit)
    }

    fn time_bounds(&mut self) -> Result<Option<(Timestamp, Timestamp)>, StoreError> {
        let (min, max) = event_blocks::time_bounds(&self.conn)?;
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

    fn scan_carts(&mut self, visit: &mut dyn FnMut(Cart)) -> Result<u64, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, payload FROM carts ORDER BY id")
            .map_err(StoreError::sqlite("preparing the cart scan"))?;
        let mut rows = statement
            .query([])
            .map_err(StoreError::sqlite("scanning carts"))?;
        let mut visited = 0;
        while let Some(row) = rows.next().map_err(StoreError::sqlite("scanning carts"))? {
            visit(cart_of_row(row)?);
            visited += 1;
        }
        Ok(visited)
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
        // Blocks are rewritten: this connection's id copy is reloaded by its next insert.
        self.stored_ids = None;
        let events = event_blocks::erase_user_events(&tx, user_id)?;
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

    fn purge_before(&mut self, cutoff: Timestamp) -> Result<PurgeReport, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("starting a purge"))?;
        // When blocks are deleted or rewritten `event_log.rewrites` moves, and every
        // connection's id copy, this one's included, is reloaded by its next insert; a purge
        // that removes nothing leaves them exact (the engine purges daily).
        let events = event_blocks::purge_events_before(&tx, cutoff.0)?;
        let records = engine::purge_cart_records(&tx, cutoff.0)?;
        tx.commit()
            .map_err(StoreError::sqlite("committing a purge"))?;
        Ok(PurgeReport { events, ..records })
    }

    fn setting(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM store_settings WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::sqlite("reading a store setting"))
    }

    fn claim_setting(&mut self, name: &str, value: &str) -> Result<String, StoreError> {
        self.conn
            .execute(
                "INSERT INTO store_settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                [name, value],
            )
            .map_err(StoreError::sqlite("writing a store setting"))?;
        Ok(self.setting(name)?.unwrap_or_else(|| value.to_owned()))
    }

    fn upsert_stock(&mut self, levels: &[StockLevel]) -> Result<StockReport, StoreError> {
        let (newest, _) = newest_per_item(levels)?;
        let mut applied = 0u64;
        if !newest.is_empty() {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::sqlite("starting a stock transaction"))?;
            {
                let mut upsert = tx
                    .prepare_cached(UPSERT_STOCK)
                    .map_err(StoreError::sqlite("preparing the stock upsert"))?;
                for level in newest {
                    // 0 rows when the stored level is newer (the `WHERE` of the update).
                    applied += upsert
                        .execute(params![level.item_id, level.available, level.updated_at.0])
                        .map_err(StoreError::sqlite("writing a stock level"))?
                        as u64;
                }
            }
            tx.commit()
                .map_err(StoreError::sqlite("committing stock levels"))?;
        }
        Ok(StockReport {
            applied,
            stale: levels.len() as u64 - applied,
        })
    }

    fn stock_levels(&mut self, item_ids: &[String]) -> Result<Vec<StockLevel>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT available, updated_at FROM item_stock WHERE item_id = ?1")
            .map_err(StoreError::sqlite("preparing the stock read"))?;
        let mut levels = Vec::new();
        for item_id in distinct_ids(item_ids) {
            let found: Option<(i64, i64)> = statement
                .query_row([item_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map_err(StoreError::sqlite("reading a stock level"))?;
            if let Some((available, updated_at)) = found {
                levels.push(StockLevel {
                    item_id: item_id.to_owned(),
                    available,
                    updated_at: Timestamp(updated_at),
                });
            }
        }
        Ok(levels)
    }
}
