//! The shopper simulator: a population of abandoned carts whose owners respond in known,
//! heterogeneous ways (sure things, persuadables, lost causes, sleeping dogs; discount
//! sensitivity, channel preference, time of day, fatigue, unsubscribes), configured by TOML.
//!
//! - `config.rs` / `default_config.toml`: the settings, every field commented;
//! - `shopper.rs`: drawing shoppers and their observable features;
//! - `dynamics.rs`: every outcome of one step's action, with its probability;
//! - `exact.rs`: exact expected value of any policy, and the oracle's optimal values;
//! - `episode.rs`: sampled episodes and online training of learning policies;
//! - `comparison.rs`: trains the learned policies, evaluates every policy on fresh shoppers
//!   and reports incremental net revenue with confidence intervals;
//! - `ope_study.rs`: bias and RMSE of the off-policy estimators against exact ground truth.

mod comparison;
mod config;
mod dynamics;
mod episode;
mod exact;
mod ope_study;
mod shopper;

pub use comparison::{
    ComparisonParams, POLICY_NAMES, PolicySummary, SimulationError, compare_policies,
};
pub use config::{
    ConfigError, DEFAULT_CONFIG_TOML, PopulationConfig, ResponseConfig, SimulatorConfig,
};
pub use dynamics::{CartProgress, StepAccounting, StepOutcome, observe, step_outcomes};
pub use episode::{OnlineLearner, Transition, run_episode, sample_step, train_online};
pub use exact::{CartExpectation, expected_outcome, optimal_action_values};
pub use ope_study::{EstimatorAccuracy, OpeStudyParams, ope_study};
pub use shopper::{CartFeatures, Segment, Shopper, sample_population};
