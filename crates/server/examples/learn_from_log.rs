//! Learning from the engine's own decision log, checked against the simulator's truth.
//!
//! Writes the log a shop running the fixed flow with exploration ε would have after N
//! abandonments of simulated shoppers into a fresh SQLite store (`cartback decisions
//! simulate`), learns the fitted-Q planner from that store alone (`cartback policy train
//! --from-log`: what the engine recorded, no hidden trait), then evaluates exactly, on
//! fresh shoppers of the same population: the learned planner (with its live exploration
//! floor), the logging policy, the fixed flow, doing nothing, the planner `cartback simulate`
//! trains on a simulated random log of the same size, and the oracle.
//!
//! ```text
//! cargo run --release -p cartback-server --example learn_from_log -- [CARTS] [EXPLORATION] [SEED]
//! ```

use cartback_core::{Duration, Timestamp};
use cartback_policy::log_training::split_for_evaluation;
use cartback_policy::policies::{DoNothing, Exploring, FixedFlow, Oracle, Policy};
use cartback_policy::simulator::{
    DiscountLedger, Simulator, SimulatorConfig, evaluate, evaluate_cart, sample_population,
    train_fitted_q,
};
use cartback_server::ServerConfig;
use cartback_server::learning::{LogTrainingOptions, read_logged_episodes, train_from_log};
use cartback_server::outcomes::Booking;
use cartback_server::simulated_log::{SimulatedLogParams, write_simulated_log};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let carts: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let exploration: f64 = args.next().map_or(Ok(0.1), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(7), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("log.db").display().to_string();
    let sim_config = SimulatorConfig::default();
    let simulator = Simulator::new(sim_config.clone())?;

    let started = Instant::now();
    let mut store = cartback_store::open(&db)?;
    let written = write_simulated_log(
        &mut *store,
        &sim_config,
        SimulatedLogParams {
            carts,
            exploration,
            seed,
        },
    )?;
    println!(
        "log: {} carts, {} decisions, {} messages, {} recovered ({:.1} s)",
        written.carts,
        written.decisions,
        written.messages_sent,
        written.recovered,
        started.elapsed().as_secs_f64()
    );

    let config = ServerConfig::default();
    let booking = Booking {
        costs: config.costs,
        attribution_window: config.tracker.attribution_window,
        as_of: written.last_decision.unwrap_or(Timestamp(0)) + Duration::days(30),
    };
    let started = Instant::now();
    let outcome = train_from_log(
        &mut *store,
        &booking,
        &config,
        cartback_policy::state_file::PolicyKind::FittedQ,
        LogTrainingOptions::default(),
    )?;
    println!(
        "learned from the log in {:.1} s: {} episodes, {} held out; left out {:?}; shadow \
         price {:.3}",
        started.elapsed().as_secs_f64(),
        outcome.trained_on,
        outcome.held_out,
        outcome.fitted_q.as_ref().map(|q| q.left_out.clone()),
        outcome
            .fitted_q
            .as_ref()
            .map_or(0.0, |q| q.coupon_shadow_price)
    );
    let e = &outcome.evaluation;
    let show = |v: Option<cartback_policy::log_training::ValueEstimate>| {
        v.map_or("-".to_owned(), |v| {
            format!("{:.1} [{:.1}, {:.1}]", v.value, v.ci_low, v.ci_high)
        })
    };
    println!(
        "held-out judgement over {} abandonments (minor units per abandonment):\n  logged {}\n  \
         whole flow SNIPW {} (ESS {:.1}, mean weight {:.2}), DR {}, DR − logged {}\n  first \
         touch SNIPW {} (ESS {:.1}), − logged {}\n  {}",
        e.episodes,
        show(e.logged),
        show(e.whole_flow.estimate),
        e.whole_flow.effective_sample_size,
        e.whole_flow.mean_weight,
        show(e.whole_flow.doubly_robust),
        show(e.whole_flow.doubly_robust_difference),
        show(e.first_touch.estimate),
        e.first_touch.effective_sample_size,
        show(e.first_touch.difference),
        e.verdict
    );
    let learned = outcome.file.policy.into_policy();
    let logging = Exploring::new(Box::new(FixedFlow::default()), exploration)?;

    // The truth on the held-out treated shoppers themselves, what the judgement estimates:
    // each evaluated exactly in arrival order with the daily discount budget spent as the
    // logging policy spent it on everyone before them (the log's recorded guardrail outcomes
    // carry that budget, so the estimates do too).
    let read = read_logged_episodes(&mut *store, &booking)?;
    let (_, held) = split_for_evaluation(
        read.episodes,
        LogTrainingOptions::default().evaluation_share,
    );
    let held_ids: std::collections::HashSet<usize> = held
        .iter()
        .filter(|e| !e.holdout())
        .map(|e| e.cart_id["sim-cart-".len()..].parse::<usize>().unwrap())
        .collect();
    let everyone = sample_population(&simulator, carts, &mut SmallRng::seed_from_u64(seed));
    let first_touch = cartback_policy::policies::FirstTouch {
        first: &*learned,
        rest: &logging,
    };
    let policies: [&dyn Policy; 3] = [&logging, &*learned, &first_touch];
    let mut sums = [0.0; 3];
    let mut ledger = DiscountLedger::default();
    for (i, shopper) in everyone.iter().enumerate() {
        if held_ids.contains(&i) {
            for (sum, policy) in sums.iter_mut().zip(policies) {
                *sum += evaluate_cart(&simulator, shopper, &ledger, policy)
                    .expectation
                    .net_revenue_minor;
            }
        }
        evaluate_cart(&simulator, shopper, &ledger, &logging).book(&mut ledger);
    }
    let n = held_ids.len() as f64;
    println!(
        "truth on the {} held-out treated shoppers (budget as logged): logged {:.1}, learned \
         (whole flow) {:.1}, its first touch then logging {:.1}",
        held_ids.len(),
        sums[0] / n,
        sums[1] / n,
        sums[2] / n
    );

    let mut rng = SmallRng::seed_from_u64(seed ^ 0xfeed);
    let fresh = sample_population(&simulator, 10_000, &mut rng);
    let train = sample_population(&simulator, carts, &mut rng);
    let simulated_fqi = train_fitted_q(&simulator, &train, &mut rng)?;
    let zero = vec![Default::default(); fresh.len()];
    let per_cart = |name: &str, policy: &dyn Policy| {
        // Absolute net revenue per cart: the summary's "incremental" against zero, per 1,000
        // carts in major units → per cart in minor units.
        evaluate(&simulator, name, policy, &fresh, &zero).incremental_net_revenue_per_1000 / 10.0
    };
    let nothing = per_cart("do_nothing", &DoNothing);
    let oracle = per_cart("oracle", &Oracle) - nothing;
    println!(
        "exact, 10,000 fresh shoppers (net per cart, minor units; incremental over doing nothing; share of the oracle's):"
    );
    for (name, policy) in [
        ("learned from the log", &*learned as &dyn Policy),
        ("logging policy", &logging),
        ("fixed flow", &FixedFlow::default()),
        ("fqi on a simulated random log", &simulated_fqi),
    ] {
        let value = per_cart(name, policy);
        println!(
            "  {name:<32} {value:8.1}  +{:7.1}  {:5.1} %",
            value - nothing,
            100.0 * (value - nothing) / oracle
        );
    }
    let value = per_cart("first touch", &first_touch);
    println!(
        "  {:<32} {value:8.1}  +{:7.1}  {:5.1} %",
        "its first touch, then logging",
        value - nothing,
        100.0 * (value - nothing) / oracle
    );
    println!("  do nothing {nothing:.1}; oracle +{oracle:.1}");
    Ok(())
}
