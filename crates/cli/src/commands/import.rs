//! `cartback import`: streams event files into the store and folds them into carts.
//!
//! Each file is read in constant memory by `cartback_ingest::EventReader`; good events go
//! to the store in batches (duplicates are counted, never stored twice), rejected records go
//! to a reject file with their file, line, field and reason. The cart table is then replaced
//! by the carts of the whole event log, as if the log had been replayed in time order, so
//! files may arrive in any order and a second import of the same file changes nothing.
//!
//! The fold happens while importing: the tracker first replays what the store already holds
//! (nothing, for a new store), then observes each event the store reports as newly stored.
//! That is exactly the replay of the whole log as long as no event arrived behind the
//! tracker's lateness window and no one else wrote to the store meanwhile; otherwise the log
//! is replayed from the store after the import ([`rebuild_carts`]), as it always was.

use super::tracking::TrackerArgs;
use anyhow::{Context, Result, bail};
use cartback_core::{CartTracker, CartTransition, Event, EventId, Timestamp, TrackerStats};
use cartback_ingest::{EventReader, Format, ParseOptions, ParsedLine, Pseudonymiser, Rejection};
use cartback_store::{InsertReport, Store, UserIds, ensure_user_ids};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Events written to the store per transaction.
const BATCH: usize = 65_536;

#[derive(Args)]
pub struct ImportArgs {
    /// Input format: ndjson (cartback's own), segment, rees46 or otto.
    #[arg(long, value_name = "FORMAT")]
    format: Format,
    /// Files to import; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The store: a SQLite file (created if missing) or a postgres:// URL.
    #[arg(long, env = "CARTBACK_DB", default_value = "cartback.db")]
    db: String,
    /// Print one JSON object with the counts instead of a summary.
    #[arg(long)]
    json: bool,
    /// Import nothing unless every record of every file is valid (exit code 1 otherwise).
    #[arg(long)]
    strict: bool,
    /// Parse, dedupe and fold in memory without touching the store (keeps every distinct
    /// event id in memory: 20–40 bytes per distinct event, e.g. 34 MB for 1M).
    #[arg(long)]
    dry_run: bool,
    /// Where rejected records are written, one JSON object a line (created only if needed).
    #[arg(long, value_name = "PATH", default_value = "cartback-rejects.ndjson")]
    rejects: PathBuf,
    /// Longest accepted input line in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_line_bytes: usize,
    /// Pseudonymise shoppers' ids with this secret before storing them, as `serve` does
    /// with `[privacy] pseudonymise_key` (at least 32 bytes). Prefer the environment
    /// variable: a command line is visible to the machine's other users.
    #[arg(
        long,
        env = "CARTBACK_PSEUDONYMISE_KEY",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pseudonymise_key: Option<String>,
    #[command(flatten)]
    tracker: TrackerArgs,
}

/// The counts `--json` prints.
#[derive(Serialize, Default, Debug)]
struct ImportSummary {
    /// Records read: imported + duplicates + rejected + skipped.
    read: u64,
    imported: u64,
    duplicates: u64,
    rejected: u64,
    /// Records understood but not cart events (e.g. Segment `identify`, `Signed Up`).
    skipped: u64,
    users: u64,
    carts: u64,
    abandoned: u64,
    purchased: u64,
    recovered: u64,
    active: u64,
    idle: u64,
    expired: u64,
    /// Events in the store after the import.
    events_in_store: u64,
    /// Whether the carts came from a replay of the whole log after the import (events out of
    /// order beyond the lateness, or another writer) rather than from the fold while importing.
    replayed: bool,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejects_file: Option<String>,
}

impl ImportSummary {
    fn take_tracker(&mut self, stats: &TrackerStats) {
        self.users = stats.users;
        self.carts = stats.carts;
        self.abandoned = stats.abandoned;
        self.purchased = stats.purchased;
        self.recovered = stats.recovered;
        self.active = stats.active;
        self.idle = stats.idle;
        self.expired = stats.expired;
    }
}

/// The cart tracker fed while importing, with the latest event time it saw.
struct Folding {
    tracker: Box<CartTracker>,
    transitions: Vec<CartTransition>,
    end: Option<Timestamp>,
}

impl Folding {
    fn new(config: cartback_core::TrackerConfig) -> Result<Self> {
        Ok(Folding {
            tracker: Box::new(CartTracker::new(config)?),
            transitions: Vec::new(),
            end: None,
        })
    }

    fn observe(&mut self, event: Event) {
        self.end = Some(self.end.map_or(event.timestamp, |e| e.max(event.timestamp)));
        self.tracker.observe(event, &mut self.transitions);
        self.transitions.clear();
    }

    /// Releases the buffered events and judges the carts as of the last event seen.
    fn finish(mut self) -> Box<CartTracker> {
        if let Some(end) = self.end {
            self.tracker.flush(end, &mut self.transitions);
        }
        self.tracker
    }
}

/// Event ids seen by a dry run (one 16-byte id per distinct event, in a fast hash set).
type SeenIds = HashSet<EventId, foldhash::fast::RandomState>;

/// Where parsed events go: the store, or (dry run) an in-memory dedupe; both fold.
enum Sink {
    Store {
        store: Box<dyn Store>,
        batch: Vec<Event>,
        /// Per event of the last batch: whether the store kept it (reused buffer).
        stored: Vec<bool>,
        folding: Folding,
        /// Events the store held before this import.
        events_before: u64,
    },
    DryRun {
        seen: SeenIds,
        folding: Folding,
    },
}

impl Sink {
    fn accept(&mut self, event: Event, summary: &mut ImportSummary) -> Result<()> {
        match self {
            Sink::Store {
                store,
                batch,
                stored,
                folding,
                ..
            } => {
                batch.push(event);
                if batch.len() >= BATCH {
                    flush_batch(store.as_mut(), batch, stored, folding, summary)?;
                }
            }
            Sink::DryRun { seen, folding } => {
                if seen.insert(event.id) {
                    summary.imported += 1;
                    folding.observe(event);
                } else {
                    summary.duplicates += 1;
                }
            }
        }
        Ok(())
    }
}

/// Writes the batch and folds the events the store kept (not its duplicates).
fn flush_batch(
    store: &mut dyn Store,
    batch: &mut Vec<Event>,
    stored: &mut Vec<bool>,
    folding: &mut Folding,
    summary: &mut ImportSummary,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let InsertReport {
        inserted,
        duplicates,
    } = store
        .insert_events_flagged(batch, stored)
        .context("cannot write events to the store")?;
    summary.imported += inserted;
    summary.duplicates += duplicates;
    for (event, new) in batch.drain(..).zip(stored.iter()) {
        if *new {
            folding.observe(event);
        }
    }
    Ok(())
}

/// Writes rejected records as NDJSON, creating the file at the first one.
struct RejectWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl RejectWriter {
    fn write(&mut self, file: &Path, rejection: &Rejection) -> Result<()> {
        if self.out.is_none() {
            let f = File::create(&self.path)
                .with_context(|| format!("cannot create reject file {}", self.path.display()))?;
            self.out = Some(BufWriter::new(f));
        }
        let out = self.out.as_mut().expect("just created");
        let record = serde_json::json!({
            "file": file.display().to_string(),
            "line": rejection.line,
            "field": rejection.field,
            "message": rejection.message,
        });
        serde_json::to_writer(&mut *out, &record)?;
        out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(self) -> Result<Option<String>> {
        match self.out {
            Some(mut out) => {
                out.flush().context("cannot write the reject file")?;
                Ok(Some(self.path.display().to_string()))
            }
            None => Ok(None),
        }
    }
}

fn open_input(path: &Path, progress: &ProgressBar) -> Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            std::io::stdin().lock(),
        )));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.set_length(len);
    progress.set_position(0);
    progress.set_message(path.display().to_string());
    let reader: Box<dyn Read> = Box::new(progress.wrap_read(file));
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}

fn progress_bar(enabled: bool) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Reads every file once. `sink` receives good events (none during a strict pre-check).
fn read_files(
    args: &ImportArgs,
    pseudonymiser: Option<&Pseudonymiser>,
    mut sink: Option<&mut Sink>,
    summary: &mut ImportSummary,
    rejects: &mut RejectWriter,
    progress: &ProgressBar,
) -> Result<()> {
    let mut options = ParseOptions::at_system_time();
    options.max_line_bytes = args.max_line_bytes;
    for path in &args.files {
        let input = open_input(path, progress)?;
        let mut reader = EventReader::new(args.format, input, options.clone())
            .context("invalid parser settings")?;
        // One `ParsedLine` for the whole file: its buffers are reused line after line.
        let mut parsed = ParsedLine::default();
        while reader
            .read_into(&mut parsed)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            summary.skipped += u64::from(parsed.skipped);
            summary.rejected += parsed.rejections.len() as u64;
            summary.read += parsed.events.len() as u64
                + parsed.rejections.len() as u64
                + u64::from(parsed.skipped);
            for rejection in &parsed.rejections {
                rejects.write(path, rejection)?;
            }
            if let Some(sink) = sink.as_deref_mut() {
                for mut event in parsed.events.drain(..) {
                    if let Some(pseudonymiser) = pseudonymiser {
                        pseudonymiser.apply(&mut event);
                    }
                    sink.accept(event, summary)?;
                }
            }
        }
    }
    Ok(())
}

pub fn run(args: ImportArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let tracker_config = args.tracker.config();
    tracker_config
        .validate()
        .context("invalid tracker settings")?;
    if args.strict && args.files.iter().any(|f| f.as_os_str() == "-") {
        bail!(
            "--strict reads every file twice (check, then import) and cannot read standard input"
        );
    }
    let pseudonymiser = args
        .pseudonymise_key
        .as_deref()
        .map(Pseudonymiser::new)
        .transpose()
        .context("--pseudonymise-key (CARTBACK_PSEUDONYMISE_KEY)")?;
    let progress = progress_bar(!args.json);
    let mut summary = ImportSummary::default();
    let mut rejects = RejectWriter {
        path: args.rejects.clone(),
        out: None,
    };

    if args.strict {
        read_files(&args, None, None, &mut summary, &mut rejects, &progress)?;
        if summary.rejected > 0 {
            progress.finish_and_clear();
            summary.rejects_file = rejects.finish()?;
            summary.seconds = started.elapsed().as_secs_f64();
            report(&args, &summary)?;
            eprintln!(
                "strict import: {} record(s) rejected, nothing imported",
                summary.rejected
            );
            return Ok(ExitCode::from(1));
        }
        summary = ImportSummary::default();
    }

    let mut sink = if args.dry_run {
        Sink::DryRun {
            seen: SeenIds::default(),
            folding: Folding::new(tracker_config)?,
        }
    } else {
        let mut store = cartback_store::open(&args.db)
            .with_context(|| format!("cannot open the store {}", args.db))?;
        let wanted = match &pseudonymiser {
            Some(p) => UserIds::Pseudonymised {
                fingerprint: p.fingerprint(),
            },
            None => UserIds::AsIssued,
        };
        ensure_user_ids(store.as_mut(), wanted)
            .with_context(|| format!("cannot import into {}", args.db))?;
        let mut folding = Folding::new(tracker_config)?;
        // What the store already holds goes through the tracker first (nothing when new).
        let events_before = store
            .scan_events(&mut |event| folding.observe(event))
            .context("cannot read the event log")?;
        Sink::Store {
            store,
            batch: Vec::with_capacity(BATCH),
            stored: Vec::with_capacity(BATCH),
            folding,
            events_before,
        }
    };
    read_files(
        &args,
        pseudonymiser.as_ref(),
        Some(&mut sink),
        &mut summary,
        &mut rejects,
        &progress,
    )?;
    progress.finish_and_clear();

    match sink {
        Sink::Store {
            mut store,
            mut batch,
            mut stored,
            mut folding,
            events_before,
        } => {
            flush_batch(
                store.as_mut(),
                &mut batch,
                &mut stored,
                &mut folding,
                &mut summary,
            )?;
            let events = store.event_count().context("cannot count events")?;
            let tracker = folding.finish();
            let stats = tracker.stats();
            // The fold saw the whole log in time order unless an event came in behind the
            // lateness window (it was folded late) or another writer added events meanwhile.
            if stats.late == 0 && events == events_before + summary.imported {
                let carts: Vec<_> = tracker.carts().cloned().collect();
                store.replace_carts(&carts).context("cannot write carts")?;
                summary.take_tracker(&stats);
                summary.events_in_store = events;
            } else {
                drop(tracker);
                let (stats, events) = rebuild_carts(store.as_mut(), tracker_config)?;
                summary.take_tracker(&stats);
                summary.events_in_store = events;
                summary.replayed = true;
            }
        }
        Sink::DryRun { folding, .. } => {
            summary.take_tracker(&folding.finish().stats());
            summary.events_in_store = 0;
        }
    }
    summary.rejects_file = rejects.finish()?;
    summary.seconds = started.elapsed().as_secs_f64();
    report(&args, &summary)?;
    Ok(ExitCode::SUCCESS)
}

/// Replays the whole event log in time order and replaces the cart table with the result.
/// Carts are judged as of the last event in the store (the log's own clock), so historical
/// files are not all declared expired by today's date.
pub fn rebuild_carts(
    store: &mut dyn Store,
    config: cartback_core::TrackerConfig,
) -> Result<(TrackerStats, u64)> {
    let mut tracker = CartTracker::new(config)?;
    let mut transitions = Vec::new();
    let mut last = None;
    let events = store
        .scan_events(&mut |event| {
            last = Some(event.timestamp);
            tracker.observe(event, &mut transitions);
            transitions.clear();
        })
        .context("cannot read the event log")?;
    if let Some(end) = last {
        tracker.flush(end, &mut transitions);
    }
    let carts: Vec<_> = tracker.carts().cloned().collect();
    store.replace_carts(&carts).context("cannot write carts")?;
    Ok((tracker.stats(), events))
}

fn report(args: &ImportArgs, s: &ImportSummary) -> Result<()> {
    if args.json {
        println!("{}", serde_json::to_string(s)?);
        return Ok(());
    }
    let target = if args.dry_run {
        "dry run (nothing stored)".to_string()
    } else {
        args.db.clone()
    };
    println!(
        "read {} records in {:.2}s: {} imported, {} duplicates, {} rejected, {} skipped → {}",
        s.read, s.seconds, s.imported, s.duplicates, s.rejected, s.skipped, target
    );
    println!(
        "{} users, {} carts: {} active, {} idle, {} abandoned, {} purchased, {} recovered, {} expired",
        s.users, s.carts, s.active, s.idle, s.abandoned, s.purchased, s.recovered, s.expired
    );
    if let Some(path) = &s.rejects_file {
        println!("rejected records are listed in {path}");
    }
    Ok(())
}
