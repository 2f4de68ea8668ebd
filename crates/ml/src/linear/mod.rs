//! Linear propensity models: logistic regression ([`logistic`]) and the L-BFGS minimiser it
//! uses ([`lbfgs`]); ridge regression ([`ridge`]) for continuous targets.

pub mod lbfgs;
pub mod logistic;
pub mod ridge;

pub use lbfgs::{LbfgsOutcome, LbfgsParams, minimize};
pub use logistic::{ClassWeight, LogisticModel, LogisticParams, LogisticSolver, sigmoid};
pub use ridge::{RidgeModel, RidgeParams};
