//! Off-policy evaluation: estimate how a new policy would have done from a log of decisions
//! made by another (the behaviour policy), given the probability of every logged choice.
//!
//! The estimators follow Open Bandit Pipeline (obp) 0.4.1 term by term, so that the same
//! inputs give the same numbers (checked to 1e-9 on the Open Bandit Dataset):
//! - [`InverseProbabilityWeighting`] and [`SelfNormalizedInverseProbabilityWeighting`]
//!   (`importance_weighting.rs`),
//! - [`DirectMethod`] (`direct_method.rs`),
//! - [`DoublyRobust`], [`SelfNormalizedDoublyRobust`] and [`SwitchDoublyRobust`]
//!   (`doubly_robust.rs`),
//! - percentile [`Bootstrap`] confidence intervals over the per-round rewards (`bootstrap.rs`).
//!
//! Inputs: a [`LoggedFeedback`] (read from the Open Bandit Dataset CSV by `obd_csv.rs` or from
//! cartback's decision log by `cartback_log.rs`), an [`EvaluationPolicy`] and a
//! [`RewardModel`] (tables per action and position, read by `policy_file.rs`).
//!
//! cartback's own policies on the live engine's log (`cartback_log.rs`): the exported rounds
//! carry the state the engine's policy saw ([`LoggedState`]), so any [`crate::policies::Policy`]
//! gives a per-round table ([`policy_action_dist`]) and a reward model can be fitted on the
//! log, cross-fitted ([`fit_reward_model`]).

mod bootstrap;
mod cartback_log;
mod direct_method;
mod doubly_robust;
mod error;
mod estimator;
mod evaluation;
mod importance_weighting;
mod logged_feedback;
mod obd_csv;
mod policy_file;
mod tables;

pub(crate) use bootstrap::percentile_sorted;
pub use bootstrap::{Bootstrap, BootstrapParams, ConfidenceInterval};
pub use cartback_log::{
    CartbackLog, CartbackRound, LoggedState, MIN_ROUNDS_PER_ACTION, builtin_policy,
    fit_reward_model, policy_action_dist, read_cartback_log,
};
pub use direct_method::DirectMethod;
pub use doubly_robust::{DoublyRobust, SelfNormalizedDoublyRobust, SwitchDoublyRobust};
pub use error::OpeError;
pub use estimator::{OffPolicyEstimator, OpeInput, RoundTerms};
pub use evaluation::{OpeReport, evaluate_standard_estimators};
pub use importance_weighting::{
    InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting,
};
pub use logged_feedback::{LoggedFeedback, LoggedRound, PROPENSITY_ROUNDING};
pub use obd_csv::read_obd_csv;
pub use policy_file::{read_evaluation_policy, read_reward_model};
pub use tables::{ActionTable, EvaluationPolicy, RewardModel};
