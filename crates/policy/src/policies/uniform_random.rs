//! Random logging policies of randomised experiments (training logs for uplift and outcome
//! models, off-policy studies): [`UniformRandom`] among the allowed actions, and
//! [`BudgetedRandom`], which proposes coupons only as often as a discount budget allows.

use super::{ActionDistribution, N_ACTIONS, Observation, Policy, PolicyError, allowed_actions};
use crate::actions::ActionKind;

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

/// Random logging that stays within a discount budget: coupons together get
/// `coupon_share` of the probability (split equally among the allowed coupons), the other
/// allowed actions share the rest equally. Uniform logging proposes a coupon in half of all
/// decisions, which a daily discount budget cannot pay for: most of those coupons would be
/// downgraded, late in the day, and the log would show coupons only for early carts.
#[derive(Clone, Copy, Debug)]
pub struct BudgetedRandom {
    coupon_share: f64,
}

impl BudgetedRandom {
    /// `coupon_share` in `[0, 1]`.
    pub fn new(coupon_share: f64) -> Result<Self, PolicyError> {
        if !(0.0..=1.0).contains(&coupon_share) {
            return Err(PolicyError::Parameter {
                name: "coupon_share",
                message: format!("must be in [0, 1], got {coupon_share}"),
            });
        }
        Ok(BudgetedRandom { coupon_share })
    }

    /// The coupon share that keeps the expected face value of the coupons proposed per day
    /// at `fill` × `daily_budget_minor` for `carts_per_day` carts of mean value
    /// `mean_cart_value_minor` with `steps` decisions each (at most 1/2, at least 1 %).
    pub fn share_for_budget(
        daily_budget_minor: f64,
        carts_per_day: f64,
        steps: usize,
        mean_cart_value_minor: f64,
        fill: f64,
    ) -> f64 {
        // The four coupons proposed equally often: 12.5 % off on average.
        let face = mean_cart_value_minor * 0.125;
        let decisions = carts_per_day * steps as f64;
        (fill * daily_budget_minor / (decisions * face).max(1e-9)).clamp(0.01, 0.5)
    }
}

impl Policy for BudgetedRandom {
    fn name(&self) -> &str {
        "budgeted-random"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let allowed = allowed_actions(&observation.state);
        let is_coupon = |i: usize| ActionKind::ALL[i].discount_percent() > 0;
        let coupons = (0..N_ACTIONS)
            .filter(|&i| allowed[i] && is_coupon(i))
            .count();
        let others = (0..N_ACTIONS)
            .filter(|&i| allowed[i] && !is_coupon(i))
            .count();
        let coupon_mass = if coupons == 0 { 0.0 } else { self.coupon_share };
        let probabilities: [f64; N_ACTIONS] = std::array::from_fn(|i| {
            if !allowed[i] {
                0.0
            } else if is_coupon(i) {
                coupon_mass / coupons as f64
            } else {
                (1.0 - coupon_mass) / others.max(1) as f64
            }
        });
        ActionDistribution {
            probabilities,
            scores: [0.0; N_ACTIONS],
            reason: format!(
                "random among allowed actions, coupons together {:.0} %",
                100.0 * coupon_mass
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{ObservedState, example_state};

    fn state(webhook: bool) -> ObservedState {
        example_state(true, webhook)
    }

    #[test]
    fn budgeted_random_gives_coupons_their_share() {
        let policy = BudgetedRandom::new(0.2).unwrap();
        for webhook in [true, false] {
            let d = policy.distribution(&Observation {
                state: state(webhook),
                truth: None,
            });
            assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let coupons: f64 = ActionKind::ALL
                .iter()
                .filter(|k| k.discount_percent() > 0)
                .map(|k| d.probabilities[k.index()])
                .sum();
            assert!((coupons - 0.2).abs() < 1e-12);
            assert_eq!(
                d.probabilities[ActionKind::WebhookPush.index()] > 0.0,
                webhook
            );
        }
        assert!(BudgetedRandom::new(1.5).is_err());
        // 500.00 a day for 100 carts of 80.00 with 3 steps: 10.00 per coupon on average,
        // 300 decisions a day, so 50 coupons a day = 1/6 of the decisions.
        let share = BudgetedRandom::share_for_budget(50_000.0, 100.0, 3, 8_000.0, 1.0);
        assert!((share - 1.0 / 6.0).abs() < 1e-12, "{share}");
        assert_eq!(
            BudgetedRandom::share_for_budget(1e9, 1.0, 3, 8_000.0, 1.0),
            0.5
        );
    }
}
