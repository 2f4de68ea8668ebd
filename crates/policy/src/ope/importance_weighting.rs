//! Importance-weighting estimators: IPW (`mean(w r)`) and its self-normalised variant
//! SNIPW (`mean(w r) / mean(w)`), as in obp 0.4.1.

use super::error::OpeError;
use super::estimator::{OffPolicyEstimator, OpeInput, mean};

/// Inverse probability weighting: unbiased when the logged propensities are right, with a
/// variance that grows with the importance weights.
#[derive(Clone, Copy, Debug, Default)]
pub struct InverseProbabilityWeighting;

impl OffPolicyEstimator for InverseProbabilityWeighting {
    fn name(&self) -> String {
        "ipw".into()
    }

    fn round_rewards(&self, input: &OpeInput<'_>) -> Result<Vec<f64>, OpeError> {
        Ok(input
            .importance_terms()
            .iter()
            .map(|t| t.reward * t.importance_weight)
            .collect())
    }
}

/// Self-normalised IPW: divides every weighted reward by the mean weight of the whole log
/// (obp normalises once, before bootstrapping).
#[derive(Clone, Copy, Debug, Default)]
pub struct SelfNormalizedInverseProbabilityWeighting;

impl OffPolicyEstimator for SelfNormalizedInverseProbabilityWeighting {
    fn name(&self) -> String {
        "snipw".into()
    }

    fn round_rewards(&self, input: &OpeInput<'_>) -> Result<Vec<f64>, OpeError> {
        let terms = input.importance_terms();
        let weights: Vec<f64> = terms.iter().map(|t| t.importance_weight).collect();
        let mean_weight = mean(&weights);
        if mean_weight <= 0.0 {
            return Err(OpeError::Parameter {
                name: "evaluation_action_dist".into(),
                message: "gives probability 0 to every logged action, so SNIPW is undefined".into(),
            });
        }
        Ok(terms
            .iter()
            .map(|t| t.reward * t.importance_weight / mean_weight)
            .collect())
    }
}
