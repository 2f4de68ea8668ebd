//! Persistence behind one trait.
//!
//! This crate owns the [`Store`] trait — everything cartback keeps between runs — and its two
//! implementations: [`SqliteStore`] (one file, zero set-up, the embedded default) and
//! [`PostgresStore`] (shared state when several engine processes run). It also owns the
//! schema of both and the migration runner that creates and upgrades it ([`migrate`]).
//!
//! Every trait method is one transaction: it either happens completely or not at all. Work
//! that must be atomic together (a decision and its outbox message) is one method.
//! The clients are synchronous; an async server calls the store from a writer thread or
//! `spawn_blocking` (a `Store` is `Send`).
//!
//! The live engine's own records (decisions, outbox, consent, tracking) are the supertrait
//! [`EngineRecords`] of [`Store`] (module `engine`): they live in the same database, so
//! [`open`] gives one object holding both, the engine runs on one connection, and
//! [`Store::erase_user`] removes every trace of a user — events, carts, decisions, messages,
//! consent, tracking — in one transaction; [`Store::purge_before`] removes what is older than
//! the shop keeps (data retention) the same way. The separate trait only groups the engine's
//! methods; every backend implements both, and no `Store + EngineRecords` combination trait is
//! needed (a store without engine records could not erase a user completely).
//!
//! [`open`] picks the backend from a location string: `postgres://…` or `postgresql://…` is a
//! PostgreSQL URL, anything else a SQLite file path (created if missing). See `docs/store.md`.

mod codec;
mod engine;
mod error;
pub mod migrate;
mod postgres;
mod sqlite;
mod stock;
mod user_ids;

#[cfg(any(test, feature = "test-suite"))]
pub mod conformance;
#[cfg(test)]
mod tests;

pub use crate::postgres::PostgresStore;
pub use crate::sqlite::{SMALL_TRANSACTION_PAGE_SIZE, SqliteStore};
pub use engine::{Decision, EngineRecords, MessageStatus, OutboxMessage};
pub use error::StoreError;
pub use stock::StockReport;
pub use user_ids::{USER_IDS_SETTING, UserIds, UserIdsError, ensure_user_ids};

use cartback_core::{Cart, CartState, Event, StockLevel, Timestamp};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::AddAssign;

/// Which database a [`Store`] keeps its data in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// What one [`Store::insert_events`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsertReport {
    /// Events stored by this call.
    pub inserted: u64,
    /// Events whose id was already stored, or appeared earlier in the same slice; they were
    /// skipped (the first stored version is kept).
    pub duplicates: u64,
}

impl AddAssign for InsertReport {
    fn add_assign(&mut self, other: InsertReport) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
    }
}

/// What [`Store::erase_user`] removed, in rows per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    pub events: u64,
    pub carts: u64,
    pub decisions: u64,
    /// Outbox messages.
    pub messages: u64,
    /// Per-channel consent records.
    pub consents: u64,
    /// Opens, clicks and unsubscribes of the user's messages.
    pub tracking_events: u64,
}

impl ErasureReport {
    /// Rows removed in all tables.
    pub fn total(&self) -> u64 {
        self.events
            + self.carts
            + self.decisions
            + self.messages
            + self.consents
            + self.tracking_events
    }
}

/// What [`Store::purge_before`] removed, in rows per table. Consent records are never
/// purged (they prove consent or its withdrawal), so they have no count here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub events: u64,
    /// Carts closed (recovered, purchased, expired) before the cutoff.
    pub carts: u64,
    /// Decisions about those carts.
    pub decisions: u64,
    /// Outbox messages about those carts.
    pub messages: u64,
    /// Opens, clicks and unsubscribes of those messages.
    pub tracking_events: u64,
}

impl PurgeReport {
    /// Rows removed in all tables.
    pub fn total(&self) -> u64 {
        self.events + self.carts + self.decisions + self.messages + self.tracking_events
    }
}

/// Everything cartback persists: the event log and carts here, the live engine's records
/// through the supertrait [`EngineRecords`]. Each method runs in one transaction.
pub trait Store: EngineRecords + Send {
    /// The database behind this store.
    fn backend(&self) -> Backend;

    /// The highest migration applied to the database (equal to [`migrate::LATEST_VERSION`]
    /// once the store is open).
    fn schema_version(&mut self) -> Result<u32, StoreError>;

    /// Appends events to the log in one transaction, skipping every event whose id is already
    /// stored or occurs earlier in `events` (the first stored version wins).
    fn insert_events(&mut self, events: &[Event]) -> Result<InsertReport, StoreError>;

    /// [`insert_events`](Self::insert_events), also saying which events it stored: `stored` is
    /// cleared and gets one flag per event, in order — `true` for an event this call stored,
    /// `false` for one skipped as a duplicate. The importer folds exactly the stored events
    /// while it imports, instead of replaying the whole log afterwards.
    fn insert_events_flagged(
        &mut self,
        events: &[Event],
        stored: &mut Vec<bool>,
    ) -> Result<InsertReport, StoreError>;

    /// Number of events in the log.
    fn event_count(&mut self) -> Result<u64, StoreError>;

    /// Calls `visit` with every event in (timestamp, id) order, streaming: PostgreSQL from a
    /// cursor, SQLite one cluster of time-overlapping event blocks at a time (a single block of
    /// at most 4,096 events when they were inserted in time order). Returns the number of
    /// events visited. `visit` cannot use the store.
    fn scan_events(&mut self, visit: &mut dyn FnMut(Event)) -> Result<u64, StoreError>;

    /// Visits every stored cart, in id order, without holding them all (reports). Returns the
    /// number of carts visited. `visit` cannot use the store.
    fn scan_carts(&mut self, visit: &mut dyn FnMut(Cart)) -> Result<u64, StoreError>;

    /// Earliest and latest event timestamps, or `None` when the log is empty.
    fn time_bounds(&mut self) -> Result<Option<(Timestamp, Timestamp)>, StoreError>;

    /// Replaces the whole cart table with `carts` in one transaction (the importer rebuilds
    /// carts by replaying the log). When an id occurs twice, the last one wins.
    fn replace_carts(&mut self, carts: &[Cart]) -> Result<(), StoreError>;

    /// Inserts or overwrites the given carts by id. When an id occurs twice, the last one wins.
    fn upsert_carts(&mut self, carts: &[Cart]) -> Result<(), StoreError>;

    /// The cart with this id, if stored.
    fn cart(&mut self, id: &str) -> Result<Option<Cart>, StoreError>;

    /// Every cart of a user, oldest first (by creation time, then id).
    fn carts_of_user(&mut self, user_id: &str) -> Result<Vec<Cart>, StoreError>;

    /// Number of carts in every state, each [`CartState`] present (zero included).
    fn cart_counts(&mut self) -> Result<BTreeMap<CartState, u64>, StoreError>;

    /// Removes every trace of a user in one transaction — events, carts, decisions, outbox
    /// messages, consent and the tracking events of those messages — and says how many went.
    fn erase_user(&mut self, user_id: &str) -> Result<ErasureReport, StoreError>;

    /// Data retention, in one transaction: removes every event with a timestamp before
    /// `cutoff`, every cart closed (recovered, purchased, expired) before `cutoff`, and those
    /// carts' decisions, outbox messages and the messages' tracking events; says how many
    /// went. Open carts stay whatever their age, and consent records always stay. A purged
    /// event's id is forgotten: inserting it again stores it again. See `docs/store.md`,
    /// "Retention".
    fn purge_before(&mut self, cutoff: Timestamp) -> Result<PurgeReport, StoreError>;

    /// A store-wide setting by name (`store_settings`), if set: how the store keeps user ids
    /// ([`ensure_user_ids`]).
    fn setting(&mut self, name: &str) -> Result<Option<String>, StoreError>;

    /// Sets a setting that is not set yet, atomically, and returns the value stored under
    /// `name` afterwards: `value`, or what another writer set first. Settings are never
    /// changed once set (erasure and retention leave them).
    fn claim_setting(&mut self, name: &str, value: &str) -> Result<String, StoreError>;

    /// Records the shop's stock levels (`item_stock`, migration 8) in one transaction: a
    /// level is written unless the store keeps a newer one of its item (`updated_at`; an
    /// equal one is overwritten), so webhooks that arrive out of order leave the newest count.
    /// Inside `levels` the newest of an item wins (of equal ones, the later). Says how many
    /// were applied and how many ignored as stale (`applied + stale = levels.len()`). An
    /// item id holding U+0000 refuses the whole call ([`StoreError::Unstorable`]). Stock is
    /// not personal data: erasure and retention leave it.
    fn upsert_stock(&mut self, levels: &[StockLevel]) -> Result<StockReport, StoreError>;

    /// The stored levels of those of `item_ids` the store knows (an item never reported is
    /// absent), once each, in item id order (bytes).
    fn stock_levels(&mut self, item_ids: &[String]) -> Result<Vec<StockLevel>, StoreError>;
}

/// Whether a location names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    let lower = location.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Opens (and migrates) the store at `location`: a `postgres://…` / `postgresql://…` URL
/// opens PostgreSQL, anything else is a SQLite file path, created with its parent
/// directories if missing.
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if is_postgres_url(location) {
        Ok(Box::new(PostgresStore::connect(location.trim())?))
    } else {
        Ok(Box::new(SqliteStore::open(location)?))
    }
}

/// [`open`] for a store that will mostly see small transactions (the live engine): a SQLite
/// file it creates gets [`SMALL_TRANSACTION_PAGE_SIZE`] pages instead of the bulk importer's
/// 16 KiB. An existing file, and PostgreSQL, are opened as they are.
pub fn open_for_small_transactions(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if is_postgres_url(location) {
        open(location)
    } else {
        Ok(Box::new(SqliteStore::open_with_page_size(
            location,
            SMALL_TRANSACTION_PAGE_SIZE,
        )?))
    }
}
