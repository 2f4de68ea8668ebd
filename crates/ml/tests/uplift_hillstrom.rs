//! The uplift learners on the real Hillstrom e-mail RCT (`Womens E-Mail` vs `No E-Mail`,
//! outcome `visit`, 50/50 split stratified by (treatment, outcome), seed 42), read from the
//! shared data folder beside the workspace (it has no licence to be copied into testdata).
//! Prints "skipped" when the file is absent.

use cartback_ml::dataset::CsvTable;
use cartback_ml::gbdt::GbdtParams;
use cartback_ml::uplift::{
    BaseLearner, ExperimentSpec, Learner, UpliftOptions, UpliftParams, evaluate,
};
use std::path::PathBuf;

fn hillstrom() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/hillstrom/hillstrom.csv");
    path.exists().then_some(path)
}

#[test]
fn learners_find_uplift_on_the_hillstrom_rct() {
    let Some(path) = hillstrom() else {
        println!("skipped: no ../shared/data/hillstrom/hillstrom.csv");
        return;
    };
    let table = CsvTable::from_path(&path, &["segment".to_string()]).unwrap();
    // The same trees as `cartback uplift --base gbdt` by default.
    let base = BaseLearner::Gbdt(GbdtParams {
        n_trees: 300,
        learning_rate: 0.05,
        max_depth: 4,
        max_leaves: 15,
        min_samples_leaf: 100,
        ..GbdtParams::default()
    });
    for learner in [Learner::T, Learner::X, Learner::Dr] {
        let options = UpliftOptions {
            experiment: ExperimentSpec {
                treatment_column: "segment".into(),
                treated_value: "Womens E-Mail".into(),
                control_value: "No E-Mail".into(),
                outcome_column: "visit".into(),
            },
            excluded: vec!["conversion".into(), "spend".into()],
            test_fraction: 0.5,
            seed: 42,
            params: UpliftParams::new(learner, base.clone()),
        };
        let report = evaluate(&table, &options).unwrap().report;
        println!(
            "{learner:?}: uplift@10 {:.4} @20 {:.4} @30 {:.4} Qini {:.4} AUUC {:.4} ({:.2} s)",
            report.metrics.uplift_at_10,
            report.metrics.uplift_at_20,
            report.metrics.uplift_at_30,
            report.metrics.qini,
            report.metrics.auuc,
            report.fit_seconds
        );
        // 21,387 + 21,306 rows of the two arms; the Mens E-Mail arm is left out.
        assert_eq!(report.rows, 42_693);
        assert_eq!(report.train_rows + report.test_rows, 42_693);
        // The e-mail lifts visits by ≈ 4.5 points on average; targeting the top 30 % by
        // predicted uplift must do clearly better (scikit-uplift's published models: ≈ 0.066–0.07).
        assert!(
            report.test_ate > 0.03 && report.test_ate < 0.06,
            "{}",
            report.test_ate
        );
        assert!(
            report.metrics.uplift_at_30 > 0.05,
            "{learner:?}: uplift@30 {}",
            report.metrics.uplift_at_30
        );
        assert!(
            report.metrics.qini > 0.0,
            "{learner:?}: Qini {}",
            report.metrics.qini
        );
    }
}
