//! Learning a policy from the engine's decision log, end to end through the binary:
//! `cartback decisions simulate` writes a log of simulated shoppers into an empty SQLite
//! store (and refuses a store that holds carts), `cartback policy train --from-log` learns
//! the fitted-Q planner and uplift-greedy from it and writes state files that load back with
//! what they were trained and judged on, and it refuses kinds that cannot learn from a log,
//! an evaluation share outside (0, 1) (before creating a store), `--config` without
//! `--from-log` and a configuration whose flow has another number of steps than the log.

mod common;

use cartback_policy::actions::ActionKind;
use cartback_policy::state_file::{LearnedPolicy, PolicyKind, PolicyStateFile};
use common::{cartback, ok_json};
use serde_json::json;
use std::path::Path;

const CARTS: u64 = 6_000;

/// A server configuration (TOML) reading the store at `db`, with `extra` after it.
fn write_config(path: &Path, db: &Path, extra: &str) {
    std::fs::write(
        path,
        format!("db = {:?}\n{extra}", db.display().to_string()),
    )
    .unwrap();
}

fn train(kind: &str, config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "policy",
        "train",
        "--kind",
        kind,
        "--from-log",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--bootstrap",
        "200",
    ];
    args.extend_from_slice(extra);
    cartback(&args)
}

/// `train` with `--json`: the file is written unless the held-out verdict says the policy
/// is worse, and then the command exits 1 (`--force` writes it anyway). Returns the JSON of
/// the run that wrote it.
fn train_and_write(kind: &str, config: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let run = train(kind, config, out, &args);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&run.stderr)));
    let worse = json["evaluation"]["judgement"] == json!("worse");
    assert_eq!(
        worse,
        json["evaluation"]["verdict"]
            .as_str()
            .unwrap()
            .contains("Worse"),
        "{json}"
    );
    assert_eq!(json["written"], json!(!worse), "{json}");
    assert_eq!(run.status.code(), Some(if worse { 1 } else { 0 }), "{json}");
    assert_eq!(out.exists(), !worse, "{json}");
    if !worse {
        return json;
    }
    args.push("--force");
    let forced = ok_json(train(kind, config, out, &args));
    assert_eq!(forced["written"], json!(true), "{forced}");
    assert!(out.exists());
    forced
}

/// The failure's stderr, after checking it failed and wrote no file.
fn refused(out: std::process::Output, file: &Path) -> String {
    assert!(!out.status.success(), "{:?}", out);
    assert!(!file.exists(), "{} written", file.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_simulated_log_trains_fitted_q_and_uplift_greedy_and_bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let db_text = db.to_str().unwrap();
    let carts = CARTS.to_string();
    let simulate = [
        "decisions",
        "simulate",
        "--db",
        db_text,
        "--carts",
        &carts,
        "--exploration",
        "0.3",
        "--seed",
        "42",
        "--json",
    ];
    let summary = ok_json(cartback(&simulate));
    let count = |name: &str| {
        summary[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: {summary}"))
    };
    assert_eq!(count("carts"), CARTS);
    // One to three decision steps per cart; every message went out on a decision.
    let decisions = count("decisions");
    assert!(
        (CARTS..=3 * CARTS).contains(&decisions),
        "{decisions} decisions"
    );
    assert!(count("messages_sent") > 0 && count("messages_sent") <= decisions);
    assert!(count("unsubscribes") <= count("messages_sent"));
    assert!(
        count("recovered") > 0 && count("recovered") < CARTS,
        "{summary}"
    );
    // The holdout is about 10 % of the shoppers.
    let holdout = count("holdout") as f64 / CARTS as f64;
    assert!((0.07..0.13).contains(&holdout), "holdout share {holdout}");
    assert!(
        count("first_decision") < count("last_decision"),
        "{summary}"
    );

    // A second log into the same store is refused, naming the carts it holds.
    let again = cartback(&simulate);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains(&format!("already holds {CARTS} carts")),
        "{stderr}"
    );

    // The fitted-Q planner from the log, judged on the held-out fifth of the carts.
    let config = dir.path().join("cartback.toml");
    write_config(&config, &db, "");
    let fq_path = dir.path().join("fitted_q.json");
    let fq = train_and_write("fitted_q", &config, &fq_path, &[]);
    assert_eq!(fq["kind"], json!("fitted_q"));
    let log = &fq["log"];
    // The refused second run wrote nothing: the log is the first one, every abandonment
    // settled (its decisions are months old), none left out.
    assert_eq!(log["decisions"], json!(decisions), "{log}");
    assert_eq!(log["abandonments"], json!(CARTS), "{log}");
    assert_eq!(log["episodes"], json!(CARTS), "{log}");
    assert_eq!(log["holdout"], summary["holdout"], "{log}");
    for skipped in [
        "unsettled",
        "without_state",
        "unknown_action",
        "broken_steps",
        "erased",
    ] {
        assert_eq!(log[skipped], json!(0), "{skipped}: {log}");
    }
    let trained_on = fq["trained_on"].as_u64().unwrap();
    let held_out = fq["held_out"].as_u64().unwrap();
    assert_eq!(trained_on + held_out, CARTS);
    // About a fifth held out (a hash of the cart id).
    assert!(
        (900..1_500).contains(&held_out),
        "{held_out} held out of {CARTS}"
    );
    // The held-out judgement: the holdout's episodes are not judged, the rest are.
    let evaluation = &fq["evaluation"];
    let judged = evaluation["episodes"].as_u64().unwrap();
    assert!(
        judged <= held_out && judged + count("holdout") >= held_out,
        "{evaluation}"
    );
    assert!(evaluation["logged"]["value"].is_number(), "{evaluation}");
    let verdict = evaluation["verdict"].as_str().unwrap();
    // The planner leaves out exactly the actions with fewer than 5 purchases or
    // non-purchases after them in the training log (never doing nothing).
    let planner = &fq["fitted_q"];
    assert_eq!(planner["episodes"], json!(trained_on), "{planner}");
    let mut thin = Vec::new();
    for row in planner["executed"].as_array().unwrap() {
        let (kind, sent, bought) = (
            row[0].as_str().unwrap(),
            row[1].as_u64().unwrap(),
            row[2].as_u64().unwrap(),
        );
        if kind != "do_nothing" && (bought < 5 || sent - bought < 5) {
            thin.push(json!(kind));
        }
    }
    assert_eq!(planner["left_out"], json!(thin), "{planner}");
    assert_eq!(fq["step_delays_hours"], json!([1, 24, 72]));

    // The file loads back as the planner, with what it learned from and was judged on.
    let file = PolicyStateFile::load(&fq_path).unwrap();
    assert_eq!(file.kind, PolicyKind::FittedQ);
    assert_eq!(file.step_delays_hours, [1, 24, 72]);
    let LearnedPolicy::FittedQ(planner_state) = &file.policy else {
        panic!("not a fitted-Q planner: {:?}", file.kind)
    };
    let left_out: Vec<&str> = planner_state.left_out().iter().map(|k| k.name()).collect();
    assert_eq!(json!(left_out), planner["left_out"]);
    assert!(!planner_state.left_out().contains(&ActionKind::DoNothing));
    let trained = &file.trained_on;
    let from_log = trained
        .decision_log
        .as_ref()
        .expect("trained on the decision log");
    assert_eq!(trained.carts as u64, trained_on);
    assert_eq!((trained.carts + from_log.held_out) as u64, CARTS);
    assert_eq!(from_log.verdict, verdict);
    assert!(from_log.first_decision < from_log.last_decision);
    assert!(
        from_log.first_decision.as_millis() >= count("first_decision") as i64
            && from_log.last_decision.as_millis() <= count("last_decision") as i64
    );

    // Uplift-greedy from the same log.
    let ug_path = dir.path().join("uplift_greedy.json");
    let ug = train_and_write("uplift_greedy", &config, &ug_path, &[]);
    assert_eq!(
        (ug["kind"].clone(), ug["written"].clone()),
        (json!("uplift_greedy"), json!(true))
    );
    assert!(ug["fitted_q"].is_null(), "{ug}");
    assert_eq!(ug["trained_on"], json!(trained_on), "the same split");
    let file = PolicyStateFile::load(&ug_path).unwrap();
    assert_eq!(file.kind, PolicyKind::UpliftGreedy);
    assert!(matches!(file.policy, LearnedPolicy::UpliftGreedy(_)));
    let from_log = file.trained_on.decision_log.expect("trained on the log");
    assert_eq!((file.trained_on.carts + from_log.held_out) as u64, CARTS);
    // Trained on half the carts, uplift-greedy is judged worse than the logged policy on
    // this log (seed 42) today: the command exits 1 without writing, `--force` writes it.
    let half_path = dir.path().join("uplift_greedy_half.json");
    let half = train_and_write(
        "uplift_greedy",
        &config,
        &half_path,
        &["--evaluation-share", "0.5"],
    );
    let half_held_out = half["held_out"].as_u64().unwrap();
    assert!(
        (2_700..3_300).contains(&half_held_out),
        "{half_held_out} held out"
    );
    let file = PolicyStateFile::load(&half_path).unwrap();
    let from_log = file.trained_on.decision_log.expect("trained on the log");
    assert_eq!(from_log.held_out as u64, half_held_out);
    assert_eq!(
        from_log.verdict,
        half["evaluation"]["verdict"].as_str().unwrap()
    );

    // What cannot be learned from a log, or not this way, is refused and writes nothing.
    let nothing = dir.path().join("nothing.json");
    let stderr = refused(train("linucb", &config, &nothing, &[]), &nothing);
    assert!(
        stderr.contains("`linucb`")
            && stderr.contains("`fitted_q`")
            && stderr.contains("`uplift_greedy`"),
        "{stderr}"
    );
    let stderr = refused(
        train(
            "fitted_q",
            &config,
            &nothing,
            &["--evaluation-share", "1.5"],
        ),
        &nothing,
    );
    assert!(
        stderr.contains("evaluation share") && stderr.contains("1.5"),
        "{stderr}"
    );
    // A flow of two steps cannot be planned from a log of three.
    let two_steps = dir.path().join("two-steps.toml");
    write_config(
        &two_steps,
        &db,
        "[policy]\nstep_delays = [\"1h\", \"24h\"]\nfixed_flow = [\"reminder_email\", \"discount_10\"]\n",
    );
    let stderr = refused(train("fitted_q", &two_steps, &nothing, &[]), &nothing);
    assert!(
        stderr.contains("policy.step_delays")
            && stderr.contains("flow of 3 steps")
            && stderr.contains("trained for 2"),
        "{stderr}"
    );
}

#[test]
fn refused_requests_leave_no_store_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let config = dir.path().join("cartback.toml");
    write_config(&config, &db, "");
    let out_path = dir.path().join("q.json");
    // `--config` without `--from-log`: the argument parser refuses it.
    let out = cartback(&[
        "policy",
        "train",
        "--kind",
        "fitted_q",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = refused(out, &out_path);
    assert!(stderr.contains("--from-log"), "{stderr}");
    // A kind that does not learn from a log, a share outside (0, 1): refused before the
    // store is opened (which would create it).
    for (kind, extra, expected) in [
        ("thompson", &[][..], "`thompson`"),
        (
            "fitted_q",
            &["--evaluation-share", "0"][..],
            "evaluation share",
        ),
    ] {
        let stderr = refused(train(kind, &config, &out_path, extra), &out_path);
        assert!(stderr.contains(expected), "{kind}: {stderr}");
    }
    assert!(!db.exists(), "a refused request created {}", db.display());
}
