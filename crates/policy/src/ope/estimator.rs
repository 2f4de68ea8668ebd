//! What every estimator shares: the checked input ([`OpeInput`]), the per-round terms all
//! estimators are built from ([`RoundTerms`]) and the [`OffPolicyEstimator`] trait.

use super::error::OpeError;
use super::logged_feedback::LoggedFeedback;
use super::tables::{ActionTable, EvaluationPolicy, RewardModel};

/// A log, the policy to evaluate on it and optionally a reward model, checked to agree.
#[derive(Clone, Copy, Debug)]
pub struct OpeInput<'a> {
    log: &'a LoggedFeedback,
    policy: &'a EvaluationPolicy,
    reward_model: Option<&'a RewardModel>,
}

impl<'a> OpeInput<'a> {
    /// Checks that every logged action and position exists in the tables and that per-round
    /// tables have one block per logged round.
    pub fn new(
        log: &'a LoggedFeedback,
        policy: &'a EvaluationPolicy,
        reward_model: Option<&'a RewardModel>,
    ) -> Result<Self, OpeError> {
        check_table("evaluation_action_dist", policy.table(), log)?;
        if let Some(model) = reward_model {
            check_table("reward_model_table", model.table(), log)?;
            if model.table().n_actions() != policy.table().n_actions()
                || model.table().n_positions() != policy.table().n_positions()
            {
                return Err(OpeError::Table {
                    field: "reward_model_table".into(),
                    message: format!(
                        "is {}x{} but evaluation_action_dist is {}x{}",
                        model.table().n_actions(),
                        model.table().n_positions(),
                        policy.table().n_actions(),
                        policy.table().n_positions()
                    ),
                });
            }
        }
        Ok(OpeInput {
            log,
            policy,
            reward_model,
        })
    }

    pub fn log(&self) -> &LoggedFeedback {
        self.log
    }

    pub fn policy(&self) -> &EvaluationPolicy {
        self.policy
    }

    pub fn reward_model(&self) -> Option<&RewardModel> {
        self.reward_model
    }

    /// Per-round terms for estimators that only need importance weights.
    pub fn importance_terms(&self) -> Vec<RoundTerms> {
        self.terms(None)
    }

    /// Per-round terms including the reward model's, or an error naming `estimator` when
    /// there is no reward model.
    pub fn model_terms(&self, estimator: &str) -> Result<Vec<RoundTerms>, OpeError> {
        let model = self
            .reward_model
            .ok_or_else(|| OpeError::MissingRewardModel {
                estimator: estimator.to_string(),
            })?;
        Ok(self.terms(Some(model)))
    }

    fn terms(&self, model: Option<&RewardModel>) -> Vec<RoundTerms> {
        let pi = self.policy.table();
        let n_actions = pi.n_actions();
        self.log
            .rounds()
            .iter()
            .enumerate()
            .map(|(round, logged)| {
                let importance_weight =
                    pi.get(round, logged.action, logged.position) / logged.propensity;
                let (direct_value, factual_estimate) = match model {
                    Some(model) => {
                        let q = model.table();
                        // numpy's `np.average(q, weights=pi)`: the pi-weighted sum of q
                        // divided by the sum of the weights.
                        let mut weighted = 0.0;
                        let mut weights = 0.0;
                        for action in 0..n_actions {
                            let p = pi.get(round, action, logged.position);
                            weighted += p * q.get(round, action, logged.position);
                            weights += p;
                        }
                        (
                            weighted / weights,
                            q.get(round, logged.action, logged.position),
                        )
                    }
                    None => (0.0, 0.0),
                };
                RoundTerms {
                    reward: logged.reward,
                    importance_weight,
                    direct_value,
                    factual_estimate,
                }
            })
            .collect()
    }
}

fn check_table(field: &str, table: &ActionTable, log: &LoggedFeedback) -> Result<(), OpeError> {
    if let Some(n_rounds) = table.n_rounds()
        && n_rounds != log.len()
    {
        return Err(OpeError::Table {
            field: field.to_string(),
            message: format!("has {n_rounds} rounds but the log has {}", log.len()),
        });
    }
    for (round, logged) in log.rounds().iter().enumerate() {
        if logged.action >= table.n_actions() {
            return Err(OpeError::Mismatch {
                round,
                message: format!(
                    "action {} is not in `{field}` ({} actions)",
                    logged.action,
                    table.n_actions()
                ),
            });
        }
        if logged.position >= table.n_positions() {
            return Err(OpeError::Mismatch {
                round,
                message: format!(
                    "position {} is not in `{field}` ({} positions)",
                    logged.position,
                    table.n_positions()
                ),
            });
        }
    }
    Ok(())
}

/// The quantities of one logged round that every estimator combines.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundTerms {
    /// Observed reward `r`.
    pub reward: f64,
    /// `w = pi_e(a | x, pos) / pi_b(a | x, pos)`.
    pub importance_weight: f64,
    /// `sum_a pi_e(a | x, pos) q(x, a, pos) / sum_a pi_e(a | x, pos)` (0 without a model).
    pub direct_value: f64,
    /// `q(x, a_logged, pos)` (0 without a model).
    pub factual_estimate: f64,
}

/// An off-policy estimator: per-round rewards whose mean is the estimated policy value.
pub trait OffPolicyEstimator {
    /// Short name used in reports (`ipw`, `snipw`, `dm`, `dr`, `sndr`, `switch-dr-100`).
    fn name(&self) -> String;

    /// The estimated reward of every logged round under the evaluation policy (obp's
    /// `_estimate_round_rewards`); bootstrap intervals resample these.
    fn round_rewards(&self, input: &OpeInput<'_>) -> Result<Vec<f64>, OpeError>;

    /// The estimated policy value: the mean of [`round_rewards`](Self::round_rewards).
    fn estimate_policy_value(&self, input: &OpeInput<'_>) -> Result<f64, OpeError> {
        Ok(mean(&self.round_rewards(input)?))
    }
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}
