//! Tabular Q-learning over a discretised cart state (predicted propensity and cart value
//! buckets, returning customer, webhook consent, step, messages sent, coupon sent,
//! subscribed, coupon history and e-mail clicks of the customer, a session signal of
//! discount seeking: code typed at checkout or coupon-site arrival), multi-step: the value of
//! an action includes what later steps can still win. Trained on simulated episodes with
//! ε-greedy exploration; acts greedily with an ε floor.

use super::{
    ActionDistribution, N_ACTIONS, Observation, ObservedState, Policy, PolicyError, allowed_actions,
};
use crate::actions::ActionKind;
use crate::simulator::{OnlineLearner, Transition};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QLearningParams {
    /// Step size floor; the step size is `max(1 / visits, learning_rate)`.
    pub learning_rate: f64,
    /// Discount factor between steps.
    pub discount: f64,
    /// Exploration probability (training and the floor when acting).
    pub epsilon: f64,
}

impl Default for QLearningParams {
    fn default() -> Self {
        QLearningParams {
            learning_rate: 0.01,
            discount: 1.0,
            epsilon: 0.05,
        }
    }
}

impl QLearningParams {
    pub fn validate(self) -> Result<QLearning, PolicyError> {
        for (name, value) in [
            ("learning_rate", self.learning_rate),
            ("discount", self.discount),
            ("epsilon", self.epsilon),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(PolicyError::Parameter {
                    name,
                    message: format!("must be in [0, 1], got {value}"),
                });
            }
        }
        Ok(QLearning {
            params: self,
            table: HashMap::new(),
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QLearning {
    params: QLearningParams,
    /// Per discretised state: Q-values (major units) and visit counts per action.
    table: HashMap<u32, ([f64; N_ACTIONS], [u32; N_ACTIONS])>,
}

/// The discretised state key.
pub fn discretise(state: &ObservedState) -> u32 {
    let f = &state.features;
    let propensity = match f.predicted_propensity {
        p if p < 0.01 => 0,
        p if p < 0.04 => 1,
        p if p < 0.15 => 2,
        _ => 3,
    };
    let value = match f.cart_value_minor {
        v if v < 4_000 => 0,
        v if v < 10_000 => 1,
        _ => 2,
    };
    let coupon = match state.coupon_sent_percent {
        0 => 0,
        p if p <= 10 => 1,
        _ => 2,
    };
    let h = &f.history;
    // Coupon history: unknown, orders without a coupon only, at least one coupon order.
    let coupon_user = match (h.orders, h.coupon_orders) {
        (0, _) => 0,
        (_, 0) => 1,
        _ => 2,
    };
    // E-mail engagement: no tracked e-mails, tracked but never clicked, clicked.
    let engaged = match (h.emails, h.email_clicks) {
        (0, _) => 0,
        (_, 0) => 1,
        _ => 2,
    };
    let mut key = propensity;
    for (digit, base) in [
        (value, 3),
        (u32::from(f.returning_customer), 2),
        (u32::from(f.webhook_consent), 2),
        (u32::from(f.email_consent), 2),
        (state.step.min(5) as u32, 6),
        (state.messages_sent.min(3), 4),
        (coupon, 3),
        (u32::from(state.subscribed), 2),
        (coupon_user, 3),
        (engaged, 3),
        (u32::from(f.session.any_discount_seeking()), 2),
    ] {
        key = key * base + digit;
    }
    key
}

impl QLearning {
    fn values(&self, state: &ObservedState) -> [f64; N_ACTIONS] {
        self.table
            .get(&discretise(state))
            .map_or([0.0; N_ACTIONS], |(q, _)| *q)
    }

    fn best_allowed(&self, state: &ObservedState) -> (ActionKind, f64) {
        let q = self.values(state);
        let allowed = allowed_actions(state);
        let mut best = ActionKind::DoNothing;
        for kind in ActionKind::ALL {
            if allowed[kind.index()] && q[kind.index()] > q[best.index()] {
                best = kind;
            }
        }
        (best, q[best.index()])
    }

    /// The same learned table acting with another exploration floor.
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.params.epsilon = epsilon.clamp(0.0, 1.0);
        self
    }

    /// Number of discretised states seen in training.
    pub fn states_visited(&self) -> usize {
        self.table.len()
    }
}

impl Policy for QLearning {
    fn name(&self) -> &str {
        "qlearning"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let state = &observation.state;
        let (best, value) = self.best_allowed(state);
        ActionDistribution::epsilon_greedy(
            best,
            self.params.epsilon,
            &allowed_actions(state),
            self.values(state),
            format!(
                "Q-learning: {best} has the highest learned value ({value:.2}) over the remaining steps"
            ),
        )
    }
}

impl OnlineLearner for QLearning {
    fn learn(&mut self, transition: &Transition) {
        let future = transition
            .next_state
            .map_or(0.0, |next| self.best_allowed(&next).1);
        let target = transition.reward_minor / 100.0 + self.params.discount * future;
        let entry = self
            .table
            .entry(discretise(&transition.state))
            .or_insert(([0.0; N_ACTIONS], [0; N_ACTIONS]));
        let index = transition.action.index();
        entry.1[index] += 1;
        let step = (1.0 / f64::from(entry.1[index])).max(self.params.learning_rate);
        entry.0[index] += step * (target - entry.0[index]);
    }
}
