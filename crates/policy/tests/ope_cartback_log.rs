//! Off-policy evaluation of cartback policies on logs shaped like `cartback decisions
//! export`, on the shopper simulator (which knows the truth exactly): the logging policy's
//! own distribution gives importance weights of exactly 1, and DR / SNIPW with the
//! cross-fitted reward model recover another policy's exact first-touch value within their
//! bootstrap interval.

use cartback_policy::actions::ActionKind;
use cartback_policy::ope::{
    BootstrapParams, CartbackLog, LoggedState, OpeInput, evaluate_standard_estimators,
    fit_reward_model, policy_action_dist, read_cartback_log,
};
use cartback_policy::policies::{
    FirstTouch, FixedFlow, LinUcbParams, Observation, Policy, UniformRandom,
};
use cartback_policy::simulator::{
    CartProgress, DecisionPoint, DiscountLedger, Simulator, SimulatorConfig, expected_outcome,
    run_episode, sample_population, train_online,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// Logs one episode per shopper under `logging` (each cart on its own empty discount
/// ledger) and writes its first decision as an export line: the final action after the
/// guardrails, its pushed-forward propensity, the recorded state and the episode's net
/// revenue in minor units.
fn export_shaped_log(
    simulator: &Simulator,
    shoppers: &[cartback_policy::simulator::Shopper],
    logging: &dyn Policy,
    seed: u64,
) -> String {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut text = String::new();
    for (i, shopper) in shoppers.iter().enumerate() {
        let ledger = DiscountLedger::default();
        let outcomes = DecisionPoint::new(simulator, shopper, &CartProgress::START, &ledger)
            .execute_all(simulator)
            .map(|e| e.kind);
        let episode = run_episode(
            simulator,
            shopper,
            &mut DiscountLedger::default(),
            logging,
            &mut rng,
        );
        let first = episode[0];
        let final_action = outcomes[first.action.index()];
        assert_eq!(final_action, first.executed, "cart {i}");
        let state = LoggedState::from_outcomes(first.state, outcomes);
        let proposal = logging
            .distribution(&Observation {
                state: first.state,
                truth: None,
            })
            .probabilities;
        let propensity = LoggedState::push_forward(&outcomes, &proposal)[final_action.index()];
        let reward: f64 = episode.iter().map(|t| t.reward_minor).sum();
        let line = serde_json::json!({
            "cart_id": format!("c{i}"), "abandonment": 1, "action": final_action,
            "propensity": propensity, "reward": reward, "state": state,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

/// Mean exact value per cart of `first` at step 0 and `rest` afterwards.
fn exact_first_touch(
    simulator: &Simulator,
    shoppers: &[cartback_policy::simulator::Shopper],
    first: &dyn Policy,
    rest: &dyn Policy,
) -> f64 {
    let policy = FirstTouch { first, rest };
    let ledger = DiscountLedger::default();
    shoppers
        .iter()
        .map(|s| expected_outcome(simulator, s, &ledger, &policy).net_revenue_minor)
        .sum::<f64>()
        / shoppers.len() as f64
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
    let truth = exact_first_touch(&simulator, &shoppers, &target, &logging);
    let logging_truth = exact_first_touch(&simulator, &shoppers, &logging, &logging);
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
