//! The direct method: the reward model's value of the evaluation policy,
//! `mean(sum_a pi_e(a) q(a))`, ignoring the observed rewards.

use super::error::OpeError;
use super::estimator::{OffPolicyEstimator, OpeInput};

/// Direct method (DM): low variance, biased as much as the reward model is wrong.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectMethod;

impl OffPolicyEstimator for DirectMethod {
    fn name(&self) -> String {
        "dm".into()
    }

    fn round_rewards(&self, input: &OpeInput<'_>) -> Result<Vec<f64>, OpeError> {
        Ok(input
            .model_terms("dm")?
            .iter()
            .map(|t| t.direct_value)
            .collect())
    }
}
