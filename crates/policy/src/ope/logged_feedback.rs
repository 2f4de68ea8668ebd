//! The logged bandit feedback: one round per decision the behaviour policy made, with the
//! action it chose, the slot (position) it was shown in, the reward observed and the
//! probability with which the behaviour policy chose that action.

use super::error::OpeError;

/// One logged decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoggedRound {
    /// Index of the chosen action, `0..n_actions`.
    pub action: usize,
    /// Index of the slot the action was shown in, `0..n_positions` (0 when there is one slot).
    pub position: usize,
    /// Observed reward (a click, a purchase, net revenue, …).
    pub reward: f64,
    /// Probability with which the behaviour policy chose `action`, in `(0, 1]`.
    pub propensity: f64,
}

/// A validated log of decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedFeedback {
    rounds: Vec<LoggedRound>,
}

/// How far above 1 a logged propensity may be and still mean 1: the sum of a policy's
/// floating-point masses over every proposal that ends at one action.
pub const PROPENSITY_ROUNDING: f64 = 1e-9;

impl LoggedFeedback {
    /// Validates every round: a finite reward and a propensity in `(0, 1]`. A propensity
    /// a rounding error above 1 (at most 1e-9: a sum of probabilities, as engine releases
    /// before the sum was capped recorded for a certain action) is read as 1.
    pub fn new(mut rounds: Vec<LoggedRound>) -> Result<Self, OpeError> {
        if rounds.is_empty() {
            return Err(OpeError::EmptyLog);
        }
        for round in &mut rounds {
            if round.propensity > 1.0 && round.propensity <= 1.0 + PROPENSITY_ROUNDING {
                round.propensity = 1.0;
            }
        }
        for (index, round) in rounds.iter().enumerate() {
            if !round.reward.is_finite() {
                return Err(OpeError::Mismatch {
                    round: index,
                    message: format!("reward {} is not a finite number", round.reward),
                });
            }
            if !(round.propensity > 0.0 && round.propensity <= 1.0) {
                return Err(OpeError::Mismatch {
                    round: index,
                    message: format!("propensity {} is not in (0, 1]", round.propensity),
                });
            }
        }
        Ok(LoggedFeedback { rounds })
    }

    pub fn rounds(&self) -> &[LoggedRound] {
        &self.rounds
    }

    pub fn len(&self) -> usize {
        self.rounds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty()
    }

    /// Mean observed reward: the behaviour policy's own (on-policy) value.
    pub fn mean_reward(&self) -> f64 {
        self.rounds.iter().map(|r| r.reward).sum::<f64>() / self.rounds.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(reward: f64, propensity: f64) -> LoggedRound {
        LoggedRound {
            action: 0,
            position: 0,
            reward,
            propensity,
        }
    }

    #[test]
    fn rejects_bad_propensities_and_rewards_naming_the_round() {
        let err = LoggedFeedback::new(vec![round(1.0, 0.5), round(0.0, 0.0)]).unwrap_err();
        assert_eq!(err.to_string(), "round 1: propensity 0 is not in (0, 1]");
        let err = LoggedFeedback::new(vec![round(f64::NAN, 0.5)]).unwrap_err();
        assert!(err.to_string().starts_with("round 0: reward"));
        assert!(matches!(
            LoggedFeedback::new(vec![]),
            Err(OpeError::EmptyLog)
        ));
        // A certain action whose probability was summed a rounding error above 1 is 1; a
        // propensity clearly above 1 is refused.
        let log = LoggedFeedback::new(vec![round(1.0, 1.000_000_000_000_000_2)]).unwrap();
        assert_eq!(log.rounds()[0].propensity, 1.0);
        let err = LoggedFeedback::new(vec![round(1.0, 1.001)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "round 0: propensity 1.001 is not in (0, 1]"
        );
    }

    #[test]
    fn mean_reward_is_the_on_policy_value() {
        let log =
            LoggedFeedback::new(vec![round(1.0, 0.5), round(0.0, 0.5), round(0.5, 1.0)]).unwrap();
        assert!((log.mean_reward() - 0.5).abs() < 1e-15);
        assert_eq!(log.len(), 3);
    }
}
