//! Off-policy evaluation of cartback policies on logs shaped like `cartback decisions
//! export`, on the shopper simulator (which knows the truth exactly): the logging policy's
//! own distribution gives importance weights of exactly 1, and DR / SNIPW with the
//! cross-fitted reward model recover another policy's exact first-touch value within their
//! bootstrap interval.

use cartback_policy::actions::ActionKind;
use cartback_policy::ope::{
    BootstrapParams, CartbackLog, OpeInput, evaluate_standard_estimators, fit_reward_model,
    policy_action_dist, read_cartback_log,
};
use cartback_policy::policies::{FixedFlow, LinUcbParams, Policy, UniformRandom};
use cartback_policy::simulator::{
    Simulator, SimulatorConfig, exact_first_touch_value, sample_population,
    simulated_first_touch_rounds, train_online,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// An export-shaped log of `logging` (see `simulated_first_touch_rounds`), as NDJSON text;
/// checks that every recorded outcome table turns the proposal into the executed action.
fn export_shaped_log(
    simulator: &Simulator,
    shoppers: &[cartback_policy::simulator::Shopper],
    logging: &dyn Policy,
    seed: u64,
) -> String {
    let mut rng = SmallRng::seed_from_u64(seed);
    let rounds = simulated_first_touch_rounds(simulator, shoppers, logging, "c", &mut rng);
    let mut text = String::new();
    for (i, round) in rounds.iter().enumerate() {
        let outcomes = round.state.outcomes().unwrap();
        assert_eq!(outcomes[round.proposal.index()], round.action, "cart {i}");
        text.push_str(&serde_json::to_string(round).unwrap());
        text.push('\n');
    }
    text
}

fn read(text: &str) -> CartbackLog {
    read_cartback_log(text.as_bytes()).unwrap()
}

#[test]
fn the_logging_policy_on_its_own_log_has_weights_of_exactly_one() {
    let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
    let mut rng = SmallRng::seed_from_u64(3);
    let shoppers = sample_population(&simulator, 300, &mut rng);
    // A learned, context-dependent logging policy with its ε floor (as in production).
    let mut linucb = LinUcbParams::default().validate().unwrap();
    train_online(&mut linucb, &simulator, &shoppers, &mut rng);
    let log = read(&export_shaped_log(&simulator, &shoppers, &linucb, 4));
    let own = policy_action_dist(&linucb, &log, Some(3)).unwrap();
    let model = fit_reward_model(&log, 1.0).unwrap();
    let input = OpeInput::new(&log.feedback, &own, Some(&model)).unwrap();
    for (round, terms) in input.importance_terms().iter().enumerate() {
        assert_eq!(terms.importance_weight, 1.0, "round {round}");
    }
    let report = evaluate_standard_estimators(&input, 100.0, None).unwrap();
    assert_eq!(report.estimates["ipw"], log.feedback.mean_reward());
    assert_eq!(report.estimates["snipw"], log.feedback.mean_reward());
    // Another policy does not: the fixed flow's reminder gets weight 1/p on its rounds.
    let fixed = policy_action_dist(&FixedFlow::default(), &log, Some(3)).unwrap();
    let input = OpeInput::new(&log.feedback, &fixed, Some(&model)).unwrap();
    assert!(
        input
            .importance_terms()
            .iter()
            .any(|t| t.importance_weight > 1.0)
    );
}

#[test]
fn dr_and_snipw_recover_the_exact_first_touch_value_within_their_bootstrap_interval() {
    let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
    let mut rng = SmallRng::seed_from_u64(20);
    let shoppers = sample_population(&simulator, 12_000, &mut rng);
    let logging = UniformRandom;
    let target = FixedFlow::new(vec![ActionKind::Discount10]);
    let log = read(&export_shaped_log(&simulator, &shoppers, &logging, 21));
    let truth = exact_first_touch_value(&simulator, &shoppers, &target, &logging);
    let logging_truth = exact_first_touch_value(&simulator, &shoppers, &logging, &logging);
    let policy = policy_action_dist(&target, &log, Some(3)).unwrap();
    let model = fit_reward_model(&log, 1.0).unwrap();
    let input = OpeInput::new(&log.feedback, &policy, Some(&model)).unwrap();
    // The tolerance is the estimator's own 99 % bootstrap interval (about ±2.6 standard
    // errors), not a number tuned to the seed.
    let bootstrap = BootstrapParams {
        n_samples: 400,
        alpha: 0.01,
        seed: 5,
    }
    .validate()
    .unwrap();
    let report = evaluate_standard_estimators(&input, 100.0, Some(&bootstrap)).unwrap();
    eprintln!(
        "truth {truth:.2}, logging policy {logging_truth:.2}, logged mean {:.2}, estimates {:?}, intervals {:?}",
        log.feedback.mean_reward(),
        report.estimates,
        report.intervals
    );
    for name in ["dr", "snipw"] {
        let ci = report.intervals[name];
        assert!(
            ci.low <= truth && truth <= ci.high,
            "{name}: truth {truth} outside [{}, {}] (estimate {})",
            ci.low,
            ci.high,
            report.estimates[name]
        );
    }
    // The cross-fitted reward model earns its keep: DR's interval is narrower than IPW's.
    let (dr, ipw) = (report.intervals["dr"], report.intervals["ipw"]);
    assert!(
        dr.high - dr.low < ipw.high - ipw.low,
        "DR [{}, {}] is not narrower than IPW [{}, {}]",
        dr.low,
        dr.high,
        ipw.low,
        ipw.high
    );
}
