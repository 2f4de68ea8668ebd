//! Linear propensity models: logistic regression ([`logistic`]) and the L-BFGS minimiser it
//! uses ([`lbfgs`]); ridge regression ([`ridge`]) for continuous targets.

pub mod lbfgs;
pub mod logistic;
pub mod ridge;

pub use lbfgs::{LbfgsOutcome, LbfgsParams, minimize};
pub use logistic::{ClassWeight, LogisticModel, LogisticParams, LogisticSolver, sigmoid};
pub use ridge::{RidgeModel, RidgeParams};

/// The regularised objective of the linear models from summed per-row parts: loss and
/// gradient averaged over `total` (rows or total sample weight), plus the L2 penalty
/// ½·l2·‖w‖² on the weights (the last gradient entry, the intercept, is not penalised).
/// Writes the gradient and returns the objective.
pub(crate) fn average_with_l2(
    loss_sum: f64,
    gradient_sum: &[f64],
    total: f64,
    weights: &[f64],
    l2: f64,
    gradient: &mut [f64],
) -> f64 {
    let n_cols = weights.len();
    let mut penalty = 0.0;
    for (index, g) in gradient.iter_mut().enumerate() {
        *g = gradient_sum[index] / total;
        if index < n_cols {
            *g += l2 * weights[index];
            penalty += weights[index] * weights[index];
        }
    }
    loss_sum / total + 0.5 * l2 * penalty
}
