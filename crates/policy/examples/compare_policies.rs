//! The policy comparison of `cartback simulate` without the CLI, with the diagnostic
//! breakdowns (incremental revenue per hidden shopper type, actions sent, guardrail
//! changes): `cargo run --release -p cartback-policy [--features dqn] --example
//! compare_policies -- fixed,thompson,oracle [carts] [train_carts] [seed] [config.toml]`.

use cartback_policy::simulator::{
    ComparisonEvent, ComparisonParams, SimulatorConfig, compare_policies_with_progress,
};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let policies = args
        .first()
        .map_or("fixed,oracle", String::as_str)
        .split(',')
        .map(String::from)
        .collect();
    let number =
        |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let params = ComparisonParams {
        policies,
        carts: number(1, 10_000) as usize,
        train_carts: number(2, 20_000) as usize,
        seed: number(3, 42),
    };
    let config = match args.get(4) {
        Some(path) => {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
                eprintln!("error: reading {path}: {e}");
                std::process::exit(2)
            });
            SimulatorConfig::from_toml(&text).unwrap_or_else(|e| {
                eprintln!("error: {path}: {e}");
                std::process::exit(2)
            })
        }
        None => SimulatorConfig::default(),
    };
    let mut started = Instant::now();
    let mut report = |event: ComparisonEvent<'_>| match event {
        ComparisonEvent::TrainingStarted(_) => started = Instant::now(),
        ComparisonEvent::TrainingFinished(name) => {
            eprintln!(
                "{name}: trained in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            started = Instant::now();
        }
        ComparisonEvent::EvaluationFinished(name) => {
            eprintln!(
                "{name}: evaluated in {:.1} s",
                started.elapsed().as_secs_f64()
            )
        }
    };
    match compare_policies_with_progress(&config, &params, &mut report) {
        Ok(rows) => {
            for r in rows {
                println!(
                    "{:<10} {:>8.1} [{:.1}, {:.1}] recovery {:.2}% msg/cart {:.2} discount/1000 {:.1} unsub {:.3}% guardrail-changed {:.1}%",
                    r.name,
                    r.incremental_net_revenue_per_1000,
                    r.ci_low,
                    r.ci_high,
                    100.0 * r.recovery_rate,
                    r.messages_per_cart,
                    r.discount_spend_per_1000,
                    100.0 * r.unsubscribe_rate,
                    100.0 * r.guardrail_changed_share,
                );
                let join = |m: &std::collections::BTreeMap<&'static str, f64>| {
                    m.iter()
                        .map(|(k, v)| format!("{k} {v:.0}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                println!("    by type: {}", join(&r.incremental_by_segment_per_1000));
                println!("    sent/1000: {}", join(&r.executed_per_1000));
                println!(
                    "    guardrails/1000: {}",
                    join(&r.guardrail_changes_per_1000)
                );
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
