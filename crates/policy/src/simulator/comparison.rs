//! The policy comparison behind `cartback simulate`: train the learned policies on simulated
//! logs, then evaluate every policy exactly on fresh shoppers and report, per 1,000
//! abandoned carts, the incremental net revenue versus doing nothing (with a 95 %
//! confidence interval over shoppers), recovery rate, messages, discount spend and
//! unsubscribes.

use super::config::SimulatorConfig;
use super::episode::{run_episode, train_online};
use super::exact::{CartExpectation, expected_outcome};
use super::shopper::sample_population;
use crate::policies::{
    DoNothing, FixedFlow, LinUcbParams, LinearThompsonParams, Oracle, Policy, PolicyError,
    PropensityThreshold, QLearningParams, UniformRandom, UpliftGreedyParams,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use thiserror::Error;

/// Policies `compare_policies` knows, in report order.
pub const POLICY_NAMES: [&str; 7] = [
    "fixed",
    "threshold",
    "uplift",
    "linucb",
    "thompson",
    "qlearning",
    "oracle",
];

#[derive(Debug, Error, PartialEq)]
pub enum SimulationError {
    #[error(
        "unknown policy `{0}` (known: fixed, threshold, uplift, linucb, thompson, qlearning, oracle)"
    )]
    UnknownPolicy(String),
    #[error("policy `dqn` needs cartback built with the `dqn` cargo feature")]
    DqnUnavailable,
    #[error("parameter `{name}`: {message}")]
    Parameter { name: &'static str, message: String },
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonParams {
    pub policies: Vec<String>,
    /// Fresh shoppers each policy is evaluated on.
    pub carts: usize,
    /// Simulated shoppers the learned policies train on.
    pub train_carts: usize,
    pub seed: u64,
}

/// One row of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicySummary {
    pub name: String,
    pub incremental_net_revenue_per_1000: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub recovery_rate: f64,
    pub messages_per_cart: f64,
    pub discount_spend_per_1000: f64,
    pub unsubscribe_rate: f64,
}

fn build_policy(
    name: &str,
    config: &SimulatorConfig,
    train: &[super::shopper::Shopper],
    rng: &mut SmallRng,
) -> Result<Box<dyn Policy>, SimulationError> {
    Ok(match name {
        "fixed" => Box::new(FixedFlow::default()),
        "threshold" => Box::new(PropensityThreshold::new(0.10, FixedFlow::default())?),
        "uplift" => {
            let mut log = Vec::new();
            for shopper in train {
                log.extend(run_episode(config, shopper, &UniformRandom, rng));
            }
            Box::new(UpliftGreedyParams::default().fit(&log, config.costs)?)
        }
        "linucb" => {
            let mut policy = LinUcbParams::default().validate()?;
            train_online(&mut policy, config, train, rng);
            Box::new(policy)
        }
        "thompson" => {
            let mut policy = LinearThompsonParams::default().validate()?;
            train_online(&mut policy, config, train, rng);
            Box::new(policy)
        }
        "qlearning" => {
            let mut policy = QLearningParams {
                epsilon: 0.3,
                ..Default::default()
            }
            .validate()?;
            // Explore widely while learning, act with a small floor afterwards.
            for _ in 0..4 {
                train_online(&mut policy, config, train, rng);
            }
            Box::new(policy.with_epsilon(0.02))
        }
        "oracle" => Box::new(Oracle),
        #[cfg(feature = "dqn")]
        "dqn" => {
            let mut policy = crate::policies::DqnParams::default().validate()?;
            policy.train(config, train, rng)?;
            Box::new(policy)
        }
        #[cfg(not(feature = "dqn"))]
        "dqn" => return Err(SimulationError::DqnUnavailable),
        other => return Err(SimulationError::UnknownPolicy(other.to_string())),
    })
}

/// Trains and evaluates `params.policies` on the population of `config`.
pub fn compare_policies(
    config: &SimulatorConfig,
    params: &ComparisonParams,
) -> Result<Vec<PolicySummary>, SimulationError> {
    if params.carts < 2 {
        return Err(SimulationError::Parameter {
            name: "carts",
            message: "must be at least 2".into(),
        });
    }
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let train = sample_population(config, params.train_carts, &mut rng);
    let mut eval_rng = SmallRng::seed_from_u64(params.seed.wrapping_add(0x9e37_79b9));
    let shoppers = sample_population(config, params.carts, &mut eval_rng);
    let baseline: Vec<CartExpectation> = shoppers
        .iter()
        .map(|s| expected_outcome(config, s, &DoNothing))
        .collect();
    let mut summaries = Vec::new();
    for name in &params.policies {
        let policy = build_policy(name, config, &train, &mut rng)?;
        let outcomes: Vec<CartExpectation> = shoppers
            .iter()
            .map(|s| expected_outcome(config, s, policy.as_ref()))
            .collect();
        let n = shoppers.len() as f64;
        let incremental: Vec<f64> = outcomes
            .iter()
            .zip(&baseline)
            .map(|(o, b)| o.net_revenue_minor - b.net_revenue_minor)
            .collect();
        let mean = incremental.iter().sum::<f64>() / n;
        let variance = incremental.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let half_width = 1.96 * (variance / n).sqrt();
        let average = |f: fn(&CartExpectation) -> f64| outcomes.iter().map(f).sum::<f64>() / n;
        // Per 1,000 carts, in major units of the shop's currency.
        let per_1000 = 1000.0 / 100.0;
        summaries.push(PolicySummary {
            name: name.clone(),
            incremental_net_revenue_per_1000: mean * per_1000,
            ci_low: (mean - half_width) * per_1000,
            ci_high: (mean + half_width) * per_1000,
            recovery_rate: average(|o| o.recovery_probability),
            messages_per_cart: average(|o| o.messages),
            discount_spend_per_1000: average(|o| o.discount_minor) * per_1000,
            unsubscribe_rate: average(|o| o.unsubscribe_probability),
        });
    }
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_bounds_the_rule_based_policies_and_unknown_names_fail() {
        let config = SimulatorConfig::default();
        let params = ComparisonParams {
            policies: vec!["fixed".into(), "threshold".into(), "oracle".into()],
            carts: 400,
            train_carts: 0,
            seed: 5,
        };
        let rows = compare_policies(&config, &params).unwrap();
        assert_eq!(rows.len(), 3);
        let oracle = rows[2].incremental_net_revenue_per_1000;
        assert!(oracle > rows[0].incremental_net_revenue_per_1000);
        assert!(oracle > rows[1].incremental_net_revenue_per_1000);
        assert!(oracle > 0.0);
        assert!(rows[0].ci_low < rows[0].incremental_net_revenue_per_1000);
        // The fixed flow sends up to three messages to consenting shoppers.
        assert!(rows[0].messages_per_cart > 1.5 && rows[0].messages_per_cart <= 3.0);
        let bad = ComparisonParams {
            policies: vec!["magic".into()],
            ..params.clone()
        };
        assert_eq!(
            compare_policies(&config, &bad).unwrap_err(),
            SimulationError::UnknownPolicy("magic".into())
        );
    }
}
