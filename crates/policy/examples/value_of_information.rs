//! Diagnostic: what the oracle's hidden information is worth. Evaluates the Bayes-optimal
//! policy for the observable features (which knows the simulator's model but not the
//! shopper) when it is also told some of the shopper's hidden traits — the response type,
//! discount sensitivity, channel preference — next to the oracle, which knows them all
//! (and also whether each message was opened):
//! `cargo run --release -p cartback-policy --example value_of_information -- [carts] [seed]
//! [config.toml]`. The coupon shadow price of each variant is picked on 1,000 separate
//! carts (a grid, by exact value).

use cartback_policy::policies::{DoNothing, Oracle};
use cartback_policy::simulator::{
    DiscountLedger, Revealed, Shopper, Simulator, SimulatorConfig, bayes_evaluation_revealed,
    evaluate_cart, expected_outcome, sample_population,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// Total incremental net revenue per 1,000 carts of the Bayes policy told `revealed`.
fn bayes(simulator: &Simulator, shoppers: &[Shopper], price: f64, revealed: Revealed) -> f64 {
    let mut ledger = DiscountLedger::default();
    let none = DiscountLedger::default();
    let mut total = 0.0;
    for s in shoppers {
        let e = bayes_evaluation_revealed(simulator, s, &ledger, price, revealed);
        e.book(&mut ledger);
        total += e.expectation.net_revenue_minor
            - expected_outcome(simulator, s, &none, &DoNothing).net_revenue_minor;
    }
    total / shoppers.len() as f64 * 10.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let carts: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let seed: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(42);
    let config = match args.get(2) {
        Some(path) => SimulatorConfig::from_toml(
            &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}")),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}")),
        None => SimulatorConfig::default(),
    };
    let simulator = Simulator::new(config).expect("valid config");
    let mut rng = SmallRng::seed_from_u64(seed);
    let tuning = sample_population(&simulator, 1_000, &mut rng);
    let mut eval_rng = SmallRng::seed_from_u64(seed.wrapping_add(0x9e37_79b9));
    let shoppers = sample_population(&simulator, carts, &mut eval_rng);
    let mut ledger = DiscountLedger::default();
    let none = DiscountLedger::default();
    let mut oracle = 0.0;
    for s in &shoppers {
        let e = evaluate_cart(&simulator, s, &ledger, &Oracle);
        e.book(&mut ledger);
        oracle += e.expectation.net_revenue_minor
            - expected_outcome(&simulator, s, &none, &DoNothing).net_revenue_minor;
    }
    oracle = oracle / shoppers.len() as f64 * 10.0;
    println!("{carts} carts, seed {seed}: incremental net revenue per 1,000 carts");
    println!(
        "{:<44} {:>8} {:>7} {:>9}",
        "Bayes policy also told …", "value", "price", "/ oracle"
    );
    let t = true;
    let f = false;
    for (label, revealed) in [
        ("nothing (observable features only)", Revealed::default()),
        (
            "channel preference",
            Revealed {
                segment: f,
                discount_sensitivity: f,
                channel_preference: t,
            },
        ),
        (
            "discount sensitivity",
            Revealed {
                segment: f,
                discount_sensitivity: t,
                channel_preference: f,
            },
        ),
        (
            "response type",
            Revealed {
                segment: t,
                discount_sensitivity: f,
                channel_preference: f,
            },
        ),
        (
            "response type + discount sensitivity",
            Revealed {
                segment: t,
                discount_sensitivity: t,
                channel_preference: f,
            },
        ),
        (
            "all three (the oracle also sees opens)",
            Revealed {
                segment: t,
                discount_sensitivity: t,
                channel_preference: t,
            },
        ),
    ] {
        let prices = if simulator.guardrails().is_some() {
            vec![0.0, 0.03, 0.06, 0.1, 0.2]
        } else {
            vec![0.0]
        };
        let price = prices
            .into_iter()
            .map(|p| (bayes(&simulator, &tuning, p, revealed), p))
            .fold(
                (f64::NEG_INFINITY, 0.0),
                |a, b| if b.0 > a.0 { b } else { a },
            )
            .1;
        let value = bayes(&simulator, &shoppers, price, revealed);
        println!(
            "{label:<44} {value:>8.1} {price:>7.2} {:>8.1} %",
            100.0 * value / oracle
        );
    }
    println!("{:<44} {oracle:>8.1}", "oracle (greedy per cart)");
}
