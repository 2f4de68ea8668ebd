//! Exploration for any policy: [`Exploring`] mixes a policy with the uniform choice among
//! the allowed actions, so that every allowed action keeps a positive probability in every
//! state. A deterministic policy (the fixed flow, the threshold) logs propensity 1 for its
//! action and 0 for the others, and its log cannot evaluate any other policy off-policy
//! (importance weights are zero or undefined); with a share `ε` explored, every allowed action
//! has at least `ε / allowed` and the engine's own log can compare it with alternatives
//! (`cartback ope --format cartback`, the report's off-policy section). The price is the
//! share of decisions taken at random, which the shop chooses (`[policy] exploration`).

use super::{ActionDistribution, N_ACTIONS, Observation, Policy, PolicyError, allowed_actions};

/// `inner`, except that a share `share` of decisions is drawn uniformly among the allowed
/// actions: `p(a) = (1 − share) · p_inner(a) + share / allowed` for an allowed `a`.
pub struct Exploring {
    inner: Box<dyn Policy + Send + Sync>,
    share: f64,
}

impl Exploring {
    /// `share` in `[0, 1)`: 0 is `inner` itself, and a policy that is all exploration is
    /// `UniformRandom`.
    pub fn new(inner: Box<dyn Policy + Send + Sync>, share: f64) -> Result<Exploring, PolicyError> {
        if !(0.0..1.0).contains(&share) {
            return Err(PolicyError::Parameter {
                name: "exploration",
                message: format!("must be in [0, 1), got {share}"),
            });
        }
        Ok(Exploring { inner, share })
    }

    pub fn share(&self) -> f64 {
        self.share
    }
}

impl Policy for Exploring {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let inner = self.inner.distribution(observation);
        let allowed = allowed_actions(&observation.state);
        let n_allowed = allowed.iter().filter(|&&a| a).count().max(1) as f64;
        let probabilities: [f64; N_ACTIONS] = std::array::from_fn(|i| {
            let uniform = if allowed[i] { 1.0 / n_allowed } else { 0.0 };
            (1.0 - self.share) * inner.probabilities[i] + self.share * uniform
        });
        ActionDistribution {
            probabilities,
            scores: inner.scores,
            reason: format!(
                "{}; exploring: {:.1} % of decisions uniformly among the {} allowed actions",
                inner.reason,
                self.share * 100.0,
                n_allowed
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::ActionKind;
    use crate::policies::{FixedFlow, ObservedState};
    use crate::simulator::CartFeatures;
    use cartback_core::Timestamp;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn observation(email: bool, webhook: bool) -> Observation<'static> {
        let state = ObservedState {
            features: CartFeatures {
                cart_value_minor: 8_000,
                predicted_propensity: 0.05,
                returning_customer: false,
                mobile: false,
                email_consent: email,
                webhook_consent: webhook,
                abandoned_hour: 14,
                history: Default::default(),
                session: Default::default(),
            },
            step: 0,
            n_steps: 3,
            abandoned_at: Timestamp(0),
            send_at: Timestamp(3_600_000),
            send_hour_local: 15,
            messages_sent: 0,
            coupon_sent_percent: 0,
            subscribed: email || webhook,
        };
        Observation { state, truth: None }
    }

    #[test]
    fn every_allowed_action_keeps_its_share_and_the_mass_sums_to_one() {
        let policy = Exploring::new(Box::new(FixedFlow::default()), 0.08).unwrap();
        let obs = observation(true, false);
        let d = policy.distribution(&obs);
        let allowed = allowed_actions(&obs.state);
        let n = allowed.iter().filter(|&&a| a).count() as f64;
        assert!(n >= 2.0 && n < N_ACTIONS as f64, "{allowed:?}");
        assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for kind in ActionKind::ALL {
            let p = d.probabilities[kind.index()];
            if kind == ActionKind::ReminderEmail {
                // The fixed flow's first step, plus its uniform share.
                assert!((p - (0.92 + 0.08 / n)).abs() < 1e-12, "{p}");
            } else if allowed[kind.index()] {
                assert!((p - 0.08 / n).abs() < 1e-12, "{kind}: {p}");
            } else {
                assert_eq!(p, 0.0, "{kind} is not allowed");
            }
        }
        assert!(d.reason.contains("exploring: 8.0 %"), "{}", d.reason);
    }

    #[test]
    fn draws_follow_the_distribution_and_report_its_propensity() {
        let policy = Exploring::new(Box::new(FixedFlow::default()), 0.2).unwrap();
        let obs = observation(true, true);
        let d = policy.distribution(&obs);
        let mut rng = SmallRng::seed_from_u64(7);
        let draws = 20_000;
        let mut counts = [0usize; N_ACTIONS];
        for _ in 0..draws {
            let decision = policy.decide(&obs, &mut rng);
            assert_eq!(
                decision.propensity,
                d.probabilities[decision.action.index()]
            );
            counts[decision.action.index()] += 1;
        }
        for kind in ActionKind::ALL {
            let expected = d.probabilities[kind.index()];
            let seen = counts[kind.index()] as f64 / draws as f64;
            // Four binomial standard errors.
            let tolerance = 4.0 * (expected * (1.0 - expected) / draws as f64).sqrt() + 1e-9;
            assert!(
                (seen - expected).abs() <= tolerance,
                "{kind}: {seen} vs {expected}"
            );
        }
    }

    #[test]
    fn a_share_outside_zero_to_one_is_refused() {
        for share in [-0.1, 1.0, f64::NAN] {
            assert!(
                Exploring::new(Box::new(FixedFlow::default()), share).is_err(),
                "{share}"
            );
        }
        let none = Exploring::new(Box::new(FixedFlow::default()), 0.0).unwrap();
        let obs = observation(true, false);
        assert_eq!(
            none.distribution(&obs).probabilities,
            FixedFlow::default().distribution(&obs).probabilities
        );
    }
}
