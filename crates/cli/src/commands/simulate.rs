//! `cartback simulate`: compares decision policies on the shopper simulator (learned ones
//! are trained on simulated logs first and evaluated on fresh shoppers, every decision
//! passing through the engine's guardrails), prints the default configuration, and
//! measures the off-policy estimators' bias and RMSE against the simulator's exact ground
//! truth.

use anyhow::{Context, Result};
use cartback_policy::simulator::{
    ComparisonEvent, ComparisonParams, DEFAULT_CONFIG_TOML, OpeStudyParams, POLICY_NAMES,
    SimulatorConfig, compare_policies_with_progress, ope_study,
};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Simulator configuration (TOML; missing fields take the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Comma-separated policies: fixed, threshold, uplift, linucb, thompson, qlearning, fqi,
    /// dqn (needs the `dqn` build feature), bayes (the Bayes-optimal policy for the observable
    /// features: a diagnostic ceiling that knows the simulator's model), oracle.
    #[arg(long, value_delimiter = ',', default_values_t = POLICY_NAMES.map(String::from))]
    pub policies: Vec<String>,
    /// Fresh abandoned carts each policy is evaluated on.
    #[arg(long, default_value_t = 10_000)]
    pub carts: usize,
    /// Simulated carts the learned policies train on.
    #[arg(long, default_value_t = 20_000)]
    pub train_carts: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also measure the off-policy estimators on this many logged datasets.
    #[arg(long, default_value_t = 0)]
    pub ope_datasets: usize,
    /// Carts per logged dataset of the off-policy study.
    #[arg(long, default_value_t = 1_000)]
    pub ope_carts: usize,
    /// Print the default configuration, every field commented, and exit.
    #[arg(long)]
    pub print_config: bool,
    #[arg(long)]
    pub json: bool,
}

/// Wall-clock seconds each policy spent training and being evaluated.
#[derive(Default)]
struct Timings {
    started: Option<Instant>,
    train: BTreeMap<String, f64>,
    evaluate: BTreeMap<String, f64>,
}

pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    if args.print_config {
        print!("{DEFAULT_CONFIG_TOML}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.policies.iter().any(|p| p.trim() == "dqn")
        && std::env::var_os("RAYON_NUM_THREADS").is_none()
    {
        // The DQN's matrices are tiny: candle's multi-threaded matrix products only add
        // synchronisation (4× slower here), and their summation order — hence the trained
        // network — would depend on the machine's core count. One thread makes the DQN's
        // figures reproducible everywhere (set RAYON_NUM_THREADS to override).
        // SAFETY: no other thread exists yet: the command has not started any work, and
        // neither clap nor the allocator spawn threads.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            SimulatorConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => SimulatorConfig::default(),
    };
    let params = ComparisonParams {
        policies: args.policies.iter().map(|p| p.trim().to_string()).collect(),
        carts: args.carts,
        train_carts: args.train_carts,
        seed: args.seed,
    };
    let mut timings = Timings::default();
    let quiet = args.json;
    let mut progress = |event: ComparisonEvent<'_>| match event {
        ComparisonEvent::TrainingStarted(name) => {
            if !quiet {
                eprintln!("{name}: training …");
            }
            timings.started = Some(Instant::now());
        }
        ComparisonEvent::TrainingFinished(name) => {
            let elapsed = timings.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
            timings.train.insert(name.to_string(), elapsed);
            timings.started = Some(Instant::now());
        }
        ComparisonEvent::EvaluationFinished(name) => {
            let elapsed = timings.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
            timings.evaluate.insert(name.to_string(), elapsed);
        }
    };
    let rows =
        compare_policies_with_progress(&config, &params, &mut progress).context("simulating")?;
    let study = if args.ope_datasets > 0 {
        Some(
            ope_study(
                &config,
                &OpeStudyParams {
                    datasets: args.ope_datasets,
                    carts_per_dataset: args.ope_carts,
                    seed: args.seed,
                },
            )
            .context("off-policy study")?,
        )
    } else {
        None
    };
    if args.json {
        let mut out = serde_json::json!({ "policies": rows });
        for (row, entry) in rows.iter().zip(
            out["policies"]
                .as_array_mut()
                .expect("policies serialise as an array"),
        ) {
            entry["train_seconds"] = serde_json::json!(timings.train.get(&row.name));
            entry["evaluate_seconds"] = serde_json::json!(timings.evaluate.get(&row.name));
        }
        if let Some(study) = &study {
            out["ope_study"] = serde_json::to_value(study)?;
        }
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} fresh abandoned carts per policy, learned policies trained on {} simulated carts, seed {}{}",
        args.carts,
        args.train_carts,
        args.seed,
        if config.shop.apply_guardrails {
            ", guardrails on"
        } else {
            ", guardrails off"
        }
    );
    println!(
        "{:<10} {:>10} {:>20} {:>9} {:>9} {:>11} {:>8} {:>10} {:>8}",
        "policy",
        "incr./1000",
        "95 % CI",
        "recovery",
        "msg/cart",
        "disc./1000",
        "unsub.",
        "guard-chg",
        "train s"
    );
    for r in &rows {
        println!(
            "{:<10} {:>10.1} {:>20} {:>8.2}% {:>9.2} {:>11.1} {:>7.3}% {:>9.1}% {:>8.1}",
            r.name,
            r.incremental_net_revenue_per_1000,
            format!("[{:.1}, {:.1}]", r.ci_low, r.ci_high),
            100.0 * r.recovery_rate,
            r.messages_per_cart,
            r.discount_spend_per_1000,
            100.0 * r.unsubscribe_rate,
            100.0 * r.guardrail_changed_share,
            timings.train.get(&r.name).copied().unwrap_or(0.0),
        );
    }
    println!(
        "(money in major units of the shop's currency; incremental = versus doing nothing on the same carts;\n guard-chg = share of decisions a guardrail changed; train s = wall-clock training time)"
    );
    println!("\n95 % intervals over the evaluation shoppers:");
    for r in &rows {
        let [recovery, messages, discount, unsubscribe] = [
            "recovery_rate",
            "messages_per_cart",
            "discount_spend_per_1000",
            "unsubscribe_rate",
        ]
        .map(|name| r.intervals[name]);
        println!(
            "  {:<10} recovery [{:.2}, {:.2}] %, msg/cart [{:.3}, {:.3}], disc./1000 [{:.1}, {:.1}], unsub. [{:.3}, {:.3}] %",
            r.name,
            100.0 * recovery[0],
            100.0 * recovery[1],
            messages[0],
            messages[1],
            discount[0],
            discount[1],
            100.0 * unsubscribe[0],
            100.0 * unsubscribe[1],
        );
    }
    let join = |m: &BTreeMap<&'static str, f64>| {
        m.iter()
            .filter(|(_, v)| v.abs() >= 0.05)
            .map(|(k, v)| format!("{k} {v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("\nincremental net revenue per 1,000 carts by hidden shopper type:");
    for r in &rows {
        println!(
            "  {:<10} {}",
            r.name,
            join(&r.incremental_by_segment_per_1000)
        );
    }
    println!("\ndecisions changed by each guardrail, per 1,000 carts:");
    for r in &rows {
        println!("  {:<10} {}", r.name, join(&r.guardrail_changes_per_1000));
    }
    println!("\nactions sent (after the guardrails), per 1,000 carts:");
    for r in &rows {
        println!("  {:<10} {}", r.name, join(&r.executed_per_1000));
    }
    if let Some(study) = study {
        println!(
            "\noff-policy estimators over {} logged datasets of {} carts (mean exact truth {:.4} per cart):",
            args.ope_datasets, args.ope_carts, study[0].truth
        );
        println!(
            "{:<15} {:>12} {:>10} {:>10}",
            "estimator", "mean", "bias", "rmse"
        );
        for s in study {
            println!(
                "{:<15} {:>12.4} {:>10.4} {:>10.4}",
                s.estimator, s.mean_estimate, s.bias, s.rmse
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
