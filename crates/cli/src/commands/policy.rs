//! `cartback policy train`: trains a learned policy (uplift-greedy, LinUCB, linear Thompson
//! sampling or tabular Q-learning) on simulated shoppers and writes its state file, which
//! `cartback serve` loads with `[policy] kind` and `state_file` (and reloads when the file
//! is replaced).

use anyhow::{Context, Result, bail};
use cartback_server::decide::policy_file::{self, PolicyKind};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Train a learned policy on the shopper simulator and write its state file.
    Train(TrainPolicyArgs),
}

#[derive(Args, Debug)]
pub struct TrainPolicyArgs {
    /// uplift_greedy, linucb, thompson, q_learning or fitted_q.
    #[arg(long)]
    pub kind: String,
    /// Where to write the state file (JSON; replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Simulator configuration (TOML, as `cartback simulate --config`); its
    /// `step_delays_hours` must match the server's `policy.step_delays`.
    #[arg(long)]
    pub simulator_config: Option<PathBuf>,
    /// Simulated abandoned carts to train on.
    #[arg(long, default_value_t = 20_000)]
    pub train_carts: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: PolicyArgs) -> Result<ExitCode> {
    match args.command {
        PolicyCommand::Train(args) => train(args),
    }
}

fn train(args: TrainPolicyArgs) -> Result<ExitCode> {
    let Some(kind) = PolicyKind::from_name(args.kind.trim()) else {
        bail!(
            "--kind {:?}: expected uplift_greedy, linucb, thompson, q_learning or fitted_q",
            args.kind
        );
    };
    if !kind.is_learned() {
        bail!(
            "--kind {}: not a learned policy (it needs no state file)",
            kind.name()
        );
    }
    if args.train_carts == 0 {
        bail!("--train-carts must be at least 1");
    }
    let config = policy_file::simulator_config(args.simulator_config.as_deref())?;
    let config_name = args
        .simulator_config
        .as_ref()
        .map_or("default".to_owned(), |p| p.display().to_string());
    let started = Instant::now();
    let file = policy_file::train(kind, &config, &config_name, args.train_carts, args.seed)?;
    file.save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "kind": kind.name(),
                "out": args.out.display().to_string(),
                "train_carts": args.train_carts,
                "seed": args.seed,
                "step_delays_hours": file.step_delays_hours,
                "seconds": seconds,
            })
        );
    } else {
        println!(
            "trained {} on {} simulated carts (seed {}, steps at {:?} h) in {seconds:.1} s → {}",
            kind.name(),
            args.train_carts,
            args.seed,
            file.step_delays_hours,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
