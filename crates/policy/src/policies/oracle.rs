//! The oracle: knows each simulated shopper's true response and plays the optimal action
//! at every step (dynamic programming over the simulator's outcome tree). An upper bound
//! for every real policy; usable only inside the simulator.

use super::{ActionDistribution, N_ACTIONS, Observation, Policy};
use crate::actions::ActionKind;
use crate::simulator::optimal_action_values;

#[derive(Clone, Copy, Debug, Default)]
pub struct Oracle;

impl Policy for Oracle {
    fn name(&self) -> &str {
        "oracle"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let Some(truth) = observation.truth else {
            return ActionDistribution::certain(
                ActionKind::DoNothing,
                [0.0; N_ACTIONS],
                "oracle: no simulator truth available".into(),
            );
        };
        let values = optimal_action_values(
            truth.simulator,
            truth.shopper,
            truth.ledger,
            &truth.progress,
        );
        let mut best = ActionKind::DoNothing;
        for kind in ActionKind::ALL {
            // Ties go to the cheaper (earlier) action: strict improvement needed.
            if values[kind.index()] > values[best.index()] + 1e-9 {
                best = kind;
            }
        }
        ActionDistribution::certain(
            best,
            values,
            format!(
                "oracle: {best} has the highest true expected net revenue ({:.1})",
                values[best.index()]
            ),
        )
    }
}
