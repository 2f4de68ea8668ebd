//! Policies: given what is known about an abandoned cart at a decision step, which action
//! to take. Every policy implements [`Policy`], returning a probability for every action
//! (so the chosen action's propensity is always known and logs can be evaluated
//! off-policy), a score per action and a reason.
//!
//! - `fixed_flow.rs`: e-mail at 1 h and 24 h, 10 % coupon at 72 h (the common default);
//! - `threshold.rs`: the fixed flow only for carts below a predicted purchase probability;
//! - `uplift_greedy.rs`: largest predicted incremental value per cost, under a budget;
//! - `linucb.rs`, `thompson.rs`: contextual bandits with an ε floor;
//! - `q_learning.rs`: tabular Q-learning over a discretised multi-step cart state;
//! - `fitted_q.rs`: model-based fitted Q — gradient-boosted purchase models per action and
//!   exact planning over the observable next states, with a coupon shadow price;
//! - `dqn.rs` (cargo feature `dqn`): a deep Q-network over the full feature vector;
//! - `uniform_random.rs`: the randomised logging policy;
//! - `exploring.rs`: any policy with a share of uniformly random decisions (live exploration);
//! - `oracle.rs`: the simulator's optimum, which knows every shopper's true response;
//! - `features.rs` and `linear_model.rs`: what the learned policies share.

#[cfg(feature = "dqn")]
mod dqn;
mod exploring;
mod features;
mod first_touch;
mod fitted_q;
mod fixed_flow;
mod linear_model;
mod linucb;
mod oracle;
mod q_learning;
mod thompson;
mod threshold;
mod uniform_random;
mod uplift_greedy;

#[cfg(feature = "dqn")]
pub use dqn::{Dqn, DqnParams};
pub use exploring::Exploring;
pub use features::{FEATURE_DIMENSION, feature_vector};
pub use first_touch::FirstTouch;
pub use fitted_q::{FittedQ, FittedQParams, PLANNER_FEATURES, planner_features};
pub use fixed_flow::{DoNothing, FixedFlow};
pub use linear_model::RidgeRegression;
pub use linucb::{LinUcb, LinUcbParams};
pub use oracle::Oracle;
pub use q_learning::{QLearning, QLearningParams, discretise};
pub use thompson::{LinearThompson, LinearThompsonParams};
pub use threshold::PropensityThreshold;
pub use uniform_random::{BudgetedRandom, UniformRandom};
pub use uplift_greedy::{UpliftGreedy, UpliftGreedyParams};

use crate::actions::ActionKind;
use crate::simulator::{
    CartFeatures, CartProgress, DiscountLedger, Shopper, Simulator, SimulatorConfig,
};
use cartback_core::{Duration, Timestamp};
use rand::RngExt;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Number of actions ([`ActionKind::ALL`]).
pub const N_ACTIONS: usize = ActionKind::ALL.len();

#[derive(Debug, Error, PartialEq)]
pub enum PolicyError {
    #[error("policy parameter `{name}`: {message}")]
    Parameter { name: &'static str, message: String },
    #[error("policy `{policy}` needs training data")]
    NoTrainingData { policy: &'static str },
}

/// What the engine knows about a cart at a decision step (recorded with every decision of
/// the live engine, see [`crate::ope::LoggedState`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedState {
    pub features: CartFeatures,
    /// Decision step, `0..n_steps`.
    pub step: usize,
    pub n_steps: usize,
    pub abandoned_at: Timestamp,
    /// When a message of this step would be sent.
    pub send_at: Timestamp,
    /// Local hour at which a message of this step would arrive.
    pub send_hour_local: u32,
    pub messages_sent: u32,
    /// Largest coupon sent so far, percent.
    pub coupon_sent_percent: u32,
    /// False once the shopper has unsubscribed.
    pub subscribed: bool,
}

/// The hidden truth, handed only to the oracle inside the simulator.
#[derive(Clone, Copy, Debug)]
pub struct HiddenTruth<'a> {
    pub shopper: &'a Shopper,
    pub progress: CartProgress,
    pub config: &'a SimulatorConfig,
    /// The guarded environment (config, guardrails, calendar).
    pub simulator: &'a Simulator,
    /// Coupons other carts issued (the daily discount budget's state).
    pub ledger: &'a DiscountLedger,
}

/// A policy's input.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    pub state: ObservedState,
    /// `Some` only inside the simulator; only [`Oracle`] reads it.
    pub truth: Option<HiddenTruth<'a>>,
}

/// A policy's full answer: probability and score of every action, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionDistribution {
    pub probabilities: [f64; N_ACTIONS],
    pub scores: [f64; N_ACTIONS],
    pub reason: String,
}

impl ActionDistribution {
    /// All mass on `kind`.
    pub fn certain(kind: ActionKind, scores: [f64; N_ACTIONS], reason: String) -> Self {
        let mut probabilities = [0.0; N_ACTIONS];
        probabilities[kind.index()] = 1.0;
        ActionDistribution {
            probabilities,
            scores,
            reason,
        }
    }

    /// Greedy choice of `best` with an ε floor: every allowed action keeps at least
    /// `epsilon / allowed` probability, so propensities stay positive.
    pub fn epsilon_greedy(
        best: ActionKind,
        epsilon: f64,
        allowed: &[bool; N_ACTIONS],
        scores: [f64; N_ACTIONS],
        reason: String,
    ) -> Self {
        let n_allowed = allowed.iter().filter(|&&a| a).count().max(1);
        let mut probabilities = [0.0; N_ACTIONS];
        for (index, p) in probabilities.iter_mut().enumerate() {
            if allowed[index] {
                *p = epsilon / n_allowed as f64;
            }
        }
        probabilities[best.index()] += 1.0 - probabilities.iter().sum::<f64>();
        ActionDistribution {
            probabilities,
            scores,
            reason,
        }
    }

    /// The most probable action.
    pub fn mode(&self) -> ActionKind {
        let mut best = 0;
        for (index, p) in self.probabilities.iter().enumerate() {
            if *p > self.probabilities[best] {
                best = index;
            }
        }
        ActionKind::ALL[best]
    }
}

/// A decision: the action, when to send it, the probability the policy chose it with,
/// every action's score and the reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyDecision {
    pub action: ActionKind,
    pub send_at: Timestamp,
    pub propensity: f64,
    pub scores: [f64; N_ACTIONS],
    pub reason: String,
}

/// Actions whose channel the shopper consented to and can still receive.
pub fn allowed_actions(state: &ObservedState) -> [bool; N_ACTIONS] {
    let mut allowed = [false; N_ACTIONS];
    for kind in ActionKind::ALL {
        allowed[kind.index()] = match kind.channel() {
            None => true,
            Some(_) if !state.subscribed => false,
            Some(crate::actions::Channel::Email) => state.features.email_consent,
            Some(crate::actions::Channel::Webhook) => state.features.webhook_consent,
        };
    }
    allowed
}

/// A way of deciding what to do about an abandoned cart.
pub trait Policy {
    fn name(&self) -> &str;

    /// Probability and score of every action in this state.
    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution;

    /// Draws an action from [`distribution`](Self::distribution).
    fn decide(&self, observation: &Observation<'_>, rng: &mut SmallRng) -> PolicyDecision {
        let distribution = self.distribution(observation);
        let mut u: f64 = rng.random();
        let mut chosen = distribution.mode();
        for kind in ActionKind::ALL {
            let p = distribution.probabilities[kind.index()];
            if p > 0.0 && u < p {
                chosen = kind;
                break;
            }
            u -= p;
        }
        PolicyDecision {
            action: chosen,
            send_at: observation.state.send_at,
            propensity: distribution.probabilities[chosen.index()],
            scores: distribution.scores,
            reason: distribution.reason,
        }
    }
}

/// The delay of step `step` under `config`.
pub fn step_delay(config: &SimulatorConfig, step: usize) -> Duration {
    Duration::hours(i64::from(config.step_delays_hours[step]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_floor_keeps_allowed_actions_positive_and_sums_to_one() {
        let mut allowed = [true; N_ACTIONS];
        allowed[ActionKind::WebhookPush.index()] = false;
        let d = ActionDistribution::epsilon_greedy(
            ActionKind::Discount10,
            0.07,
            &allowed,
            [0.0; N_ACTIONS],
            "test".into(),
        );
        assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(d.probabilities[ActionKind::WebhookPush.index()], 0.0);
        assert!((d.probabilities[ActionKind::DoNothing.index()] - 0.01).abs() < 1e-12);
        assert!((d.probabilities[ActionKind::Discount10.index()] - 0.94).abs() < 1e-12);
        assert_eq!(d.mode(), ActionKind::Discount10);
    }
}
