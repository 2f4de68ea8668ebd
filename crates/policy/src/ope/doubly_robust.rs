//! Doubly robust estimators: the direct method plus an importance-weighted correction of
//! the reward model's error on the logged action, `dm + w (r - q(a))`, and the two
//! variants obp 0.4.1 ships: self-normalised (SNDR, the correction divided by `mean(w)`)
//! and Switch-DR (the correction dropped on rounds whose weight exceeds `tau`).

use super::error::OpeError;
use super::estimator::{OffPolicyEstimator, OpeInput, mean};

/// Doubly robust (DR): unbiased if either the propensities or the reward model are right.
#[derive(Clone, Copy, Debug, Default)]
pub struct DoublyRobust;

impl OffPolicyEstimator for DoublyRobust {
    fn name(&self) -> String {
        "dr".into()
    }

    fn round_rewards(&self, input: &OpeInput<'_>) -> Result<Vec<f64>, OpeError> {
        Ok(input
            .model_terms("dr")?
            .iter()
            .map(|t| t.direct_value + t.importance_weight * (t.reward - t.factual_estimate))
            .collect())
    }
}

/// Self-normalised doubly robust (SNDR).
#[derive(Clone, Copy, Debug, Default)]
pub struct SelfNormalizedDoublyRobust;

impl OffPolicyEstimator for SelfNormalizedDoublyRobust {
    fn name(&self) -> String {
        "sndr".into()
    }

    fn round_rewards(&self, input: &OpeInput<'_>) -> Result<Vec<f64>, OpeError> {
        let terms = input.model_terms("sndr")?;
        let weights: Vec<f64> = terms.iter().map(|t| t.importance_weight).collect();
        let mean_weight = mean(&weights);
        if mean_weight <= 0.0 {
            return Err(OpeError::Parameter {
                name: "evaluation_action_dist".into(),
                message: "gives probability 0 to every logged action, so SNDR is undefined".into(),
            });
        }
        Ok(terms
            .iter()
            .map(|t| {
                t.direct_value + t.importance_weight * (t.reward - t.factual_estimate) / mean_weight
            })
            .collect())
    }
}

/// Switch doubly robust: DR on rounds with `w <= tau`, DM alone on the others.
#[derive(Clone, Copy, Debug)]
pub struct SwitchDoublyRobust {
    tau: f64,
}

impl SwitchDoublyRobust {
    /// `tau` must be a non-negative number (`f64::INFINITY` gives DR, 0 gives DM on every
    /// round with a positive weight).
    pub fn new(tau: f64) -> Result<Self, OpeError> {
        if tau.is_nan() || tau < 0.0 {
            return Err(OpeError::Parameter {
                name: "tau".into(),
                message: format!("must be a non-negative number, got {tau}"),
            });
        }
        Ok(SwitchDoublyRobust { tau })
    }

    pub fn tau(&self) -> f64 {
        self.tau
    }
}

impl OffPolicyEstimator for SwitchDoublyRobust {
    fn name(&self) -> String {
        if self.tau.fract() == 0.0 && self.tau.is_finite() {
            format!("switch-dr-{}", self.tau as i64)
        } else {
            format!("switch-dr-{}", self.tau)
        }
    }

    fn round_rewards(&self, input: &OpeInput<'_>) -> Result<Vec<f64>, OpeError> {
        Ok(input
            .model_terms("switch-dr")?
            .iter()
            .map(|t| {
                let correction = if t.importance_weight <= self.tau {
                    t.importance_weight * (t.reward - t.factual_estimate)
                } else {
                    0.0
                };
                t.direct_value + correction
            })
            .collect())
    }
}
