//! The training pipeline behind `cartback train`: evaluate a model by stratified k-fold,
//! stratified hold-out or time-ordered hold-out (schema fitted on training rows only), report
//! every metric per fold and on average, cross-fit the optional calibrator on out-of-fold
//! scores, then fit the final model on all rows.

use crate::calibration::{CalibrationMethod, Calibrator};
use crate::dataset::{
    CsvTable, FeatureSchema, Split, stratified_holdout, stratified_k_fold, time_holdout,
};
use crate::error::{MlError, Result};
use crate::gbdt::GbdtParams;
use crate::linear::LogisticParams;
use crate::metrics::{BinaryMetrics, CalibrationBin, calibration_table};
use crate::model::{FittedEstimator, PropensityModel};
use serde::Serialize;
use std::time::Instant;

/// The estimator to fit, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum EstimatorSpec {
    /// `name` is `logistic` or `logistic-sgd`.
    Logistic {
        name: String,
        params: LogisticParams,
    },
    Gbdt(GbdtParams),
}

impl EstimatorSpec {
    /// The model name written into the model file.
    pub fn name(&self) -> &str {
        match self {
            EstimatorSpec::Logistic { name, .. } => name,
            EstimatorSpec::Gbdt(_) => "gbdt",
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            EstimatorSpec::Logistic { params, .. } => params.validate(),
            EstimatorSpec::Gbdt(params) => params.validate(),
        }
    }

    fn fit(
        &self,
        features: &crate::dataset::FeatureMatrix,
        labels: &[f64],
    ) -> Result<FittedEstimator> {
        match self {
            EstimatorSpec::Logistic { params, .. } => {
                params.fit(features, labels).map(FittedEstimator::Logistic)
            }
            EstimatorSpec::Gbdt(params) => params.fit(features, labels).map(FittedEstimator::Gbdt),
        }
    }
}

/// How to measure the model before the final fit.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// Stratified k-fold cross-validation.
    KFold { folds: usize },
    /// Stratified random hold-out.
    Holdout { test_fraction: f64 },
    /// The latest `test_fraction` of rows by `time_column` are the test side.
    TimeHoldout {
        time_column: String,
        test_fraction: f64,
    },
    /// No evaluation: fit the final model only.
    None,
}

/// Everything `train` needs besides the table.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub label: String,
    /// Columns that are neither label nor feature (ids, timestamps).
    pub excluded: Vec<String>,
    pub estimator: EstimatorSpec,
    pub evaluation: Evaluation,
    pub calibration: Option<CalibrationMethod>,
    pub seed: u64,
    /// Fit the final model on all rows (false: return the last fold's model, e.g. when only
    /// the evaluation is wanted).
    pub fit_final: bool,
}

/// One evaluation round.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    pub fold: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub train_seconds: f64,
    pub metrics: BinaryMetrics,
    /// Metrics after the cross-fitted calibrator, when calibration was asked for.
    pub calibrated_metrics: Option<BinaryMetrics>,
}

/// Mean of every metric over the folds.
#[derive(Debug, Clone, Serialize)]
pub struct MeanMetrics {
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub log_loss: f64,
    pub brier: f64,
    pub accuracy_at_half: f64,
    pub f1_at_half: f64,
    pub best_f1_threshold: f64,
    pub accuracy_at_best_f1: f64,
    pub best_f1: f64,
}

impl MeanMetrics {
    fn of(metrics: &[&BinaryMetrics]) -> Option<Self> {
        if metrics.is_empty() {
            return None;
        }
        let mean = |field: fn(&BinaryMetrics) -> f64| {
            metrics.iter().map(|m| field(m)).sum::<f64>() / metrics.len() as f64
        };
        Some(Self {
            roc_auc: mean(|m| m.roc_auc),
            pr_auc: mean(|m| m.pr_auc),
            log_loss: mean(|m| m.log_loss),
            brier: mean(|m| m.brier),
            accuracy_at_half: mean(|m| m.accuracy_at_half),
            f1_at_half: mean(|m| m.f1_at_half),
            best_f1_threshold: mean(|m| m.best_f1_threshold),
            accuracy_at_best_f1: mean(|m| m.accuracy_at_best_f1),
            best_f1: mean(|m| m.best_f1),
        })
    }
}

/// The full outcome of `train`, printed by `cartback train --json`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingReport {
    pub model: String,
    pub rows: usize,
    pub positives: usize,
    pub inputs: usize,
    pub evaluation: String,
    pub folds: Vec<FoldReport>,
    pub mean: Option<MeanMetrics>,
    pub calibrated_mean: Option<MeanMetrics>,
    pub total_train_seconds: f64,
    /// Out-of-fold predicted vs observed rate in 10 bins.
    pub calibration_table: Vec<CalibrationBin>,
    /// The same after cross-fitted calibration.
    pub calibrated_table: Option<Vec<CalibrationBin>>,
    /// Mean |contribution| to the log-odds per input column, of the final model.
    pub importance: Vec<(String, f64)>,
    pub final_train_seconds: f64,
    /// Trees kept (GBDT) or optimiser iterations / epochs (logistic) of the final model.
    pub final_size: usize,
    pub final_converged: bool,
}

/// Row ids per evaluation round, for peers to reuse the same splits: for k-fold the row's
/// test fold; for a hold-out 0 = test, 1 = train.
pub fn split_ids(splits: &[Split], rows: usize) -> Vec<usize> {
    let mut ids = vec![0; rows];
    if splits.len() == 1 {
        splits[0].train.iter().for_each(|&row| ids[row] = 1);
    } else {
        for (fold, split) in splits.iter().enumerate() {
            split.test.iter().for_each(|&row| ids[row] = fold);
        }
    }
    ids
}

/// The evaluation splits the options describe.
pub fn evaluation_splits(
    table: &CsvTable,
    labels: &[f64],
    options: &TrainOptions,
) -> Result<Vec<Split>> {
    match &options.evaluation {
        Evaluation::KFold { folds } => stratified_k_fold(labels, *folds, options.seed),
        Evaluation::Holdout { test_fraction } => Ok(vec![stratified_holdout(
            labels,
            *test_fraction,
            options.seed,
        )?]),
        Evaluation::TimeHoldout {
            time_column,
            test_fraction,
        } => Ok(vec![time_holdout(
            &table.ordering_values(time_column)?,
            *test_fraction,
        )?]),
        Evaluation::None => Ok(Vec::new()),
    }
}

fn check_both_classes(labels: &[f64], what: &str) -> Result<()> {
    let positives = labels.iter().filter(|&&label| label >= 0.5).count();
    if positives == 0 || positives == labels.len() {
        return Err(MlError::InvalidData(format!(
            "{what} has {positives} positive rows of {}: both classes are needed",
            labels.len()
        )));
    }
    Ok(())
}

/// Evaluates and fits a model on `table` as `options` say.
pub fn train(
    table: &CsvTable,
    options: &TrainOptions,
) -> Result<(PropensityModel, TrainingReport)> {
    options.estimator.validate()?;
    let labels = table.binary_labels(&options.label)?;
    check_both_classes(&labels, "the data")?;
    let mut excluded = options.excluded.clone();
    if let Evaluation::TimeHoldout { time_column, .. } = &options.evaluation
        && !excluded.contains(time_column)
    {
        excluded.push(time_column.clone());
    }
    let splits = evaluation_splits(table, &labels, options)?;
    let mut folds = Vec::new();
    let mut out_of_fold = vec![f64::NAN; labels.len()];
    let mut fold_of_row = vec![usize::MAX; labels.len()];
    let mut last_fold: Option<(PropensityModel, crate::dataset::FeatureMatrix)> = None;
    for (fold, split) in splits.iter().enumerate() {
        let train_labels: Vec<f64> = split.train.iter().map(|&row| labels[row]).collect();
        let test_labels: Vec<f64> = split.test.iter().map(|&row| labels[row]).collect();
        check_both_classes(&train_labels, &format!("the training side of fold {fold}"))?;
        check_both_classes(&test_labels, &format!("the test side of fold {fold}"))?;
        let schema = FeatureSchema::fit(table, &options.label, &excluded, &split.train)?;
        let train_features = schema.encode_rows(table, &split.train)?;
        let test_features = schema.encode_rows(table, &split.test)?;
        let started = Instant::now();
        let estimator = options.estimator.fit(&train_features, &train_labels)?;
        let train_seconds = started.elapsed().as_secs_f64();
        let model = PropensityModel::new(options.estimator.name(), schema, estimator, None);
        let probabilities = model.predict_matrix(&test_features);
        for (position, &row) in split.test.iter().enumerate() {
            out_of_fold[row] = probabilities[position];
            // A hold-out is cross-fitted in two halves for calibration.
            fold_of_row[row] = if splits.len() == 1 {
                position % 2
            } else {
                fold
            };
        }
        folds.push(FoldReport {
            fold,
            train_rows: split.train.len(),
            test_rows: split.test.len(),
            train_seconds,
            metrics: BinaryMetrics::evaluate(&test_labels, &probabilities)?,
            calibrated_metrics: None,
        });
        last_fold = Some((model, test_features));
    }
    let evaluated: Vec<usize> = (0..labels.len())
        .filter(|&row| !out_of_fold[row].is_nan())
        .collect();
    let evaluated_labels: Vec<f64> = evaluated.iter().map(|&row| labels[row]).collect();
    let evaluated_scores: Vec<f64> = evaluated.iter().map(|&row| out_of_fold[row]).collect();
    let calibration_bins = if evaluated.is_empty() {
        Vec::new()
    } else {
        calibration_table(&evaluated_labels, &evaluated_scores, 10)?
    };

    let mut calibrated_table = None;
    let mut final_calibrator = None;
    if let Some(method) = options.calibration {
        if evaluated.is_empty() {
            return Err(MlError::InvalidData(
                "calibration needs held-out scores: choose k-fold or a hold-out evaluation"
                    .to_string(),
            ));
        }
        // Cross-fitting: each group's scores are calibrated by a calibrator fitted on the others.
        let mut calibrated = vec![f64::NAN; labels.len()];
        let groups: Vec<usize> = {
            let mut groups: Vec<usize> = evaluated.iter().map(|&row| fold_of_row[row]).collect();
            groups.sort_unstable();
            groups.dedup();
            groups
        };
        for &group in &groups {
            let (fit_rows, apply_rows): (Vec<usize>, Vec<usize>) = evaluated
                .iter()
                .copied()
                .partition(|&row| fold_of_row[row] != group);
            let fit_labels: Vec<f64> = fit_rows.iter().map(|&row| labels[row]).collect();
            let fit_scores: Vec<f64> = fit_rows.iter().map(|&row| out_of_fold[row]).collect();
            let calibrator = Calibrator::fit(method, &fit_labels, &fit_scores)?;
            for row in apply_rows {
                calibrated[row] = calibrator.apply(out_of_fold[row]);
            }
        }
        for (fold, split) in splits.iter().enumerate() {
            let test_labels: Vec<f64> = split.test.iter().map(|&row| labels[row]).collect();
            let scores: Vec<f64> = split.test.iter().map(|&row| calibrated[row]).collect();
            folds[fold].calibrated_metrics = Some(BinaryMetrics::evaluate(&test_labels, &scores)?);
        }
        let calibrated_scores: Vec<f64> = evaluated.iter().map(|&row| calibrated[row]).collect();
        calibrated_table = Some(calibration_table(
            &evaluated_labels,
            &calibrated_scores,
            10,
        )?);
        final_calibrator = Some(Calibrator::fit(
            method,
            &evaluated_labels,
            &evaluated_scores,
        )?);
    }

    let (model, features, final_train_seconds) = match last_fold {
        Some((mut model, test_features)) if !options.fit_final => {
            model.calibrator = final_calibrator;
            (model, test_features, 0.0)
        }
        _ => {
            let all_rows: Vec<usize> = (0..labels.len()).collect();
            let schema = FeatureSchema::fit(table, &options.label, &excluded, &all_rows)?;
            let features = schema.encode(table)?;
            let started = Instant::now();
            let estimator = options.estimator.fit(&features, &labels)?;
            let final_train_seconds = started.elapsed().as_secs_f64();
            let model = PropensityModel::new(
                options.estimator.name(),
                schema,
                estimator,
                final_calibrator,
            );
            (model, features, final_train_seconds)
        }
    };
    let (final_size, final_converged) = match &model.estimator {
        FittedEstimator::Logistic(fitted) => (fitted.iterations, fitted.converged),
        FittedEstimator::Gbdt(fitted) => (fitted.trees.len(), true),
    };
    let importance = model.global_importance(&features, 2_000);
    let report = TrainingReport {
        model: options.estimator.name().to_string(),
        rows: labels.len(),
        positives: labels.iter().filter(|&&label| label >= 0.5).count(),
        inputs: model.schema.n_inputs(),
        evaluation: match &options.evaluation {
            Evaluation::KFold { folds } => {
                format!("stratified {folds}-fold, seed {}", options.seed)
            }
            Evaluation::Holdout { test_fraction } => {
                format!("stratified hold-out {test_fraction}, seed {}", options.seed)
            }
            Evaluation::TimeHoldout {
                time_column,
                test_fraction,
            } => {
                format!("time hold-out: latest {test_fraction} by `{time_column}`")
            }
            Evaluation::None => "none".to_string(),
        },
        mean: MeanMetrics::of(&folds.iter().map(|fold| &fold.metrics).collect::<Vec<_>>()),
        calibrated_mean: MeanMetrics::of(
            &folds
                .iter()
                .filter_map(|fold| fold.calibrated_metrics.as_ref())
                .collect::<Vec<_>>(),
        ),
        total_train_seconds: folds.iter().map(|fold| fold.train_seconds).sum(),
        folds,
        calibration_table: calibration_bins,
        calibrated_table,
        importance,
        final_train_seconds,
        final_size,
        final_converged,
    };
    Ok((model, report))
}
