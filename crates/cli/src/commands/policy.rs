//! `cartback policy train`: trains a learned policy (uplift-greedy, LinUCB, linear Thompson
//! sampling, tabular Q-learning or the fitted-Q planner) on simulated shoppers, or (with
//! `--from-log`: the fitted-Q planner and uplift-greedy) on the engine's own decision log,
//! judged on held-out abandonments, and writes its state file, which `cartback serve` loads
//! with `[policy] kind` and `state_file` (and reloads when the file is replaced). The logic
//! is `cartback_policy::state_file` and `cartback_server::learning`.

use anyhow::{Context, Result, bail};
use cartback_policy::log_training::{Judgement, ValueEstimate};
use cartback_server::ServerConfig;
use cartback_server::decide::policy_file::{self, PolicyKind};
use cartback_server::learning::{
    LogTrainingOptions, LogTrainingOutcome, check_request, train_from_log,
};
use cartback_server::outcomes::Booking;
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
    /// Train a learned policy on the shopper simulator, or on the engine's own decision log
    /// (`--from-log`), and write its state file.
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
    /// Learn from the engine's own decision log (the store of `--config` / `--db`): every
    /// settled abandonment, with the states, actions and propensities the engine recorded
    /// and what became of the cart. `fitted_q` and `uplift_greedy` only; the log must have
    /// explored (`[policy] exploration`) for every action to have gone out.
    #[arg(long)]
    pub from_log: bool,
    /// With `--from-log`: the server's configuration (TOML), for `db`, `policy.step_delays`,
    /// `[costs]`, `guardrails.daily_discount_budget_minor` and
    /// `tracker.attribution_window`.
    #[arg(long, value_name = "PATH", requires = "from_log")]
    pub config: Option<PathBuf>,
    /// With `--from-log`: the store (a SQLite file or a postgres:// URL; default: the
    /// configuration's `db`).
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "CARTBACK_DB",
        requires = "from_log"
    )]
    pub db: Option<String>,
    /// With `--from-log`: the share of carts held out of training to judge the policy on.
    #[arg(long, default_value_t = 0.2, requires = "from_log")]
    pub evaluation_share: f64,
    /// With `--from-log`: bootstrap resamples of the judgement's 95 % intervals.
    #[arg(long, default_value_t = 1_000, requires = "from_log")]
    pub bootstrap: usize,
    /// With `--from-log`: write the file even when the held-out judgement says the policy
    /// is worse than the logged one.
    #[arg(long, requires = "from_log")]
    pub force: bool,
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
    if args.from_log {
        return train_on_log(kind, args);
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

fn train_on_log(kind: PolicyKind, args: TrainPolicyArgs) -> Result<ExitCode> {
    let config = ServerConfig::load(args.config.as_deref()).context("loading the configuration")?;
    let db = args.db.clone().unwrap_or_else(|| config.db.clone());
    let options = LogTrainingOptions {
        evaluation_share: args.evaluation_share,
        bootstrap_samples: args.bootstrap,
        seed: args.seed,
        ..LogTrainingOptions::default()
    };
    // A refused request must not leave an empty store behind (opening creates one).
    check_request(&config, kind, options)
        .with_context(|| format!("learning {} from the decision log of {db}", kind.name()))?;
    let mut store = cartback_store::open(&db).with_context(|| format!("opening store {db}"))?;
    let booking = Booking {
        costs: config.costs,
        attribution_window: config.tracker.attribution_window,
        as_of: super::decisions::wall_clock()?,
    };
    let started = Instant::now();
    let outcome = train_from_log(&mut *store, &booking, &config, kind, options)
        .with_context(|| format!("learning {} from the decision log of {db}", kind.name()))?;
    let seconds = started.elapsed().as_secs_f64();
    let worse = outcome.evaluation.judgement == Judgement::Worse;
    let written = !worse || args.force;
    if written {
        outcome
            .file
            .save(&args.out)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "kind": kind.name(),
                "out": args.out.display().to_string(),
                "written": written,
                "log": outcome.counts,
                "trained_on": outcome.trained_on,
                "held_out": outcome.held_out,
                "fitted_q": outcome.fitted_q,
                "evaluation": outcome.evaluation,
                "step_delays_hours": outcome.file.step_delays_hours,
                "seconds": seconds,
            })
        );
    } else {
        print!(
            "{}",
            log_training_text(kind, &outcome, &args, written, seconds)
        );
    }
    Ok(if written {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn log_training_text(
    kind: PolicyKind,
    outcome: &LogTrainingOutcome,
    args: &TrainPolicyArgs,
    written: bool,
    seconds: f64,
) -> String {
    use std::fmt::Write;
    let c = &outcome.counts;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "decision log: {} decisions, {} abandonments; {} episodes over {:.1} days ({} of them \
         the holdout's); left out: {} not settled, {} without a recorded state, {} with an \
         unknown action, {} with steps out of order, {} erased",
        c.decisions,
        c.abandonments,
        c.episodes,
        c.days,
        c.holdout,
        c.unsettled,
        c.without_state,
        c.unknown_action,
        c.broken_steps,
        c.erased
    );
    let _ = writeln!(
        text,
        "trained {} on {} episodes, judged on {} held-out ones ({:.0} % of the carts), in \
         {seconds:.1} s",
        kind.name(),
        outcome.trained_on,
        outcome.held_out,
        args.evaluation_share * 100.0
    );
    if let Some(q) = &outcome.fitted_q {
        let executed: Vec<String> = q
            .executed
            .iter()
            .map(|(kind, sent, bought)| format!("{kind} {sent}/{bought}"))
            .collect();
        let _ = writeln!(
            text,
            "  executed actions (decisions / purchases in their step): {}",
            executed.join(", ")
        );
        if !q.left_out.is_empty() {
            let names: Vec<&str> = q.left_out.iter().map(|k| k.name()).collect();
            let _ = writeln!(
                text,
                "  never proposed, too few purchases after them to learn from (5 needed): {} \
                 (more exploration, `[policy] exploration`, or a longer log brings them in)",
                names.join(", ")
            );
        }
        let _ = writeln!(
            text,
            "  coupon shadow price {:.3}{}",
            q.coupon_shadow_price,
            q.expected_coupons_per_day_minor
                .map(|m| format!(
                    "; expected coupons {:.2} a day (budget: guardrails.daily_discount_budget_minor)",
                    m / 100.0
                ))
                .unwrap_or_default()
        );
    }
    let e = &outcome.evaluation;
    let money = |v: &ValueEstimate| {
        format!(
            "{:.2} [{:.2}, {:.2}]",
            v.value / 100.0,
            v.ci_low / 100.0,
            v.ci_high / 100.0
        )
    };
    let _ = writeln!(
        text,
        "held-out judgement over {} treated abandonments (net revenue per abandonment, major \
         units, 95 % bootstrap intervals):",
        e.episodes
    );
    if let Some(logged) = &e.logged {
        let _ = writeln!(text, "  logged policy       {}", money(logged));
    }
    if let (Some(estimate), Some(difference)) = (
        &e.whole_flow.doubly_robust,
        &e.whole_flow.doubly_robust_difference,
    ) {
        let _ = writeln!(
            text,
            "  whole flow, DR      {}  difference {}",
            money(estimate),
            money(difference)
        );
    }
    for (name, value) in [
        ("whole flow, SNIPW", &e.whole_flow),
        ("first touch, SNIPW", &e.first_touch),
    ] {
        let figures = match (&value.estimate, &value.difference) {
            (Some(estimate), Some(difference)) => {
                format!("{}  difference {}", money(estimate), money(difference))
            }
            _ => match &value.thin_group {
                Some(g) => format!(
                    "little overlap: the episodes that began with {} carry {:.0} % of the \
                     weight on an effective {:.1}",
                    g.first_action,
                    100.0 * g.weight_share,
                    g.effective_sample_size
                ),
                None => "little overlap".to_owned(),
            },
        };
        let _ = writeln!(
            text,
            "  {name:<19} {figures}  (effective sample size {:.1}, mean weight {:.2}, max {:.1})",
            value.effective_sample_size, value.mean_weight, value.max_weight
        );
    }
    let _ = writeln!(text, "{}", e.verdict);
    if written {
        let _ = writeln!(text, "→ {}", args.out.display());
    } else {
        let _ = writeln!(
            text,
            "not written: the held-out judgement says it is worse (--force writes it anyway)"
        );
    }
    text
}
