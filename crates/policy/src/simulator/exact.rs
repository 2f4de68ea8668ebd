//! Exact expected outcomes: a policy's expected net revenue, recovery, messages, discount
//! and unsubscribes for one shopper, summed over every outcome path (no sampling), and the
//! optimal action values the oracle uses (dynamic programming over the same paths).

use super::config::SimulatorConfig;
use super::dynamics::{CartProgress, observe, step_outcomes};
use super::shopper::Shopper;
use crate::actions::ActionKind;
use crate::policies::{HiddenTruth, N_ACTIONS, Observation, Policy};
use serde::Serialize;
use std::collections::HashMap;

/// Expected outcomes of one cart under one policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CartExpectation {
    pub net_revenue_minor: f64,
    pub recovery_probability: f64,
    pub messages: f64,
    pub discount_minor: f64,
    pub unsubscribe_probability: f64,
}

/// Exact expectation of `policy` on `shopper` (the policy's randomisation included).
pub fn expected_outcome(
    config: &SimulatorConfig,
    shopper: &Shopper,
    policy: &dyn Policy,
) -> CartExpectation {
    let mut total = CartExpectation::default();
    let mut frontier: Vec<(CartProgress, f64)> = vec![(CartProgress::START, 1.0)];
    while !frontier.is_empty() {
        let mut next: HashMap<CartProgress, f64> = HashMap::new();
        for (progress, mass) in frontier {
            let observation = Observation {
                state: observe(config, shopper, &progress),
                truth: Some(HiddenTruth {
                    shopper,
                    progress,
                    config,
                }),
            };
            let distribution = policy.distribution(&observation);
            for kind in ActionKind::ALL {
                let p_action = distribution.probabilities[kind.index()];
                if p_action <= 0.0 {
                    continue;
                }
                for outcome in step_outcomes(config, shopper, &progress, kind) {
                    let weight = mass * p_action * outcome.probability;
                    let a = &outcome.accounting;
                    total.net_revenue_minor += weight * a.net_minor();
                    total.discount_minor += weight * a.discount_minor;
                    if a.bought {
                        total.recovery_probability += weight;
                    }
                    if a.message_sent {
                        total.messages += weight;
                    }
                    if a.unsubscribed {
                        total.unsubscribe_probability += weight;
                    }
                    if let Some(n) = outcome.next {
                        *next.entry(n).or_insert(0.0) += weight;
                    }
                }
            }
        }
        frontier = next.into_iter().collect();
    }
    total
}

/// Expected net revenue of each action at `progress` when every later step is played
/// optimally (the oracle's Q-values), for a shopper whose true response is known.
pub fn optimal_action_values(
    config: &SimulatorConfig,
    shopper: &Shopper,
    progress: &CartProgress,
) -> [f64; N_ACTIONS] {
    let mut memo = HashMap::new();
    action_values(config, shopper, progress, &mut memo)
}

fn action_values(
    config: &SimulatorConfig,
    shopper: &Shopper,
    progress: &CartProgress,
    memo: &mut HashMap<CartProgress, f64>,
) -> [f64; N_ACTIONS] {
    let mut values = [0.0; N_ACTIONS];
    for kind in ActionKind::ALL {
        let mut value = 0.0;
        for outcome in step_outcomes(config, shopper, progress, kind) {
            value += outcome.probability * outcome.accounting.net_minor();
            if let Some(next) = outcome.next {
                value += outcome.probability * state_value(config, shopper, &next, memo);
            }
        }
        values[kind.index()] = value;
    }
    values
}

fn state_value(
    config: &SimulatorConfig,
    shopper: &Shopper,
    progress: &CartProgress,
    memo: &mut HashMap<CartProgress, f64>,
) -> f64 {
    if let Some(v) = memo.get(progress) {
        return *v;
    }
    let best = action_values(config, shopper, progress, memo)
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max);
    memo.insert(*progress, best);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{DoNothing, FixedFlow, Oracle};
    use crate::simulator::shopper::sample_population;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn doing_nothing_recovers_exactly_the_unaided_rate() {
        let config = SimulatorConfig::default();
        let mut rng = SmallRng::seed_from_u64(1);
        for shopper in sample_population(&config, 50, &mut rng) {
            let e = expected_outcome(&config, &shopper, &DoNothing);
            assert!((e.recovery_probability - shopper.unaided_purchase_rate).abs() < 1e-12);
            assert_eq!(e.messages, 0.0);
            let value = shopper.features.cart_value_minor as f64;
            assert!((e.net_revenue_minor - value * shopper.unaided_purchase_rate).abs() < 1e-6);
        }
    }

    #[test]
    fn the_oracle_is_never_worse_than_any_other_policy() {
        let config = SimulatorConfig::default();
        let mut rng = SmallRng::seed_from_u64(2);
        for shopper in sample_population(&config, 40, &mut rng) {
            let oracle = expected_outcome(&config, &shopper, &Oracle).net_revenue_minor;
            let flow = expected_outcome(&config, &shopper, &FixedFlow::default()).net_revenue_minor;
            let nothing = expected_outcome(&config, &shopper, &DoNothing).net_revenue_minor;
            assert!(
                oracle >= flow - 1e-9 && oracle >= nothing - 1e-9,
                "{oracle} {flow} {nothing}"
            );
            let q = optimal_action_values(&config, &shopper, &CartProgress::START);
            let best = q.into_iter().fold(f64::NEG_INFINITY, f64::max);
            assert!((best - oracle).abs() < 1e-6, "{best} vs {oracle}");
        }
    }
}
