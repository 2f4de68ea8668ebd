//! The `cartback` binary: thin wiring of the library crates, one module per subcommand
//! under `commands/`. Every command reads its inputs, calls pure logic, and prints a human
//! summary or, with `--json`, one JSON object on standard output.

mod commands;

/// Parsing and folding allocate many small strings; mimalloc halves their cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `cartback report | head` closes the pipe early: the process ends there, as `cat` would,
/// instead of panicking in `println!` (Rust ignores SIGPIPE by default). Not for `serve`: a
/// server must survive writing to a connection its peer closed.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before any thread runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Wins back abandoned shopping carts with machine learning.
#[derive(Parser)]
#[command(name = "cartback", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import cart events from files into the store (NDJSON, Segment, REES46, OTTO).
    Import(commands::import::ImportArgs),
    /// Write one training row per abandoned or purchased cart episode.
    Episodes(commands::episodes::EpisodesArgs),
    /// Generate realistic synthetic cart events as NDJSON.
    GenEvents(commands::gen_events::GenEventsArgs),
    /// Off-policy evaluation of a policy from a logged file (IPW, SNIPW, DM, DR, SNDR, Switch-DR).
    Ope(commands::ope::OpeArgs),
    /// The live engine's decision log: export it as rounds for `cartback ope --format cartback`.
    Decisions(commands::decisions::DecisionsArgs),
    /// What was won back: cart KPIs, messages, and the lift against the holdout (text, JSON, HTML).
    Report(commands::report::ReportArgs),
    /// Compare decision policies on the shopper simulator (incremental net revenue vs doing nothing).
    Simulate(commands::simulate::SimulateArgs),
    /// Recommendations: train ALS / co-occurrence / popularity, evaluate them, or ask a model for items.
    Recommend(commands::recommend::RecommendArgs),
    /// Train and evaluate a purchase-propensity model (logistic regression or GBDT).
    Train(commands::train::TrainArgs),
    /// Score a CSV file with a propensity model, optionally explaining each row.
    Predict(commands::predict::PredictArgs),
    /// Fit a T-, X- or DR-learner on a randomised test and measure its uplift ranking (Qini, AUUC, uplift@k).
    Uplift(commands::uplift::UpliftArgs),
    /// Train a learned policy on the shopper simulator and write the state file `serve` loads.
    Policy(commands::policy::PolicyArgs),
    /// Run the live engine: HTTP API, abandonment detection, outbox dispatcher, channels.
    Serve(commands::serve::ServeArgs),
    /// Rewrite a SQLite store compactly, optionally with another page size (server stopped).
    Compact(commands::compact::CompactArgs),
    /// Data retention: remove events and closed carts older than --older-than, with their records.
    Purge(commands::purge::PurgeArgs),
    /// Pseudonymised ids: the pseudonym of a shop's user id, or (--reveal) the id behind one.
    Pseudonym(commands::pseudonym::PseudonymArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Import(args) => commands::import::run(args),
        Command::Episodes(args) => commands::episodes::run(args),
        Command::GenEvents(args) => commands::gen_events::run(args),
        Command::Ope(args) => commands::ope::run(args),
        Command::Decisions(args) => commands::decisions::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Recommend(args) => commands::recommend::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Uplift(args) => commands::uplift::run(args),
        Command::Policy(args) => commands::policy::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Compact(args) => commands::compact::run(args),
        Command::Purge(args) => commands::purge::run(args),
        Command::Pseudonym(args) => commands::pseudonym::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
