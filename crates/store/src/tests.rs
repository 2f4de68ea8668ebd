//! Runs the conformance suite against SQLite (a temporary file per test) and PostgreSQL (a
//! fresh schema per test, when `CARTBACK_TEST_POSTGRES_URL` is set), plus the checks that
//! only make sense for one backend.

use crate::conformance::{self, Harness};
use crate::{Backend, PostgresStore, SqliteStore, Store, StoreError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

const POSTGRES_URL_VARIABLE: &str = "CARTBACK_TEST_POSTGRES_URL";

/// A SQLite database file in its own temporary directory.
struct SqliteHarness {
    _directory: tempfile::TempDir,
    path: PathBuf,
}

impl SqliteHarness {
    fn new() -> Option<SqliteHarness> {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("store.db");
        Some(SqliteHarness {
            _directory: directory,
            path,
        })
    }

    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("raw SQLite connection")
    }
}

impl Harness for SqliteHarness {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(SqliteStore::open(&self.path)?))
    }

    fn execute_sql(&self, sql: &str) {
        self.raw().execute_batch(sql).expect(sql);
    }

    fn count_rows(&self, table: &str) -> u64 {
        self.raw()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|count| u64::try_from(count).expect("non-negative count"))
            .expect("count rows")
    }

    fn create_legacy_database(&self) {
        let first = &crate::sqlite::MIGRATIONS[0];
        self.execute_sql(&format!(
            "{};{};INSERT INTO schema_migrations (version, name) VALUES (1, '{}');{}",
            crate::sqlite::migrations::CREATE_MIGRATIONS_TABLE,
            first.sql,
            first.name,
            crate::sqlite::migrations::LEGACY_ENGINE_TABLES,
        ));
    }

    fn create_database_at(&self, version: u32) {
        let conn = self.raw();
        conn.execute_batch(crate::sqlite::migrations::CREATE_MIGRATIONS_TABLE)
            .expect("schema_migrations");
        for migration in &crate::sqlite::MIGRATIONS[..version as usize] {
            conn.execute_batch(migration.sql).expect(migration.name);
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                rusqlite::params![migration.version, migration.name],
            )
            .expect("record the migration");
        }
    }
}

/// A fresh schema in the test PostgreSQL database, dropped at the end of the test.
struct PostgresHarness {
    url: String,
    schema: String,
}

impl PostgresHarness {
    /// `None` (after saying so on stderr) when no test server is configured.
    fn new() -> Option<PostgresHarness> {
        let Ok(url) = std::env::var(POSTGRES_URL_VARIABLE) else {
            eprintln!("skipped: {POSTGRES_URL_VARIABLE} is not set");
            return None;
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!(
            "cartback_test_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Some(PostgresHarness { url, schema })
    }

    fn raw(&self) -> postgres::Client {
        let mut client =
            postgres::Client::connect(&self.url, postgres::NoTls).expect("raw PostgreSQL client");
        client
            .batch_execute(&format!("SET search_path TO \"{}\"", self.schema))
            .expect("search_path");
        client
    }
}

impl Harness for PostgresHarness {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(PostgresStore::connect_in_schema(
            &self.url,
            &self.schema,
        )?))
    }

    fn execute_sql(&self, sql: &str) {
        self.raw().batch_execute(sql).expect(sql);
    }

    fn count_rows(&self, table: &str) -> u64 {
        let count: i64 = self
            .raw()
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .and_then(|row| row.try_get(0))
            .expect("count rows");
        u64::try_from(count).expect("non-negative count")
    }

    fn create_legacy_database(&self) {
        let mut client =
            postgres::Client::connect(&self.url, postgres::NoTls).expect("raw PostgreSQL client");
        let first = &crate::postgres::MIGRATIONS[0];
        let sql = format!(
            "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"; {};{};\
             INSERT INTO schema_migrations (version, name) VALUES (1, '{}');{}",
            crate::postgres::migrations::CREATE_MIGRATIONS_TABLE,
            first.sql,
            first.name,
            crate::postgres::migrations::LEGACY_ENGINE_TABLES,
            schema = self.schema,
        );
        client.batch_execute(&sql).expect("legacy database");
    }

    fn create_database_at(&self, version: u32) {
        let mut client =
            postgres::Client::connect(&self.url, postgres::NoTls).expect("raw PostgreSQL client");
        let mut sql = format!(
            "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"; {};",
            crate::postgres::migrations::CREATE_MIGRATIONS_TABLE,
            schema = self.schema,
        );
        for migration in &crate::postgres::MIGRATIONS[..version as usize] {
            sql.push_str(&format!(
                "{};INSERT INTO schema_migrations (version, name) VALUES ({}, '{}');",
                migration.sql, migration.version, migration.name
            ));
        }
        client
            .batch_execute(&sql)
            .expect("database at an older version");
    }
}

impl Drop for PostgresHarness {
    fn drop(&mut self) {
        match postgres::Client::connect(&self.url, postgres::NoTls) {
            Ok(mut client) => {
                let drop_schema = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
                if let Err(error) = client.batch_execute(&drop_schema) {
                    eprintln!("could not drop test schema {}: {error}", self.schema);
                }
            }
            Err(error) => eprintln!("could not drop test schema {}: {error}", self.schema),
        }
    }
}

/// One `#[test]` per conformance check and backend.
macro_rules! conformance_tests {
    (store: [$($store_check:ident),* $(,)?], harness: [$($harness_check:ident),* $(,)?] $(,)?) => {
        mod sqlite_conformance {
            use super::*;
            $(#[test]
            fn $store_check() {
                let harness = SqliteHarness::new().expect("SQLite harness");
                let mut store = harness.open().expect("open SQLite store");
                conformance::$store_check(&mut *store);
            })*
            $(#[test]
            fn $harness_check() {
                let harness = SqliteHarness::new().expect("SQLite harness");
                conformance::$harness_check(&harness);
            })*
        }

        mod postgres_conformance {
            use super::*;
            $(#[test]
            fn $store_check() {
                let Some(harness) = PostgresHarness::new() else { return };
                let mut store = harness.open().expect("open PostgreSQL store");
                conformance::$store_check(&mut *store);
            })*
            $(#[test]
            fn $harness_check() {
                let Some(harness) = PostgresHarness::new() else { return };
                conformance::$harness_check(&harness);
            })*
        }

        const STORE_CHECKS_RUN: &[&str] = &[$(stringify!($store_check)),*];
        const HARNESS_CHECKS_RUN: &[&str] = &[$(stringify!($harness_check)),*];
    };
}

conformance_tests! {
    store: [
        inserts_and_counts_duplicates,
        insert_flags_the_stored_events,
        empty_insert_does_nothing,
        first_stored_version_wins,
        scan_orders_by_time_then_id,
        scan_streams_many_events,
        payload_round_trips_exactly,
        every_event_kind_round_trips,
        time_bounds_follow_the_log,
        carts_upsert_and_read_back,
        replace_carts_drops_the_old_table,
        carts_of_user_are_the_users_own_in_order,
        cart_counts_cover_every_state,
        a_cart_scan_visits_every_cart,
        erasure_removes_exactly_one_user,
        schema_is_current,
        nul_characters_are_refused_whole,
        a_decision_and_its_message_are_written_together,
        a_second_decision_for_one_abandonment_is_ignored,
        messages_follow_their_lifecycle,
        due_messages_include_crashed_sends,
        attribution_picks_the_last_sent_message_in_the_window,
        consent_round_trips,
        tracking_and_counts_add_up,
        decision_log_pages_in_order,
        message_log_and_tracking_totals_cover_every_message,
        erasure_removes_every_trace_of_one_user,
        engine_text_with_nul_is_refused_or_replaced,
        steps_of_one_abandonment_are_kept_apart,
        the_decision_state_round_trips,
        message_times_and_discounts_feed_the_guardrails,
        erasure_finds_a_users_events_at_any_time,
        a_purge_removes_the_events_before_its_cutoff,
        a_purge_removes_closed_carts_and_their_records_and_keeps_consent,
        settings_are_set_once_and_survive_erasure_and_purges,
        user_ids_of_two_kinds_never_mix,
        stock_levels_upsert_and_read_back,
        a_stale_stock_level_is_ignored,
        stock_survives_erasure_and_purges,
        stock_with_nul_is_refused_whole,
    ],
    harness: [
        reopening_keeps_data_and_migrates_once,
        schema_from_the_future_is_refused,
        foreign_migration_history_is_refused,
        concurrent_opens_migrate_once,
        corrupt_rows_are_reported,
        legacy_engine_tables_are_adopted,
        corrupt_engine_rows_are_reported,
        single_step_decisions_migrate_to_steps,
        events_survive_the_split_event_ids_migration,
        a_purge_keeps_every_handles_dedupe_exact,
        a_store_before_stock_levels_gains_them,
    ],
}

#[test]
fn every_conformance_check_runs_on_every_backend() {
    fn listed<'a>(checks: &[&'a str]) -> Vec<&'a str> {
        let mut names = checks.to_vec();
        names.sort_unstable();
        names
    }
    let store_checks: Vec<&str> = conformance::STORE_CHECKS.iter().map(|c| c.0).collect();
    let harness_checks: Vec<&str> = conformance::HARNESS_CHECKS.iter().map(|c| c.0).collect();
    assert_eq!(listed(STORE_CHECKS_RUN), listed(&store_checks));
    assert_eq!(listed(HARNESS_CHECKS_RUN), listed(&harness_checks));
}

#[test]
fn stores_can_move_to_a_writer_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Box<dyn Store>>();
    assert_send::<SqliteStore>();
    assert_send::<PostgresStore>();
}

#[test]
fn sqlite_open_creates_the_file_and_missing_directories_in_wal_mode_with_16k_pages() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("nested/deeper/cartback.db");
    let mut store = crate::open(path.to_str().unwrap()).expect("open");
    assert_eq!(store.backend(), Backend::Sqlite);
    store
        .insert_events(&[conformance::event(1, "u1", 0)])
        .unwrap();
    assert!(path.exists());
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let page_size: i64 = raw
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap();
    assert_eq!(page_size, 16_384);
}

#[test]
fn a_file_opened_for_small_transactions_gets_4k_pages_and_an_existing_file_keeps_its_own() {
    let page_size = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .unwrap()
    };
    let directory = tempfile::tempdir().unwrap();
    // A new file for the engine: 4 KiB pages, and it works like any store.
    let engine_file = directory.path().join("engine.db");
    let mut store = crate::open_for_small_transactions(engine_file.to_str().unwrap()).unwrap();
    conformance::inserts_and_counts_duplicates(store.as_mut());
    drop(store);
    assert_eq!(
        page_size(&engine_file),
        i64::from(crate::SMALL_TRANSACTION_PAGE_SIZE)
    );
    // Opened again by the importer's `open`, it keeps its pages (and its events).
    let mut store = crate::open(engine_file.to_str().unwrap()).unwrap();
    assert!(store.event_count().unwrap() > 0);
    drop(store);
    assert_eq!(page_size(&engine_file), 4_096);
    // A file the importer made keeps its 16 KiB pages when the engine opens it.
    let import_file = directory.path().join("import.db");
    drop(crate::open(import_file.to_str().unwrap()).unwrap());
    drop(crate::open_for_small_transactions(import_file.to_str().unwrap()).unwrap());
    assert_eq!(page_size(&import_file), 16_384);
}

#[test]
fn a_file_rebuilt_with_another_page_size_keeps_everything_and_refuses_while_in_use() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("import.db");
    let mut store = crate::open(file.to_str().unwrap()).unwrap();
    conformance::inserts_and_counts_duplicates(store.as_mut());
    let events = conformance::scan_all(store.as_mut());
    // Another connection open (as a running server would hold): refused, file untouched.
    let error = SqliteStore::rebuild(&file, Some(4_096)).unwrap_err();
    assert!(matches!(error, StoreError::InUse { .. }), "{error}");
    assert!(error.to_string().contains("stop it first"), "{error}");
    drop(store);
    let size = |path: &std::path::Path| -> u32 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .unwrap()
    };
    assert_eq!(size(&file), 16_384);
    // Alone: rebuilt with 4 KiB pages, still in WAL, with every event and cart, still deduping.
    assert_eq!(
        SqliteStore::rebuild(&file, Some(4_096)).unwrap(),
        (16_384, 4_096)
    );
    assert_eq!(size(&file), 4_096);
    let mode: String = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let mut store = crate::open(file.to_str().unwrap()).unwrap();
    assert_eq!(conformance::scan_all(store.as_mut()), events);
    let report = store.insert_events(&events).unwrap();
    assert_eq!(
        (report.inserted, report.duplicates),
        (0, events.len() as u64)
    );
    drop(store);
    // Bad sizes and missing files are refused with what was wrong.
    let error = SqliteStore::rebuild(&file, Some(5_000)).unwrap_err();
    assert!(error.to_string().contains("page size 5000"), "{error}");
    let error = SqliteStore::rebuild(directory.path().join("none.db"), None).unwrap_err();
    assert!(
        matches!(error, StoreError::MissingDatabase { .. }),
        "{error}"
    );
    assert!(!directory.path().join("none.db").exists());
}

#[test]
fn sqlite_in_memory_stores_work_and_are_private() {
    let mut first = SqliteStore::in_memory().unwrap();
    let mut second = crate::open(":memory:").unwrap();
    conformance::inserts_and_counts_duplicates(&mut first);
    assert_eq!(second.event_count().unwrap(), 0);
    assert_eq!(
        first.schema_version().unwrap(),
        crate::migrate::LATEST_VERSION
    );
}

/// The SQLite event log after migration 6: one block per hour a batch touches, each listing
/// its users, no row-per-event tables left; erasure rewrites only the blocks that held the
/// user's events.
#[test]
fn sqlite_stores_a_batch_as_one_block_per_hour_and_erasure_rewrites_them() {
    let harness = SqliteHarness::new().unwrap();
    let mut store = harness.open().unwrap();
    let tables: Vec<String> = harness
        .raw()
        .prepare("SELECT name FROM sqlite_master WHERE name LIKE 'event%' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "event_blocks",
            "event_blocks_by_hour",
            "event_blocks_by_time",
            "event_log"
        ]
    );
    let events = [
        conformance::event(1, "alice", 0),
        conformance::event(2, "alice", 1),
        conformance::event(3, "alice", 3_600_000),
        conformance::event(4, "bob", 1),
        conformance::event(1, "repeat", 5),
    ];
    assert_eq!(store.insert_events(&events).unwrap().inserted, 4);
    let blocks = |harness: &SqliteHarness| -> Vec<(i64, i64)> {
        harness
            .raw()
            .prepare("SELECT hour - min(hour) OVER (), events FROM event_blocks ORDER BY hour")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(blocks(&harness), [(0, 3), (1, 1)]);
    let users = |harness: &SqliteHarness| -> Vec<Vec<u8>> {
        harness
            .raw()
            .prepare("SELECT users FROM event_blocks ORDER BY hour")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(users(&harness), [&b"\x05alice\x03bob"[..], b"\x05alice"]);
    // A user without events erases nothing and rewrites nothing.
    assert_eq!(store.erase_user("carol").unwrap().events, 0);
    assert_eq!(blocks(&harness), [(0, 3), (1, 1)]);
    assert_eq!(store.erase_user("alice").unwrap().events, 3);
    assert_eq!(blocks(&harness), [(0, 1)]);
    assert_eq!(users(&harness), [b"\x03bob"]);
    assert_eq!(store.event_count().unwrap(), 1);
    let mut left = Vec::new();
    store.scan_events(&mut |event| left.push(event)).unwrap();
    assert_eq!(left, [conformance::event(4, "bob", 1)]);
}

/// Every handle deduplicates against its own copy of the stored ids: it must take in the
/// blocks other handles append, and start again after another handle's erasure rewrote
/// blocks (else an erased event could never be stored again).
#[test]
fn sqlite_id_copies_follow_other_handles_inserts_and_erasures() {
    let harness = SqliteHarness::new().unwrap();
    let mut first = harness.open().unwrap();
    let mut second = harness.open().unwrap();
    let alice = conformance::event(1, "alice", 0);
    let bob = conformance::event(2, "bob", 0);
    assert_eq!(
        first
            .insert_events(std::slice::from_ref(&alice))
            .unwrap()
            .inserted,
        1
    );
    assert_eq!(
        second
            .insert_events(std::slice::from_ref(&bob))
            .unwrap()
            .inserted,
        1
    );
    let again = first.insert_events(&[bob.clone(), alice.clone()]).unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 2));
    assert_eq!(second.erase_user("alice").unwrap().events, 1);
    let after_erasure = first.insert_events(&[alice.clone(), bob]).unwrap();
    assert_eq!((after_erasure.inserted, after_erasure.duplicates), (1, 1));
    assert_eq!(second.event_count().unwrap(), 2);
    // The erasing handle's own copy is renewed too.
    assert_eq!(second.insert_events(&[alice]).unwrap().duplicates, 1);
}

/// Retention on SQLite's blocks: a block that ends before the cutoff is deleted as a row, the
/// block of the cutoff's hour that straddles it is rewritten (a new block id) with its later
/// events, later blocks are untouched; `rewrites` moves only when a purge changed blocks.
#[test]
fn sqlite_a_purge_deletes_old_blocks_and_rewrites_the_one_that_straddles_the_cutoff() {
    const HOUR: i64 = 3_600_000;
    let harness = SqliteHarness::new().unwrap();
    let mut store = harness.open().unwrap();
    let batch: Vec<_> = (0..10u32)
        .map(|n| conformance::event(n, &format!("u{}", n % 3), i64::from(n) * 20 * 60_000))
        .collect();
    // 0:00 … 3:00 every 20 minutes: hours 0, 1 and 2 have three events each, hour 3 one.
    assert_eq!(store.insert_events(&batch).unwrap().inserted, 10);
    let blocks = |harness: &SqliteHarness| -> Vec<(i64, i64, i64)> {
        harness
            .raw()
            .prepare("SELECT id, hour - min(hour) OVER (), events FROM event_blocks ORDER BY hour")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let rewrites = |harness: &SqliteHarness| -> i64 {
        harness
            .raw()
            .query_row("SELECT rewrites FROM event_log", [], |row| row.get(0))
            .unwrap()
    };
    let before = blocks(&harness);
    assert_eq!(
        before.iter().map(|b| (b.1, b.2)).collect::<Vec<_>>(),
        [(0, 3), (1, 3), (2, 3), (3, 1)]
    );
    // Nothing before the first event: nothing changes, no handle has to reload.
    assert_eq!(store.purge_before(conformance::at(-1)).unwrap().total(), 0);
    assert_eq!((blocks(&harness), rewrites(&harness)), (before.clone(), 0));
    // The cutoff at 2:30 (events at 2:00 and 2:20 go, 2:40 stays).
    let report = store
        .purge_before(conformance::at(2 * HOUR + 30 * 60_000))
        .unwrap();
    assert_eq!(report.events, 8);
    let after = blocks(&harness);
    assert_eq!(
        after.iter().map(|b| (b.1, b.2)).collect::<Vec<_>>(),
        [(0, 1), (1, 1)]
    );
    let newest = before.iter().map(|b| b.0).max().unwrap();
    assert!(
        after[0].0 > newest,
        "the straddling block was not rewritten"
    );
    assert_eq!(after[1].0, before[3].0, "a later block was touched");
    assert_eq!(rewrites(&harness), 1);
    assert_eq!(store.event_count().unwrap(), 2);
    let left: Vec<_> = conformance::scan_all(store.as_mut());
    assert_eq!(left, batch[8..]);
}

/// The live engine inserts an event or two per call: they fill the hour's newest block up to
/// 64 events (then compressed) instead of leaving a block per call, and a handle whose id
/// copy predates the merge still sees every id (the merged block supersedes the small one).
#[test]
fn sqlite_small_inserts_fill_the_hours_newest_block() {
    let harness = SqliteHarness::new().unwrap();
    let mut live = harness.open().unwrap();
    let mut other = harness.open().unwrap();
    let first = conformance::event(0, "u0", 0);
    assert_eq!(
        other
            .insert_events(std::slice::from_ref(&first))
            .unwrap()
            .inserted,
        1
    );
    let events: Vec<_> = (1..100u32)
        .map(|n| conformance::event(n, &format!("u{}", n % 3), i64::from(n) * 1_000))
        .collect();
    for event in &events {
        assert_eq!(
            live.insert_events(std::slice::from_ref(event))
                .unwrap()
                .inserted,
            1
        );
    }
    let blocks: Vec<(i64, u8, i64)> = harness
        .raw()
        .prepare(
            "SELECT events, unicode(substr(CAST(data AS TEXT), 1, 1)), length(users) \
             FROM event_blocks ORDER BY id",
        )
        .unwrap()
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get::<_, Option<u8>>(1)?.unwrap_or(0),
                row.get(2)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // 64 events compressed, then the other 36 plain; users u0, u1, u2 listed once each.
    assert_eq!(blocks, [(64, 1, 9), (36, 0, 9)]);
    // `other` last saw the very first block, which is gone: every id is still known to it.
    let again = other.insert_events(&events).unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 99));
    let mut scanned = Vec::new();
    live.scan_events(&mut |event| scanned.push(event)).unwrap();
    let expected: Vec<_> = std::iter::once(first).chain(events).collect();
    assert!(
        scanned == expected,
        "the scan is not the events in time order"
    );
    assert_eq!(live.erase_user("u1").unwrap().events, 33);
    assert_eq!(live.event_count().unwrap(), 67);
}

/// A scan returns `(ts, id)` order whatever the blocks: an hour filled by two batches out of
/// order, and an hour with more events than one block holds (split and LZ4-compressed).
#[test]
fn sqlite_scans_in_time_order_across_blocks_and_compresses_big_blocks() {
    let harness = SqliteHarness::new().unwrap();
    let mut store = harness.open().unwrap();
    let big = crate::sqlite::MAX_BLOCK_EVENTS as u32 + 10;
    // Times run backwards through the batch, so no block is stored in time order.
    let later: Vec<_> = (0..big)
        .map(|n| conformance::event(n, &format!("u{}", n % 7), i64::from(big - n) * 100))
        .collect();
    let earlier: Vec<_> = (big..big + 3)
        .map(|n| conformance::event(n, "early", i64::from(n - big)))
        .collect();
    assert_eq!(
        store.insert_events(&later).unwrap().inserted,
        u64::from(big)
    );
    assert_eq!(store.insert_events(&earlier).unwrap().inserted, 3);
    let stored: Vec<(i64, u8)> = harness
        .raw()
        .prepare("SELECT events, unicode(substr(CAST(data AS TEXT), 1, 1)) FROM event_blocks ORDER BY id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, Option<u8>>(1)?.unwrap_or(0))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // 4,096 + 10 in one hour: two blocks, the full one compressed (1), the small one not (0);
    // the later batch's 3 events joined the small one.
    assert_eq!(stored, [(4096, 1), (13, 0)]);
    let mut scanned = Vec::new();
    store.scan_events(&mut |event| scanned.push(event)).unwrap();
    let mut expected: Vec<_> = later.into_iter().chain(earlier).collect();
    expected.sort_by_key(|event| (event.timestamp, event.id.0));
    assert_eq!(scanned.len(), expected.len());
    assert!(
        scanned == expected,
        "the scan is not the events in (ts, id) order"
    );
}

#[test]
fn sqlite_handles_on_one_file_write_concurrently() {
    let harness = SqliteHarness::new().unwrap();
    let threads = 3u32;
    let batches = 40u32;
    let per_batch = 50u32;
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let harness = &harness;
            scope.spawn(move || {
                let mut store = harness.open().expect("open");
                for batch in 0..batches {
                    let events: Vec<_> = (0..per_batch)
                        .map(|i| {
                            let n = (thread * batches + batch) * per_batch + i;
                            conformance::event(n, &format!("u{thread}"), i64::from(n))
                        })
                        .collect();
                    // Every thread also re-inserts one shared event: stored once in total.
                    let shared = conformance::event(u32::MAX, "shared", 0);
                    let report = store.insert_events(&events).unwrap();
                    assert_eq!(report.inserted, u64::from(per_batch));
                    store.insert_events(&[shared]).unwrap();
                    // Reads interleave with the other handles' writes.
                    store.event_count().unwrap();
                }
            });
        }
    });
    let mut reader = harness.open().unwrap();
    assert_eq!(
        reader.event_count().unwrap(),
        u64::from(threads * batches * per_batch) + 1
    );
}

#[test]
fn postgres_urls_open_postgres_and_hide_passwords() {
    assert!(crate::is_postgres_url("postgres://h/db"));
    assert!(crate::is_postgres_url("PostgreSQL://h/db"));
    assert!(!crate::is_postgres_url("data/postgres.db"));
    assert!(!crate::is_postgres_url("./postgres://x"));
    // Port 1 refuses connections: the error proves the PostgreSQL backend was chosen.
    match crate::open("postgresql://cartback:s3cret@127.0.0.1:1/shop") {
        Err(error @ StoreError::ConnectPostgres { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("cartback:***@127.0.0.1:1/shop"),
                "{message}"
            );
            assert!(!message.contains("s3cret"), "{message}");
        }
        Err(other) => panic!("expected a PostgreSQL connection error, got {other}"),
        Ok(_) => panic!("connected to port 1"),
    }
}

#[test]
fn postgres_schemas_keep_data_apart() {
    let (Some(first), Some(second)) = (PostgresHarness::new(), PostgresHarness::new()) else {
        return;
    };
    let mut a = first.open().unwrap();
    let mut b = second.open().unwrap();
    a.insert_events(&[conformance::event(1, "u1", 0)]).unwrap();
    assert_eq!(a.event_count().unwrap(), 1);
    assert_eq!(b.event_count().unwrap(), 0);
    assert_eq!(
        b.insert_events(&[conformance::event(1, "u1", 0)])
            .unwrap()
            .inserted,
        1
    );
}

#[test]
fn postgres_open_routes_urls_and_honours_search_path_options() {
    let Some(harness) = PostgresHarness::new() else {
        return;
    };
    harness
        .open()
        .unwrap()
        .insert_events(&[conformance::full_event()])
        .unwrap();
    let separator = if harness.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options=-c%20search_path%3D{}",
        harness.url, harness.schema
    );
    let mut store = crate::open(&url).expect("open by URL");
    assert_eq!(store.backend(), Backend::Postgres);
    assert_eq!(
        conformance::scan_all(&mut *store),
        vec![conformance::full_event()]
    );
}

#[test]
fn postgres_refuses_unsafe_schema_names() {
    let Some(harness) = PostgresHarness::new() else {
        return;
    };
    match PostgresStore::connect_in_schema(&harness.url, "x\"; DROP TABLE events; --") {
        Err(StoreError::InvalidSchemaName(name)) => assert!(name.starts_with("x\"")),
        Err(other) => panic!("expected InvalidSchemaName, got {other}"),
        Ok(_) => panic!("an unsafe schema name was accepted"),
    }
}
