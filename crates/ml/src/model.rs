//! The propensity model as a whole and its file: a feature schema, a fitted logistic
//! regression or booster, an optional calibrator, and a format name and version checked on
//! load. Scores tables and explains rows (exact wⱼ·xⱼ for logistic, TreeSHAP for trees),
//! with contributions summed back onto the input columns they come from.

use crate::calibration::Calibrator;
use crate::dataset::{CsvTable, FeatureMatrix, FeatureSchema};
use crate::error::{MlError, Result};
use crate::gbdt::{GbdtModel, ShapScratch};
use crate::linear::{LogisticModel, sigmoid};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` field of every model file.
pub const MODEL_FORMAT: &str = "cartback-propensity-model";
/// The version of the model file layout this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// The fitted estimator inside a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FittedEstimator {
    Logistic(LogisticModel),
    Gbdt(GbdtModel),
}

/// A trained purchase-propensity model, ready to score and explain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropensityModel {
    pub format: String,
    pub format_version: u32,
    /// `cartback-ml` version that wrote the file.
    pub written_by: String,
    /// `logistic`, `logistic-sgd` or `gbdt`.
    pub model_name: String,
    pub schema: FeatureSchema,
    pub estimator: FittedEstimator,
    pub calibrator: Option<Calibrator>,
}

/// Why one row scored what it did: the log-odds split over input columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Final (calibrated, when the model has a calibrator) probability.
    pub probability: f64,
    /// Raw log-odds of the estimator.
    pub margin: f64,
    /// Log-odds with nothing known (intercept, or the trees' expected value).
    pub baseline: f64,
    /// (schema column index, contribution to the log-odds), largest magnitude first;
    /// baseline + Σ contributions = margin.
    pub contributions: Vec<(usize, f64)>,
}

/// Reusable scratch space for explaining many rows.
#[derive(Debug, Default)]
pub struct ExplainScratch {
    gbdt: ShapScratch,
}

impl PropensityModel {
    /// Wraps fitted parts into a model with the current format and version.
    pub fn new(
        model_name: &str,
        schema: FeatureSchema,
        estimator: FittedEstimator,
        calibrator: Option<Calibrator>,
    ) -> Self {
        Self {
            format: MODEL_FORMAT.to_string(),
            format_version: MODEL_FORMAT_VERSION,
            written_by: env!("CARGO_PKG_VERSION").to_string(),
            model_name: model_name.to_string(),
            schema,
            estimator,
            calibrator,
        }
    }

    /// Log-odds of one encoded row (before calibration).
    pub fn margin(&self, row: &[f64]) -> f64 {
        match &self.estimator {
            FittedEstimator::Logistic(model) => model.margin(row),
            FittedEstimator::Gbdt(model) => model.margin(row),
        }
    }

    /// Probability of one encoded row (calibrated when the model has a calibrator).
    pub fn probability(&self, row: &[f64]) -> f64 {
        let raw = sigmoid(self.margin(row));
        match &self.calibrator {
            Some(calibrator) => calibrator.apply(raw),
            None => raw,
        }
    }

    /// Probabilities of every row of an encoded matrix.
    pub fn predict_matrix(&self, features: &FeatureMatrix) -> Vec<f64> {
        (0..features.n_rows)
            .into_par_iter()
            .map(|row| self.probability(features.row(row)))
            .collect()
    }

    /// Encodes a table with the model's schema (errors name missing or mistyped columns)
    /// and scores every row.
    pub fn predict_table(&self, table: &CsvTable) -> Result<Vec<f64>> {
        Ok(self.predict_matrix(&self.schema.encode(table)?))
    }

    /// Explains one encoded row. `input_sources` is `self.schema.input_sources()`.
    pub fn explain(
        &self,
        row: &[f64],
        input_sources: &[usize],
        scratch: &mut ExplainScratch,
    ) -> Explanation {
        let (baseline, by_input, margin) = match &self.estimator {
            FittedEstimator::Logistic(model) => {
                (model.intercept, model.contributions(row), model.margin(row))
            }
            FittedEstimator::Gbdt(model) => {
                let mut by_input = vec![0.0; model.n_inputs];
                let margin = model.explain_into(row, &mut by_input, &mut scratch.gbdt);
                (model.expected_margin(), by_input, margin)
            }
        };
        let mut by_column = vec![0.0; self.schema.columns.len()];
        for (input, contribution) in by_input.iter().enumerate() {
            by_column[input_sources[input]] += contribution;
        }
        let mut contributions: Vec<(usize, f64)> = by_column.into_iter().enumerate().collect();
        contributions.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        let raw = sigmoid(margin);
        Explanation {
            probability: self
                .calibrator
                .as_ref()
                .map_or(raw, |calibrator| calibrator.apply(raw)),
            margin,
            baseline,
            contributions,
        }
    }

    /// Global importance of each schema column: mean |contribution| to the log-odds over
    /// the given rows (at most `max_rows`, evenly spaced), largest first.
    pub fn global_importance(
        &self,
        features: &FeatureMatrix,
        max_rows: usize,
    ) -> Vec<(String, f64)> {
        let sources = self.schema.input_sources();
        let stride = features.n_rows.div_ceil(max_rows.max(1)).max(1);
        let rows: Vec<usize> = (0..features.n_rows).step_by(stride).collect();
        // Per-chunk sums collected in order, so the figures do not depend on thread scheduling.
        let partials: Vec<Vec<f64>> = rows
            .par_chunks(64)
            .map(|chunk| {
                let mut scratch = ExplainScratch::default();
                let mut totals = vec![0.0; self.schema.columns.len()];
                for &row in chunk {
                    for (column, contribution) in self
                        .explain(features.row(row), &sources, &mut scratch)
                        .contributions
                    {
                        totals[column] += contribution.abs();
                    }
                }
                totals
            })
            .collect();
        let mut totals = vec![0.0; self.schema.columns.len()];
        for partial in partials {
            totals
                .iter_mut()
                .zip(&partial)
                .for_each(|(total, value)| *total += value);
        }
        let mut importance: Vec<(String, f64)> = self
            .schema
            .columns
            .iter()
            .zip(totals)
            .map(|(column, total)| (column.name.clone(), total / rows.len().max(1) as f64))
            .collect();
        importance.sort_by(|a, b| b.1.total_cmp(&a.1));
        importance
    }

    /// The model as JSON text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|error| MlError::ModelFile(format!("cannot serialise the model: {error}")))
    }

    /// Reads a model from JSON text, checking its format and version first.
    pub fn from_json(text: &str) -> Result<Self> {
        let header: serde_json::Value = serde_json::from_str(text)
            .map_err(|error| MlError::ModelFile(format!("not JSON: {error}")))?;
        let format = header
            .get("format")
            .and_then(|value| value.as_str())
            .unwrap_or("");
        if format != MODEL_FORMAT {
            return Err(MlError::ModelFile(format!(
                "`format` is `{format}`, expected `{MODEL_FORMAT}`"
            )));
        }
        let version = header
            .get("format_version")
            .and_then(|value| value.as_u64());
        if version != Some(u64::from(MODEL_FORMAT_VERSION)) {
            return Err(MlError::ModelFile(format!(
                "`format_version` is {}, this build reads version {MODEL_FORMAT_VERSION}",
                version.map_or("missing".to_string(), |version| version.to_string())
            )));
        }
        let model: Self = serde_json::from_value(header)
            .map_err(|error| MlError::ModelFile(format!("malformed model: {error}")))?;
        model.check_structure()?;
        Ok(model)
    }

    /// Checks what serde cannot: that the estimator's inputs match the schema and every tree
    /// is a well-formed tree over them, so a damaged or hand-edited file is refused at load
    /// instead of panicking (or looping) when a row is scored.
    fn check_structure(&self) -> Result<()> {
        let n_inputs = self.schema.n_inputs();
        let malformed =
            |message: String| Err(MlError::ModelFile(format!("malformed model: {message}")));
        match &self.estimator {
            FittedEstimator::Logistic(model) => {
                if model.weights.len() != n_inputs {
                    return malformed(format!(
                        "{} weights for {n_inputs} schema inputs",
                        model.weights.len()
                    ));
                }
            }
            FittedEstimator::Gbdt(model) => {
                if model.n_inputs != n_inputs {
                    return malformed(format!(
                        "`n_inputs` is {}, the schema has {n_inputs} inputs",
                        model.n_inputs
                    ));
                }
                for (t, tree) in model.trees.iter().enumerate() {
                    if tree.nodes.is_empty() {
                        return malformed(format!("tree {t} has no nodes"));
                    }
                    for (i, node) in tree.nodes.iter().enumerate() {
                        if node.is_leaf {
                            continue;
                        }
                        let n = tree.nodes.len();
                        // Children after their parent: no cycles, every walk ends at a leaf.
                        let child_ok = |c: u32| (c as usize) > i && (c as usize) < n;
                        if node.feature as usize >= n_inputs
                            || !child_ok(node.left)
                            || !child_ok(node.right)
                        {
                            return malformed(format!(
                                "tree {t} node {i}: feature {} / children {}, {} out of range ({n} nodes, {n_inputs} inputs)",
                                node.feature, node.left, node.right
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes the model file.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()?).map_err(|source| MlError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| MlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|error| match error {
            MlError::ModelFile(message) => {
                MlError::ModelFile(format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }
}
