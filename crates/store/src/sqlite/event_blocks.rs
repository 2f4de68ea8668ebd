//! The SQLite event log: events stored many to a row, in blocks, and the in-memory index of
//! stored event ids that deduplicates inserts (migration 6).
//!
//! One SQLite row and one B-tree entry of a 16-byte id per event cost about 1.5 µs of CPU
//! whatever is relaxed around them (docs/store.md, "How far the row layout could go"), twice
//! the cost of parsing and folding the event. So each insert writes one row per hour of event
//! time it touches, a *block*, to `event_blocks`:
//! - `hour` is [`hour_of`] every event's timestamp, `first_ts`/`last_ts` the block's bounds;
//! - `ids` holds the events' 16-byte ids back to back, in the block's order;
//! - `data` holds one record per event, in the same order (module `event_record`), stored
//!   plain or LZ4-compressed ([`Compression`]);
//! - `users` lists the block's distinct user ids, for erasure.
//!
//! An insert of a few events (the live engine's requests) does not leave a block of its own:
//! while the hour's newest block holds fewer than 64 events, the new events join it (the
//! merged block replaces it under a new block id, so other connections' id copies stay exact).
//!
//! A scan reads the blocks in order of their first event time and sorts each cluster of
//! blocks whose time spans overlap ([`scan_in_clusters`]): it holds one block's events in
//! memory when events were inserted in time order, more only where batches overlap in time. Erasure
//! reads every block's `users` and rewrites the blocks holding the user's events; retention
//! deletes the blocks that end before its cutoff and rewrites the ones that straddle it (only
//! blocks of the cutoff's hour can), both through the same [`BlockBuilder`] path. (Migration
//! 4's `event_user_hours` table did that job with a row per user and hour: 150,000 rows for
//! 1M generated events, a tenth of the import's CPU time.)
//!
//! **Dedupe.** A connection keeps the set of stored ids in memory ([`StoredIds`], about 32
//! bytes per stored event), loaded on its first insert from the blocks' `ids`. Every insert
//! runs under the write lock (`BEGIN IMMEDIATE`) and first brings the set up to date: blocks
//! are only ever appended with growing ids (`AUTOINCREMENT`), so it reads the `ids` of blocks
//! above the last one it has seen; anything that deletes or rewrites blocks (erasure,
//! retention) bumps `event_log.rewrites`, and a connection that sees another value than its
//! own reloads the set from scratch. `event_log.events` keeps the event count.

use super::event_record::{self, RecordHead};
use crate::StoreError;
use crate::codec::{EventRow, decode_event};
use cartback_core::{Event, EventId};
use rusqlite::{Connection, params};
use std::collections::HashSet;

/// Most events in one block: a batch's events of one hour beyond this go to further blocks,
/// so no row's blobs grow without bound (4,096 events are about 1 MiB of `data`).
pub(crate) const MAX_BLOCK_EVENTS: usize = 4096;

/// Milliseconds in an hour of `event_blocks.hour`.
const MILLIS_PER_HOUR: i64 = 3_600_000;

/// The hour of an event time: `ts / 3600000` truncated towards zero (SQLite's integer
/// division, as in migration 4), so hour 0 spans the hour on either side of the epoch.
fn hour_of(ts: i64) -> i64 {
    ts / MILLIS_PER_HOUR
}

/// Stored event ids, as big-endian `u128`.
type IdSet = HashSet<u128, foldhash::fast::RandomState>;

/// One connection's copy of the stored ids, and how far the log had got when it was taken.
#[derive(Default)]
pub(crate) struct StoredIds {
    ids: IdSet,
    /// The highest `event_blocks.id` whose ids are in `ids`.
    last_block: i64,
    /// `event_log.rewrites` when `ids` was loaded.
    rewrites: i64,
}

impl StoredIds {
    /// Brings a connection's copy up to date inside the caller's write transaction: the same
    /// `rewrites` means only blocks above `last_block` are new; anything else (or no copy
    /// yet) means reading every block's ids.
    pub(crate) fn refreshed(
        conn: &Connection,
        copy: Option<StoredIds>,
    ) -> Result<StoredIds, StoreError> {
        let rewrites: i64 = conn
            .query_row("SELECT rewrites FROM event_log", [], |row| row.get(0))
            .map_err(StoreError::sqlite("reading the event log's state"))?;
        let mut copy = match copy {
            Some(copy) if copy.rewrites == rewrites => copy,
            _ => StoredIds {
                rewrites,
                ..StoredIds::default()
            },
        };
        each_block_blob(
            conn,
            "SELECT id, ids FROM event_blocks WHERE id > ?1 ORDER BY id",
            [copy.last_block],
            "reading stored event ids",
            |block, ids| {
                if ids.len() % 16 != 0 {
                    return Err(corrupt_block(
                        block,
                        "`ids` is not a whole number of 16-byte ids",
                    ));
                }
                copy.ids.extend(ids.chunks_exact(16).map(id_key));
                copy.last_block = block;
                Ok(())
            },
        )?;
        Ok(copy)
    }

    /// Claims an id: `true` when it was not stored (it is now), `false` for a duplicate.
    pub(crate) fn claim(&mut self, id: u128) -> bool {
        self.ids.insert(id)
    }

    /// Records that this connection wrote block `block` (its ids are already claimed).
    pub(crate) fn wrote_block(&mut self, block: i64) {
        self.last_block = self.last_block.max(block);
    }
}

/// Runs `sql`, which selects a block id and one blob column, and calls `visit` with each
/// row; `action` names the work in SQLite errors.
fn each_block_blob(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    action: &'static str,
    mut visit: impl FnMut(i64, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut statement = conn
        .prepare_cached(sql)
        .map_err(StoreError::sqlite(action))?;
    let mut rows = statement
        .query(params)
        .map_err(StoreError::sqlite(action))?;
    while let Some(row) = rows.next().map_err(StoreError::sqlite(action))? {
        let block: i64 = row.get(0).map_err(StoreError::sqlite(action))?;
        let blob = row
            .get_ref(1)
            .and_then(|value| Ok(value.as_blob()?))
            .map_err(StoreError::sqlite(action))?;
        visit(block, blob)?;
    }
    Ok(())
}

fn id_key(bytes: &[u8]) -> u128 {
    let mut id = [0u8; 16];
    id.copy_from_slice(bytes);
    u128::from_be_bytes(id)
}

fn corrupt_block(block: i64, reason: &str) -> StoreError {
    StoreError::CorruptRow {
        table: "event_blocks",
        key: block.to_string(),
        reason: reason.to_string(),
    }
}

/// Reused buffers of one connection's block writer.
#[derive(Default)]
pub(crate) struct BlockBuffers {
    block: BlockBuilder,
    /// (hour, position in the batch) of the batch's new events.
    by_hour: Vec<(i64, usize)>,
}

/// A block being built: its records, their ids and users and its time span, written as one
/// row by [`BlockBuilder::insert`]. Inserts, merges of small blocks and erasure's rewrites
/// all build their blocks here.
struct BlockBuilder {
    first_ts: i64,
    last_ts: i64,
    events: usize,
    users: BlockUsers,
    ids: Vec<u8>,
    records: Vec<u8>,
    /// The stored form of `records` (reused buffer).
    stored: Vec<u8>,
}

impl Default for BlockBuilder {
    fn default() -> Self {
        BlockBuilder {
            first_ts: i64::MAX,
            last_ts: i64::MIN,
            events: 0,
            users: BlockUsers::default(),
            ids: Vec::new(),
            records: Vec::new(),
            stored: Vec::new(),
        }
    }
}

impl BlockBuilder {
    fn clear(&mut self) {
        (self.first_ts, self.last_ts, self.events) = (i64::MAX, i64::MIN, 0);
        self.users.clear();
        self.ids.clear();
        self.records.clear();
    }

    /// Encodes `event` as the next record.
    fn add_event(&mut self, event: &Event) -> Result<(), StoreError> {
        event_record::encode(event, &mut self.records).map_err(|field| StoreError::Unstorable {
            what: "event",
            key: event.id.to_string(),
            field: field.to_string(),
        })?;
        self.note(&event.id.0, event.timestamp.0, &event.user_id);
        Ok(())
    }

    /// Copies a stored record (`raw`, with its id and head) as the next record.
    fn add_record(&mut self, id: &[u8], head: RecordHead<'_>, raw: &[u8]) {
        self.records.extend_from_slice(raw);
        self.note(id, head.ts, head.user_id);
    }

    /// Takes every record of a small stored block (before any other record).
    fn add_block(&mut self, tail: &TailBlock) -> Result<(), StoreError> {
        self.records.extend_from_slice(&tail.records);
        self.ids.extend_from_slice(&tail.ids);
        self.users.add_list(tail.id, &tail.users)?;
        self.first_ts = self.first_ts.min(tail.first_ts);
        self.last_ts = self.last_ts.max(tail.last_ts);
        self.events += tail.events;
        Ok(())
    }

    fn note(&mut self, id: &[u8], ts: i64, user_id: &str) {
        self.ids.extend_from_slice(id);
        self.first_ts = self.first_ts.min(ts);
        self.last_ts = self.last_ts.max(ts);
        self.events += 1;
        self.users.add(user_id);
    }

    /// Writes the block as a row of hour `hour` ([`INSERT_BLOCK`]) and returns its id.
    fn insert(&mut self, conn: &Connection, hour: i64) -> Result<i64, StoreError> {
        let data =
            Compression::for_blocks_of(self.events).compress(&self.records, &mut self.stored);
        conn.prepare_cached(INSERT_BLOCK)
            .and_then(|mut insert| {
                insert.execute(params![
                    hour,
                    self.first_ts,
                    self.last_ts,
                    self.events as i64,
                    self.users.bytes(),
                    &self.ids[..],
                    data,
                ])
            })
            .map_err(StoreError::sqlite("writing an event block"))?;
        Ok(conn.last_insert_rowid())
    }
}

const INSERT_BLOCK: &str = "INSERT INTO event_blocks (hour, first_ts, last_ts, events, users, ids, data) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// The distinct users of a block, for `event_blocks.users`: each a LEB128 length and the
/// UTF-8 id, in order of first appearance.
#[derive(Default)]
struct BlockUsers {
    seen: HashSet<String, foldhash::fast::RandomState>,
    bytes: Vec<u8>,
}

impl BlockUsers {
    fn clear(&mut self) {
        self.seen.clear();
        self.bytes.clear();
    }

    fn add(&mut self, user_id: &str) {
        if !self.seen.contains(user_id) {
            self.seen.insert(user_id.to_string());
            event_record::put_text(&mut self.bytes, user_id);
        }
    }

    /// Adds every user of a stored `users` list (of block `block`).
    fn add_list(&mut self, block: i64, users: &[u8]) -> Result<(), StoreError> {
        users_of(block, users)?
            .into_iter()
            .for_each(|user| self.add(user));
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The user ids of a block's stored `users` list (of block `block`), in order.
fn users_of(block: i64, users: &[u8]) -> Result<Vec<&str>, StoreError> {
    let mut listed = Vec::new();
    let mut rest = users;
    while !rest.is_empty() {
        let (user, used) = event_record::read_text(rest)
            .map_err(|reason| corrupt_block(block, &format!("`users`: {reason}")))?;
        listed.push(user);
        rest = &rest[used..];
    }
    Ok(listed)
}

/// How a block's `data` is stored: its first byte says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    /// Byte 0, then the records.
    None = 0,
    /// Byte 1, the records' length (4 bytes, little-endian), then the records compressed as
    /// one LZ4 block (`lz4_flex`). The generated events shrink 2.4-fold (1M events: 70 MB
    /// instead of 167 MB) for about the same CPU time: compressing costs what writing the
    /// bigger pages twice (WAL and checkpoint) would.
    Lz4 = 1,
}

impl Compression {
    /// LZ4 for a block of many events; a few (the live engine's requests) are not worth it.
    fn for_blocks_of(events: usize) -> Compression {
        if events >= 64 {
            Compression::Lz4
        } else {
            Compression::None
        }
    }

    /// The stored form of `records`, built in `out` unless stored as they are.
    fn compress<'b>(self, records: &'b [u8], out: &'b mut Vec<u8>) -> &'b [u8] {
        out.clear();
        out.push(self as u8);
        match self {
            Compression::None => out.extend_from_slice(records),
            Compression::Lz4 => {
                out.extend_from_slice(&(records.len() as u32).to_le_bytes());
                let start = out.len();
                out.resize(
                    start + lz4_flex::block::get_maximum_output_size(records.len()),
                    0,
                );
                let written = lz4_flex::block::compress_into(records, &mut out[start..])
                    .expect("the buffer has LZ4's maximum output size");
                out.truncate(start + written);
            }
        }
        out
    }
}

/// The records of a block's stored `data`: borrowed when stored plain, else decompressed
/// into `buffer`. The length LZ4 claims is checked against the most it can expand (255
/// times, plus a little), so a corrupt block cannot make it allocate without bound.
fn block_records<'d>(
    block: i64,
    data: &'d [u8],
    buffer: &'d mut Vec<u8>,
) -> Result<&'d [u8], StoreError> {
    match data.split_first() {
        Some((0, records)) => Ok(records),
        Some((1, rest)) if rest.len() >= 4 => {
            let (size, compressed) = rest.split_at(4);
            let size = u32::from_le_bytes(size.try_into().expect("4 bytes")) as usize;
            if size > compressed.len().saturating_mul(255).saturating_add(64) {
                return Err(corrupt_block(block, "LZ4 claims an impossible length"));
            }
            buffer.clear();
            buffer.resize(size, 0);
            let written = lz4_flex::block::decompress_into(compressed, buffer)
                .map_err(|e| corrupt_block(block, &format!("LZ4: {e}")))?;
            if written != size {
                return Err(corrupt_block(block, "LZ4 data shorter than it claims"));
            }
            Ok(&buffer[..])
        }
        Some((other, _)) => Err(corrupt_block(
            block,
            &format!("unknown compression {other}"),
        )),
        None => Err(corrupt_block(block, "empty `data`")),
    }
}

/// Appends the events flagged in `stored` to the log inside the caller's transaction: one
/// block per hour they fall in (more when an hour has over [`MAX_BLOCK_EVENTS`]), each in
/// slice order, and the new count. Tells `ids` the blocks written.
pub(crate) fn append_events(
    conn: &Connection,
    events: &[Event],
    stored: &[bool],
    buffers: &mut BlockBuffers,
    ids: &mut StoredIds,
) -> Result<u64, StoreError> {
    let BlockBuffers { block, by_hour } = buffers;
    by_hour.clear();
    by_hour.extend(
        events
            .iter()
            .zip(stored)
            .enumerate()
            .filter(|(_, (_, new))| **new)
            .map(|(n, (event, _))| (hour_of(event.timestamp.0), n)),
    );
    // Stable: a block keeps the batch's order within its hour.
    by_hour.sort_by_key(|&(hour, _)| hour);
    for group in by_hour.chunk_by(|a, b| a.0 == b.0) {
        let hour = group[0].0;
        // The live engine inserts a few events per call: they join the hour's last block
        // while it is small, instead of each call leaving a block of its own.
        let mut tail = if group.len() < MAX_BLOCK_EVENTS {
            small_tail_block(conn, hour, MAX_BLOCK_EVENTS - group.len())?
        } else {
            None
        };
        for chunk in group.chunks(MAX_BLOCK_EVENTS) {
            block.clear();
            if let Some(tail) = &tail {
                block.add_block(tail)?;
            }
            for &(_, n) in chunk {
                block.add_event(&events[n])?;
            }
            ids.wrote_block(block.insert(conn, hour)?);
            // The merged block holds every id of the one it replaces and has a higher block
            // id, so other connections' id copies stay exact without a reload.
            if let Some(tail) = tail.take() {
                conn.prepare_cached("DELETE FROM event_blocks WHERE id = ?1")
                    .and_then(|mut delete| delete.execute([tail.id]))
                    .map_err(StoreError::sqlite("replacing a small event block"))?;
            }
        }
    }
    let appended = by_hour.len() as u64;
    add_to_count(conn, appended as i64, false)?;
    Ok(appended)
}

/// Blocks with fewer events than this are topped up by later inserts into their hour.
const SMALL_BLOCK_EVENTS: i64 = 64;

/// A small block about to be merged into a new one.
struct TailBlock {
    id: i64,
    first_ts: i64,
    last_ts: i64,
    events: usize,
    users: Vec<u8>,
    ids: Vec<u8>,
    records: Vec<u8>,
}

/// The hour's newest block, when it holds fewer than [`SMALL_BLOCK_EVENTS`] events, at most
/// `room`, and is stored plain (as every block of under 64 events is).
fn small_tail_block(
    conn: &Connection,
    hour: i64,
    room: usize,
) -> Result<Option<TailBlock>, StoreError> {
    let mut newest = conn
        .prepare_cached(
            "SELECT id, first_ts, last_ts, events, users, ids, data FROM event_blocks \
             WHERE hour = ?1 ORDER BY id DESC LIMIT 1",
        )
        .map_err(StoreError::sqlite(
            "preparing the read of an hour's newest block",
        ))?;
    let mut rows = newest
        .query([hour])
        .map_err(StoreError::sqlite("reading an hour's newest block"))?;
    let Some(row) = rows
        .next()
        .map_err(StoreError::sqlite("reading an hour's newest block"))?
    else {
        return Ok(None);
    };
    let read = || -> rusqlite::Result<(i64, i64, i64, i64)> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    };
    let (id, first_ts, last_ts, events) =
        read().map_err(StoreError::sqlite("reading an hour's newest block"))?;
    let blob = |column: usize| -> Result<&[u8], StoreError> {
        row.get_ref(column)
            .and_then(|value| Ok(value.as_blob()?))
            .map_err(StoreError::sqlite("reading an hour's newest block"))
    };
    let data = blob(6)?;
    let small = events < SMALL_BLOCK_EVENTS && (events as usize) <= room;
    let Some((0, records)) = data.split_first().filter(|_| small) else {
        return Ok(None);
    };
    Ok(Some(TailBlock {
        id,
        first_ts,
        last_ts,
        events: events as usize,
        users: blob(4)?.to_vec(),
        ids: blob(5)?.to_vec(),
        records: records.to_vec(),
    }))
}

/// Adds `delta` to `event_log.events`; `rewrote` also bumps `rewrites` (blocks were deleted or
/// rewritten, so every connection's [`StoredIds`] must reload).
fn add_to_count(conn: &Connection, delta: i64, rewrote: bool) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE event_log SET events = events + ?1, rewrites = rewrites + ?2")
        .and_then(|mut update| update.execute(params![delta, i64::from(rewrote)]))
        .map_err(StoreError::sqlite("updating the event log's count"))?;
    Ok(())
}

/// Number of events in the log.
pub(crate) fn event_count(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT events FROM event_log", [], |row| row.get(0))
        .map_err(StoreError::sqlite("counting events"))
}

/// Earliest and latest event time: the first block by `(first_ts, id)`, and the latest end
/// among the last hour's blocks.
pub(crate) fn time_bounds(conn: &Connection) -> Result<(Option<i64>, Option<i64>), StoreError> {
    conn.query_row(
        "SELECT (SELECT min(first_ts) FROM event_blocks), \
           (SELECT max(last_ts) FROM event_blocks \
              WHERE hour = (SELECT max(hour) FROM event_blocks))",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .map_err(StoreError::sqlite("reading event time bounds"))
}

/// Calls `visit` with every event in `(ts, id)` order. Returns the number of events visited.
pub(crate) fn scan_events(
    conn: &Connection,
    visit: &mut dyn FnMut(Event),
) -> Result<u64, StoreError> {
    scan_in_clusters(conn, visit).map(|scan| scan.visited)
}

/// What a scan did: events visited, and the most it held in memory at once.
pub(crate) struct ScanReport {
    pub visited: u64,
    pub largest_cluster: usize,
}

/// The scan: blocks in order of their first event time (index `event_blocks_by_time`),
/// gathered into clusters of blocks whose time spans overlap (a block joins the cluster when
/// its first event is no later than the cluster's last). A cluster's events are decoded,
/// sorted by `(ts, id)` and handed out before the next cluster is read, so a scan holds one
/// cluster in memory: one block when events were inserted in time order, more only where
/// batches overlap in time.
pub(crate) fn scan_in_clusters(
    conn: &Connection,
    visit: &mut dyn FnMut(Event),
) -> Result<ScanReport, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id, hour, ids, data, first_ts, last_ts FROM event_blocks \
             ORDER BY first_ts, id",
        )
        .map_err(StoreError::sqlite("preparing the event scan"))?;
    let mut rows = statement
        .query([])
        .map_err(StoreError::sqlite("scanning events"))?;
    let mut cluster: Vec<Event> = Vec::new();
    let mut cluster_end = i64::MIN;
    let mut buffer = Vec::new();
    let mut report = ScanReport {
        visited: 0,
        largest_cluster: 0,
    };
    let mut flush = |events: &mut Vec<Event>| {
        events.sort_unstable_by_key(|event| (event.timestamp, event.id.0));
        report.visited += events.len() as u64;
        report.largest_cluster = report.largest_cluster.max(events.len());
        events.drain(..).for_each(&mut *visit);
    };
    while let Some(row) = rows.next().map_err(StoreError::sqlite("scanning events"))? {
        let block = BlockRow::read(row)?;
        let span = row
            .get::<_, i64>(4)
            .and_then(|first| Ok((first, row.get::<_, i64>(5)?)))
            .map_err(StoreError::sqlite("reading an event block"))?;
        if span.0 > cluster_end {
            flush(&mut cluster);
        }
        cluster_end = cluster_end.max(span.1);
        block.decode_into(&mut cluster, &mut buffer)?;
    }
    flush(&mut cluster);
    Ok(report)
}

/// Deletes a user's events inside the caller's erasure transaction: every block whose
/// `users` lists the user is replaced by a block of its other events (or by none). Returns
/// the number of events deleted. The cost is reading every block's `users` (a few bytes per
/// user and hour), then the blocks that hold the user's events.
pub(crate) fn erase_user_events(conn: &Connection, user_id: &str) -> Result<u64, StoreError> {
    let mut holding = Vec::new();
    each_block_blob(
        conn,
        "SELECT id, users FROM event_blocks",
        [],
        "finding a user's events",
        |block, users| {
            if users_of(block, users)?.contains(&user_id) {
                holding.push(block);
            }
            Ok(())
        },
    )?;
    let erased = rewrite_blocks(conn, &holding, |head| head.user_id == user_id)?;
    if !holding.is_empty() {
        add_to_count(conn, -(erased as i64), true)?;
    }
    Ok(erased)
}

/// Deletes every event before `cutoff` (milliseconds) inside the caller's purge transaction
/// (retention): blocks that end before it are deleted whole; a block that straddles it (only
/// blocks of the cutoff's hour can) is replaced by a block of its events at or after the
/// cutoff. Returns the number of events deleted. Reads only the blocks that begin before the
/// cutoff (index `event_blocks_by_time`), and their blobs only when they straddle it.
pub(crate) fn purge_events_before(conn: &Connection, cutoff: i64) -> Result<u64, StoreError> {
    let (whole_blocks, whole_events): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(events), 0) FROM event_blocks \
             WHERE first_ts < ?1 AND last_ts < ?1",
        )
        .and_then(|mut count| count.query_row([cutoff], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(StoreError::sqlite("counting the events to purge"))?;
    conn.prepare_cached("DELETE FROM event_blocks WHERE first_ts < ?1 AND last_ts < ?1")
        .and_then(|mut delete| delete.execute([cutoff]))
        .map_err(StoreError::sqlite("purging event blocks"))?;
    let straddling: Vec<i64> = conn
        .prepare_cached("SELECT id FROM event_blocks WHERE first_ts < ?1 ORDER BY id")
        .and_then(|mut find| {
            find.query_map([cutoff], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(StoreError::sqlite(
            "finding the blocks that straddle the cutoff",
        ))?;
    let rewritten = rewrite_blocks(conn, &straddling, |head| head.ts < cutoff)?;
    let purged = whole_events as u64 + rewritten;
    if whole_blocks > 0 || !straddling.is_empty() {
        add_to_count(conn, -(purged as i64), true)?;
    }
    Ok(purged)
}

/// Replaces each of `blocks` by a block of the records `drop` does not select (or by none
/// when it selects them all), through [`BlockBuilder`], inside the caller's transaction: the
/// rewrite of erasure and of retention. The new block gets a new, higher id and the old one's
/// hour. Returns the number of records dropped; the caller updates `event_log` (the count,
/// and `rewrites`, so every connection's [`StoredIds`] reloads).
fn rewrite_blocks(
    conn: &Connection,
    blocks: &[i64],
    mut drop: impl FnMut(&RecordHead<'_>) -> bool,
) -> Result<u64, StoreError> {
    if blocks.is_empty() {
        return Ok(0);
    }
    let mut dropped = 0u64;
    let mut buffer = Vec::new();
    let mut kept = BlockBuilder::default();
    let mut read = conn
        .prepare_cached("SELECT id, hour, ids, data FROM event_blocks WHERE id = ?1")
        .map_err(StoreError::sqlite("preparing the read of an event block"))?;
    let mut delete = conn
        .prepare_cached("DELETE FROM event_blocks WHERE id = ?1")
        .map_err(StoreError::sqlite(
            "preparing the rewrite of an event block",
        ))?;
    for &block_id in blocks {
        kept.clear();
        let hour = {
            let mut rows = read
                .query([block_id])
                .map_err(StoreError::sqlite("reading an event block"))?;
            let row = rows
                .next()
                .map_err(StoreError::sqlite("reading an event block"))?
                .ok_or_else(|| corrupt_block(block_id, "vanished during a rewrite"))?;
            let block = BlockRow::read(row)?;
            block.for_each_record(&mut buffer, |id, head, raw| {
                if drop(&head) {
                    dropped += 1;
                } else {
                    kept.add_record(id, head, raw);
                }
            })?;
            block.hour
        };
        delete
            .execute([block_id])
            .map_err(StoreError::sqlite("rewriting an event block"))?;
        if kept.events > 0 {
            kept.insert(conn, hour)?;
        }
    }
    Ok(dropped)
}

/// Events decoded from rows per [`append_events`] call while migrating.
const MIGRATION_BATCH: usize = 8 * MAX_BLOCK_EVENTS;

/// Moves the rows of the row-per-event log (migrations 1–4) into blocks, in `(ts, id)` order,
/// and drops its tables (`events`, `event_ids`, `event_user_hours`). Runs inside migration 6's
/// transaction, after its SQL created `event_blocks` and `event_log`.
pub(crate) fn move_rows_into_blocks(conn: &Connection) -> Result<(), StoreError> {
    let mut buffers = BlockBuffers::default();
    let mut ids = StoredIds::default();
    let mut batch: Vec<Event> = Vec::with_capacity(MIGRATION_BATCH);
    let all = [true; MIGRATION_BATCH];
    {
        let mut statement = conn
            .prepare(
                "SELECT id, ts, kind, user_id, session_id, cart_id, order_id, payload \
                 FROM events ORDER BY ts, id",
            )
            .map_err(StoreError::sqlite(
                "reading the event rows to move into blocks",
            ))?;
        let mut rows = statement.query([]).map_err(StoreError::sqlite(
            "reading the event rows to move into blocks",
        ))?;
        while let Some(row) = rows
            .next()
            .map_err(StoreError::sqlite("reading an event row"))?
        {
            let read = || -> rusqlite::Result<EventRow<'_>> {
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
            };
            let event = read().map_err(StoreError::sqlite("reading an event row"))?;
            batch.push(decode_event(event)?);
            if batch.len() == MIGRATION_BATCH {
                append_events(conn, &batch, &all, &mut buffers, &mut ids)?;
                batch.clear();
            }
        }
    }
    append_events(conn, &batch, &all[..batch.len()], &mut buffers, &mut ids)?;
    conn.execute_batch("DROP TABLE events; DROP TABLE event_ids; DROP TABLE event_user_hours;")
        .map_err(StoreError::sqlite("dropping the row-per-event tables"))
}

/// A block row as read, borrowed from the statement's current row.
struct BlockRow<'r> {
    id: i64,
    hour: i64,
    ids: &'r [u8],
    data: &'r [u8],
}

impl<'r> BlockRow<'r> {
    /// Reads `id, hour, ids, data`.
    fn read(row: &'r rusqlite::Row<'_>) -> Result<BlockRow<'r>, StoreError> {
        let read = || -> rusqlite::Result<BlockRow<'r>> {
            Ok(BlockRow {
                id: row.get(0)?,
                hour: row.get(1)?,
                ids: row.get_ref(2)?.as_blob()?,
                data: row.get_ref(3)?.as_blob()?,
            })
        };
        let block = read().map_err(StoreError::sqlite("reading an event block"))?;
        if block.ids.len() % 16 != 0 {
            return Err(corrupt_block(
                block.id,
                "`ids` is not a whole number of 16-byte ids",
            ));
        }
        Ok(block)
    }

    /// Decodes every event of the block, in order, onto `events`; `buffer` holds the
    /// decompressed records.
    fn decode_into(&self, events: &mut Vec<Event>, buffer: &mut Vec<u8>) -> Result<(), StoreError> {
        let mut records = block_records(self.id, self.data, buffer)?;
        for id in self.ids.chunks_exact(16) {
            let id = EventId(id.try_into().expect("16 bytes"));
            let (event, used) = event_record::decode(id, records)
                .map_err(|reason| self.corrupt_record(id, &reason))?;
            events.push(event);
            records = &records[used..];
        }
        self.check_used_up(records)
    }

    /// Calls `visit` with every record's id, head and bytes, in order; `buffer` holds the
    /// decompressed records.
    fn for_each_record(
        &self,
        buffer: &mut Vec<u8>,
        mut visit: impl FnMut(&[u8], RecordHead<'_>, &[u8]),
    ) -> Result<(), StoreError> {
        let mut records = block_records(self.id, self.data, buffer)?;
        for id in self.ids.chunks_exact(16) {
            let (head, used) = event_record::read_head(records).map_err(|reason| {
                self.corrupt_record(EventId(id.try_into().expect("16 bytes")), &reason)
            })?;
            let (raw, rest) = records.split_at(used);
            visit(id, head, raw);
            records = rest;
        }
        self.check_used_up(records)
    }

    fn corrupt_record(&self, id: EventId, reason: &str) -> StoreError {
        corrupt_block(self.id, &format!("the record of event {id}: {reason}"))
    }

    fn check_used_up(&self, rest: &[u8]) -> Result<(), StoreError> {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(corrupt_block(
                self.id,
                &format!("{} bytes after the last record", rest.len()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use crate::conformance::event;
    use crate::sqlite::SqliteStore;

    /// Events inserted in time order are scanned a block at a time; a batch that overlaps
    /// every block in time makes them one cluster (the scan is still in order).
    #[test]
    fn a_scan_holds_one_cluster_of_overlapping_blocks_at_a_time() {
        let mut store = SqliteStore::in_memory().unwrap();
        // 20,000 events 100 ms apart: 2,000 s, all inside the first hour of BASE_MILLIS.
        let in_order: Vec<_> = (0..20_000u32)
            .map(|n| event(n, &format!("u{}", n % 50), i64::from(n) * 100))
            .collect();
        for batch in in_order.chunks(5_000) {
            store.insert_events(batch).unwrap();
        }
        let mut scanned = Vec::new();
        let report = scan_in_clusters(&store.conn, &mut |e| scanned.push(e)).unwrap();
        assert_eq!(report.visited, 20_000);
        assert!(
            report.largest_cluster <= MAX_BLOCK_EVENTS,
            "{}",
            report.largest_cluster
        );
        assert!(scanned == in_order, "not in time order");

        let across: Vec<_> = (0..10u32)
            .map(|n| event(100_000 + n, "late", i64::from(n) * 222_222 + 50))
            .collect();
        store.insert_events(&across).unwrap();
        let mut scanned = Vec::new();
        let report = scan_in_clusters(&store.conn, &mut |e| scanned.push(e)).unwrap();
        assert_eq!(report.largest_cluster, 20_010);
        let mut expected: Vec<_> = in_order.into_iter().chain(across).collect();
        expected.sort_by_key(|e| (e.timestamp, e.id.0));
        assert!(scanned == expected, "not in (ts, id) order");
    }
}
