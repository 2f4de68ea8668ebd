//! Implicit-feedback alternating least squares (Hu, Koren and Volinsky, "Collaborative
//! Filtering for Implicit Feedback Datasets", 2008): settings in `params`, the per-row
//! solvers (conjugate gradient and exact Cholesky) in `solver`, fitting and scoring in
//! `model`.

mod model;
mod params;
mod solver;

pub use model::{AlsModel, TrainingReport};
pub use params::{AlsParams, Confidence, Solver, ValidAlsParams};

#[cfg(test)]
mod tests;
