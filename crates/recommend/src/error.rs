//! The one error type of the recommender crate: bad parameters, bad input files (with the
//! line and field), model files that cannot be read, and requests a model cannot answer.

use std::path::PathBuf;

/// Everything that can go wrong while loading data, fitting, saving or recommending.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// A parameter is outside its valid range; `field` names it as the user wrote it.
    #[error("invalid parameter `{field}`: {reason}")]
    InvalidParameter { field: &'static str, reason: String },

    /// A line of an input file could not be used.
    #[error("{path}: line {line}: field `{field}`: {reason}")]
    BadRecord {
        path: String,
        line: u64,
        field: String,
        reason: String,
    },

    /// The file as a whole cannot be used (missing column, no rows, …).
    #[error("{path}: {reason}")]
    BadInput { path: String, reason: String },

    /// The data cannot be split the way that was asked.
    #[error("cannot split: {0}")]
    Split(String),

    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error("{path}: {cause}")]
    Csv { path: PathBuf, cause: csv::Error },

    #[error("model file {path}: {cause}")]
    ModelFile {
        path: PathBuf,
        cause: serde_json::Error,
    },

    /// A model file written by another format version.
    #[error("model file {path}: format version {found}, this build reads version {expected}")]
    ModelVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    #[error("thread pool: {0}")]
    ThreadPool(String),
}

impl RecommendError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        RecommendError::InvalidParameter {
            field,
            reason: reason.into(),
        }
    }
}
