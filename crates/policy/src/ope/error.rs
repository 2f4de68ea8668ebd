//! The one error type of off-policy evaluation: every variant names the field, and the line
//! or round where the input was wrong.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum OpeError {
    /// A value in an input file is missing or malformed.
    #[error("line {line}: field `{field}`: {message}")]
    Field {
        line: usize,
        field: String,
        message: String,
    },
    /// The input file could not be read or parsed as a whole.
    #[error("{what}: {message}")]
    File { what: String, message: String },
    /// A table (evaluation policy or reward model) is malformed.
    #[error("`{field}`: {message}")]
    Table { field: String, message: String },
    /// The log and the tables disagree (an action or position out of range, a round count).
    #[error("round {round}: {message}")]
    Mismatch { round: usize, message: String },
    /// A parameter is out of its range.
    #[error("parameter `{name}`: {message}")]
    Parameter { name: String, message: String },
    /// The log has no rounds.
    #[error("the log has no rounds")]
    EmptyLog,
    /// An estimator that needs a reward model was given none.
    #[error("estimator `{estimator}` needs a reward model")]
    MissingRewardModel { estimator: String },
}
