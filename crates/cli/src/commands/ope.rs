//! `cartback ope`: off-policy evaluation of a policy from a logged file (the Open Bandit
//! Dataset CSV or cartback's decision log) with IPW, SNIPW, DM, DR, SNDR and Switch-DR,
//! each with a bootstrap confidence interval. On cartback's exported log
//! (`cartback decisions export`) the evaluation policy can be a cartback policy state file
//! or a built-in, and the reward model can be fitted on the log (`fit`).

use anyhow::{Context, Result, bail};
use cartback_policy::ope::{
    BootstrapParams, CartbackLog, EvaluationPolicy, OpeInput, RewardModel, builtin_policy,
    evaluate_standard_estimators, fit_reward_model, policy_action_dist, read_cartback_log,
    read_evaluation_policy, read_obd_csv, read_reward_model,
};
use cartback_policy::state_file::{POLICY_FORMAT, PolicyStateFile};
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Open Bandit Dataset CSV (item_id, position from 1, click, propensity_score).
    Obd,
    /// cartback decision log: NDJSON with action, propensity, reward[, position][, state]
    /// (`cartback decisions export` writes it with the state).
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
    /// The policy to evaluate: a JSON file with `evaluation_action_dist` (`[action][position]`
    /// or `[round][action][position]`); or, on a `cartback decisions export` log, a cartback
    /// policy state file (`cartback policy train`) or `builtin:do_nothing`,
    /// `builtin:uniform_random`, `builtin:fixed_flow` or `builtin:fixed_flow=ACTION,ACTION,…`,
    /// whose full distribution (exploration floor included) is computed on every logged state
    /// and passed through that decision's guardrails.
    #[arg(long)]
    pub eval_policy: PathBuf,
    /// The reward model: a JSON file with `reward_model_table` (same shapes; may be the
    /// policy's file); or, on a `cartback decisions export` log, `fit`: per-action ridge
    /// regressions of the reward on the policies' feature vector of the logged state,
    /// cross-fitted in two folds (even and odd rounds).
    #[arg(long)]
    pub reward_model: PathBuf,
    /// Prior precision of the `--reward-model fit` ridge regressions.
    #[arg(long, default_value_t = 1.0)]
    pub ridge: f64,
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
    let (policy, description, policy_text) = evaluation_policy(&args, &log)?;
    let model = reward_model(&args, &log, policy_text)?;
    let input =
        OpeInput::new(&log.feedback, &policy, Some(&model)).context("log and tables disagree")?;
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
    let weights: Vec<f64> = input
        .importance_terms()
        .iter()
        .map(|t| t.importance_weight)
        .collect();
    let mean_weight = weights.iter().sum::<f64>() / weights.len() as f64;
    let max_weight = weights.iter().copied().fold(0.0, f64::max);
    let squares: f64 = weights.iter().map(|w| w * w).sum();
    let effective = if squares > 0.0 {
        weights.iter().sum::<f64>().powi(2) / squares
    } else {
        0.0
    };
    if args.json {
        let mut json = serde_json::to_value(&report)?;
        json["diagnostics"] = serde_json::json!({
            "evaluation_policy": description,
            "logged_mean_reward": log.feedback.mean_reward(),
            "mean_importance_weight": mean_weight,
            "max_importance_weight": max_weight,
            "effective_sample_size": effective,
        });
        println!("{json}");
    } else {
        println!("evaluation policy: {description}");
        println!(
            "{} logged rounds, behaviour policy's own mean reward {:.6}",
            report.n,
            log.feedback.mean_reward()
        );
        println!(
            "importance weights: mean {mean_weight:.4}, max {max_weight:.4}, effective sample size {effective:.1}"
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

fn read_log(args: &OpeArgs) -> Result<CartbackLog> {
    let file = File::open(&args.log).with_context(|| format!("opening {}", args.log.display()))?;
    let log = match args.format {
        LogFormat::Obd => read_obd_csv(BufReader::new(file)).map(|feedback| CartbackLog {
            states: vec![None; feedback.len()],
            lines: (2..feedback.len() + 2).collect(),
            feedback,
        }),
        LogFormat::Cartback => read_cartback_log(BufReader::new(file)),
    };
    log.with_context(|| format!("reading log {}", args.log.display()))
}

/// The evaluation policy's table, its description, and the text of its file when it is one
/// (the reward model may be read from the same file).
fn evaluation_policy(
    args: &OpeArgs,
    log: &CartbackLog,
) -> Result<(EvaluationPolicy, String, Option<String>)> {
    let shown = args.eval_policy.display().to_string();
    if let Some(spec) = shown.strip_prefix("builtin:") {
        let (policy, description) = builtin_policy(spec).context("--eval-policy")?;
        let table = policy_action_dist(&*policy, log, None)
            .with_context(|| format!("evaluating {description} on {}", args.log.display()))?;
        return Ok((table, description, None));
    }
    let text =
        std::fs::read_to_string(&args.eval_policy).with_context(|| format!("reading {shown}"))?;
    let format = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_owned));
    if format.as_deref() == Some(POLICY_FORMAT) {
        let file = PolicyStateFile::from_json(&text, &shown)?;
        let description = format!(
            "{} state file {shown} (trained on {} simulated carts, {} steps)",
            file.kind.name(),
            file.trained_on.carts,
            file.step_delays_hours.len()
        );
        let n_steps = file.step_delays_hours.len();
        let policy = file.policy.into_policy();
        let table = policy_action_dist(&*policy, log, Some(n_steps))
            .with_context(|| format!("evaluating {shown} on {}", args.log.display()))?;
        return Ok((table, description, None));
    }
    let table =
        read_evaluation_policy(&text).with_context(|| format!("evaluation policy {shown}"))?;
    Ok((
        table,
        format!("evaluation_action_dist of {shown}"),
        Some(text),
    ))
}

fn reward_model(
    args: &OpeArgs,
    log: &CartbackLog,
    policy_text: Option<String>,
) -> Result<RewardModel> {
    if args.reward_model.as_os_str() == "fit" {
        if !matches!(args.format, LogFormat::Cartback) {
            bail!("--reward-model fit needs --format cartback (a `cartback decisions export` log)");
        }
        return fit_reward_model(log, args.ridge).context("--reward-model fit");
    }
    let text = match policy_text {
        Some(text) if args.reward_model == args.eval_policy => text,
        _ => std::fs::read_to_string(&args.reward_model)
            .with_context(|| format!("reading {}", args.reward_model.display()))?,
    };
    read_reward_model(&text)
        .with_context(|| format!("reward model {}", args.reward_model.display()))
}
