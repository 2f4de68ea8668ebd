//! Diagnostic: how far the fitted-Q planner's learned purchase models are from the ideal
//! model of the same observable features (the simulator's exact posterior), on fresh
//! shoppers' first step: `cargo run --release -p cartback-policy --example model_error --
//! [train_carts] [seed] [config.toml]`. Prints, per action, the RMSE of the predicted purchase
//! probability and of the predicted uplift over doing nothing, over the carts that receive
//! the action as proposed (consent, holdout, margin floor).

use cartback_policy::actions::ActionKind;
use cartback_policy::policies::{FittedQParams, UniformRandom, allowed_actions};
use cartback_policy::simulator::{
    CartProgress, DecisionPoint, DiscountLedger, Simulator, SimulatorConfig, log_episodes, observe,
    posterior_first_step_purchase, sample_population,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let train_carts: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let seed: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(42);
    let config = match args.get(2) {
        Some(path) => {
            SimulatorConfig::from_toml(&std::fs::read_to_string(path).expect("read config"))
                .expect("valid config")
        }
        None => SimulatorConfig::default(),
    };
    let simulator = Simulator::new(config).expect("valid config");
    let mut rng = SmallRng::seed_from_u64(seed);
    let train = sample_population(&simulator, train_carts, &mut rng);
    let log: Vec<_> = log_episodes(&simulator, &train, &UniformRandom, &mut rng)
        .into_iter()
        .flatten()
        .collect();
    let config = simulator.config();
    let model = FittedQParams::default()
        .fit(&log, config.costs, &config.step_delays_hours)
        .expect("fit");
    let fresh = sample_population(&simulator, 3_000, &mut rng);
    let ledger = DiscountLedger::default();
    println!("{train_carts} training carts; first-step purchase probability on 3,000 fresh carts");
    println!(
        "{:<22} {:>10} {:>10} {:>12}",
        "action", "mean", "rmse", "uplift rmse"
    );
    let mut nothing = Vec::new();
    for kind in ActionKind::ALL {
        let mut sq = 0.0;
        let mut sq_uplift = 0.0;
        let mut mean = 0.0;
        let mut n = 0.0;
        for (i, s) in fresh.iter().enumerate() {
            let state = observe(&simulator, s, &CartProgress::START);
            // Only carts where the action goes out as proposed (consent, margin floor, …).
            let point = DecisionPoint::new(&simulator, s, &CartProgress::START, &ledger);
            let allowed = allowed_actions(&state)[kind.index()]
                && point.execute(&simulator, kind).kind == kind;
            let ideal = posterior_first_step_purchase(&simulator, s, &ledger, kind);
            let learned = model.purchase_probability(kind, &state);
            if kind == ActionKind::DoNothing {
                nothing.push((ideal, learned));
            }
            if !allowed {
                continue;
            }
            n += 1.0;
            sq += (ideal - learned).powi(2);
            let (ideal0, learned0) = nothing[i];
            sq_uplift += ((ideal - ideal0) - (learned - learned0)).powi(2);
            mean += ideal;
        }
        println!(
            "{:<22} {:>10.4} {:>10.4} {:>12.4}",
            kind.name(),
            mean / n,
            (sq / n).sqrt(),
            (sq_uplift / n).sqrt()
        );
    }
}
