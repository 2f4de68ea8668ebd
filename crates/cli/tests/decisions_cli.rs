//! `cartback ope` and `cartback simulate` end to end: the JSON shapes the issue specifies,
//! obp 0.4.1's estimates on the real Open Bandit Dataset sample, and clear errors.

use std::path::PathBuf;
use std::process::Command;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn cartback(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cartback"))
        .args(args)
        .output()
        .expect("cartback runs")
}

#[test]
fn ope_json_reproduces_obp_on_the_open_bandit_dataset() {
    let log = testdata("obd-random-all.csv");
    let reference = testdata("obd-obp-reference-all.json");
    let out = cartback(&[
        "ope",
        "--log",
        log.to_str().unwrap(),
        "--format",
        "obd",
        "--eval-policy",
        reference.to_str().unwrap(),
        "--reward-model",
        reference.to_str().unwrap(),
        "--bootstrap",
        "100",
        "--seed",
        "3",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["n"], 10_000);
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&reference).unwrap()).unwrap();
    for (name, want) in reference["obp_estimates"].as_object().unwrap() {
        let got = json["estimates"][name].as_f64().unwrap();
        assert!(
            (got - want.as_f64().unwrap()).abs() <= 1e-9,
            "{name}: {got}"
        );
        let interval = &json["intervals"][name];
        assert!(interval["low"].as_f64().unwrap() <= got);
        assert!(interval["high"].as_f64().unwrap() >= got);
    }
}

#[test]
fn ope_reads_cartback_decision_logs_and_names_bad_fields() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.ndjson");
    std::fs::write(
        &log,
        "{\"action\": \"reminder_email\", \"propensity\": 0.5, \"reward\": 10}\n\
         {\"action\": \"do_nothing\", \"propensity\": 0.5, \"reward\": 0}\n",
    )
    .unwrap();
    let tables = dir.path().join("policy.json");
    // Eight actions, one position: always send the reminder; q = 4 for every action.
    let mut dist = ["[0.0]"; 8];
    dist[1] = "[1.0]";
    std::fs::write(
        &tables,
        format!(
            "{{\"evaluation_action_dist\": [{}], \"reward_model_table\": [{}]}}",
            dist.join(","),
            ["[4.0]"; 8].join(",")
        ),
    )
    .unwrap();
    let args = |log: &PathBuf| {
        cartback(&[
            "ope",
            "--log",
            log.to_str().unwrap(),
            "--format",
            "cartback",
            "--eval-policy",
            tables.to_str().unwrap(),
            "--reward-model",
            tables.to_str().unwrap(),
            "--bootstrap",
            "0",
            "--json",
        ])
    };
    let out = args(&log);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // IPW: (2 * 10 + 0) / 2 = 10; DM: 4; DR: 4 + (2 * (10 - 4) + 0) / 2 = 10.
    assert_eq!(json["estimates"]["ipw"].as_f64().unwrap(), 10.0);
    assert_eq!(json["estimates"]["dm"].as_f64().unwrap(), 4.0);
    assert_eq!(json["estimates"]["dr"].as_f64().unwrap(), 10.0);

    std::fs::write(
        &log,
        "{\"action\": \"fax\", \"propensity\": 0.5, \"reward\": 1}\n",
    )
    .unwrap();
    let out = args(&log);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 1: field `action`: unknown action `fax`"),
        "{stderr}"
    );
}

#[test]
fn simulate_prints_config_and_the_specified_json() {
    let out = cartback(&["simulate", "--print-config"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("email_open_rate = 0.40"));

    let out = cartback(&[
        "simulate",
        "--policies",
        "fixed,threshold,oracle",
        "--carts",
        "300",
        "--train-carts",
        "0",
        "--seed",
        "7",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["policies"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        for field in [
            "name",
            "incremental_net_revenue_per_1000",
            "ci_low",
            "ci_high",
            "recovery_rate",
            "messages_per_cart",
            "discount_spend_per_1000",
            "unsubscribe_rate",
        ] {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
        // Each headline figure also has its 95 % interval, around the figure.
        for field in [
            "incremental_net_revenue_per_1000",
            "recovery_rate",
            "messages_per_cart",
            "discount_spend_per_1000",
            "unsubscribe_rate",
        ] {
            let interval = &row["intervals"][field];
            let (low, high) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
            let value = row[field].as_f64().unwrap();
            assert!(
                low <= value && value <= high,
                "{field}: {interval} in {row}"
            );
        }
    }
    assert!(
        rows[2]["incremental_net_revenue_per_1000"]
            .as_f64()
            .unwrap()
            > rows[0]["incremental_net_revenue_per_1000"]
                .as_f64()
                .unwrap()
    );

    let out = cartback(&["simulate", "--policies", "dqn", "--carts", "10"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dqn"));
}
