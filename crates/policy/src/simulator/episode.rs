//! Sampled episodes: one shopper's contact sequence under a policy, one random outcome per
//! step (drawn from the same outcome list the exact evaluator sums over). Learned policies
//! train on these; logs of them feed the off-policy study.

use super::config::SimulatorConfig;
use super::dynamics::{CartProgress, StepOutcome, observe, step_outcomes};
use super::shopper::Shopper;
use crate::actions::ActionKind;
use crate::policies::{Observation, ObservedState, Policy};
use rand::RngExt;
use rand::rngs::SmallRng;

/// One logged step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub state: ObservedState,
    pub action: ActionKind,
    /// Probability with which the policy chose `action`.
    pub propensity: f64,
    /// Net revenue of the step, minor units.
    pub reward_minor: f64,
    /// The next decision's state; `None` when the episode ended.
    pub next_state: Option<ObservedState>,
}

/// Draws one outcome of `action` at `progress`.
pub fn sample_step(
    config: &SimulatorConfig,
    shopper: &Shopper,
    progress: &CartProgress,
    action: ActionKind,
    rng: &mut SmallRng,
) -> StepOutcome {
    let outcomes = step_outcomes(config, shopper, progress, action);
    let mut u: f64 = rng.random();
    for outcome in &outcomes {
        if u < outcome.probability {
            return *outcome;
        }
        u -= outcome.probability;
    }
    *outcomes.last().expect("at least one outcome")
}

/// Runs `policy` on `shopper` until the cart is bought or the last step has passed. The
/// policy sees no hidden truth.
pub fn run_episode(
    config: &SimulatorConfig,
    shopper: &Shopper,
    policy: &dyn Policy,
    rng: &mut SmallRng,
) -> Vec<Transition> {
    let mut transitions = Vec::new();
    let mut progress = Some(CartProgress::START);
    while let Some(current) = progress {
        let state = observe(config, shopper, &current);
        let decision = policy.decide(&Observation { state, truth: None }, rng);
        let outcome = sample_step(config, shopper, &current, decision.action, rng);
        transitions.push(Transition {
            state,
            action: decision.action,
            propensity: decision.propensity,
            reward_minor: outcome.accounting.net_minor(),
            next_state: outcome.next.map(|n| observe(config, shopper, &n)),
        });
        progress = outcome.next;
    }
    transitions
}

/// A policy that learns from every step it plays.
pub trait OnlineLearner: Policy {
    fn learn(&mut self, transition: &Transition);
}

/// Online training: plays one episode per shopper with the learner's current policy
/// (exploration included), letting it learn after every step.
pub fn train_online(
    learner: &mut dyn OnlineLearner,
    config: &SimulatorConfig,
    shoppers: &[Shopper],
    rng: &mut SmallRng,
) {
    for shopper in shoppers {
        let mut progress = Some(CartProgress::START);
        while let Some(current) = progress {
            let state = observe(config, shopper, &current);
            let decision = learner.decide(&Observation { state, truth: None }, rng);
            let outcome = sample_step(config, shopper, &current, decision.action, rng);
            let transition = Transition {
                state,
                action: decision.action,
                propensity: decision.propensity,
                reward_minor: outcome.accounting.net_minor(),
                next_state: outcome.next.map(|n| observe(config, shopper, &n)),
            };
            learner.learn(&transition);
            progress = outcome.next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::FixedFlow;
    use crate::simulator::exact::expected_outcome;
    use crate::simulator::shopper::sample_population;
    use rand::SeedableRng;

    #[test]
    fn sampled_returns_average_to_the_exact_expectation() {
        let config = SimulatorConfig::default();
        let mut rng = SmallRng::seed_from_u64(11);
        let shoppers = sample_population(&config, 300, &mut rng);
        let flow = FixedFlow::default();
        let exact: f64 = shoppers
            .iter()
            .map(|s| expected_outcome(&config, s, &flow).net_revenue_minor)
            .sum::<f64>()
            / shoppers.len() as f64;
        let repeats = 200;
        let mut sampled = 0.0;
        for _ in 0..repeats {
            for shopper in &shoppers {
                sampled += run_episode(&config, shopper, &flow, &mut rng)
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
