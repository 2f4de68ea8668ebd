//! Runs the six standard estimators on one input and gathers their estimates and
//! bootstrap intervals into an [`OpeReport`].

use super::bootstrap::{Bootstrap, ConfidenceInterval};
use super::direct_method::DirectMethod;
use super::doubly_robust::{DoublyRobust, SelfNormalizedDoublyRobust, SwitchDoublyRobust};
use super::error::OpeError;
use super::estimator::{OffPolicyEstimator, OpeInput, mean};
use super::importance_weighting::{
    InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Estimates (and intervals, when bootstrapped) keyed by estimator name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpeReport {
    pub estimates: BTreeMap<String, f64>,
    pub intervals: BTreeMap<String, ConfidenceInterval>,
    /// Number of logged rounds.
    pub n: usize,
    /// Estimator names in the order they were run (IPW, SNIPW, DM, DR, SNDR, Switch-DR).
    #[serde(skip)]
    pub order: Vec<String>,
}

/// IPW, SNIPW, DM, DR, SNDR and Switch-DR(`switch_tau`) on `input`, each with a bootstrap
/// interval when `bootstrap` is given (all resampled with the same draws).
pub fn evaluate_standard_estimators(
    input: &OpeInput<'_>,
    switch_tau: f64,
    bootstrap: Option<&Bootstrap>,
) -> Result<OpeReport, OpeError> {
    let estimators: Vec<Box<dyn OffPolicyEstimator>> = vec![
        Box::new(InverseProbabilityWeighting),
        Box::new(SelfNormalizedInverseProbabilityWeighting),
        Box::new(DirectMethod),
        Box::new(DoublyRobust),
        Box::new(SelfNormalizedDoublyRobust),
        Box::new(SwitchDoublyRobust::new(switch_tau)?),
    ];
    let mut names = Vec::with_capacity(estimators.len());
    let mut round_rewards = Vec::with_capacity(estimators.len());
    for estimator in &estimators {
        names.push(estimator.name());
        round_rewards.push(estimator.round_rewards(input)?);
    }
    let estimates = names
        .iter()
        .zip(&round_rewards)
        .map(|(name, rewards)| (name.clone(), mean(rewards)))
        .collect();
    let intervals = match bootstrap {
        Some(bootstrap) => {
            let series: Vec<&[f64]> = round_rewards.iter().map(Vec::as_slice).collect();
            names
                .iter()
                .cloned()
                .zip(bootstrap.intervals(&series)?)
                .collect()
        }
        None => BTreeMap::new(),
    };
    Ok(OpeReport {
        estimates,
        intervals,
        n: input.log().len(),
        order: names,
    })
}
