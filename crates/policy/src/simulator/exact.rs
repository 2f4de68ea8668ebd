//! Exact expected outcomes: a policy's expected net revenue, recovery, messages, discount,
//! unsubscribes and guardrail changes for one shopper, summed over every outcome path (no
//! sampling) with every proposal passed through the guardrails, and the optimal action
//! values the oracle uses (dynamic programming over the same guarded paths).

use super::dynamics::{CartProgress, observe, step_outcomes};
use super::environment::{DecisionPoint, DiscountLedger, GUARDRAILS, Simulator};
use super::shopper::Shopper;
use crate::actions::ActionKind;
use crate::policies::{HiddenTruth, N_ACTIONS, Observation, Policy};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// `DefaultHasher::new()` hashes with fixed keys: maps iterate in the same order every run.
type FixedHasher = BuildHasherDefault<DefaultHasher>;

/// Expected outcomes of one cart under one policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CartExpectation {
    pub net_revenue_minor: f64,
    pub recovery_probability: f64,
    pub messages: f64,
    pub discount_minor: f64,
    pub unsubscribe_probability: f64,
    /// Expected number of decisions (any proposal, doing nothing included) made.
    pub decisions: f64,
    /// Expected number of decisions whose proposal a guardrail changed.
    pub guardrail_changes: f64,
    /// Expected number of decisions each guardrail changed (by `GUARDRAILS` order).
    pub changes_by_guardrail: [f64; GUARDRAILS.len()],
    /// Expected number of times each action was executed (after the guardrails).
    pub executed: [f64; N_ACTIONS],
}

/// A cart's expectation and the coupon face value it issues per UTC day (expected).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CartEvaluation {
    pub expectation: CartExpectation,
    pub coupons_by_day: Vec<(i64, f64)>,
}

impl CartEvaluation {
    /// Books this cart's expected coupons in `ledger`.
    pub fn book(&self, ledger: &mut DiscountLedger) {
        for (day, minor) in &self.coupons_by_day {
            ledger.add(*day, *minor);
        }
    }
}

/// Exact expectation of `policy` on `shopper` (the policy's randomisation included), the
/// other carts' coupons being those in `ledger`.
pub fn expected_outcome(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    policy: &dyn Policy,
) -> CartExpectation {
    evaluate_cart(simulator, shopper, ledger, policy).expectation
}

/// [`expected_outcome`] and the cart's expected coupons per day.
pub fn evaluate_cart(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    policy: &dyn Policy,
) -> CartEvaluation {
    let mut total = CartExpectation::default();
    let mut coupons: HashMap<i64, f64> = HashMap::new();
    let mut frontier: Vec<(CartProgress, f64)> = vec![(CartProgress::START, 1.0)];
    while !frontier.is_empty() {
        // A fixed hasher: the frontier's order, and with it the order in which the
        // expectations are summed, is the same in every run (bit-identical results).
        let mut next: HashMap<CartProgress, f64, FixedHasher> = HashMap::default();
        for (progress, mass) in frontier {
            let observation = Observation {
                state: observe(simulator, shopper, &progress),
                truth: Some(HiddenTruth {
                    shopper,
                    progress,
                    config: simulator.config(),
                    simulator,
                    ledger,
                }),
            };
            let distribution = policy.distribution(&observation);
            let point = DecisionPoint::new(simulator, shopper, &progress, ledger);
            total.decisions += mass;
            for kind in ActionKind::ALL {
                let p_action = distribution.probabilities[kind.index()];
                if p_action <= 0.0 {
                    continue;
                }
                let executed = point.execute(simulator, kind);
                let branch = mass * p_action;
                if !executed.changed_by.is_empty() {
                    total.guardrail_changes += branch;
                    for g in executed.changed_by.iter() {
                        total.changes_by_guardrail[super::environment::guardrail_index(g)] +=
                            branch;
                    }
                }
                total.executed[executed.kind.index()] += branch;
                let outcomes = step_outcomes(simulator.config(), shopper, &progress, &executed);
                if outcomes.first().is_some_and(|o| o.accounting.message_sent)
                    && executed.coupon_minor > 0
                {
                    *coupons.entry(executed.decision_day).or_insert(0.0) +=
                        branch * executed.coupon_minor as f64;
                }
                for outcome in outcomes {
                    let weight = branch * outcome.probability;
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
    let mut coupons_by_day: Vec<(i64, f64)> = coupons.into_iter().collect();
    coupons_by_day.sort_by_key(|(day, _)| *day);
    CartEvaluation {
        expectation: total,
        coupons_by_day,
    }
}

/// Expected net revenue of proposing each action at `progress` (after the guardrails) when
/// every later step is played optimally: the oracle's Q-values, for a shopper whose true
/// response is known.
pub fn optimal_action_values(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    progress: &CartProgress,
) -> [f64; N_ACTIONS] {
    let mut memo = HashMap::new();
    action_values(simulator, shopper, ledger, progress, &mut memo)
}

fn action_values(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    progress: &CartProgress,
    memo: &mut HashMap<CartProgress, f64>,
) -> [f64; N_ACTIONS] {
    let point = DecisionPoint::new(simulator, shopper, progress, ledger);
    let executed = point.execute_all(simulator);
    let mut values = [0.0; N_ACTIONS];
    for kind in ActionKind::ALL {
        // Proposals the guardrails turn into the same execution have the same value.
        let same = ActionKind::ALL[..kind.index()].iter().find(|k| {
            executed[k.index()].kind == executed[kind.index()].kind
                && executed[k.index()].send_at == executed[kind.index()].send_at
        });
        if let Some(earlier) = same {
            values[kind.index()] = values[earlier.index()];
            continue;
        }
        let mut value = 0.0;
        for outcome in step_outcomes(
            simulator.config(),
            shopper,
            progress,
            &executed[kind.index()],
        ) {
            value += outcome.probability * outcome.accounting.net_minor();
            if let Some(next) = outcome.next {
                value += outcome.probability * state_value(simulator, shopper, ledger, &next, memo);
            }
        }
        values[kind.index()] = value;
    }
    values
}

fn state_value(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    progress: &CartProgress,
    memo: &mut HashMap<CartProgress, f64>,
) -> f64 {
    if let Some(v) = memo.get(progress) {
        return *v;
    }
    let best = action_values(simulator, shopper, ledger, progress, memo)
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max);
    memo.insert(*progress, best);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{DoNothing, FixedFlow, Oracle};
    use crate::simulator::SimulatorConfig;
    use crate::simulator::shopper::sample_population;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn doing_nothing_recovers_exactly_the_unaided_rate() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let ledger = DiscountLedger::default();
        let mut rng = SmallRng::seed_from_u64(1);
        for shopper in sample_population(&simulator, 50, &mut rng) {
            let e = expected_outcome(&simulator, &shopper, &ledger, &DoNothing);
            assert!((e.recovery_probability - shopper.unaided_purchase_rate).abs() < 1e-12);
            assert_eq!(e.messages, 0.0);
            let value = shopper.features.cart_value_minor as f64;
            assert!((e.net_revenue_minor - value * shopper.unaided_purchase_rate).abs() < 1e-6);
        }
    }

    #[test]
    fn the_oracle_is_never_worse_than_any_other_policy() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let ledger = DiscountLedger::default();
        let mut rng = SmallRng::seed_from_u64(2);
        for shopper in sample_population(&simulator, 40, &mut rng) {
            let value = |p: &dyn Policy| {
                expected_outcome(&simulator, &shopper, &ledger, p).net_revenue_minor
            };
            let oracle = value(&Oracle);
            let flow = value(&FixedFlow::default());
            let nothing = value(&DoNothing);
            assert!(
                oracle >= flow - 1e-9 && oracle >= nothing - 1e-9,
                "{oracle} {flow} {nothing}"
            );
            let q = optimal_action_values(&simulator, &shopper, &ledger, &CartProgress::START);
            let best = q.into_iter().fold(f64::NEG_INFINITY, f64::max);
            assert!((best - oracle).abs() < 1e-6, "{best} vs {oracle}");
        }
    }
}
