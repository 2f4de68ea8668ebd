//! cartback's machine learning: tabular data and feature schemas, purchase-propensity models
//! (logistic regression, gradient-boosted trees), metrics, calibration, explanations and
//! versioned model files.

pub mod calibration;
pub mod dataset;
pub mod error;
pub mod gbdt;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod training;

pub use error::{MlError, Result};
pub use model::{MODEL_FORMAT, MODEL_FORMAT_VERSION, PropensityModel};
pub use training::{EstimatorSpec, Evaluation, TrainOptions, TrainingReport, train};
