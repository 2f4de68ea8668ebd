//! Logistic regression with an L2 penalty on the weights (not the intercept), fitted by
//! L-BFGS to full convergence or by mini-batch SGD with iterate averaging; optional class
//! weights; deterministic given a seed. Its explanation of a row is exact: wⱼ·xⱼ per input.

use super::lbfgs::{LbfgsParams, minimize};
use crate::dataset::{FeatureMatrix, seeded_rng};
use crate::error::{MlError, Result, invalid_parameter};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How rows of each class are weighted in the loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row weighs 1.
    Uniform,
    /// Each class weighs n / (2 · n_class) so both classes count equally.
    Balanced,
    /// Explicit weights of positive and negative rows.
    Manual { positive: f64, negative: f64 },
}

impl ClassWeight {
    /// The (negative, positive) row weights for these labels.
    pub fn resolve(&self, labels: &[f64]) -> Result<(f64, f64)> {
        match *self {
            ClassWeight::Uniform => Ok((1.0, 1.0)),
            ClassWeight::Balanced => {
                let positives = labels.iter().filter(|&&label| label >= 0.5).count() as f64;
                let negatives = labels.len() as f64 - positives;
                if positives == 0.0 || negatives == 0.0 {
                    return Err(MlError::InvalidData(
                        "balanced class weights need both classes".to_string(),
                    ));
                }
                let rows = labels.len() as f64;
                Ok((rows / (2.0 * negatives), rows / (2.0 * positives)))
            }
            ClassWeight::Manual { positive, negative } => {
                if !(positive > 0.0
                    && positive.is_finite()
                    && negative > 0.0
                    && negative.is_finite())
                {
                    return Err(invalid_parameter(
                        "class_weight",
                        "manual weights must be positive and finite",
                    ));
                }
                Ok((negative, positive))
            }
        }
    }
}

/// The optimiser used to fit the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LogisticSolver {
    /// Quasi-Newton, to full convergence.
    Lbfgs(LbfgsParams),
    /// Mini-batch stochastic gradient descent; step ηₜ = η₀ / √(1 + epoch); the returned
    /// weights average the iterates of the second half of the epochs.
    Sgd {
        epochs: usize,
        batch_size: usize,
        learning_rate: f64,
    },
}

/// Hyper-parameters of a logistic regression, validated by [`LogisticParams::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticParams {
    /// Strength λ of the penalty (λ/2)·‖w‖² added to the weighted mean log-loss.
    pub l2: f64,
    pub class_weight: ClassWeight,
    pub solver: LogisticSolver,
    pub seed: u64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            l2: 1e-4,
            class_weight: ClassWeight::Uniform,
            solver: LogisticSolver::Lbfgs(LbfgsParams::default()),
            seed: 42,
        }
    }
}

/// A fitted logistic regression over encoded inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    pub weights: Vec<f64>,
    pub intercept: f64,
    /// Optimiser iterations (L-BFGS) or epochs (SGD) used.
    pub iterations: usize,
    pub converged: bool,
}

/// Dot product with four independent accumulators (the additions pipeline instead of
/// waiting on each other).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0; 4];
    let (a_chunks, b_chunks) = (a.chunks_exact(4), b.chunks_exact(4));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..4 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    let tail: f64 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// log(1 + eᶻ) and σ(z) from a single exponential, both numerically stable.
#[inline]
fn softplus_and_sigmoid(z: f64) -> (f64, f64) {
    let e = (-z.abs()).exp();
    let softplus = z.max(0.0) + e.ln_1p();
    let sigmoid = if z >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (softplus, sigmoid)
}

/// The logistic function.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn check_training_data(features: &FeatureMatrix, labels: &[f64]) -> Result<()> {
    if features.n_rows != labels.len() {
        return Err(MlError::InvalidData(format!(
            "{} feature rows but {} labels",
            features.n_rows,
            labels.len()
        )));
    }
    if features.n_rows == 0 {
        return Err(MlError::InvalidData("no training rows".to_string()));
    }
    if let Some(position) = labels
        .iter()
        .position(|&label| label != 0.0 && label != 1.0)
    {
        return Err(MlError::InvalidData(format!(
            "label of row {position} is not 0 or 1"
        )));
    }
    if let Some(position) = features.values.iter().position(|value| !value.is_finite()) {
        return Err(MlError::InvalidData(format!(
            "feature {} of row {} is not finite",
            position % features.n_cols,
            position / features.n_cols
        )));
    }
    Ok(())
}

/// The penalised, weighted mean log-loss and its gradient at `parameters` = [w…, b].
/// Public so tests (and curious callers) can check the gradient numerically.
pub fn penalised_loss_and_gradient(
    features: &FeatureMatrix,
    labels: &[f64],
    row_weights: (f64, f64),
    l2: f64,
    parameters: &[f64],
    gradient: &mut [f64],
) -> f64 {
    let n_cols = features.n_cols;
    let (weights, intercept) = (&parameters[..n_cols], parameters[n_cols]);
    const CHUNK: usize = 4096;
    // Fixed chunks summed in order: the result does not depend on thread scheduling.
    let partials: Vec<(f64, f64, Vec<f64>)> = features
        .values
        .par_chunks(CHUNK * n_cols.max(1))
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, chunk_labels)| {
            let mut partial = vec![0.0; n_cols + 1];
            let (mut loss, mut total_weight) = (0.0, 0.0);
            for (row, &label) in rows.chunks_exact(n_cols.max(1)).zip(chunk_labels) {
                let margin = intercept + dot(row, weights);
                let weight = if label >= 0.5 {
                    row_weights.1
                } else {
                    row_weights.0
                };
                let (softplus, probability) = softplus_and_sigmoid(margin);
                loss += weight * (softplus - label * margin);
                total_weight += weight;
                let residual = weight * (probability - label);
                partial[..n_cols]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(g, x)| *g += residual * x);
                partial[n_cols] += residual;
            }
            (loss, total_weight, partial)
        })
        .collect();
    let (mut loss_sum, mut weight_sum, mut gradient_sum) = (0.0, 0.0, vec![0.0; n_cols + 1]);
    for (loss, weight, partial) in partials {
        loss_sum += loss;
        weight_sum += weight;
        gradient_sum
            .iter_mut()
            .zip(&partial)
            .for_each(|(total, value)| *total += value);
    }
    super::average_with_l2(loss_sum, &gradient_sum, weight_sum, weights, l2, gradient)
}

impl LogisticParams {
    /// Checks every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(invalid_parameter(
                "l2",
                format!("must be a finite number ≥ 0, got {}", self.l2),
            ));
        }
        match self.solver {
            LogisticSolver::Lbfgs(params) => params.validate(),
            LogisticSolver::Sgd {
                epochs,
                batch_size,
                learning_rate,
            } => {
                if epochs == 0 {
                    return Err(invalid_parameter("epochs", "must be at least 1"));
                }
                if batch_size == 0 {
                    return Err(invalid_parameter("batch_size", "must be at least 1"));
                }
                if !(learning_rate > 0.0 && learning_rate.is_finite()) {
                    return Err(invalid_parameter(
                        "learning_rate",
                        "must be positive and finite",
                    ));
                }
                Ok(())
            }
        }
    }

    /// Fits a model to encoded features and 0/1 labels.
    pub fn fit(&self, features: &FeatureMatrix, labels: &[f64]) -> Result<LogisticModel> {
        self.validate()?;
        check_training_data(features, labels)?;
        let row_weights = self.class_weight.resolve(labels)?;
        let n_cols = features.n_cols;
        match self.solver {
            LogisticSolver::Lbfgs(params) => {
                let outcome = minimize(
                    |parameters, gradient| {
                        penalised_loss_and_gradient(
                            features,
                            labels,
                            row_weights,
                            self.l2,
                            parameters,
                            gradient,
                        )
                    },
                    vec![0.0; n_cols + 1],
                    &params,
                )?;
                Ok(LogisticModel {
                    weights: outcome.point[..n_cols].to_vec(),
                    intercept: outcome.point[n_cols],
                    iterations: outcome.iterations,
                    converged: outcome.converged,
                })
            }
            LogisticSolver::Sgd {
                epochs,
                batch_size,
                learning_rate,
            } => Ok(self.fit_sgd(
                features,
                labels,
                row_weights,
                epochs,
                batch_size,
                learning_rate,
            )),
        }
    }

    fn fit_sgd(
        &self,
        features: &FeatureMatrix,
        labels: &[f64],
        row_weights: (f64, f64),
        epochs: usize,
        batch_size: usize,
        learning_rate: f64,
    ) -> LogisticModel {
        let n_cols = features.n_cols;
        let mean_weight = labels
            .iter()
            .map(|&label| {
                if label >= 0.5 {
                    row_weights.1
                } else {
                    row_weights.0
                }
            })
            .sum::<f64>()
            / labels.len() as f64;
        let mut rng = seeded_rng(self.seed);
        let mut order: Vec<usize> = (0..features.n_rows).collect();
        let mut parameters = vec![0.0; n_cols + 1];
        let mut averaged = vec![0.0; n_cols + 1];
        let mut averaged_count = 0.0;
        let mut batch_gradient = vec![0.0; n_cols + 1];
        let average_from = epochs / 2;
        for epoch in 0..epochs {
            order.shuffle(&mut rng);
            let step = learning_rate / (1.0 + epoch as f64).sqrt();
            for batch in order.chunks(batch_size) {
                batch_gradient.iter_mut().for_each(|g| *g = 0.0);
                for &row in batch {
                    let x = features.row(row);
                    let margin = parameters[n_cols] + dot(x, &parameters[..n_cols]);
                    let label = labels[row];
                    let weight = if label >= 0.5 {
                        row_weights.1
                    } else {
                        row_weights.0
                    } / mean_weight;
                    let residual = weight * (sigmoid(margin) - label);
                    batch_gradient[..n_cols]
                        .iter_mut()
                        .zip(x)
                        .for_each(|(g, v)| *g += residual * v);
                    batch_gradient[n_cols] += residual;
                }
                let scale = 1.0 / batch.len() as f64;
                for index in 0..=n_cols {
                    let penalty = if index < n_cols {
                        self.l2 * parameters[index]
                    } else {
                        0.0
                    };
                    parameters[index] -= step * (batch_gradient[index] * scale + penalty);
                }
                if epoch >= average_from {
                    averaged_count += 1.0;
                    averaged
                        .iter_mut()
                        .zip(&parameters)
                        .for_each(|(a, p)| *a += (p - *a) / averaged_count);
                }
            }
        }
        LogisticModel {
            weights: averaged[..n_cols].to_vec(),
            intercept: averaged[n_cols],
            iterations: epochs,
            converged: true,
        }
    }
}

impl LogisticModel {
    /// The log-odds of one encoded row.
    pub fn margin(&self, row: &[f64]) -> f64 {
        self.intercept + dot(row, &self.weights)
    }

    /// Each input's exact share of the margin (wⱼ·xⱼ); they sum with the intercept to it.
    pub fn contributions(&self, row: &[f64]) -> Vec<f64> {
        row.iter().zip(&self.weights).map(|(x, w)| x * w).collect()
    }

    /// Purchase probabilities of every row.
    pub fn predict_probabilities(&self, features: &FeatureMatrix) -> Vec<f64> {
        (0..features.n_rows)
            .map(|row| sigmoid(self.margin(features.row(row))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// A separable-with-noise problem with known true weights.
    fn synthetic(rows: usize, seed: u64) -> (FeatureMatrix, Vec<f64>) {
        let mut rng = seeded_rng(seed);
        let true_weights = [1.5, -2.0, 0.5];
        let mut values = Vec::with_capacity(rows * 3);
        let mut labels = Vec::with_capacity(rows);
        for _ in 0..rows {
            let x: Vec<f64> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
            let margin = 0.3 + x.iter().zip(&true_weights).map(|(a, b)| a * b).sum::<f64>();
            labels.push(if rng.random::<f64>() < sigmoid(margin) {
                1.0
            } else {
                0.0
            });
            values.extend(x);
        }
        (FeatureMatrix::new(rows, 3, values).unwrap(), labels)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (features, labels) = synthetic(200, 3);
        let parameters = vec![0.3, -0.7, 1.1, 0.2];
        let mut gradient = vec![0.0; 4];
        penalised_loss_and_gradient(
            &features,
            &labels,
            (1.0, 3.0),
            0.1,
            &parameters,
            &mut gradient,
        );
        for index in 0..4 {
            let h = 1e-6;
            let mut up = parameters.clone();
            up[index] += h;
            let mut down = parameters.clone();
            down[index] -= h;
            let mut scratch = vec![0.0; 4];
            let numeric = (penalised_loss_and_gradient(
                &features,
                &labels,
                (1.0, 3.0),
                0.1,
                &up,
                &mut scratch,
            ) - penalised_loss_and_gradient(
                &features,
                &labels,
                (1.0, 3.0),
                0.1,
                &down,
                &mut scratch,
            )) / (2.0 * h);
            assert!(
                (numeric - gradient[index]).abs() < 1e-7,
                "input {index}: {numeric} vs {}",
                gradient[index]
            );
        }
    }

    #[test]
    fn lbfgs_recovers_the_true_weights_and_converges() {
        let (features, labels) = synthetic(20_000, 5);
        let model = LogisticParams {
            l2: 0.0,
            ..LogisticParams::default()
        }
        .fit(&features, &labels)
        .unwrap();
        assert!(model.converged);
        let expected = [1.5, -2.0, 0.5];
        for (fitted, truth) in model.weights.iter().zip(expected) {
            assert!((fitted - truth).abs() < 0.15, "{:?}", model.weights);
        }
        assert!((model.intercept - 0.3).abs() < 0.1);
    }

    #[test]
    fn sgd_agrees_with_lbfgs_on_a_convex_problem() {
        let (features, labels) = synthetic(5_000, 9);
        let lbfgs = LogisticParams {
            l2: 0.01,
            ..LogisticParams::default()
        }
        .fit(&features, &labels)
        .unwrap();
        let sgd_params = LogisticParams {
            l2: 0.01,
            solver: LogisticSolver::Sgd {
                epochs: 60,
                batch_size: 32,
                learning_rate: 0.5,
            },
            ..LogisticParams::default()
        };
        let sgd = sgd_params.fit(&features, &labels).unwrap();
        for (a, b) in sgd.weights.iter().zip(&lbfgs.weights) {
            assert!(
                (a - b).abs() < 0.03,
                "sgd {:?} vs lbfgs {:?}",
                sgd.weights,
                lbfgs.weights
            );
        }
        assert!((sgd.intercept - lbfgs.intercept).abs() < 0.03);
        assert_eq!(
            sgd,
            sgd_params.fit(&features, &labels).unwrap(),
            "same seed, same model"
        );
        let other_seed = LogisticParams {
            seed: 7,
            ..sgd_params
        }
        .fit(&features, &labels)
        .unwrap();
        assert_ne!(sgd.weights, other_seed.weights);
    }

    #[test]
    fn class_weights_raise_the_minority_probability() {
        let (features, labels) = synthetic(2_000, 11);
        let plain = LogisticParams::default().fit(&features, &labels).unwrap();
        let heavy = LogisticParams {
            class_weight: ClassWeight::Manual {
                positive: 5.0,
                negative: 1.0,
            },
            ..LogisticParams::default()
        }
        .fit(&features, &labels)
        .unwrap();
        assert!(heavy.intercept > plain.intercept + 1.0);
    }

    #[test]
    fn contributions_sum_to_the_margin_and_bad_params_are_rejected() {
        let model = LogisticModel {
            weights: vec![2.0, -1.0],
            intercept: 0.5,
            iterations: 0,
            converged: true,
        };
        let row = [0.25, 3.0];
        let total: f64 = model.contributions(&row).iter().sum::<f64>() + model.intercept;
        assert!((total - model.margin(&row)).abs() < 1e-12);
        let (features, labels) = synthetic(10, 1);
        let error = LogisticParams {
            l2: -1.0,
            ..LogisticParams::default()
        }
        .fit(&features, &labels)
        .unwrap_err();
        assert!(error.to_string().contains("`l2`"));
    }
}
