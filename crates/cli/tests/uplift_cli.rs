//! `cartback uplift` end to end: the JSON fields the issue specifies, the exported split and
//! scores on a generated randomised test with known persuadables, and clear errors for bad
//! input.

use cartback_ml::dataset::seeded_rng;
use rand::RngExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cartback(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cartback"))
        .args(args)
        .output()
        .expect("cartback runs")
}

/// A three-arm test: `email` lifts the purchase odds of shoppers with `engaged` > 0.3 a lot
/// and those with `engaged` < −0.6 on mobile negatively; `sms` rows must be left out.
/// `order_id` is an id and `revenue` a post-treatment outcome (both to exclude).
fn write_experiment(dir: &Path, rows: usize) -> PathBuf {
    let mut rng = seeded_rng(5);
    let mut text = String::from("order_id,engaged,basket,device,arm,bought,revenue\n");
    for row in 0..rows {
        let engaged: f64 = rng.random_range(-1.0..1.0);
        let basket: f64 = rng.random_range(-1.0..1.0);
        let mobile = rng.random::<f64>() < 0.5;
        let arm = ["email", "none", "sms"][rng.random_range(0..3usize)];
        let mut margin = -1.0 + 0.8 * basket;
        if arm == "email" {
            margin += if engaged > 0.3 { 1.6 } else { 0.0 };
            margin -= if engaged < -0.6 && mobile { 1.2 } else { 0.0 };
        }
        let bought = rng.random::<f64>() < 1.0 / (1.0 + (-margin).exp());
        text.push_str(&format!(
            "{row},{engaged:.4},{basket:.4},{},{arm},{},{}\n",
            if mobile { "mobile" } else { "desktop" },
            u8::from(bought),
            if bought { 40 } else { 0 }
        ));
    }
    let path = dir.join("experiment.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn arms_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| line.split(',').nth(4).unwrap().to_string())
        .collect()
}

#[test]
fn uplift_json_split_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_experiment(dir.path(), 6_000);
    let split = dir.path().join("split.csv");
    let scores = dir.path().join("scores.csv");
    for (learner, base) in [("dr", "logistic"), ("x", "gbdt")] {
        let out = cartback(&[
            "uplift",
            "--data",
            data.to_str().unwrap(),
            "--treatment",
            "arm",
            "--treated",
            "email",
            "--control",
            "none",
            "--outcome",
            "bought",
            "--exclude",
            "order_id,revenue",
            "--learner",
            learner,
            "--base",
            base,
            "--json",
            "--export-split",
            split.to_str().unwrap(),
            "--export-scores",
            scores.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for field in [
            "uplift_at_10",
            "uplift_at_20",
            "uplift_at_30",
            "qini",
            "auuc",
        ] {
            assert!(json[field].is_f64(), "{field} missing: {json}");
        }
        // The persuadables are a third of the treated arm: ranking them first beats random
        // targeting (Qini 0) by far, and the top 10 % gain much more than the average.
        let qini = json["qini"].as_f64().unwrap();
        let ate = json["test_ate"].as_f64().unwrap();
        assert!(qini > 0.1, "{learner}/{base}: Qini {qini}");
        assert!(
            json["uplift_at_10"].as_f64().unwrap() > 2.0 * ate,
            "{learner}/{base}: {json}"
        );
        assert_eq!(json["learner"], learner);
        assert_eq!(json["base"], base);
        assert_eq!(
            json["inputs"], 4,
            "engaged, basket, device=desktop, device=mobile"
        );
    }
    // The split covers exactly the email and none rows, half of them on each side.
    let arms = arms_of(&data);
    let split_text = std::fs::read_to_string(&split).unwrap();
    let sides: Vec<(usize, u8)> = split_text
        .lines()
        .skip(1)
        .map(|line| {
            let (row, side) = line.split_once(',').unwrap();
            (row.parse().unwrap(), side.parse().unwrap())
        })
        .collect();
    let kept = arms.iter().filter(|arm| *arm != "sms").count();
    assert_eq!(sides.len(), kept);
    assert!(sides.iter().all(|&(row, _)| arms[row] != "sms"));
    let test_rows = sides.iter().filter(|&&(_, side)| side == 0).count();
    assert!(test_rows.abs_diff(kept / 2) <= 2, "{test_rows} of {kept}");
    // Scores: one line per test row, with the row's own arm.
    let score_text = std::fs::read_to_string(&scores).unwrap();
    let score_lines: Vec<&str> = score_text.lines().skip(1).collect();
    assert_eq!(score_lines.len(), test_rows);
    for line in score_lines {
        let fields: Vec<&str> = line.split(',').collect();
        let row: usize = fields[0].parse().unwrap();
        assert_eq!(fields[1] == "1", arms[row] == "email", "{line}");
        assert!(fields[3].parse::<f64>().unwrap().is_finite());
    }
}

#[test]
fn uplift_errors_name_the_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_experiment(dir.path(), 300);
    let path = data.to_str().unwrap();
    let run = |treatment: &str, treated: &str, outcome: &str, extra: &[&str]| {
        let mut args = vec![
            "uplift",
            "--data",
            path,
            "--treatment",
            treatment,
            "--treated",
            treated,
            "--control",
            "none",
            "--outcome",
            outcome,
            "--learner",
            "t",
            "--base",
            "logistic",
        ];
        args.extend_from_slice(extra);
        let out = cartback(&args);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let error = run("group", "email", "bought", &[]);
    assert!(
        error.contains("unknown treatment column `group`") && error.contains("arm"),
        "{error}"
    );
    let error = run("arm", "email", "purchase", &[]);
    assert!(
        error.contains("unknown outcome column `purchase`"),
        "{error}"
    );
    let error = run("arm", "e-mail", "bought", &[]);
    assert!(
        error.contains("treated value `e-mail`") && error.contains("`email`, `none`, `sms`"),
        "{error}"
    );
    let error = run("arm", "email", "revenue", &[]);
    assert!(
        error.contains("`revenue`") && error.contains("binary") && error.contains("line "),
        "{error}"
    );
    let error = run("arm", "email", "bought", &["--exclude", "coupon"]);
    assert!(error.contains("`coupon`"), "{error}");
    let error = run("arm", "email", "bought", &["--test-fraction", "1.5"]);
    assert!(error.contains("test_fraction"), "{error}");
    let error = run("arm", "email", "bought", &["--propensity", "1.2"]);
    assert!(error.contains("propensity"), "{error}");
    let missing = dir.path().join("missing.csv");
    let out = cartback(&[
        "uplift",
        "--data",
        missing.to_str().unwrap(),
        "--treatment",
        "arm",
        "--treated",
        "email",
        "--control",
        "none",
        "--outcome",
        "bought",
        "--learner",
        "t",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.csv"));
}
