//! `cartback decisions export`: the live engine's decision log as rounds for off-policy
//! evaluation (`cartback ope --format cartback`), one NDJSON line per (cart, abandonment).
//! The logic is `cartback_server::export`.

use anyhow::{Context, Result};
use cartback_core::tracker::duration_text;
use cartback_core::{Duration, Timestamp};
use cartback_server::decide::policy_file;
use cartback_server::export::export_rounds;
use cartback_server::outcomes::Booking;
use clap::{Args, Subcommand};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct DecisionsArgs {
    #[command(subcommand)]
    pub command: DecisionsCommand,
}

#[derive(Subcommand, Debug)]
pub enum DecisionsCommand {
    /// Write one off-policy evaluation round per (cart, abandonment): the first decision
    /// step's action, propensity and recorded state, and the abandonment's net outcome.
    #[command(
        long_about = "Write one off-policy evaluation round per (cart, abandonment) of the \
        engine's decision log, as NDJSON for `cartback ope --format cartback`.\n\n\
        A round is the abandonment's first decision step (step 0): the action the engine took, \
        the probability its policy and guardrails took it with, and the state the policy was \
        given. Its reward is the abandonment's net outcome in minor units: the order value if \
        the cart was recovered (ordered inside the attribution window after the decision), \
        less the largest coupon sent, every sent message's cost and the unsubscribe loss if a \
        message recorded an unsubscribe (the simulator's costs, `[costs]` of --simulator-config). \
        Later steps count as they were logged, so `ope` estimates a policy's value as the first \
        touch. Skipped and counted: decisions without a recorded state (before schema version \
        5), the holdout, abandonments whose attribution window has not closed yet (counting \
        outcomes as they become known would favour recoveries, which are known first), carts \
        no longer stored."
    )]
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The store: a SQLite file or a postgres:// URL (the server's `db`).
    #[arg(long)]
    pub db: String,
    /// Where to write the rounds (NDJSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Simulator configuration (TOML) whose `[costs]` price messages and unsubscribes;
    /// the simulator's defaults without it.
    #[arg(long)]
    pub simulator_config: Option<PathBuf>,
    /// The tracker's attribution window (the server's `tracker.attribution_window`): an
    /// abandonment is exported once this long has passed since its first decision.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = duration_text::parse)]
    pub attribution_window: Duration,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DecisionsArgs) -> Result<ExitCode> {
    match args.command {
        DecisionsCommand::Export(args) => export(args),
    }
}

/// Now, by the system clock.
pub fn wall_clock() -> Result<Timestamp> {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("reading the clock")?;
    Ok(Timestamp(since_epoch.as_millis() as i64))
}

fn export(args: ExportArgs) -> Result<ExitCode> {
    let costs = policy_file::simulator_config(args.simulator_config.as_deref())?.costs;
    let mut store =
        cartback_store::open(&args.db).with_context(|| format!("opening store {}", args.db))?;
    let file =
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut out = BufWriter::new(file);
    let booking = Booking {
        costs,
        attribution_window: args.attribution_window,
        as_of: wall_clock()?,
    };
    let summary = export_rounds(&mut *store, &booking, &mut out)
        .with_context(|| format!("exporting the decision log of {}", args.db))?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} rounds written to {} ({} recovered) from {} decisions of {} abandonments",
            summary.rounds,
            args.out.display(),
            summary.recovered,
            summary.decisions,
            summary.abandonments
        );
        println!(
            "skipped: {} without a recorded state, {} holdout, {} inside their attribution window, {} without a first step, {} carts no longer stored",
            summary.skipped_without_state,
            summary.skipped_holdout,
            summary.skipped_open,
            summary.skipped_without_first_step,
            summary.skipped_cart_missing
        );
    }
    Ok(ExitCode::SUCCESS)
}
