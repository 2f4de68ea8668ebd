//! Decisions per second in-process, one core: trains each policy briefly on the simulator,
//! then times `Policy::decide` over many simulated cart states (first steps: for the
//! fitted-Q planner the deepest plan, over every remaining step).
//!
//! Run: `cargo run --release -p cartback-policy --example decision_throughput`

use cartback_policy::policies::{
    FixedFlow, LinUcbParams, LinearThompsonParams, Observation, Policy, QLearningParams,
};
use cartback_policy::simulator::{
    CartProgress, Simulator, SimulatorConfig, observe, sample_population, train_fitted_q,
    train_online,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::time::Instant;

fn main() {
    let config = Simulator::new(SimulatorConfig::default()).expect("the default config is valid");
    let mut rng = SmallRng::seed_from_u64(1);
    let train = sample_population(&config, 5_000, &mut rng);
    let shoppers = sample_population(&config, 10_000, &mut rng);
    let states: Vec<_> = shoppers
        .iter()
        .map(|s| observe(&config, s, &CartProgress::START))
        .collect();

    let mut linucb = LinUcbParams::default().validate().expect("valid");
    train_online(&mut linucb, &config, &train, &mut rng);
    let mut thompson = LinearThompsonParams::default().validate().expect("valid");
    train_online(&mut thompson, &config, &train, &mut rng);
    let mut qlearning = QLearningParams::default().validate().expect("valid");
    train_online(&mut qlearning, &config, &train, &mut rng);
    let fixed = FixedFlow::default();
    // The planner needs a log with enough purchases per action (20,000 carts, as simulate).
    let planner_train = sample_population(&config, 20_000, &mut rng);
    let fitted_q = train_fitted_q(&config, &planner_train, &mut rng).expect("trains");

    let policies: [(&str, &dyn Policy, usize); 5] = [
        ("fixed", &fixed, 2_000_000),
        ("linucb", &linucb, 1_000_000),
        ("thompson", &thompson, 100_000),
        ("qlearning", &qlearning, 2_000_000),
        ("fitted_q", &fitted_q, 20_000),
    ];
    for (name, policy, decisions) in policies {
        let start = Instant::now();
        let mut contacted = 0usize;
        for i in 0..decisions {
            let observation = Observation {
                state: states[i % states.len()],
                truth: None,
            };
            if policy.decide(&observation, &mut rng).action.is_contact() {
                contacted += 1;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{name:<10} {:>12.0} decisions/s  ({decisions} decisions, {:.1} % contact)",
            decisions as f64 / seconds,
            100.0 * contacted as f64 / decisions as f64
        );
    }
}
