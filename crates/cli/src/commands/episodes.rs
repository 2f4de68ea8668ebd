//! `cartback episodes`: replays the stored event log and writes one training row per cart
//! episode that reached a decision point (see `docs/episodes.md` for every column).

use super::tracking::TrackerArgs;
use anyhow::{Context, Result};
use cartback_core::episodes::DecisionKind;
use cartback_core::{Episode, EpisodeBuilder, Timestamp};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct EpisodesArgs {
    /// The store: a SQLite file or a postgres:// URL.
    #[arg(long, env = "CARTBACK_DB", default_value = "cartback.db")]
    db: String,
    /// The CSV file to write.
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
    /// Leave out abandoned carts whose attribution window had not passed when the data
    /// ended (their label 0 is not final yet).
    #[arg(long)]
    exclude_censored: bool,
    /// Which decision points to write: `abandonment` rows are what a recovery model is
    /// trained on (rows taken at an order always have label 1).
    #[arg(long, value_enum, default_value_t = DecisionFilter::All)]
    decision: DecisionFilter,
    /// Treat the data as complete up to this instant (RFC 3339 or epoch ms); default: the
    /// last event in the store.
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
    /// Print one JSON object with the counts instead of a summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tracker: TrackerArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DecisionFilter {
    All,
    Abandonment,
    Order,
}

impl DecisionFilter {
    fn keeps(self, decision: DecisionKind) -> bool {
        match self {
            DecisionFilter::All => true,
            DecisionFilter::Abandonment => decision == DecisionKind::Abandonment,
            DecisionFilter::Order => decision == DecisionKind::Order,
        }
    }
}

#[derive(Serialize)]
struct EpisodesSummary {
    episodes: u64,
    positives: u64,
    censored: u64,
    by_outcome: BTreeMap<&'static str, u64>,
    events: u64,
    end_of_data: Option<String>,
    out: String,
    seconds: f64,
}

pub fn run(args: EpisodesArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let mut store = cartback_store::open(&args.db)
        .with_context(|| format!("cannot open the store {}", args.db))?;
    let mut builder =
        EpisodeBuilder::new(args.tracker.config()).context("invalid tracker settings")?;
    let mut last: Option<Timestamp> = None;
    let events = store
        .scan_events(&mut |event| {
            last = Some(event.timestamp);
            builder.push(event);
        })
        .context("cannot read the event log")?;
    let end = match &args.end {
        Some(text) => Some(
            parse_time(text)
                .map_err(anyhow::Error::msg)
                .context("--end")?,
        ),
        None => last,
    };
    let set = builder.finish(end.unwrap_or_default());

    let mut writer = csv::Writer::from_path(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    writer.write_record(Episode::COLUMNS)?;
    let mut summary = EpisodesSummary {
        episodes: 0,
        positives: 0,
        censored: 0,
        by_outcome: BTreeMap::new(),
        events,
        end_of_data: end.map(cartback_core::episodes::rfc3339_utc),
        out: args.out.display().to_string(),
        seconds: 0.0,
    };
    for episode in &set.episodes {
        if (args.exclude_censored && episode.censored) || !args.decision.keeps(episode.decision) {
            continue;
        }
        writer.write_record(episode.values())?;
        summary.episodes += 1;
        summary.positives += u64::from(episode.label);
        summary.censored += u64::from(episode.censored);
        *summary
            .by_outcome
            .entry(episode.outcome.as_str())
            .or_default() += 1;
    }
    writer
        .flush()
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    summary.seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} episodes ({} ordered, {} censored) from {} events → {} in {:.2}s",
            summary.episodes,
            summary.positives,
            summary.censored,
            events,
            summary.out,
            summary.seconds
        );
        for (outcome, n) in &summary.by_outcome {
            println!("  {outcome:<15} {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An instant given as epoch milliseconds or RFC 3339 text.
fn parse_time(text: &str) -> Result<Timestamp, String> {
    match text.trim().parse::<i64>() {
        Ok(ms) => Ok(Timestamp(ms)),
        Err(_) => cartback_ingest::timestamp::parse_rfc3339(text),
    }
}
