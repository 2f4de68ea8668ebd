//! cartback's machine learning: tabular data and feature schemas, purchase-propensity models
//! (logistic regression, gradient-boosted trees), metrics, calibration, explanations,
//! versioned model files, and uplift learners with their metrics.

pub mod calibration;
pub mod dataset;
pub mod error;
pub mod gbdt;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod training;
pub mod uplift;

pub use error::{MlError, Result};
pub use model::{MODEL_FORMAT, MODEL_FORMAT_VERSION, PropensityModel};
pub use training::{EstimatorSpec, Evaluation, TrainOptions, TrainingReport, train};
