//! End-to-end checks on the real UCI online-shoppers data (testdata/): the published
//! targets for logistic regression and GBDT under stratified 5-fold CV with seed 42, and a
//! model file that round-trips to identical predictions.

use cartback_ml::dataset::CsvTable;
use cartback_ml::gbdt::GbdtParams;
use cartback_ml::linear::LogisticParams;
use cartback_ml::training::{EstimatorSpec, Evaluation, TrainOptions, train};
use cartback_ml::{MlError, PropensityModel};
use std::path::{Path, PathBuf};

fn data_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/online_shoppers_intention.csv")
}

fn table() -> CsvTable {
    CsvTable::from_path(&data_path(), &[])
        .expect("testdata/online_shoppers_intention.csv is readable")
}

fn options(estimator: EstimatorSpec, evaluation: Evaluation) -> TrainOptions {
    TrainOptions {
        label: "Revenue".to_string(),
        excluded: Vec::new(),
        estimator,
        evaluation,
        calibration: None,
        seed: 42,
        fit_final: true,
    }
}

#[test]
fn logistic_regression_reaches_the_published_auc() {
    let spec = EstimatorSpec::Logistic {
        name: "logistic".to_string(),
        params: LogisticParams::default(),
    };
    let (_, report) = train(&table(), &options(spec, Evaluation::KFold { folds: 5 })).unwrap();
    let mean = report.mean.unwrap();
    assert_eq!(report.rows, 12_330);
    assert_eq!(report.positives, 1_908);
    assert!(mean.roc_auc >= 0.89, "logistic ROC-AUC {}", mean.roc_auc);
    assert_eq!(
        report.importance[0].0, "PageValues",
        "{:?}",
        report.importance
    );
}

#[test]
fn gbdt_reaches_the_published_auc() {
    let (_, report) = train(
        &table(),
        &options(
            EstimatorSpec::Gbdt(GbdtParams::default()),
            Evaluation::KFold { folds: 5 },
        ),
    )
    .unwrap();
    let mean = report.mean.unwrap();
    assert!(mean.roc_auc >= 0.93, "GBDT ROC-AUC {}", mean.roc_auc);
}

#[test]
fn model_file_round_trips_to_identical_predictions() {
    let table = table();
    for spec in [
        EstimatorSpec::Logistic {
            name: "logistic".to_string(),
            params: LogisticParams::default(),
        },
        EstimatorSpec::Gbdt(GbdtParams {
            n_trees: 50,
            ..GbdtParams::default()
        }),
    ] {
        let mut with_calibration = options(spec, Evaluation::Holdout { test_fraction: 0.3 });
        with_calibration.calibration = Some(cartback_ml::calibration::CalibrationMethod::Isotonic);
        let (model, _) = train(&table, &with_calibration).unwrap();
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("model.json");
        model.save(&path).unwrap();
        let loaded = PropensityModel::load(&path).unwrap();
        assert_eq!(loaded, model);
        assert_eq!(
            loaded.predict_table(&table).unwrap(),
            model.predict_table(&table).unwrap()
        );
    }
}

#[test]
fn scoring_data_without_a_model_column_is_an_error_naming_it() {
    let spec = EstimatorSpec::Logistic {
        name: "logistic".to_string(),
        params: LogisticParams::default(),
    };
    let (model, _) = train(&table(), &options(spec, Evaluation::None)).unwrap();
    let partial = CsvTable::from_reader(
        "PageValues,Month\n3.5,Nov\n".as_bytes(),
        Path::new("cart.csv"),
        &[],
    )
    .unwrap();
    match model.predict_table(&partial) {
        Err(MlError::MissingColumn { column, .. }) => assert_eq!(column, "Administrative"),
        other => panic!("expected a missing-column error, got {other:?}"),
    }
    let mut wrong_version = serde_json::to_value(&model).unwrap();
    wrong_version["format_version"] = serde_json::json!(99);
    let error = PropensityModel::from_json(&wrong_version.to_string()).unwrap_err();
    assert!(error.to_string().contains("format_version"), "{error}");
}

#[test]
fn a_calibrated_model_scores_with_its_calibrator() {
    let mut calibrated = options(
        EstimatorSpec::Gbdt(GbdtParams {
            n_trees: 50,
            ..GbdtParams::default()
        }),
        Evaluation::KFold { folds: 3 },
    );
    calibrated.calibration = Some(cartback_ml::calibration::CalibrationMethod::Isotonic);
    let table = table();
    let (model, _) = train(&table, &calibrated).unwrap();
    let calibrator = model.calibrator.clone().expect("a calibrator");
    let features = model.schema.encode(&table).unwrap();
    let mut changed = 0;
    for row in 0..200 {
        let raw = cartback_ml::linear::sigmoid(model.margin(features.row(row)));
        let scored = model.probability(features.row(row));
        assert_eq!(scored, calibrator.apply(raw));
        changed += usize::from((scored - raw).abs() > 1e-9);
    }
    assert!(changed > 100, "only {changed} of 200 probabilities changed");
}

#[test]
fn a_damaged_tree_in_a_model_file_is_refused_at_load_not_at_scoring() {
    let spec = EstimatorSpec::Gbdt(GbdtParams {
        n_trees: 5,
        ..GbdtParams::default()
    });
    let (model, _) = train(&table(), &options(spec, Evaluation::None)).unwrap();
    let good = serde_json::to_value(&model).unwrap();
    assert!(PropensityModel::from_json(&good.to_string()).is_ok());
    let first_split = good["estimator"]["trees"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|node| node["is_leaf"] == serde_json::json!(false))
        .expect("a split in the first tree");
    for (field, value) in [
        ("feature", serde_json::json!(100_000)),
        ("left", serde_json::json!(0)),
        ("right", serde_json::json!(1_000_000)),
    ] {
        let mut damaged = good.clone();
        damaged["estimator"]["trees"][0]["nodes"][first_split][field] = value;
        let error = PropensityModel::from_json(&damaged.to_string()).unwrap_err();
        assert!(
            error.to_string().contains("tree 0 node"),
            "{field}: {error}"
        );
    }
    let mut wrong_width = good.clone();
    wrong_width["estimator"]["n_inputs"] = serde_json::json!(3);
    let error = PropensityModel::from_json(&wrong_width.to_string()).unwrap_err();
    assert!(error.to_string().contains("n_inputs"), "{error}");
}
