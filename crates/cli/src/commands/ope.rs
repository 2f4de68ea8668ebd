//! `cartback ope`: off-policy evaluation of a policy from a logged file (the Open Bandit
//! Dataset CSV or cartback's decision log) with IPW, SNIPW, DM, DR, SNDR and Switch-DR,
//! each with a bootstrap confidence interval.

use anyhow::{Context, Result};
use cartback_policy::ope::{
    BootstrapParams, LoggedFeedback, OpeInput, evaluate_standard_estimators, read_decision_log,
    read_evaluation_policy, read_obd_csv, read_reward_model,
};
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Open Bandit Dataset CSV (item_id, position from 1, click, propensity_score).
    Obd,
    /// cartback decision log: NDJSON with action, propensity, reward[, position].
    Cartback,
}

#[derive(Args, Debug)]
pub struct OpeArgs {
    /// Logged decisions of the behaviour policy.
    #[arg(long)]
    pub log: PathBuf,
    /// Format of the log.
    #[arg(long, value_enum, default_value = "obd")]
    pub format: LogFormat,
    /// JSON file with `evaluation_action_dist` (`[action][position]` or `[round][action][position]`).
    #[arg(long)]
    pub eval_policy: PathBuf,
    /// JSON file with `reward_model_table` (same shapes); may be the same file.
    #[arg(long)]
    pub reward_model: PathBuf,
    /// Bootstrap resamples for the confidence intervals (0: no intervals).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 12345)]
    pub seed: u64,
    /// Significance level of the intervals (0.05: 95 % intervals).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Importance-weight threshold of Switch-DR.
    #[arg(long, default_value_t = 100.0)]
    pub switch_tau: f64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: OpeArgs) -> Result<ExitCode> {
    let log = read_log(&args)?;
    let policy_text = std::fs::read_to_string(&args.eval_policy)
        .with_context(|| format!("reading {}", args.eval_policy.display()))?;
    let policy = read_evaluation_policy(&policy_text)
        .with_context(|| format!("evaluation policy {}", args.eval_policy.display()))?;
    let model_text = if args.reward_model == args.eval_policy {
        policy_text
    } else {
        std::fs::read_to_string(&args.reward_model)
            .with_context(|| format!("reading {}", args.reward_model.display()))?
    };
    let model = read_reward_model(&model_text)
        .with_context(|| format!("reward model {}", args.reward_model.display()))?;
    let input = OpeInput::new(&log, &policy, Some(&model)).context("log and tables disagree")?;
    let bootstrap = if args.bootstrap > 0 {
        Some(
            BootstrapParams {
                n_samples: args.bootstrap,
                alpha: args.alpha,
                seed: args.seed,
            }
            .validate()
            .context("--bootstrap/--alpha")?,
        )
    } else {
        None
    };
    let report = evaluate_standard_estimators(&input, args.switch_tau, bootstrap.as_ref())
        .context("estimating")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} logged rounds, behaviour policy's own mean reward {:.6}",
            report.n,
            log.mean_reward()
        );
        let level = 100.0 * (1.0 - args.alpha);
        println!("{:<16} {:>12}   {level}% interval", "estimator", "estimate");
        for name in &report.order {
            let value = report.estimates[name];
            match report.intervals.get(name) {
                Some(ci) => println!("{name:<16} {value:>12.6}   [{:.6}, {:.6}]", ci.low, ci.high),
                None => println!("{name:<16} {value:>12.6}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_log(args: &OpeArgs) -> Result<LoggedFeedback> {
    let file = File::open(&args.log).with_context(|| format!("opening {}", args.log.display()))?;
    let log = match args.format {
        LogFormat::Obd => read_obd_csv(BufReader::new(file)),
        LogFormat::Cartback => read_decision_log(BufReader::new(file)),
    };
    log.with_context(|| format!("reading log {}", args.log.display()))
}
