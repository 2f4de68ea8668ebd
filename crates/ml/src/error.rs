//! The error type of the `ml` crate: every failure names the field, column or line it is about.

use std::path::PathBuf;

/// Everything that can go wrong while loading data, fitting, scoring or (de)serialising a model.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The data file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CSV reader rejected the file (bad quoting, uneven row lengths, invalid UTF-8).
    #[error("{path}: line {line}: {message}")]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A column the caller named (label, time, categorical) or the model needs is absent.
    #[error("column `{column}` is missing{context}")]
    MissingColumn { column: String, context: String },
    /// A cell does not have the type the column needs.
    #[error("column `{column}`, line {line}: {message} (value `{value}`)")]
    BadValue {
        column: String,
        line: u64,
        value: String,
        message: String,
    },
    /// A hyper-parameter or option is out of its valid range.
    #[error("invalid parameter `{name}`: {message}")]
    InvalidParameter { name: &'static str, message: String },
    /// The data cannot be used for this operation (too few rows, one class only, ...).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// A model file is malformed, of another format or of an unsupported version.
    #[error("model file: {0}")]
    ModelFile(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, MlError>;

pub(crate) fn invalid_parameter(name: &'static str, message: impl Into<String>) -> MlError {
    MlError::InvalidParameter {
        name,
        message: message.into(),
    }
}
