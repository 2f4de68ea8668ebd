//! `cartback policy train` end to end: writes a state file `cartback serve` loads, prints
//! JSON with `--json`, and refuses kinds that have no learned state.

use cartback_server::decide::policy_file::{PolicyKind, PolicyStateFile};
use std::process::Command;

fn cartback(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cartback"))
        .args(args)
        .output()
        .expect("cartback runs")
}

#[test]
fn policy_train_writes_a_state_file_the_server_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("q.json");
    let out = cartback(&[
        "policy",
        "train",
        "--kind",
        "q_learning",
        "--out",
        out_path.to_str().unwrap(),
        "--train-carts",
        "300",
        "--seed",
        "5",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["kind"], "q_learning");
    assert_eq!(summary["train_carts"], 300);
    assert_eq!(summary["step_delays_hours"], serde_json::json!([1, 24, 72]));
    let file = PolicyStateFile::load(&out_path).unwrap();
    assert_eq!(file.kind, PolicyKind::QLearning);
    assert_eq!((file.trained_on.carts, file.trained_on.seed), (300, 5));
}

#[test]
fn policy_train_refuses_rule_based_and_unknown_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("x.json");
    for (kind, expected) in [
        ("fixed_flow", "not a learned policy"),
        (
            "dqn",
            "expected uplift_greedy, linucb, thompson, q_learning or fitted_q",
        ),
    ] {
        let out = cartback(&[
            "policy",
            "train",
            "--kind",
            kind,
            "--out",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{kind}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{kind}: {stderr}");
        assert!(!out_path.exists());
    }
}
