//! `cartback recommend` end to end through the real binary on the REES46 sample: evaluate
//! (JSON shape, the pick), train from a file and from the event store (`--db`), ask the model
//! for a user and for a cart, and clear errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rees46-2019-Oct-head.csv")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cartback"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const SMALL_ALS: [&str; 6] = ["--factors", "8", "--iterations", "3", "--threads", "2"];

#[test]
fn evaluate_prints_every_model_and_the_pick() {
    let data = sample();
    let mut args = vec![
        "recommend",
        "evaluate",
        "--data",
        s(&data),
        "--format",
        "interactions",
        "--split",
        "last-basket",
        "--json",
    ];
    args.extend(SMALL_ALS);
    let report = json(&run(&args));
    let models = report["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["als", "cooccurrence", "popularity"]);
    for m in models {
        for key in [
            "precision_at_10",
            "recall_at_10",
            "ndcg_at_10",
            "map_at_10",
            "coverage",
            "train_seconds",
        ] {
            let v = m[key].as_f64().unwrap_or_else(|| panic!("{key} in {m}"));
            assert!(
                (0.0..=1.0).contains(&v) || key == "train_seconds",
                "{key} = {v}"
            );
        }
    }
    assert!(names.contains(&report["selected"].as_str().unwrap()));
    assert_eq!(report["split"], "last-basket");
}

#[test]
fn train_from_file_and_store_then_recommend() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample();
    let model = dir.path().join("model.json");
    let mut args = vec![
        "recommend",
        "train",
        "--data",
        s(&data),
        "--out",
        s(&model),
        "--json",
    ];
    args.extend(SMALL_ALS);
    let trained = json(&run(&args));
    assert_eq!(trained["users"], 4504);
    assert!(
        trained["selected_by"]
            .as_str()
            .unwrap()
            .starts_with("validation")
    );

    let for_user = json(&run(&[
        "recommend",
        "--model",
        s(&model),
        "--user",
        "543272936",
        "--k",
        "5",
        "--json",
    ]));
    assert_eq!(for_user["items"].as_array().unwrap().len(), 5);
    let for_cart = json(&run(&[
        "recommend",
        "--model",
        s(&model),
        "--cart",
        "1004856,1005115",
        "--out-of-stock",
        "1005105",
        "--k",
        "5",
        "--json",
    ]));
    let items: Vec<&str> = for_cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(items.len(), 5);
    assert!(
        !items
            .iter()
            .any(|i| ["1004856", "1005115", "1005105"].contains(i)),
        "{items:?}"
    );

    let db = dir.path().join("events.db");
    let imported = run(&[
        "import",
        "--format",
        "rees46",
        "--db",
        s(&db),
        "--rejects",
        s(&dir.path().join("rejects.ndjson")),
        s(&data),
    ]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let from_store = dir.path().join("store-model.json");
    let mut args = vec![
        "recommend",
        "train",
        "--db",
        s(&db),
        "--out",
        s(&from_store),
        "--json",
    ];
    args.extend(SMALL_ALS);
    let trained = json(&run(&args));
    assert_eq!(trained["users"], 4504);
    assert!(trained["interactions"].as_u64().unwrap() > 17_000);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "user_id,item_id,weight\nu1,i1,1\nu2,i2,heavy\n").unwrap();
    let out = run(&["recommend", "evaluate", "--data", s(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("`weight`"), "{err}");
    let out = run(&[
        "recommend",
        "evaluate",
        "--data",
        s(&sample()),
        "--factors",
        "0",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`factors`"));
    let out = run(&[
        "recommend",
        "--model",
        s(&dir.path().join("missing.json")),
        "--user",
        "u",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
