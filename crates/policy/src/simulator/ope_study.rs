//! Accuracy of the off-policy estimators on the simulator, where the truth is known
//! exactly: many logged datasets are drawn from a uniformly random first-step policy, a
//! target policy is estimated from each with every estimator, and bias and RMSE are taken
//! against the target's exact expected net revenue.
//!
//! Each dataset is one decision per cart (the first step; later steps do nothing), reward =
//! the cart's net revenue in major units. The truth of a dataset is the target's exact
//! expected value on that dataset's carts (so population sampling noise does not blur the
//! estimators' own error); bias and RMSE are over the datasets. The target's action table is per round (actions
//! the shopper cannot receive fall back to doing nothing); the reward model is the
//! context-free mean reward per action of the same log, as in the OBD reference.

use super::config::SimulatorConfig;
use super::environment::{DiscountLedger, Simulator};
use super::episode::run_episode;
use super::exact::expected_outcome;
use super::shopper::sample_population;
use crate::actions::ActionKind;
use crate::ope::{
    ActionTable, EvaluationPolicy, LoggedFeedback, LoggedRound, OpeError, OpeInput, RewardModel,
    evaluate_standard_estimators,
};
use crate::policies::{
    ActionDistribution, N_ACTIONS, Observation, ObservedState, Policy, allowed_actions,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpeStudyParams {
    pub datasets: usize,
    pub carts_per_dataset: usize,
    pub seed: u64,
}

/// Bias and RMSE of one estimator, in major currency units per cart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EstimatorAccuracy {
    pub estimator: String,
    pub truth: f64,
    pub mean_estimate: f64,
    pub bias: f64,
    pub rmse: f64,
}

/// A first-step-only policy with a fixed preference over actions.
struct FirstStep {
    preference: [f64; N_ACTIONS],
    name: &'static str,
}

impl FirstStep {
    fn probabilities(&self, state: &ObservedState) -> [f64; N_ACTIONS] {
        let allowed = allowed_actions(state);
        let mut p = [0.0; N_ACTIONS];
        if state.step > 0 {
            p[ActionKind::DoNothing.index()] = 1.0;
            return p;
        }
        for kind in ActionKind::ALL {
            let target = if allowed[kind.index()] {
                kind
            } else {
                ActionKind::DoNothing
            };
            p[target.index()] += self.preference[kind.index()];
        }
        p
    }
}

impl Policy for FirstStep {
    fn name(&self) -> &str {
        self.name
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        ActionDistribution {
            probabilities: self.probabilities(&observation.state),
            scores: [0.0; N_ACTIONS],
            reason: "first-step study policy".into(),
        }
    }
}

fn uniform_first_step() -> FirstStep {
    FirstStep {
        preference: [1.0 / N_ACTIONS as f64; N_ACTIONS],
        name: "uniform-first-step",
    }
}

/// The target: mostly a reminder, some 10 % coupons, some nothing.
fn target_first_step() -> FirstStep {
    let mut preference = [0.0; N_ACTIONS];
    preference[ActionKind::ReminderEmail.index()] = 0.5;
    preference[ActionKind::Discount10.index()] = 0.2;
    preference[ActionKind::WebhookPush.index()] = 0.1;
    preference[ActionKind::DoNothing.index()] = 0.2;
    FirstStep {
        preference,
        name: "target-first-step",
    }
}

/// Runs the study; estimates are per cart in major units.
pub fn ope_study(
    config: &SimulatorConfig,
    params: &OpeStudyParams,
) -> Result<Vec<EstimatorAccuracy>, OpeError> {
    if params.datasets == 0 || params.carts_per_dataset == 0 {
        return Err(OpeError::Parameter {
            name: "datasets/carts_per_dataset".into(),
            message: "must all be at least 1".into(),
        });
    }
    let simulator = Simulator::new(config.clone()).map_err(|e| OpeError::Parameter {
        name: "config".into(),
        message: e.to_string(),
    })?;
    let logging = uniform_first_step();
    let target = target_first_step();
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let mut truths = Vec::with_capacity(params.datasets);
    let mut estimates: Vec<(String, Vec<f64>)> = Vec::new();
    for _ in 0..params.datasets {
        let shoppers = sample_population(&simulator, params.carts_per_dataset, &mut rng);
        // Coupons of the study's policies are rare enough that the daily budget is judged
        // per cart (an empty ledger), in the truth and in the logs alike.
        let no_coupons = DiscountLedger::default();
        truths.push(
            shoppers
                .iter()
                .map(|s| {
                    expected_outcome(&simulator, s, &no_coupons, &target).net_revenue_minor / 100.0
                })
                .sum::<f64>()
                / shoppers.len() as f64,
        );
        let mut rounds = Vec::with_capacity(shoppers.len());
        let mut target_tables = Vec::with_capacity(shoppers.len());
        for shopper in &shoppers {
            let episode = run_episode(
                &simulator,
                shopper,
                &mut DiscountLedger::default(),
                &logging,
                &mut rng,
            );
            let first = episode[0];
            let p_logging = logging.probabilities(&first.state)[first.action.index()];
            rounds.push(LoggedRound {
                action: first.action.index(),
                position: 0,
                reward: episode.iter().map(|t| t.reward_minor).sum::<f64>() / 100.0,
                propensity: p_logging,
            });
            target_tables.push(
                target
                    .probabilities(&first.state)
                    .iter()
                    .map(|&p| vec![p])
                    .collect::<Vec<_>>(),
            );
        }
        // Context-free reward model: mean reward per logged action (0 if never logged).
        let mut sums = [0.0; N_ACTIONS];
        let mut counts = [0usize; N_ACTIONS];
        for r in &rounds {
            sums[r.action] += r.reward;
            counts[r.action] += 1;
        }
        let model_rows: Vec<Vec<f64>> = (0..N_ACTIONS)
            .map(|a| {
                vec![if counts[a] > 0 {
                    sums[a] / counts[a] as f64
                } else {
                    0.0
                }]
            })
            .collect();
        let log = LoggedFeedback::new(rounds)?;
        let policy = EvaluationPolicy::new(ActionTable::per_round(
            "evaluation_action_dist",
            target_tables,
        )?)?;
        let model = RewardModel::new(ActionTable::shared("reward_model_table", model_rows)?);
        let input = OpeInput::new(&log, &policy, Some(&model))?;
        let report = evaluate_standard_estimators(&input, 100.0, None)?;
        if estimates.is_empty() {
            estimates = report
                .order
                .iter()
                .map(|n| (n.clone(), Vec::new()))
                .collect();
        }
        for (name, values) in &mut estimates {
            values.push(report.estimates[name.as_str()]);
        }
    }
    let n = truths.len() as f64;
    let truth = truths.iter().sum::<f64>() / n;
    Ok(estimates
        .into_iter()
        .map(|(estimator, values)| {
            let mean_estimate = values.iter().sum::<f64>() / n;
            let mse = values
                .iter()
                .zip(&truths)
                .map(|(v, t)| (v - t).powi(2))
                .sum::<f64>()
                / n;
            EstimatorAccuracy {
                estimator,
                truth,
                mean_estimate,
                bias: mean_estimate - truth,
                rmse: mse.sqrt(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importance_weighting_is_nearly_unbiased_on_the_simulator() {
        let config = SimulatorConfig::default();
        let params = OpeStudyParams {
            datasets: 30,
            carts_per_dataset: 400,
            seed: 9,
        };
        let rows = ope_study(&config, &params).unwrap();
        assert_eq!(rows.len(), 6);
        let ipw = rows.iter().find(|r| r.estimator == "ipw").unwrap();
        let dr = rows.iter().find(|r| r.estimator == "dr").unwrap();
        // Truth is a few currency units per cart; IPW's bias over 30 datasets stays within
        // a few standard errors (rmse / sqrt(30)) of zero.
        assert!(ipw.truth > 0.0);
        assert!(
            ipw.bias.abs() < 4.0 * ipw.rmse / (30f64).sqrt() + 0.05,
            "{ipw:?}"
        );
        assert!(dr.rmse <= ipw.rmse * 1.05, "DR {dr:?} vs IPW {ipw:?}");
    }
}
