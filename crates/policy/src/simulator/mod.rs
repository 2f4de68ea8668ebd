//! The shopper simulator: a population of abandoned carts whose owners respond in known,
//! heterogeneous ways (sure things, persuadables, lost causes, sleeping dogs; discount
//! sensitivity, channel preference, time of day, fatigue, unsubscribes), configured by TOML.
//!
//! - `config.rs` / `default_config.toml`: the settings, every field commented;
//! - `environment.rs`: the validated [`Simulator`] and the guardrails every simulated
//!   decision passes through (the engine's own functions), with the daily discount ledger;
//! - `shopper.rs`: drawing shoppers, their observable features (with the history a shop
//!   keeps about returning customers and the session signals of discount seeking) and
//!   shop-side context;
//! - `dynamics.rs`: every outcome of one step's executed action, with its probability;
//! - `exact.rs`: exact expected value of any policy, and the oracle's optimal values;
//! - `bayes.rs`: the Bayes-optimal policy for the observable features (knows the model,
//!   not the shopper): the ceiling of any real policy, a diagnostic;
//! - `episode.rs`: sampled episodes and online training of learning policies;
//! - `comparison.rs`: trains the learned policies, evaluates every policy on fresh shoppers
//!   and reports incremental net revenue with confidence intervals;
//! - `ope_study.rs`: bias and RMSE of the off-policy estimators against exact ground truth.

mod bayes;
mod comparison;
mod config;
mod dynamics;
mod environment;
mod episode;
mod exact;
mod first_touch_log;
mod logged_episodes;
mod ope_study;
mod shopper;

pub use bayes::{
    Revealed, bayes_evaluation, bayes_evaluation_revealed, posterior_first_step_purchase,
};
pub use comparison::{
    ComparisonEvent, ComparisonParams, KNOWN_POLICIES, POLICY_NAMES, PolicySummary,
    SimulationError, compare_policies, compare_policies_with_progress, evaluate, segment_name,
    train_fitted_q,
};
pub use config::{
    ConfigError, DEFAULT_CONFIG_TOML, HistoryConfig, PopulationConfig, ResponseConfig,
    SessionConfig, ShopConfig, SimulatorConfig,
};
pub use dynamics::{
    CartProgress, MAX_STEPS, SentMessage, StepAccounting, StepOutcome, guarded_step,
    nominal_send_at, observe, step_outcomes,
};
pub use environment::{
    DecisionPoint, DiscountLedger, Executed, GUARDRAILS, GuardrailSet, Simulator, guardrail_index,
    guardrail_name, utc_day,
};
pub use episode::{
    OnlineLearner, Transition, log_episodes, run_episode, sample_step, train_online,
};
pub use exact::{
    CartEvaluation, CartExpectation, evaluate_cart, expected_outcome, optimal_action_values,
};
pub use first_touch_log::{SimulatedRound, exact_first_touch_value, simulated_first_touch_rounds};
pub use logged_episodes::simulated_logged_episodes;
pub use ope_study::{EstimatorAccuracy, OpeStudyParams, ope_study};
pub use shopper::{
    CartContext, CartFeatures, CustomerHistory, MAX_EARLIER_MESSAGES, Segment, SessionSignals,
    Shopper, history_likelihood, local_hour, mobile_share, returning_share, sample_history,
    sample_population, sample_session, session_likelihood,
};
