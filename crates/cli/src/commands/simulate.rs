//! `cartback simulate`: compares decision policies on the shopper simulator (learned ones
//! are trained on simulated logs first and evaluated on fresh shoppers), prints the default
//! configuration, and measures the off-policy estimators' bias and RMSE against the
//! simulator's exact ground truth.

use anyhow::{Context, Result};
use cartback_policy::simulator::{
    ComparisonParams, DEFAULT_CONFIG_TOML, OpeStudyParams, POLICY_NAMES, SimulatorConfig,
    compare_policies, ope_study,
};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Simulator configuration (TOML; missing fields take the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Comma-separated policies: fixed, threshold, uplift, linucb, thompson, qlearning, oracle.
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

pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    if args.print_config {
        print!("{DEFAULT_CONFIG_TOML}");
        return Ok(ExitCode::SUCCESS);
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
    let rows = compare_policies(&config, &params).context("simulating")?;
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
        if let Some(study) = &study {
            out["ope_study"] = serde_json::to_value(study)?;
        }
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} fresh abandoned carts per policy, learned policies trained on {} simulated carts, seed {}",
        args.carts, args.train_carts, args.seed
    );
    println!(
        "{:<10} {:>22} {:>22} {:>9} {:>9} {:>13} {:>8}",
        "policy", "incr. net rev./1000", "95 % CI", "recovery", "msg/cart", "disc./1000", "unsub."
    );
    for r in &rows {
        println!(
            "{:<10} {:>22.1} {:>22} {:>8.2}% {:>9.2} {:>13.1} {:>7.3}%",
            r.name,
            r.incremental_net_revenue_per_1000,
            format!("[{:.1}, {:.1}]", r.ci_low, r.ci_high),
            100.0 * r.recovery_rate,
            r.messages_per_cart,
            r.discount_spend_per_1000,
            100.0 * r.unsubscribe_rate
        );
    }
    println!("(money in major units of the shop's currency; incremental = versus doing nothing)");
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
