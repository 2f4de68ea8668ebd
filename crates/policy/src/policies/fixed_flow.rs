//! Rule-based flows: [`DoNothing`] (the baseline every incremental figure is measured
//! against) and [`FixedFlow`], the common default of e-mail at 1 h and 24 h and a 10 %
//! coupon at 72 h.

use super::{ActionDistribution, N_ACTIONS, Observation, Policy, allowed_actions};
use crate::actions::ActionKind;

/// Never contacts anyone.
#[derive(Clone, Copy, Debug, Default)]
pub struct DoNothing;

impl Policy for DoNothing {
    fn name(&self) -> &str {
        "nothing"
    }

    fn distribution(&self, _observation: &Observation<'_>) -> ActionDistribution {
        ActionDistribution::certain(
            ActionKind::DoNothing,
            [0.0; N_ACTIONS],
            "baseline: never contact".into(),
        )
    }
}

/// The same action at every step for every cart.
#[derive(Clone, Debug)]
pub struct FixedFlow {
    steps: Vec<ActionKind>,
}

impl Default for FixedFlow {
    /// Reminder at 1 h, reminder at 24 h, 10 % coupon at 72 h.
    fn default() -> Self {
        FixedFlow {
            steps: vec![
                ActionKind::ReminderEmail,
                ActionKind::ReminderEmail,
                ActionKind::Discount10,
            ],
        }
    }
}

impl FixedFlow {
    /// One action per decision step; later steps do nothing.
    pub fn new(steps: Vec<ActionKind>) -> Self {
        FixedFlow { steps }
    }

    pub(crate) fn planned(&self, observation: &Observation<'_>) -> (ActionKind, String) {
        let state = &observation.state;
        let planned = self
            .steps
            .get(state.step)
            .copied()
            .unwrap_or(ActionKind::DoNothing);
        if allowed_actions(state)[planned.index()] {
            (
                planned,
                format!("fixed flow: step {} sends {planned}", state.step + 1),
            )
        } else {
            (
                ActionKind::DoNothing,
                format!("fixed flow: {planned} not allowed (consent or unsubscribed)"),
            )
        }
    }
}

impl Policy for FixedFlow {
    fn name(&self) -> &str {
        "fixed"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let (kind, reason) = self.planned(observation);
        let mut scores = [0.0; N_ACTIONS];
        scores[kind.index()] = 1.0;
        ActionDistribution::certain(kind, scores, reason)
    }
}
