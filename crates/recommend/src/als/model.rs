//! Fitting ALS (alternating user and item sweeps, rayon-parallel over rows, identical for
//! any thread count) and scoring with the fitted factors, including folding a new history
//! or cart into a user vector.

use super::params::{AlsParams, Solver, ValidAlsParams};
use super::solver::{RowProblem, Scratch, row_loss, solve_cholesky, solve_conjugate_gradient};
use crate::error::RecommendError;
use crate::matrix::{Factors, SparseMatrix, dot};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::time::Instant;

/// What happened during a fit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    /// Wall-clock seconds of each iteration (both sweeps).
    pub iteration_seconds: Vec<f64>,
    /// The objective after each iteration, when `track_loss` was set.
    pub loss: Vec<f64>,
    /// Row systems the Cholesky solver could not factor (left unchanged).
    pub failed_solves: u64,
}

impl TrainingReport {
    pub fn total_seconds(&self) -> f64 {
        self.iteration_seconds.iter().sum()
    }

    pub fn seconds_per_iteration(&self) -> f64 {
        self.total_seconds() / self.iteration_seconds.len().max(1) as f64
    }
}

/// A fitted ALS model over dense user and item indices.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlsModel {
    params: AlsParams,
    user_factors: Factors,
    item_factors: Factors,
    report: TrainingReport,
    #[serde(skip)]
    item_gram: OnceLock<Vec<f64>>,
}

impl ValidAlsParams {
    /// Fits on a users × items matrix of raw weights (> 0).
    pub fn fit(&self, user_items: &SparseMatrix) -> Result<AlsModel, RecommendError> {
        let params = &self.0;
        let weighted = params.weighting.apply(user_items);
        let confidences = weighted.map_values(|_, _, w| params.confidence_of(w));
        let item_users = confidences.transpose();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(params.threads)
            .build()
            .map_err(|e| RecommendError::ThreadPool(e.to_string()))?;
        let k = params.factors;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
        let mut random_factors = |rows: usize| {
            let data = (0..rows * k).map(|_| rng.random::<f64>() * 0.01).collect();
            Factors::from_rows(k, data).unwrap_or_else(|| Factors::zeros(rows, k))
        };
        let mut user_factors = random_factors(user_items.rows());
        let mut item_factors = random_factors(user_items.cols());
        let mut report = TrainingReport::default();
        pool.install(|| {
            for _ in 0..params.iterations {
                let started = Instant::now();
                report.failed_solves +=
                    sweep(params, &confidences, &mut user_factors, &item_factors);
                report.failed_solves +=
                    sweep(params, &item_users, &mut item_factors, &user_factors);
                report
                    .iteration_seconds
                    .push(started.elapsed().as_secs_f64());
                if params.track_loss {
                    report
                        .loss
                        .push(loss(params, &confidences, &user_factors, &item_factors));
                }
            }
        });
        Ok(AlsModel {
            params: params.clone(),
            user_factors,
            item_factors,
            report,
            item_gram: OnceLock::new(),
        })
    }
}

/// Re-solves every row of `rows` against `other`. Returns the number of failed solves.
fn sweep(params: &AlsParams, matrix: &SparseMatrix, rows: &mut Factors, other: &Factors) -> u64 {
    let k = params.factors;
    let mut gram = other.gram();
    for d in 0..k {
        gram[d * k + d] += params.regularization;
    }
    rows.as_mut_slice()
        .par_chunks_mut(k)
        .enumerate()
        .map_init(
            || Scratch::new(k),
            |scratch, (row, x)| {
                let (columns, confidences) = if row < matrix.rows() {
                    matrix.row(row)
                } else {
                    (&[][..], &[][..])
                };
                let problem = RowProblem {
                    regularised_gram: &gram,
                    other,
                    columns,
                    confidences,
                };
                match params.solver {
                    Solver::ConjugateGradient { steps } => {
                        solve_conjugate_gradient(&problem, x, steps, scratch);
                        0
                    }
                    Solver::Cholesky => u64::from(!solve_cholesky(&problem, x, scratch)),
                }
            },
        )
        .sum()
}

/// The full objective `Σ_u Σ_i c_ui (p_ui − x_u·y_i)² + λ(Σ‖x_u‖² + Σ‖y_i‖²)` over confidences.
pub(crate) fn loss(
    params: &AlsParams,
    confidences: &SparseMatrix,
    users: &Factors,
    items: &Factors,
) -> f64 {
    let k = params.factors;
    let gram = items.gram();
    let per_user: Vec<f64> = users
        .as_slice()
        .par_chunks(k)
        .enumerate()
        .map_init(
            || vec![0.0; k],
            |buffer, (row, x)| {
                let (columns, confidences) = confidences.row(row);
                let problem = RowProblem {
                    regularised_gram: &gram,
                    other: items,
                    columns,
                    confidences,
                };
                row_loss(&gram, params.regularization, &problem, x, buffer)
            },
        )
        .collect();
    let item_penalty: f64 =
        items.as_slice().iter().map(|v| v * v).sum::<f64>() * params.regularization;
    per_user.iter().sum::<f64>() + item_penalty
}

impl AlsModel {
    pub fn params(&self) -> &AlsParams {
        &self.params
    }

    pub fn report(&self) -> &TrainingReport {
        &self.report
    }

    pub fn user_factors(&self) -> &Factors {
        &self.user_factors
    }

    pub fn item_factors(&self) -> &Factors {
        &self.item_factors
    }

    pub fn users(&self) -> usize {
        self.user_factors.rows()
    }

    pub fn items(&self) -> usize {
        self.item_factors.rows()
    }

    /// Scores of every item for a user vector: `scores[i] = x·y_i`.
    pub fn score_vector(&self, user_vector: &[f64], scores: &mut Vec<f64>) {
        scores.clear();
        scores.extend((0..self.items()).map(|i| dot(user_vector, self.item_factors.row(i))));
    }

    /// Scores of every item for a trained user.
    pub fn score_user(&self, user: u32, scores: &mut Vec<f64>) {
        if (user as usize) < self.users() {
            self.score_vector(self.user_factors.row(user as usize), scores);
        } else {
            scores.clear();
            scores.resize(self.items(), 0.0);
        }
    }

    /// The user vector that best explains `history` (item index, raw weight) against the
    /// fitted item factors: one exact least-squares solve, as `implicit`'s
    /// `recalculate_user`. Used to fold a cart into a known user's taste or to score a
    /// user unseen in training.
    pub fn fold_in(&self, history: &[(u32, f64)]) -> Vec<f64> {
        let k = self.params.factors;
        let gram = self.item_gram.get_or_init(|| {
            let mut gram = self.item_factors.gram();
            for d in 0..k {
                gram[d * k + d] += self.params.regularization;
            }
            gram
        });
        let mut merged: Vec<(u32, f64)> = history
            .iter()
            .copied()
            .filter(|&(i, w)| (i as usize) < self.items() && w > 0.0)
            .collect();
        merged.sort_unstable_by_key(|&(i, _)| i);
        merged.dedup_by(|next, kept| {
            if next.0 == kept.0 {
                kept.1 += next.1;
                true
            } else {
                false
            }
        });
        let columns: Vec<u32> = merged.iter().map(|&(i, _)| i).collect();
        let confidences: Vec<f64> = merged
            .iter()
            .map(|&(_, w)| self.params.confidence_of(w))
            .collect();
        let problem = RowProblem {
            regularised_gram: gram,
            other: &self.item_factors,
            columns: &columns,
            confidences: &confidences,
        };
        let mut x = vec![0.0; k];
        let mut scratch = Scratch::new(k);
        if !solve_cholesky(&problem, &mut x, &mut scratch) {
            solve_conjugate_gradient(&problem, &mut x, k, &mut scratch);
        }
        x
    }
}
