//! Sampled episodes: one shopper's contact sequence under a policy, one random outcome per
//! step (drawn from the same outcome list the exact evaluator sums over), every proposal
//! passing through the guardrails. Learned policies train on these; logs of them feed the
//! off-policy study.

use super::dynamics::{CartProgress, StepOutcome, guarded_step, observe};
use super::environment::{DiscountLedger, Executed, GuardrailSet, Simulator};
use super::shopper::Shopper;
use crate::actions::ActionKind;
use crate::policies::{Observation, ObservedState, Policy};
use rand::RngExt;
use rand::rngs::SmallRng;

/// One logged step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub state: ObservedState,
    /// What the policy proposed.
    pub action: ActionKind,
    /// Probability with which the policy proposed `action`.
    pub propensity: f64,
    /// What went out after the guardrails (doing nothing when suppressed).
    pub executed: ActionKind,
    /// The guardrails that changed the proposal (as the engine's decision record names them).
    pub changed_by: GuardrailSet,
    /// Net revenue of the step, minor units.
    pub reward_minor: f64,
    /// Whether the shopper bought in this step.
    pub bought: bool,
    /// Coupon the shopper redeemed when buying (minor units; 0 without one).
    pub discount_minor: f64,
    /// Whether the shopper unsubscribed after this step's message.
    pub unsubscribed: bool,
    /// The next decision's state; `None` when the episode ended.
    pub next_state: Option<ObservedState>,
}

/// Draws one outcome of proposing `proposal` at `progress`.
pub fn sample_step(
    simulator: &Simulator,
    shopper: &Shopper,
    progress: &CartProgress,
    ledger: &DiscountLedger,
    proposal: ActionKind,
    rng: &mut SmallRng,
) -> (Executed, StepOutcome) {
    let (executed, outcomes) = guarded_step(simulator, shopper, progress, ledger, proposal);
    let mut u: f64 = rng.random();
    for outcome in &outcomes {
        if u < outcome.probability {
            return (executed, *outcome);
        }
        u -= outcome.probability;
    }
    (executed, *outcomes.last().expect("at least one outcome"))
}

/// Runs `policy` on `shopper` until the cart is bought or the last step has passed, booking
/// the coupons actually issued in `ledger`. The policy sees no hidden truth.
pub fn run_episode(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &mut DiscountLedger,
    policy: &dyn Policy,
    rng: &mut SmallRng,
) -> Vec<Transition> {
    let mut transitions = Vec::new();
    let mut progress = Some(CartProgress::START);
    while let Some(current) = progress {
        let state = observe(simulator, shopper, &current);
        let decision = policy.decide(&Observation { state, truth: None }, rng);
        let (executed, outcome) =
            sample_step(simulator, shopper, &current, ledger, decision.action, rng);
        if outcome.accounting.message_sent {
            ledger.add(executed.decision_day, executed.coupon_minor as f64);
        }
        transitions.push(Transition {
            state,
            action: decision.action,
            propensity: decision.propensity,
            executed: if outcome.accounting.message_sent {
                executed.kind
            } else {
                ActionKind::DoNothing
            },
            changed_by: executed.changed_by,
            reward_minor: outcome.accounting.net_minor(),
            bought: outcome.accounting.bought,
            discount_minor: outcome.accounting.discount_minor,
            unsubscribed: outcome.accounting.unsubscribed,
            next_state: outcome.next.map(|n| observe(simulator, shopper, &n)),
        });
        progress = outcome.next;
    }
    transitions
}

/// A policy that learns from every step it plays.
pub trait OnlineLearner: Policy {
    fn learn(&mut self, transition: &Transition);
}

/// Online training: plays one episode per shopper (in arrival order, sharing one discount
/// ledger) with the learner's current policy (exploration included), letting it learn
/// after every step.
pub fn train_online(
    learner: &mut dyn OnlineLearner,
    simulator: &Simulator,
    shoppers: &[Shopper],
    rng: &mut SmallRng,
) {
    let mut ledger = DiscountLedger::default();
    for shopper in shoppers {
        for transition in run_episode(simulator, shopper, &mut ledger, &*learner, rng) {
            learner.learn(&transition);
        }
    }
}

/// Logs one episode per shopper (in arrival order, sharing one discount ledger) under
/// `policy`, e.g. a randomised logging policy.
pub fn log_episodes(
    simulator: &Simulator,
    shoppers: &[Shopper],
    policy: &dyn Policy,
    rng: &mut SmallRng,
) -> Vec<Vec<Transition>> {
    let mut ledger = DiscountLedger::default();
    shoppers
        .iter()
        .map(|shopper| run_episode(simulator, shopper, &mut ledger, policy, rng))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::FixedFlow;
    use crate::simulator::SimulatorConfig;
    use crate::simulator::exact::expected_outcome;
    use crate::simulator::shopper::sample_population;
    use rand::SeedableRng;

    #[test]
    fn sampled_returns_average_to_the_exact_expectation() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(11);
        let shoppers = sample_population(&simulator, 300, &mut rng);
        let flow = FixedFlow::default();
        // Every cart on its own empty discount ledger (here and in the episodes below).
        let ledger = DiscountLedger::default();
        let exact: f64 = shoppers
            .iter()
            .map(|s| expected_outcome(&simulator, s, &ledger, &flow).net_revenue_minor)
            .sum::<f64>()
            / shoppers.len() as f64;
        let repeats = 200;
        let mut sampled = 0.0;
        for _ in 0..repeats {
            for shopper in &shoppers {
                let mut ledger = DiscountLedger::default();
                sampled += run_episode(&simulator, shopper, &mut ledger, &flow, &mut rng)
                    .iter()
                    .map(|t| t.reward_minor)
                    .sum::<f64>();
            }
        }
        sampled /= (repeats * shoppers.len()) as f64;
        assert!(
            (sampled - exact).abs() / exact < 0.05,
            "sampled {sampled} exact {exact}"
        );
    }
}
