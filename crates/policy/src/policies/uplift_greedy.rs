//! Uplift-greedy under a budget: per-action models of a step's net revenue (ridge
//! regressions fitted on a randomised log) give each action's predicted incremental value
//! over doing nothing; a cart gets its best action when that value is positive and its
//! value per unit of expected cost is among the best `contact_budget_share` of carts
//! (largest incremental value per cost first).
//!
//! The per-action models stand in for the uplift learners of `cartback-ml` (T-/X-/DR-
//! learner), which are not wired in yet.

use super::features::feature_vector;
use super::linear_model::RidgeRegression;
use super::linucb::REWARD_SCALE;
use super::{ActionDistribution, N_ACTIONS, Observation, Policy, PolicyError, allowed_actions};
use crate::actions::{ActionCosts, ActionKind};
use crate::simulator::Transition;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpliftGreedyParams {
    /// Largest share of decisions that may contact the shopper.
    pub contact_budget_share: f64,
    pub ridge: f64,
}

impl Default for UpliftGreedyParams {
    fn default() -> Self {
        UpliftGreedyParams {
            contact_budget_share: 0.6,
            ridge: 1.0,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpliftGreedy {
    models: [RidgeRegression; N_ACTIONS],
    costs: ActionCosts,
    /// Smallest value-per-cost ratio that is contacted (±∞ when the budget cuts nothing
    /// or everything; written as text in JSON, which has no infinities).
    #[serde(with = "extended_f64")]
    ratio_threshold: f64,
}

/// Serde for an `f64` that may be infinite: finite values as numbers, infinities as the
/// text `"inf"` / `"-inf"`.
mod extended_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *value {
            v if v.is_finite() => s.serialize_f64(v),
            v if v > 0.0 => s.serialize_str("inf"),
            v if v < 0.0 => s.serialize_str("-inf"),
            _ => Err(serde::ser::Error::custom("NaN cannot be stored")),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Stored::deserialize(d)? {
            Stored::Number(v) => Ok(v),
            Stored::Text(t) if t == "inf" => Ok(f64::INFINITY),
            Stored::Text(t) if t == "-inf" => Ok(f64::NEG_INFINITY),
            Stored::Text(t) => Err(D::Error::custom(format!(
                "expected a number, \"inf\" or \"-inf\", got {t:?}"
            ))),
        }
    }
}

impl UpliftGreedyParams {
    /// Fits the per-action models on `log` (a randomised log: every action is tried) and
    /// sets the budget threshold on the log's states.
    pub fn fit(self, log: &[Transition], costs: ActionCosts) -> Result<UpliftGreedy, PolicyError> {
        if !(0.0..=1.0).contains(&self.contact_budget_share) {
            return Err(PolicyError::Parameter {
                name: "contact_budget_share",
                message: format!("must be in [0, 1], got {}", self.contact_budget_share),
            });
        }
        if log.is_empty() {
            return Err(PolicyError::NoTrainingData { policy: "uplift" });
        }
        let mut models: [RidgeRegression; N_ACTIONS] =
            std::array::from_fn(|_| RidgeRegression::new(self.ridge));
        for t in log {
            models[t.action.index()]
                .update(&feature_vector(&t.state), t.reward_minor / REWARD_SCALE);
        }
        let mut policy = UpliftGreedy {
            models,
            costs,
            ratio_threshold: f64::NEG_INFINITY,
        };
        let mut ratios: Vec<f64> = log
            .iter()
            .filter_map(|t| {
                let (kind, _, ratio) = policy.best(&Observation {
                    state: t.state,
                    truth: None,
                });
                kind.is_contact().then_some(ratio)
            })
            .collect();
        ratios.sort_by(|a, b| b.total_cmp(a));
        let budget = (self.contact_budget_share * log.len() as f64).floor() as usize;
        if budget < ratios.len() {
            policy.ratio_threshold = if budget == 0 {
                f64::INFINITY
            } else {
                ratios[budget - 1]
            };
        }
        Ok(policy)
    }
}

impl UpliftGreedy {
    /// Best action, its predicted uplifts, and its value-per-cost ratio.
    fn best(&self, observation: &Observation<'_>) -> (ActionKind, [f64; N_ACTIONS], f64) {
        let x = feature_vector(&observation.state);
        let allowed = allowed_actions(&observation.state);
        let baseline = self.models[ActionKind::DoNothing.index()].predict(&x);
        let mut uplift = [0.0; N_ACTIONS];
        let mut best = ActionKind::DoNothing;
        for kind in ActionKind::ALL {
            if !allowed[kind.index()] {
                uplift[kind.index()] = f64::NEG_INFINITY;
                continue;
            }
            uplift[kind.index()] =
                (self.models[kind.index()].predict(&x) - baseline) * REWARD_SCALE;
            if uplift[kind.index()] > uplift[best.index()] {
                best = kind;
            }
        }
        let cost = self.costs.expected_cost(
            best,
            observation.state.features.cart_value_minor,
            observation.state.features.predicted_propensity,
        );
        (best, uplift, uplift[best.index()] / cost.max(1.0))
    }
}

impl Policy for UpliftGreedy {
    fn name(&self) -> &str {
        "uplift"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let (best, uplift, ratio) = self.best(observation);
        if !best.is_contact() {
            return ActionDistribution::certain(
                ActionKind::DoNothing,
                uplift,
                "uplift-greedy: no action has a positive predicted uplift".into(),
            );
        }
        if ratio < self.ratio_threshold {
            return ActionDistribution::certain(
                ActionKind::DoNothing,
                uplift,
                format!(
                    "uplift-greedy: {best} uplift per cost {ratio:.2} is below the budget cut {:.2}",
                    self.ratio_threshold
                ),
            );
        }
        ActionDistribution::certain(
            best,
            uplift,
            format!(
                "uplift-greedy: {best} has the largest predicted uplift ({:.0} minor units, {ratio:.2} per unit of cost)",
                uplift[best.index()]
            ),
        )
    }
}
