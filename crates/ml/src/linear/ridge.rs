//! Ridge regression (least squares with an L2 penalty on the weights, not the intercept) for
//! continuous targets, fitted by the same L-BFGS as the logistic regression. The uplift
//! learners use it as the linear counterpart of the logistic base learner for their
//! regression stages (imputed effects, doubly robust pseudo-outcomes).

use super::lbfgs::{LbfgsParams, minimize};
use super::logistic::dot;
use crate::dataset::FeatureMatrix;
use crate::error::{MlError, Result, invalid_parameter};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Hyper-parameters of a ridge regression.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeParams {
    /// Strength λ of the penalty (λ/2)·‖w‖² added to half the mean squared error.
    pub l2: f64,
    pub lbfgs: LbfgsParams,
}

impl Default for RidgeParams {
    fn default() -> Self {
        Self {
            l2: 1e-4,
            lbfgs: LbfgsParams::default(),
        }
    }
}

/// A fitted ridge regression over encoded inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeModel {
    pub weights: Vec<f64>,
    pub intercept: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// ½·mean (b + w·x − y)² + (λ/2)·‖w‖² and its gradient at `parameters` = [w…, b].
fn penalised_loss_and_gradient(
    features: &FeatureMatrix,
    targets: &[f64],
    l2: f64,
    parameters: &[f64],
    gradient: &mut [f64],
) -> f64 {
    let n_cols = features.n_cols;
    let (weights, intercept) = (&parameters[..n_cols], parameters[n_cols]);
    const CHUNK: usize = 4096;
    // Fixed chunks summed in order: the result does not depend on thread scheduling.
    let partials: Vec<(f64, Vec<f64>)> = features
        .values
        .par_chunks(CHUNK * n_cols.max(1))
        .zip(targets.par_chunks(CHUNK))
        .map(|(rows, chunk_targets)| {
            let mut partial = vec![0.0; n_cols + 1];
            let mut loss = 0.0;
            for (row, &target) in rows.chunks_exact(n_cols.max(1)).zip(chunk_targets) {
                let residual = intercept + dot(row, weights) - target;
                loss += 0.5 * residual * residual;
                partial[..n_cols]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(g, x)| *g += residual * x);
                partial[n_cols] += residual;
            }
            (loss, partial)
        })
        .collect();
    let rows = targets.len() as f64;
    let (mut loss_sum, mut gradient_sum) = (0.0, vec![0.0; n_cols + 1]);
    for (loss, partial) in partials {
        loss_sum += loss;
        gradient_sum
            .iter_mut()
            .zip(&partial)
            .for_each(|(total, value)| *total += value);
    }
    super::average_with_l2(loss_sum, &gradient_sum, rows, weights, l2, gradient)
}

impl RidgeParams {
    /// Checks every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(invalid_parameter(
                "l2",
                format!("must be a finite number ≥ 0, got {}", self.l2),
            ));
        }
        self.lbfgs.validate()
    }

    /// Fits the weights and intercept to encoded features and finite targets.
    pub fn fit(&self, features: &FeatureMatrix, targets: &[f64]) -> Result<RidgeModel> {
        self.validate()?;
        if features.n_rows != targets.len() {
            return Err(MlError::InvalidData(format!(
                "{} feature rows but {} targets",
                features.n_rows,
                targets.len()
            )));
        }
        if features.n_rows == 0 {
            return Err(MlError::InvalidData("no training rows".to_string()));
        }
        if let Some(position) = targets.iter().position(|target| !target.is_finite()) {
            return Err(MlError::InvalidData(format!(
                "target of row {position} is not a finite number"
            )));
        }
        if let Some(position) = features.values.iter().position(|value| !value.is_finite()) {
            return Err(MlError::InvalidData(format!(
                "feature {} of row {} is not finite",
                position % features.n_cols.max(1),
                position / features.n_cols.max(1)
            )));
        }
        let n_cols = features.n_cols;
        // Start at the mean target: the intercept alone is then already the best constant.
        let mut start = vec![0.0; n_cols + 1];
        start[n_cols] = targets.iter().sum::<f64>() / targets.len() as f64;
        let outcome = minimize(
            |parameters, gradient| {
                penalised_loss_and_gradient(features, targets, self.l2, parameters, gradient)
            },
            start,
            &self.lbfgs,
        )?;
        Ok(RidgeModel {
            weights: outcome.point[..n_cols].to_vec(),
            intercept: outcome.point[n_cols],
            iterations: outcome.iterations,
            converged: outcome.converged,
        })
    }
}

impl RidgeModel {
    /// The prediction for one encoded row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.intercept + dot(row, &self.weights)
    }

    /// Predictions for every row.
    pub fn predict_matrix(&self, features: &FeatureMatrix) -> Vec<f64> {
        (0..features.n_rows)
            .map(|row| self.predict(features.row(row)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::seeded_rng;
    use rand::RngExt;

    #[test]
    fn recovers_the_normal_equations_solution() {
        // y = 1 + 2·x₀ − 3·x₁ + noise; with λ = 0 the fit equals ordinary least squares,
        // whose 2-input solution is checked against the closed form computed here.
        let mut rng = seeded_rng(8);
        let rows = 2_000;
        let mut values = Vec::new();
        let mut targets = Vec::new();
        for _ in 0..rows {
            let x: [f64; 2] = [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)];
            targets.push(1.0 + 2.0 * x[0] - 3.0 * x[1] + 0.3 * (rng.random::<f64>() - 0.5));
            values.extend(x);
        }
        let features = FeatureMatrix::new(rows, 2, values).unwrap();
        let model = RidgeParams {
            l2: 0.0,
            ..RidgeParams::default()
        }
        .fit(&features, &targets)
        .unwrap();
        assert!(model.converged);
        // Closed form on centred data: [Sxx Sxy; Sxy Syy]⁻¹ · [Sxt; Syt].
        let n = rows as f64;
        let mean = |f: &dyn Fn(usize) -> f64| (0..rows).map(f).sum::<f64>() / n;
        let (m0, m1) = (mean(&|r| features.row(r)[0]), mean(&|r| features.row(r)[1]));
        let mt = mean(&|r| targets[r]);
        let s = |a: &dyn Fn(usize) -> f64, b: &dyn Fn(usize) -> f64| {
            (0..rows).map(|r| a(r) * b(r)).sum::<f64>()
        };
        let x0 = |r: usize| features.row(r)[0] - m0;
        let x1 = |r: usize| features.row(r)[1] - m1;
        let t = |r: usize| targets[r] - mt;
        let (a, b, d) = (s(&x0, &x0), s(&x0, &x1), s(&x1, &x1));
        let (e, f) = (s(&x0, &t), s(&x1, &t));
        let det = a * d - b * b;
        let w0 = (d * e - b * f) / det;
        let w1 = (a * f - b * e) / det;
        let intercept = mt - w0 * m0 - w1 * m1;
        assert!(
            (model.weights[0] - w0).abs() < 1e-5,
            "{} vs {w0}",
            model.weights[0]
        );
        assert!(
            (model.weights[1] - w1).abs() < 1e-5,
            "{} vs {w1}",
            model.weights[1]
        );
        assert!((model.intercept - intercept).abs() < 1e-5);
        assert!((w0 - 2.0).abs() < 0.05 && (w1 + 3.0).abs() < 0.05);
        // A strong penalty shrinks the weights towards zero but leaves the intercept free.
        let shrunk = RidgeParams {
            l2: 10.0,
            ..RidgeParams::default()
        }
        .fit(&features, &targets)
        .unwrap();
        assert!(shrunk.weights[0].abs() < 0.2 * model.weights[0].abs());
        assert!((shrunk.predict(&[m0, m1]) - mt).abs() < 1e-3);
    }

    #[test]
    fn bad_targets_and_parameters_are_errors() {
        let features = FeatureMatrix::new(2, 1, vec![0.0, 1.0]).unwrap();
        let error = RidgeParams::default()
            .fit(&features, &[1.0, f64::NAN])
            .unwrap_err();
        assert!(error.to_string().contains("row 1"), "{error}");
        let error = RidgeParams {
            l2: -1.0,
            ..RidgeParams::default()
        }
        .fit(&features, &[1.0, 2.0])
        .unwrap_err();
        assert!(error.to_string().contains("`l2`"), "{error}");
        assert!(RidgeParams::default().fit(&features, &[1.0]).is_err());
    }
}
