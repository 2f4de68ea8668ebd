//! Off-policy estimates on the real Open Bandit Dataset sample equal Open Bandit Pipeline
//! 0.4.1's to 1e-9 (testdata/obd-random-all.csv with testdata/obd-obp-reference-all.json).

use cartback_policy::ope::{
    BootstrapParams, DoublyRobust, InverseProbabilityWeighting, OffPolicyEstimator, OpeInput,
    SwitchDoublyRobust, evaluate_standard_estimators, read_evaluation_policy, read_obd_csv,
    read_reward_model,
};
use std::path::PathBuf;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

#[test]
fn every_estimate_equals_obp_0_4_1() {
    let log = read_obd_csv(std::fs::File::open(testdata("obd-random-all.csv")).unwrap()).unwrap();
    let reference = std::fs::read_to_string(testdata("obd-obp-reference-all.json")).unwrap();
    let policy = read_evaluation_policy(&reference).unwrap();
    let model = read_reward_model(&reference).unwrap();
    let input = OpeInput::new(&log, &policy, Some(&model)).unwrap();
    let bootstrap = BootstrapParams {
        n_samples: 200,
        alpha: 0.05,
        seed: 1,
    }
    .validate()
    .unwrap();
    let report = evaluate_standard_estimators(&input, 100.0, Some(&bootstrap)).unwrap();
    assert_eq!(report.n, 10_000);

    let json: serde_json::Value = serde_json::from_str(&reference).unwrap();
    let expected = json["obp_estimates"].as_object().unwrap();
    assert_eq!(expected.len(), 6);
    for (name, value) in expected {
        let want = value.as_f64().unwrap();
        let got = report.estimates[name];
        assert!(
            (got - want).abs() <= 1e-9,
            "{name}: cartback {got} vs obp {want}"
        );
        let ci = report.intervals[name];
        assert!(
            ci.low <= got && got <= ci.high,
            "{name}: {ci:?} misses {got}"
        );
    }
    // The Thompson-sampling policy's real click rate (0.0042, from its own log) lies inside
    // every importance-weighted estimator's interval; DM's narrow interval, built on a
    // context-free reward table, misses it.
    for name in ["ipw", "snipw", "dr", "sndr", "switch-dr-100"] {
        let ci = report.intervals[name];
        assert!(ci.low < 0.0042 && 0.0042 < ci.high, "{name}: {ci:?}");
    }
    let dm = report.intervals["dm"];
    assert!(dm.low > 0.0042, "{dm:?}");
    assert_eq!(
        report.order,
        ["ipw", "snipw", "dm", "dr", "sndr", "switch-dr-100"]
    );
}

#[test]
fn switch_dr_moves_from_dr_to_dm_as_tau_falls() {
    let log = read_obd_csv(std::fs::File::open(testdata("obd-random-all.csv")).unwrap()).unwrap();
    let reference = std::fs::read_to_string(testdata("obd-obp-reference-all.json")).unwrap();
    let policy = read_evaluation_policy(&reference).unwrap();
    let model = read_reward_model(&reference).unwrap();
    let input = OpeInput::new(&log, &policy, Some(&model)).unwrap();
    let dr = DoublyRobust.estimate_policy_value(&input).unwrap();
    let dm = cartback_policy::ope::DirectMethod
        .estimate_policy_value(&input)
        .unwrap();
    let switch_inf = SwitchDoublyRobust::new(f64::INFINITY).unwrap();
    let switch_zero = SwitchDoublyRobust::new(0.0).unwrap();
    assert!((switch_inf.estimate_policy_value(&input).unwrap() - dr).abs() < 1e-15);
    assert!((switch_zero.estimate_policy_value(&input).unwrap() - dm).abs() < 1e-15);
    // Without a reward model, IPW works and model-based estimators say what is missing.
    let no_model = OpeInput::new(&log, &policy, None).unwrap();
    assert!(
        InverseProbabilityWeighting
            .estimate_policy_value(&no_model)
            .is_ok()
    );
    let err = DoublyRobust.estimate_policy_value(&no_model).unwrap_err();
    assert_eq!(err.to_string(), "estimator `dr` needs a reward model");
}
