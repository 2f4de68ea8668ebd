//! A policy that lets one policy take each cart's first decision step and another every later
//! step: the policy whose value a first-touch round of `cartback decisions export` estimates
//! (the evaluated policy first, the rest of each flow as the deployed policy ran it).

use super::{ActionDistribution, Observation, Policy};

/// `first` decides step 0, `rest` every later step.
pub struct FirstTouch<'a> {
    pub first: &'a dyn Policy,
    pub rest: &'a dyn Policy,
}

impl Policy for FirstTouch<'_> {
    fn name(&self) -> &str {
        "first-touch"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        if observation.state.step == 0 {
            self.first.distribution(observation)
        } else {
            self.rest.distribution(observation)
        }
    }
}
