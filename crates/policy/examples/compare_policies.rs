//! The policy comparison of `cartback simulate` without the CLI (handy to try the `dqn`
//! feature alone): `cargo run --release -p cartback-policy --features dqn --example
//! compare_policies -- fixed,thompson,dqn,oracle [carts] [train_carts] [seed]`.

use cartback_policy::simulator::{ComparisonParams, SimulatorConfig, compare_policies};

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
    match compare_policies(&SimulatorConfig::default(), &params) {
        Ok(rows) => {
            for r in rows {
                println!(
                    "{:<10} {:>8.1} [{:.1}, {:.1}] recovery {:.2}% msg/cart {:.2} discount/1000 {:.1} unsub {:.3}%",
                    r.name,
                    r.incremental_net_revenue_per_1000,
                    r.ci_low,
                    r.ci_high,
                    100.0 * r.recovery_rate,
                    r.messages_per_cart,
                    r.discount_spend_per_1000,
                    100.0 * r.unsubscribe_rate
                );
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
