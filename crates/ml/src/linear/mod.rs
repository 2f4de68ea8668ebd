//! Linear propensity models: logistic regression ([`logistic`]) and the L-BFGS minimiser it
//! uses ([`lbfgs`]).

pub mod lbfgs;
pub mod logistic;

pub use lbfgs::{LbfgsOutcome, LbfgsParams, minimize};
pub use logistic::{ClassWeight, LogisticModel, LogisticParams, LogisticSolver, sigmoid};
