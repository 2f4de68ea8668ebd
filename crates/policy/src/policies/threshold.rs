//! The propensity-threshold policy: run the fixed flow only for carts whose predicted
//! purchase probability is below a threshold (likely buyers are left alone).

use super::fixed_flow::FixedFlow;
use super::{ActionDistribution, N_ACTIONS, Observation, Policy, PolicyError};
use crate::actions::ActionKind;

#[derive(Clone, Debug)]
pub struct PropensityThreshold {
    threshold: f64,
    flow: FixedFlow,
}

impl PropensityThreshold {
    /// `threshold` in `(0, 1]`.
    pub fn new(threshold: f64, flow: FixedFlow) -> Result<Self, PolicyError> {
        if !(threshold > 0.0 && threshold <= 1.0) {
            return Err(PolicyError::Parameter {
                name: "threshold",
                message: format!("must be in (0, 1], got {threshold}"),
            });
        }
        Ok(PropensityThreshold { threshold, flow })
    }
}

impl Policy for PropensityThreshold {
    fn name(&self) -> &str {
        "threshold"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let p = observation.state.features.predicted_propensity;
        let mut scores = [0.0; N_ACTIONS];
        scores[ActionKind::DoNothing.index()] = p;
        if p >= self.threshold {
            return ActionDistribution::certain(
                ActionKind::DoNothing,
                scores,
                format!(
                    "predicted purchase probability {p:.3} ≥ {:.3}: leave alone",
                    self.threshold
                ),
            );
        }
        let (kind, reason) = self.flow.planned(observation);
        ActionDistribution::certain(
            kind,
            scores,
            format!(
                "predicted purchase probability {p:.3} < {:.3}; {reason}",
                self.threshold
            ),
        )
    }
}
