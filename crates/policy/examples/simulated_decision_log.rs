//! Writes a decision log shaped like `cartback decisions export` from the shopper simulator:
//! one round per simulated abandoned cart, logged by a uniformly random policy at every step,
//! with the first decision's final action, its propensity, the recorded state and the
//! cart's net revenue (minor units). Also prints the exact first-touch value of a policy
//! file or the fixed flow (the rest of each flow random, as logged), for comparison with
//! `cartback ope`.
//!
//! ```text
//! cargo run --release -p cartback-policy --example simulated_decision_log -- \
//!     CARTS SEED OUT.ndjson [POLICY_STATE_FILE]
//! ```

use cartback_policy::ope::LoggedState;
use cartback_policy::policies::{FirstTouch, FixedFlow, Observation, Policy, UniformRandom};
use cartback_policy::simulator::{
    CartProgress, DecisionPoint, DiscountLedger, Simulator, SimulatorConfig, expected_outcome,
    run_episode, sample_population,
};
use cartback_policy::state_file::PolicyStateFile;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err(
            "usage: simulated_decision_log CARTS SEED OUT.ndjson [POLICY_STATE_FILE]".into(),
        );
    }
    let carts: usize = args[0].parse()?;
    let seed: u64 = args[1].parse()?;
    let simulator = Simulator::new(SimulatorConfig::default())?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let shoppers = sample_population(&simulator, carts, &mut rng);
    let logging = UniformRandom;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args[2])?);
    for (i, shopper) in shoppers.iter().enumerate() {
        let ledger = DiscountLedger::default();
        let outcomes = DecisionPoint::new(&simulator, shopper, &CartProgress::START, &ledger)
            .execute_all(&simulator)
            .map(|e| e.kind);
        let episode = run_episode(
            &simulator,
            shopper,
            &mut DiscountLedger::default(),
            &logging,
            &mut rng,
        );
        let first = episode[0];
        let action = outcomes[first.action.index()];
        let proposal = logging
            .distribution(&Observation {
                state: first.state,
                truth: None,
            })
            .probabilities;
        let propensity = LoggedState::push_forward(&outcomes, &proposal)[action.index()];
        let line = serde_json::json!({
            "cart_id": format!("sim-{i}"), "abandonment": 1, "action": action,
            "propensity": propensity,
            "reward": episode.iter().map(|t| t.reward_minor).sum::<f64>(),
            "state": LoggedState::from_outcomes(first.state, outcomes),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    let exact = |first: &dyn Policy| {
        let policy = FirstTouch {
            first,
            rest: &logging,
        };
        let ledger = DiscountLedger::default();
        shoppers
            .iter()
            .map(|s| expected_outcome(&simulator, s, &ledger, &policy).net_revenue_minor)
            .sum::<f64>()
            / shoppers.len() as f64
    };
    println!("{carts} rounds written to {}", args[2]);
    println!(
        "exact first-touch value, uniform_random (the logging policy): {:.4}",
        exact(&logging)
    );
    println!(
        "exact first-touch value, fixed_flow: {:.4}",
        exact(&FixedFlow::default())
    );
    if let Some(path) = args.get(3) {
        let file = PolicyStateFile::load(std::path::Path::new(path))?;
        let policy = file.policy.into_policy();
        println!("exact first-touch value, {path}: {:.4}", exact(&*policy));
    }
    Ok(())
}
