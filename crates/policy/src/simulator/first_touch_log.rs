//! Decision logs shaped like `cartback decisions export`, drawn from the shopper simulator,
//! and the exact value those logs estimate: the ground truth for off-policy evaluation of
//! cartback's own policy files (`docs/ope.md`).

use super::dynamics::CartProgress;
use super::environment::{DecisionPoint, DiscountLedger, Simulator};
use super::episode::run_episode;
use super::exact::expected_outcome;
use super::shopper::Shopper;
use crate::actions::ActionKind;
use crate::ope::LoggedState;
use crate::policies::{FirstTouch, Observation, Policy};
use rand::rngs::SmallRng;
use serde::Serialize;

/// One simulated round: the fields of an export line that `cartback ope --format cartback`
/// reads, for one shopper's first decision step.
#[derive(Clone, Debug, Serialize)]
pub struct SimulatedRound {
    pub cart_id: String,
    pub abandonment: u32,
    /// The action the environment executed at step 0 (after the guardrails).
    pub action: ActionKind,
    /// The logging policy's probability of ending at `action` (its mass over every proposal
    /// that the recorded outcomes turn into it).
    pub propensity: f64,
    /// The episode's net revenue, minor units.
    pub reward: f64,
    pub state: LoggedState,
    /// What the logging policy proposed (not part of an export line).
    #[serde(skip)]
    pub proposal: ActionKind,
}

/// Logs one episode per shopper under `logging`, each cart on its own empty discount
/// ledger, and returns its first decision step as a round (cart ids `{prefix}{i}`).
pub fn simulated_first_touch_rounds(
    simulator: &Simulator,
    shoppers: &[Shopper],
    logging: &dyn Policy,
    prefix: &str,
    rng: &mut SmallRng,
) -> Vec<SimulatedRound> {
    shoppers
        .iter()
        .enumerate()
        .map(|(i, shopper)| {
            let ledger = DiscountLedger::default();
            let outcomes = DecisionPoint::new(simulator, shopper, &CartProgress::START, &ledger)
                .execute_all(simulator)
                .map(|e| e.kind);
            let episode = run_episode(
                simulator,
                shopper,
                &mut DiscountLedger::default(),
                logging,
                rng,
            );
            let first = episode[0];
            let proposal = logging
                .distribution(&Observation {
                    state: first.state,
                    truth: None,
                })
                .probabilities;
            SimulatedRound {
                cart_id: format!("{prefix}{i}"),
                abandonment: 1,
                action: first.executed,
                propensity: LoggedState::push_forward(&outcomes, &proposal)[first.executed.index()],
                reward: episode.iter().map(|t| t.reward_minor).sum(),
                state: LoggedState::from_outcomes(first.state, outcomes),
                proposal: first.action,
            }
        })
        .collect()
}

/// The exact mean net revenue per cart (minor units) of letting `first` take each cart's
/// first decision step and `rest` every later one: what off-policy evaluation of `first`
/// estimates on a log of `rest`.
pub fn exact_first_touch_value(
    simulator: &Simulator,
    shoppers: &[Shopper],
    first: &dyn Policy,
    rest: &dyn Policy,
) -> f64 {
    let policy = FirstTouch { first, rest };
    let ledger = DiscountLedger::default();
    shoppers
        .iter()
        .map(|s| expected_outcome(simulator, s, &ledger, &policy).net_revenue_minor)
        .sum::<f64>()
        / shoppers.len() as f64
}
