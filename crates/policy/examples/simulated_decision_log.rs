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

use cartback_policy::policies::{FixedFlow, Policy, UniformRandom};
use cartback_policy::simulator::{
    Simulator, SimulatorConfig, exact_first_touch_value, sample_population,
    simulated_first_touch_rounds,
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
    for round in simulated_first_touch_rounds(&simulator, &shoppers, &logging, "sim-", &mut rng) {
        writeln!(out, "{}", serde_json::to_string(&round)?)?;
    }
    out.flush()?;
    let exact =
        |first: &dyn Policy| exact_first_touch_value(&simulator, &shoppers, first, &logging);
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
