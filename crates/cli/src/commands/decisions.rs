//! `cartback decisions export`: the live engine's decision log as rounds for off-policy
//! evaluation (`cartback ope --format cartback`), one NDJSON line per (cart, abandonment).
//! `cartback decisions simulate`: a decision log written into an empty store as the engine
//! would have written it for simulated shoppers. The logic is `cartback_server::export` and
//! `cartback_server::simulated_log`.

use anyhow::{Context, Result};
use cartback_core::episodes::rfc3339_utc;
use cartback_core::tracker::duration_text;
use cartback_core::{Duration, Timestamp};
use cartback_server::decide::policy_file;
use cartback_server::export::export_rounds;
use cartback_server::outcomes::Booking;
use cartback_server::simulated_log::{SimulatedLogParams, write_simulated_log};
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
    /// Write the decision log a shop running the fixed flow with exploration would have
    /// after N abandoned carts of simulated shoppers, into an empty store.
    #[command(
        long_about = "Write the decision log a shop running the engine's fixed flow \
        (reminder, reminder, 10 % coupon at `policy.step_delays`) with `--exploration` would \
        have after --carts abandoned carts of simulated shoppers, into an empty store: carts, \
        decisions with their recorded states and propensities, sent messages, unsubscribes and \
        orders, as the engine records them. The shoppers are the shopper simulator's \
        population (`cartback simulate --print-config`; --simulator-config changes it), 100 \
        abandonments a day from its `shop.start_date`. Use it to try `cartback policy train \
        --from-log`, `cartback report` or `cartback ope` before your own log has grown."
    )]
    Simulate(SimulateArgs),
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The store to write (a SQLite file, created if missing, or a postgres:// URL); it must
    /// hold no cart.
    #[arg(long)]
    pub db: String,
    /// Abandoned carts to simulate.
    #[arg(long, default_value_t = 20_000)]
    pub carts: usize,
    /// Share of decisions drawn uniformly among the allowed actions, in [0, 1).
    #[arg(long, default_value_t = 0.1)]
    pub exploration: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulator configuration (TOML, as `cartback simulate --config`).
    #[arg(long)]
    pub simulator_config: Option<PathBuf>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
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
        DecisionsCommand::Simulate(args) => simulate(args),
    }
}

fn simulate(args: SimulateArgs) -> Result<ExitCode> {
    let config = policy_file::simulator_config(args.simulator_config.as_deref())?;
    let mut store =
        cartback_store::open(&args.db).with_context(|| format!("opening store {}", args.db))?;
    let started = std::time::Instant::now();
    let summary = write_simulated_log(
        &mut *store,
        &config,
        SimulatedLogParams {
            carts: args.carts,
            exploration: args.exploration,
            seed: args.seed,
        },
    )
    .with_context(|| format!("writing a simulated decision log into {}", args.db))?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        value["seconds"] = serde_json::json!(seconds);
        println!("{value}");
    } else {
        let day = |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), rfc3339_utc);
        println!(
            "wrote {} simulated abandoned carts ({} held out, {} recovered), {} decisions, {} \
             sent messages and {} unsubscribes into {} in {seconds:.1} s; decisions from {} to {}",
            summary.carts,
            summary.holdout,
            summary.recovered,
            summary.decisions,
            summary.messages_sent,
            summary.unsubscribes,
            args.db,
            day(summary.first_decision),
            day(summary.last_decision)
        );
    }
    Ok(ExitCode::SUCCESS)
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
