//! The pipeline behind `cartback uplift`: pick the experiment's two arms, split them into
//! train and test sides stratified by (treatment, outcome), fit the feature schema and the
//! learner on the train side only, rank the test side by predicted uplift and measure it.

use super::data::{ExperimentData, ExperimentSpec, stratified_holdout_by};
use super::learners::{FitDiagnostics, UpliftParams};
use super::metrics::{UpliftMetrics, qini_curve};
use crate::dataset::{CsvTable, FeatureSchema, Split};
use crate::error::Result;
use serde::Serialize;
use std::time::Instant;

/// Everything `evaluate` needs besides the table.
#[derive(Debug, Clone, PartialEq)]
pub struct UpliftOptions {
    pub experiment: ExperimentSpec,
    /// Columns that are neither treatment, outcome nor feature (ids, other outcomes).
    pub excluded: Vec<String>,
    pub test_fraction: f64,
    /// Seed of the split (the learner has its own in `params`).
    pub seed: u64,
    pub params: UpliftParams,
}

/// One point of the test side's Qini curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QiniPoint {
    /// Share of the test rows targeted, best predicted uplift first.
    pub share: f64,
    /// Incremental responders there: treated responders − control responders · nₜ / n꜀.
    pub incremental: f64,
}

/// The outcome of `evaluate`, printed by `cartback uplift --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpliftReport {
    pub learner: String,
    pub base: String,
    /// Rows of the two arms (rows of other arms are left out).
    pub rows: usize,
    pub treated_rows: usize,
    pub control_rows: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub inputs: usize,
    pub split: String,
    /// Observed response rates of the test side's arms and their difference.
    pub test_treated_rate: f64,
    pub test_control_rate: f64,
    pub test_ate: f64,
    #[serde(flatten)]
    pub metrics: UpliftMetrics,
    pub qini_curve: Vec<QiniPoint>,
    pub diagnostics: FitDiagnostics,
    pub fit_seconds: f64,
    pub predict_seconds: f64,
}

/// The report plus what a peer needs to check it: the split (as table rows) and the test
/// side's predictions.
#[derive(Debug, Clone)]
pub struct UpliftEvaluation {
    pub report: UpliftReport,
    /// Table rows (0-based data rows) of each side.
    pub split: Split,
    /// For every test row, in `split.test` order: treated, outcome, predicted uplift.
    pub test_treated: Vec<bool>,
    pub test_outcome: Vec<f64>,
    pub test_uplift: Vec<f64>,
}

fn response_rate(outcome: &[f64], treated: &[bool], arm: bool) -> f64 {
    let (sum, count) = outcome
        .iter()
        .zip(treated)
        .filter(|&(_, &t)| t == arm)
        .fold((0.0, 0usize), |(sum, count), (y, _)| (sum + y, count + 1));
    sum / count.max(1) as f64
}

/// Splits, fits on the train side and measures on the test side.
pub fn evaluate(table: &CsvTable, options: &UpliftOptions) -> Result<UpliftEvaluation> {
    options.params.validate()?;
    let data = ExperimentData::from_table(table, &options.experiment)?;
    let positions = stratified_holdout_by(&data.strata(), options.test_fraction, options.seed)?;
    let pick_rows =
        |positions: &[usize]| -> Vec<usize> { positions.iter().map(|&p| data.rows[p]).collect() };
    let (train_rows, test_rows) = (pick_rows(&positions.train), pick_rows(&positions.test));
    let mut excluded = options.excluded.clone();
    if !excluded.contains(&options.experiment.treatment_column) {
        excluded.push(options.experiment.treatment_column.clone());
    }
    let schema = FeatureSchema::fit(
        table,
        &options.experiment.outcome_column,
        &excluded,
        &train_rows,
    )?;
    let train_features = schema.encode_rows(table, &train_rows)?;
    let test_features = schema.encode_rows(table, &test_rows)?;
    let side = |positions: &[usize]| -> (Vec<bool>, Vec<f64>) {
        (
            positions.iter().map(|&p| data.treated[p]).collect(),
            positions.iter().map(|&p| data.outcome[p]).collect(),
        )
    };
    let (train_treated, train_outcome) = side(&positions.train);
    let (test_treated, test_outcome) = side(&positions.test);

    let started = Instant::now();
    let model = options
        .params
        .fit(&train_features, &train_treated, &train_outcome)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let test_uplift = model.predict_matrix(&test_features);
    let predict_seconds = started.elapsed().as_secs_f64();

    let flags: Vec<f64> = test_treated
        .iter()
        .map(|&t| f64::from(u8::from(t)))
        .collect();
    let metrics = UpliftMetrics::evaluate(&test_outcome, &test_uplift, &flags)?;
    let curve = qini_curve(&test_outcome, &test_uplift, &flags)?;
    let n_test = test_rows.len() as f64;
    let qini_points = (0..=10)
        .map(|decile| {
            let share = f64::from(decile) / 10.0;
            QiniPoint {
                share,
                incremental: curve.value_at(share * n_test),
            }
        })
        .collect();
    let treated_rows = data.treated.iter().filter(|&&t| t).count();
    let (treated_rate, control_rate) = (
        response_rate(&test_outcome, &test_treated, true),
        response_rate(&test_outcome, &test_treated, false),
    );
    let report = UpliftReport {
        learner: options.params.learner.name().to_string(),
        base: options.params.base.name().to_string(),
        rows: data.rows.len(),
        treated_rows,
        control_rows: data.rows.len() - treated_rows,
        train_rows: train_rows.len(),
        test_rows: test_rows.len(),
        inputs: schema.n_inputs(),
        split: format!(
            "hold-out {} stratified by (treatment, outcome), seed {}",
            options.test_fraction, options.seed
        ),
        test_treated_rate: treated_rate,
        test_control_rate: control_rate,
        test_ate: treated_rate - control_rate,
        metrics,
        qini_curve: qini_points,
        diagnostics: model.diagnostics.clone(),
        fit_seconds,
        predict_seconds,
    };
    Ok(UpliftEvaluation {
        report,
        split: Split {
            train: train_rows,
            test: test_rows,
        },
        test_treated,
        test_outcome,
        test_uplift,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::RawColumn;
    use crate::linear::{LogisticParams, RidgeParams};
    use crate::uplift::learners::{BaseLearner, Learner, tests::synthetic_rct};

    fn experiment_table() -> CsvTable {
        let (features, treated, outcome, _) = synthetic_rct(6_000, 11);
        let column = |input: usize| {
            RawColumn::Numeric(
                (0..features.n_rows)
                    .map(|row| features.row(row)[input])
                    .collect(),
            )
        };
        // A third arm ("B") whose rows must be left out, and an id column to exclude.
        let arm_names = vec!["A".to_string(), "control".to_string(), "B".to_string()];
        let codes: Vec<u32> = (0..features.n_rows)
            .map(|row| {
                if row % 7 == 0 {
                    2
                } else if treated[row] {
                    0
                } else {
                    1
                }
            })
            .collect();
        CsvTable::from_columns(
            ["x0", "x1", "x2", "x3", "arm", "bought", "id"]
                .map(String::from)
                .to_vec(),
            vec![
                column(0),
                column(1),
                column(2),
                column(3),
                RawColumn::Text {
                    codes,
                    dictionary: arm_names,
                },
                RawColumn::Numeric(outcome),
                RawColumn::Numeric((0..features.n_rows).map(|row| row as f64).collect()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn evaluates_on_a_stratified_half_and_leaves_other_arms_out() {
        let table = experiment_table();
        let options = UpliftOptions {
            experiment: ExperimentSpec {
                treatment_column: "arm".into(),
                treated_value: "A".into(),
                control_value: "control".into(),
                outcome_column: "bought".into(),
            },
            excluded: vec!["id".into()],
            test_fraction: 0.5,
            seed: 42,
            params: UpliftParams::new(
                Learner::T,
                BaseLearner::Linear {
                    logistic: LogisticParams::default(),
                    ridge: RidgeParams::default(),
                },
            ),
        };
        let evaluation = evaluate(&table, &options).unwrap();
        let report = &evaluation.report;
        let arm_b = (0..6_000).filter(|row| row % 7 == 0).count();
        assert_eq!(report.rows, 6_000 - arm_b);
        assert_eq!(report.train_rows + report.test_rows, report.rows);
        assert!(report.train_rows.abs_diff(report.test_rows) <= 4);
        assert!(evaluation.split.test.iter().all(|row| row % 7 != 0));
        // Four inputs: the id, the arm and the outcome are not features.
        assert_eq!(report.inputs, 4);
        assert!(report.metrics.qini > 0.1, "{report:?}");
        assert_eq!(report.qini_curve.len(), 11);
        assert_eq!(report.qini_curve[0].incremental, 0.0);
        assert_eq!(evaluation.test_uplift.len(), report.test_rows);
        // The same options give the same split and the same numbers.
        let again = evaluate(&table, &options).unwrap();
        assert_eq!(again.split, evaluation.split);
        assert_eq!(again.report.metrics, report.metrics);
    }
}
