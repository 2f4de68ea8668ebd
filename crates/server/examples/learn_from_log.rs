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
use cartback_policy::policies::{DoNothing, Exploring, FixedFlow, Oracle, Policy};
use cartback_policy::simulator::{
    Simulator, SimulatorConfig, evaluate, sample_population, train_fitted_q,
};
use cartback_server::ServerConfig;
use cartback_server::learning::{LogTrainingOptions, train_from_log};
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
    println!(
        "held-out judgement: logged {:?}\n  whole flow {:?}\n  first touch {:?}\n  {}",
        e.logged, e.whole_flow, e.first_touch, e.verdict
    );
    let learned = outcome.file.policy.into_policy();

    let mut rng = SmallRng::seed_from_u64(seed ^ 0xfeed);
    let fresh = sample_population(&simulator, 10_000, &mut rng);
    let train = sample_population(&simulator, carts, &mut rng);
    let simulated_fqi = train_fitted_q(&simulator, &train, &mut rng)?;
    let logging = Exploring::new(Box::new(FixedFlow::default()), exploration)?;
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
    println!("  do nothing {nothing:.1}; oracle +{oracle:.1}");
    Ok(())
}
