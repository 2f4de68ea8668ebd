//! Diagnostic: what the oracle's hidden information is worth. Evaluates the Bayes-optimal
//! policy for the observable features (which knows the simulator's model but not the
//! shopper) when it is also told some of the shopper's hidden traits — the response type,
//! discount sensitivity, channel preference — next to the oracle, which knows them all
//! (and also whether each message reached the shopper); when it also sees which of the
//! cart's e-mails were opened (an observation the engine has, which the policies are not
//! given); and without the customer history (coupon
//! use, e-mail engagement of returning customers) and the session signals (a code typed at
//! checkout, a coupon-site arrival), to show what they are worth:
//! `cargo run --release -p cartback-policy --example value_of_information -- [carts] [seed]
//! [config.toml]`. The coupon shadow price of each variant is picked on 1,000 separate
//! carts (a grid, by exact value).
//!
//! The rows "… of returning customers" tell the traits of returning customers only (and
//! see neither history nor session signals): no history signal (history exists only for
//! returning customers) can be worth more.

use cartback_policy::policies::{DoNothing, Oracle};
use cartback_policy::simulator::{
    DiscountLedger, Revealed, Shopper, Simulator, SimulatorConfig, bayes_evaluation_revealed,
    evaluate_cart, expected_outcome, sample_population,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// What the Bayes policy is told about one shopper.
type Reveal = fn(&Shopper) -> Revealed;

/// Total incremental net revenue per 1,000 carts of the Bayes policy told `reveal`.
fn bayes(simulator: &Simulator, shoppers: &[Shopper], price: f64, reveal: Reveal) -> f64 {
    let mut ledger = DiscountLedger::default();
    let none = DiscountLedger::default();
    let mut total = 0.0;
    for s in shoppers {
        let e = bayes_evaluation_revealed(simulator, s, &ledger, price, reveal(s));
        e.book(&mut ledger);
        total += e.expectation.net_revenue_minor
            - expected_outcome(simulator, s, &none, &DoNothing).net_revenue_minor;
    }
    total / shoppers.len() as f64 * 10.0
}

/// The coupon shadow price (of a grid) with the highest value on `tuning`.
fn best_price(simulator: &Simulator, tuning: &[Shopper], reveal: Reveal) -> f64 {
    let prices = if simulator.guardrails().is_some() {
        vec![0.0, 0.03, 0.06, 0.1, 0.2]
    } else {
        vec![0.0]
    };
    prices
        .into_iter()
        .map(|p| (bayes(simulator, tuning, p, reveal), p))
        .fold(
            (f64::NEG_INFINITY, 0.0),
            |a, b| if b.0 > a.0 { b } else { a },
        )
        .1
}

/// What the shop observes besides the basic features.
#[derive(Clone, Copy, PartialEq)]
enum Seen {
    /// Customer history and session signals.
    All,
    /// The customer history, no session signals.
    History,
    /// Neither (what the shop observed before it kept either).
    Neither,
}

/// The shoppers with the signals `seen` leaves out wiped (the oracle does not use them).
fn wiped(shoppers: &[Shopper], seen: Seen) -> Vec<Shopper> {
    shoppers
        .iter()
        .map(|s| {
            let mut s = *s;
            if seen != Seen::All {
                s.features.session = Default::default();
            }
            if seen == Seen::Neither {
                s.features.history = Default::default();
            }
            s
        })
        .collect()
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
        "{:<52} {:>8} {:>7} {:>9}",
        "Bayes policy also told …", "value", "price", "/ oracle"
    );
    let variants: [(&str, Seen, Reveal); 11] = [
        (
            "nothing; no history, no session signals",
            Seen::Neither,
            |_| Revealed::default(),
        ),
        (
            "nothing; history, no session signals",
            Seen::History,
            |_| Revealed::default(),
        ),
        ("nothing (features + history + session)", Seen::All, |_| {
            Revealed::default()
        }),
        (
            "nothing, but sees this cart's e-mail opens",
            Seen::All,
            |_| Revealed {
                email_opens: true,
                ..Revealed::default()
            },
        ),
        ("channel preference", Seen::All, |_| Revealed {
            channel_preference: true,
            ..Revealed::default()
        }),
        ("discount sensitivity", Seen::All, |_| Revealed {
            discount_sensitivity: true,
            ..Revealed::default()
        }),
        ("response type", Seen::All, |_| Revealed {
            segment: true,
            ..Revealed::default()
        }),
        ("response type + discount sensitivity", Seen::All, |_| {
            Revealed {
                segment: true,
                discount_sensitivity: true,
                ..Revealed::default()
            }
        }),
        ("all three (the oracle also sees opens)", Seen::All, |_| {
            Revealed {
                segment: true,
                discount_sensitivity: true,
                channel_preference: true,
                ..Revealed::default()
            }
        }),
        (
            "no history; discount sensitivity of returning ones",
            Seen::Neither,
            |s| Revealed {
                discount_sensitivity: s.features.returning_customer,
                ..Revealed::default()
            },
        ),
        (
            "no history; all three of returning customers",
            Seen::Neither,
            |s| {
                let returning = s.features.returning_customer;
                Revealed {
                    segment: returning,
                    discount_sensitivity: returning,
                    channel_preference: returning,
                    ..Revealed::default()
                }
            },
        ),
    ];
    for (label, seen, reveal) in variants {
        let (tuning, shoppers) = (wiped(&tuning, seen), wiped(&shoppers, seen));
        let price = best_price(&simulator, &tuning, reveal);
        let value = bayes(&simulator, &shoppers, price, reveal);
        println!(
            "{label:<52} {value:>8.1} {price:>7.2} {:>8.1} %",
            100.0 * value / oracle
        );
    }
    println!("{:<52} {oracle:>8.1}", "oracle (greedy per cart)");
}
