//! Uniformly random choice among the allowed actions: the logging policy of randomised
//! experiments (training logs for uplift models, off-policy studies).

use super::{ActionDistribution, N_ACTIONS, Observation, Policy, allowed_actions};

#[derive(Clone, Copy, Debug, Default)]
pub struct UniformRandom;

impl Policy for UniformRandom {
    fn name(&self) -> &str {
        "random"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let allowed = allowed_actions(&observation.state);
        let n = allowed.iter().filter(|&&a| a).count().max(1) as f64;
        let probabilities: [f64; N_ACTIONS] =
            std::array::from_fn(|i| if allowed[i] { 1.0 / n } else { 0.0 });
        ActionDistribution {
            probabilities,
            scores: [0.0; N_ACTIONS],
            reason: "uniformly random among allowed actions".into(),
        }
    }
}
