//! LinUCB: one ridge model of a step's net revenue per action; picks the action with the
//! largest upper confidence bound `θᵀx + α √(xᵀA⁻¹x)`, with an ε floor so every allowed
//! action keeps a positive propensity.

use super::features::feature_vector;
use super::linear_model::RidgeRegression;
use super::{ActionDistribution, N_ACTIONS, Observation, Policy, PolicyError, allowed_actions};
use crate::actions::ActionKind;
use crate::simulator::{OnlineLearner, Transition};
use serde::{Deserialize, Serialize};

/// Rewards are learned in major units (minor / 100) to keep the ridge prior sensible.
pub(crate) const REWARD_SCALE: f64 = 100.0;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinUcbParams {
    /// Width of the confidence bonus.
    pub alpha: f64,
    /// Exploration floor: total probability spread over the allowed actions.
    pub epsilon: f64,
    /// Ridge prior precision.
    pub ridge: f64,
}

impl Default for LinUcbParams {
    fn default() -> Self {
        LinUcbParams {
            alpha: 0.5,
            epsilon: 0.05,
            ridge: 1.0,
        }
    }
}

impl LinUcbParams {
    pub fn validate(self) -> Result<LinUcb, PolicyError> {
        check_params(self.alpha, self.epsilon, self.ridge)?;
        Ok(LinUcb {
            params: self,
            models: std::array::from_fn(|_| RidgeRegression::new(self.ridge)),
        })
    }
}

pub(crate) fn check_params(spread: f64, epsilon: f64, ridge: f64) -> Result<(), PolicyError> {
    if !(spread.is_finite() && spread >= 0.0) {
        return Err(PolicyError::Parameter {
            name: "alpha",
            message: format!("must be a non-negative number, got {spread}"),
        });
    }
    if !(0.0..=1.0).contains(&epsilon) {
        return Err(PolicyError::Parameter {
            name: "epsilon",
            message: format!("must be in [0, 1], got {epsilon}"),
        });
    }
    if !(ridge > 0.0 && ridge.is_finite()) {
        return Err(PolicyError::Parameter {
            name: "ridge",
            message: format!("must be positive, got {ridge}"),
        });
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinUcb {
    params: LinUcbParams,
    models: [RidgeRegression; N_ACTIONS],
}

impl LinUcb {
    pub fn models(&self) -> &[RidgeRegression; N_ACTIONS] {
        &self.models
    }

    /// The same models acting greedily on their mean predictions: no confidence bonus, no
    /// exploration floor (for evaluation after training).
    pub fn greedy(mut self) -> Self {
        self.params.alpha = 0.0;
        self.params.epsilon = 0.0;
        self
    }
}

impl OnlineLearner for LinUcb {
    fn learn(&mut self, transition: &Transition) {
        let x = feature_vector(&transition.state);
        self.models[transition.action.index()].update(&x, transition.reward_minor / REWARD_SCALE);
    }
}

impl Policy for LinUcb {
    fn name(&self) -> &str {
        "linucb"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let x = feature_vector(&observation.state);
        let allowed = allowed_actions(&observation.state);
        let mut scores = [f64::NEG_INFINITY; N_ACTIONS];
        let mut best = ActionKind::DoNothing;
        for kind in ActionKind::ALL {
            if !allowed[kind.index()] {
                continue;
            }
            let model = &self.models[kind.index()];
            scores[kind.index()] =
                model.predict(&x) + self.params.alpha * model.uncertainty(&x).sqrt();
            if scores[kind.index()] > scores[best.index()] {
                best = kind;
            }
        }
        ActionDistribution::epsilon_greedy(
            best,
            self.params.epsilon,
            &allowed,
            scores,
            format!(
                "LinUCB: {best} has the highest upper bound ({:.2}) on the step's net revenue",
                scores[best.index()]
            ),
        )
    }
}
