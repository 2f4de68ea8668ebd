//! The policy comparison behind `cartback simulate`: train the learned policies on simulated
//! logs, then evaluate every policy exactly on fresh shoppers and report, per 1,000
//! abandoned carts, the incremental net revenue versus doing nothing (with a 95 %
//! confidence interval over shoppers), recovery rate, messages, discount spend,
//! unsubscribes, how often the guardrails changed a decision, and where the revenue comes
//! from (per hidden shopper type) and which actions went out.
//!
//! Learned policies explore only while they learn (on the training shoppers); they are
//! evaluated greedily. Every policy's training draws come from its own seed (derived from
//! `seed` and its name), so a row does not depend on which other policies are compared.

use super::bayes::bayes_evaluation;
use super::config::{ConfigError, SimulatorConfig};
use super::environment::{DiscountLedger, GUARDRAILS, Simulator, guardrail_name};
use super::episode::{log_episodes, train_online};
use super::exact::{CartEvaluation, CartExpectation, evaluate_cart, expected_outcome};
use super::shopper::{Segment, Shopper, sample_population};
use crate::actions::{ActionCosts, ActionKind};
use crate::policies::{
    BudgetedRandom, DoNothing, FittedQ, FittedQParams, FixedFlow, LinUcbParams,
    LinearThompsonParams, Oracle, Policy, PolicyError, PropensityThreshold, QLearningParams,
    UniformRandom, UpliftGreedyParams,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use std::collections::BTreeMap;
use thiserror::Error;

/// The policies `cartback simulate` compares by default, in report order (`dqn` only when
/// built with the `dqn` feature).
#[cfg(feature = "dqn")]
pub const POLICY_NAMES: [&str; 9] = [
    "fixed",
    "threshold",
    "uplift",
    "linucb",
    "thompson",
    "qlearning",
    "fqi",
    "dqn",
    "oracle",
];
/// The policies `cartback simulate` compares by default, in report order (`dqn` only when
/// built with the `dqn` feature).
#[cfg(not(feature = "dqn"))]
pub const POLICY_NAMES: [&str; 8] = [
    "fixed",
    "threshold",
    "uplift",
    "linucb",
    "thompson",
    "qlearning",
    "fqi",
    "oracle",
];

/// Every name `compare_policies` accepts: [`POLICY_NAMES`], `dqn` and `bayes`, the
/// Bayes-optimal policy for the observable features (a diagnostic ceiling, see `bayes.rs`).
pub const KNOWN_POLICIES: [&str; 10] = [
    "fixed",
    "threshold",
    "uplift",
    "linucb",
    "thompson",
    "qlearning",
    "fqi",
    "dqn",
    "bayes",
    "oracle",
];

#[derive(Debug, Error, PartialEq)]
pub enum SimulationError {
    #[error(
        "unknown policy `{0}` (known: fixed, threshold, uplift, linucb, thompson, qlearning, fqi, dqn, bayes, oracle)"
    )]
    UnknownPolicy(String),
    #[error("policy `dqn` needs cartback built with the `dqn` cargo feature")]
    DqnUnavailable,
    #[error("parameter `{name}`: {message}")]
    Parameter { name: &'static str, message: String },
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Config(String),
}

impl From<ConfigError> for SimulationError {
    fn from(e: ConfigError) -> Self {
        SimulationError::Config(e.to_string())
    }
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

/// Progress of a comparison, for callers that report or time it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComparisonEvent<'a> {
    TrainingStarted(&'a str),
    TrainingFinished(&'a str),
    EvaluationFinished(&'a str),
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
    /// Decisions per cart (one per step until the cart is bought).
    pub decisions_per_cart: f64,
    /// Share of decisions whose proposal a guardrail changed.
    pub guardrail_changed_share: f64,
    /// Decisions changed by each guardrail, per 1,000 carts (a decision changed by two
    /// guardrails counts for both).
    pub guardrail_changes_per_1000: BTreeMap<&'static str, f64>,
    /// Incremental net revenue per 1,000 carts coming from each hidden shopper type (they
    /// add up to the total).
    pub incremental_by_segment_per_1000: BTreeMap<&'static str, f64>,
    /// Actions that went out (after the guardrails) per 1,000 carts.
    pub executed_per_1000: BTreeMap<&'static str, f64>,
    /// 95 % interval `[low, high]` of each headline figure, over the evaluation shoppers
    /// (mean ± 1.96 standard errors of the per-cart expectations), keyed by the figure's
    /// field name: `incremental_net_revenue_per_1000` (the same as `ci_low`/`ci_high`),
    /// `recovery_rate`, `messages_per_cart`, `discount_spend_per_1000`, `unsubscribe_rate`.
    pub intervals: BTreeMap<&'static str, [f64; 2]>,
}

/// The 95 % interval of the mean of `values` (normal approximation over independent
/// shoppers), each value multiplied by `scale`.
fn interval_95(values: impl ExactSizeIterator<Item = f64> + Clone, scale: f64) -> [f64; 2] {
    let n = values.len() as f64;
    if n < 2.0 {
        let mean = values.sum::<f64>() / n.max(1.0) * scale;
        return [mean, mean];
    }
    let mean = values.clone().sum::<f64>() / n;
    let variance = values.map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let half_width = 1.96 * (variance / n).sqrt();
    [(mean - half_width) * scale, (mean + half_width) * scale]
}

/// The snake_case name of a shopper type.
pub fn segment_name(segment: Segment) -> &'static str {
    match segment {
        Segment::SureThing => "sure_thing",
        Segment::Persuadable => "persuadable",
        Segment::LostCause => "lost_cause",
        Segment::SleepingDog => "sleeping_dog",
    }
}

/// A seed for `name`'s training draws, independent of the other policies compared.
fn policy_seed(seed: u64, name: &str) -> u64 {
    name.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn build_policy(
    name: &str,
    simulator: &Simulator,
    train: &[Shopper],
    rng: &mut SmallRng,
) -> Result<Box<dyn Policy>, SimulationError> {
    Ok(match name {
        "fixed" => Box::new(FixedFlow::default()),
        "threshold" => Box::new(PropensityThreshold::new(0.10, FixedFlow::default())?),
        "uplift" => {
            let log: Vec<_> = log_episodes(simulator, train, &UniformRandom, rng)
                .into_iter()
                .flatten()
                .collect();
            Box::new(UpliftGreedyParams::default().fit(&log, simulator.config().costs)?)
        }
        "linucb" => {
            let mut policy = LinUcbParams::default().validate()?;
            train_online(&mut policy, simulator, train, rng);
            Box::new(policy.greedy())
        }
        "thompson" => {
            let mut policy = LinearThompsonParams::default().validate()?;
            train_online(&mut policy, simulator, train, rng);
            Box::new(policy.greedy())
        }
        "qlearning" => {
            let mut policy = QLearningParams {
                epsilon: 0.3,
                ..Default::default()
            }
            .validate()?;
            // Explore widely while learning, act greedily afterwards.
            for _ in 0..4 {
                train_online(&mut policy, simulator, train, rng);
            }
            Box::new(policy.with_epsilon(0.0))
        }
        "fqi" => Box::new(train_fitted_q(simulator, train, rng)?),
        "oracle" => Box::new(Oracle),
        #[cfg(feature = "dqn")]
        "dqn" => {
            let mut policy = crate::policies::DqnParams::default().validate()?;
            policy.train(simulator, train, rng)?;
            Box::new(policy.with_epsilon(0.0))
        }
        #[cfg(not(feature = "dqn"))]
        "dqn" => return Err(SimulationError::DqnUnavailable),
        other => return Err(SimulationError::UnknownPolicy(other.to_string())),
    })
}

/// Trains the fitted-Q planner the way `cartback simulate` does: on a log of `train`'s
/// carts under a random policy that proposes coupons only as often as the daily discount
/// budget pays for (`budgeted_logging`), then with the coupon shadow price that keeps what
/// it proposes on the first training days inside the budget. Greedy (ε = 0).
pub fn train_fitted_q(
    simulator: &Simulator,
    train: &[Shopper],
    rng: &mut SmallRng,
) -> Result<FittedQ, SimulationError> {
    let logging = budgeted_logging(simulator, train)?;
    let log: Vec<_> = log_episodes(simulator, train, &logging, rng)
        .into_iter()
        .flatten()
        .collect();
    let config = simulator.config();
    let policy = FittedQParams::default().fit(&log, config.costs, &config.step_delays_hours)?;
    Ok(calibrate_shadow_price(simulator, policy, train, rng))
}

/// The exploration policy of the planners' training log: random, with coupons only as often
/// as the daily discount budget pays for (uniform when the guardrails are off).
fn budgeted_logging(
    simulator: &Simulator,
    train: &[Shopper],
) -> Result<BudgetedRandom, SimulationError> {
    let config = simulator.config();
    let share = match simulator.guardrails() {
        None => 0.5,
        Some(guardrails) => {
            let mean_value = train
                .iter()
                .map(|s| s.features.cart_value_minor as f64)
                .sum::<f64>()
                / train.len().max(1) as f64;
            BudgetedRandom::share_for_budget(
                guardrails.daily_discount_budget_minor as f64,
                f64::from(config.shop.carts_per_day),
                config.step_delays_hours.len(),
                mean_value,
                0.9,
            )
        }
    };
    Ok(BudgetedRandom::new(share)?)
}

/// Coupon face value a policy proposes per day on `shoppers` (sampled episodes in arrival
/// order; only proposals that could go out, i.e. to a consenting, subscribed shopper).
fn proposed_coupons_per_day(
    simulator: &Simulator,
    policy: &dyn Policy,
    shoppers: &[Shopper],
    rng: &mut SmallRng,
) -> f64 {
    let allowed_total: f64 = log_episodes(simulator, shoppers, policy, rng)
        .iter()
        .flatten()
        .filter(|t| crate::policies::allowed_actions(&t.state)[t.action.index()])
        .map(|t| ActionCosts::discount_given(t.action, t.state.features.cart_value_minor) as f64)
        .sum();
    let days = shoppers.len() as f64 / f64::from(simulator.config().shop.carts_per_day);
    allowed_total / days.max(1e-9)
}

/// Sets the planner's coupon shadow price: zero when its coupons fit the daily discount
/// budget, else the smallest price (bisection) at which the coupons it proposes on the
/// first training days fit 95 % of the budget. Only observable quantities are used (what
/// the policy proposes), never the shoppers' hidden traits.
fn calibrate_shadow_price(
    simulator: &Simulator,
    policy: FittedQ,
    train: &[Shopper],
    rng: &mut SmallRng,
) -> FittedQ {
    let Some(guardrails) = simulator.guardrails() else {
        return policy;
    };
    let budget = guardrails.daily_discount_budget_minor as f64 * 0.95;
    let days = 20 * simulator.config().shop.carts_per_day as usize;
    let sample = &train[..train.len().min(days)];
    if sample.is_empty() {
        return policy;
    }
    let mut policy = policy.with_coupon_shadow_price(0.0);
    if proposed_coupons_per_day(simulator, &policy, sample, rng) <= budget {
        return policy;
    }
    let (mut low, mut high) = (0.0, 4.0);
    for _ in 0..10 {
        let middle = 0.5 * (low + high);
        policy = policy.with_coupon_shadow_price(middle);
        if proposed_coupons_per_day(simulator, &policy, sample, rng) <= budget {
            high = middle;
        } else {
            low = middle;
        }
    }
    policy.with_coupon_shadow_price(high)
}

/// The Bayes-optimal policy's coupon shadow price: the best of a grid by exact net revenue
/// on the first ten days of training shoppers (0 without guardrails). The Bayes policy is
/// a diagnostic that knows the simulator's model, so tuning it on exact values is fair.
fn bayes_shadow_price(simulator: &Simulator, train: &[Shopper]) -> f64 {
    if simulator.guardrails().is_none() {
        return 0.0;
    }
    let days = 10 * simulator.config().shop.carts_per_day as usize;
    let sample = &train[..train.len().min(days)];
    let mut best = (f64::NEG_INFINITY, 0.0);
    for price in [0.0, 0.03, 0.06, 0.1, 0.2] {
        let total: f64 = evaluate_in_order(sample, |s, ledger| {
            bayes_evaluation(simulator, s, ledger, price)
        })
        .iter()
        .map(|e| e.net_revenue_minor)
        .sum();
        if total > best.0 {
            best = (total, price);
        }
    }
    best.1
}

/// Trains and evaluates `params.policies` on the population of `config`.
pub fn compare_policies(
    config: &SimulatorConfig,
    params: &ComparisonParams,
) -> Result<Vec<PolicySummary>, SimulationError> {
    compare_policies_with_progress(config, params, &mut |_| {})
}

/// [`compare_policies`], reporting progress to `progress`.
pub fn compare_policies_with_progress(
    config: &SimulatorConfig,
    params: &ComparisonParams,
    progress: &mut dyn FnMut(ComparisonEvent<'_>),
) -> Result<Vec<PolicySummary>, SimulationError> {
    if params.carts < 2 {
        return Err(SimulationError::Parameter {
            name: "carts",
            message: "must be at least 2".into(),
        });
    }
    // Unknown names fail before any training.
    for name in &params.policies {
        if !KNOWN_POLICIES.contains(&name.as_str()) {
            return Err(SimulationError::UnknownPolicy(name.clone()));
        }
    }
    let simulator = Simulator::new(config.clone())?;
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let train = sample_population(&simulator, params.train_carts, &mut rng);
    let mut eval_rng = SmallRng::seed_from_u64(params.seed.wrapping_add(0x9e37_79b9));
    let shoppers = sample_population(&simulator, params.carts, &mut eval_rng);
    let no_coupons = DiscountLedger::default();
    let baseline: Vec<CartExpectation> = shoppers
        .iter()
        .map(|s| expected_outcome(&simulator, s, &no_coupons, &DoNothing))
        .collect();
    let mut summaries = Vec::new();
    for name in &params.policies {
        progress(ComparisonEvent::TrainingStarted(name));
        if name == "bayes" {
            // Its "training" is picking the coupon shadow price.
            let price = bayes_shadow_price(&simulator, &train);
            progress(ComparisonEvent::TrainingFinished(name));
            let outcomes = evaluate_in_order(&shoppers, |s, ledger| {
                bayes_evaluation(&simulator, s, ledger, price)
            });
            summaries.push(summarise(name, &shoppers, &baseline, outcomes));
            progress(ComparisonEvent::EvaluationFinished(name));
            continue;
        }
        let mut policy_rng = SmallRng::seed_from_u64(policy_seed(params.seed, name));
        let policy = build_policy(name, &simulator, &train, &mut policy_rng)?;
        progress(ComparisonEvent::TrainingFinished(name));
        summaries.push(evaluate(
            &simulator,
            name,
            policy.as_ref(),
            &shoppers,
            &baseline,
        ));
        progress(ComparisonEvent::EvaluationFinished(name));
    }
    Ok(summaries)
}

/// Evaluates every cart in arrival order, booking each cart's expected coupons in one
/// discount ledger before the next cart.
fn evaluate_in_order(
    shoppers: &[Shopper],
    mut cart: impl FnMut(&Shopper, &DiscountLedger) -> CartEvaluation,
) -> Vec<CartExpectation> {
    let mut ledger = DiscountLedger::default();
    shoppers
        .iter()
        .map(|s| {
            let evaluation = cart(s, &ledger);
            evaluation.book(&mut ledger);
            evaluation.expectation
        })
        .collect()
}

/// Exact evaluation of `policy` on `shoppers` in arrival order (one discount ledger).
pub fn evaluate(
    simulator: &Simulator,
    name: &str,
    policy: &dyn Policy,
    shoppers: &[Shopper],
    baseline: &[CartExpectation],
) -> PolicySummary {
    let outcomes = evaluate_in_order(shoppers, |s, ledger| {
        evaluate_cart(simulator, s, ledger, policy)
    });
    summarise(name, shoppers, baseline, outcomes)
}

fn summarise(
    name: &str,
    shoppers: &[Shopper],
    baseline: &[CartExpectation],
    outcomes: Vec<CartExpectation>,
) -> PolicySummary {
    let n = shoppers.len() as f64;
    let incremental: Vec<f64> = outcomes
        .iter()
        .zip(baseline)
        .map(|(o, b)| o.net_revenue_minor - b.net_revenue_minor)
        .collect();
    let mean = incremental.iter().sum::<f64>() / n;
    let average = |f: &dyn Fn(&CartExpectation) -> f64| outcomes.iter().map(f).sum::<f64>() / n;
    // Per 1,000 carts, in major units of the shop's currency.
    let per_1000 = 1000.0 / 100.0;
    let mut by_segment = BTreeMap::new();
    for (shopper, x) in shoppers.iter().zip(&incremental) {
        *by_segment
            .entry(segment_name(shopper.segment))
            .or_insert(0.0) += x * per_1000 / n;
    }
    let decisions = average(&|o| o.decisions);
    let over_carts =
        |f: fn(&CartExpectation) -> f64, scale: f64| interval_95(outcomes.iter().map(f), scale);
    let incremental_interval = interval_95(incremental.iter().copied(), per_1000);
    let intervals = BTreeMap::from([
        ("incremental_net_revenue_per_1000", incremental_interval),
        ("recovery_rate", over_carts(|o| o.recovery_probability, 1.0)),
        ("messages_per_cart", over_carts(|o| o.messages, 1.0)),
        (
            "discount_spend_per_1000",
            over_carts(|o| o.discount_minor, per_1000),
        ),
        (
            "unsubscribe_rate",
            over_carts(|o| o.unsubscribe_probability, 1.0),
        ),
    ]);
    PolicySummary {
        name: name.to_string(),
        incremental_net_revenue_per_1000: mean * per_1000,
        ci_low: incremental_interval[0],
        ci_high: incremental_interval[1],
        recovery_rate: average(&|o| o.recovery_probability),
        messages_per_cart: average(&|o| o.messages),
        discount_spend_per_1000: average(&|o| o.discount_minor) * per_1000,
        unsubscribe_rate: average(&|o| o.unsubscribe_probability),
        decisions_per_cart: decisions,
        guardrail_changed_share: average(&|o| o.guardrail_changes) / decisions.max(1e-12),
        guardrail_changes_per_1000: GUARDRAILS
            .iter()
            .enumerate()
            .map(|(i, g)| {
                (
                    guardrail_name(*g),
                    average(&|o| o.changes_by_guardrail[i]) * 1000.0,
                )
            })
            .filter(|(_, v)| *v > 0.0)
            .collect(),
        incremental_by_segment_per_1000: by_segment,
        executed_per_1000: ActionKind::ALL
            .iter()
            .map(|k| (k.name(), average(&|o| o.executed[k.index()]) * 1000.0))
            .collect(),
        intervals,
    }
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
        assert!(rows[0].messages_per_cart > 1.2 && rows[0].messages_per_cart <= 3.0);
        for row in &rows {
            // The per-type contributions add up to the total.
            let by_type: f64 = row.incremental_by_segment_per_1000.values().sum();
            assert!((by_type - row.incremental_net_revenue_per_1000).abs() < 1e-6);
            let sent: f64 = row.executed_per_1000.values().sum();
            assert!((sent / 1000.0 - row.decisions_per_cart).abs() < 1e-9);
            // Every headline figure has an interval around it; the incremental one is the
            // row's `ci_low`/`ci_high`.
            let figures = [
                (
                    "incremental_net_revenue_per_1000",
                    row.incremental_net_revenue_per_1000,
                ),
                ("recovery_rate", row.recovery_rate),
                ("messages_per_cart", row.messages_per_cart),
                ("discount_spend_per_1000", row.discount_spend_per_1000),
                ("unsubscribe_rate", row.unsubscribe_rate),
            ];
            assert_eq!(row.intervals.len(), figures.len());
            for (name, value) in figures {
                let [low, high] = row.intervals[name];
                assert!(
                    low <= value && value <= high,
                    "{name}: {value} in [{low}, {high}]"
                );
            }
            let [low, high] = row.intervals["incremental_net_revenue_per_1000"];
            assert_eq!((low, high), (row.ci_low, row.ci_high));
            // Shoppers differ, so the recovery rate is uncertain.
            assert!(row.intervals["recovery_rate"][1] > row.intervals["recovery_rate"][0]);
        }
        // The fixed flow's night-time messages wait for the end of the quiet hours, and its
        // messages to the holdout group are suppressed; the oracle, which knows the
        // guardrails, proposes nothing they would refuse.
        let fixed = &rows[0].guardrail_changes_per_1000;
        assert!(
            fixed["quiet_hours"] > 50.0 && fixed["holdout"] > 50.0,
            "{fixed:?}"
        );
        assert!(!rows[2].guardrail_changes_per_1000.contains_key("holdout"));
        let bad = ComparisonParams {
            policies: vec!["magic".into()],
            ..params.clone()
        };
        assert_eq!(
            compare_policies(&config, &bad).unwrap_err(),
            SimulationError::UnknownPolicy("magic".into())
        );
    }

    #[test]
    fn the_interval_is_the_mean_plus_minus_1_96_standard_errors() {
        // 1, 2, 3, 4: mean 2.5, sample variance 5/3, standard error √(5/12).
        let [low, high] = interval_95([1.0, 2.0, 3.0, 4.0].into_iter(), 10.0);
        let half = 1.96 * (5.0_f64 / 12.0).sqrt();
        assert!((low - (2.5 - half) * 10.0).abs() < 1e-12, "{low}");
        assert!((high - (2.5 + half) * 10.0).abs() < 1e-12, "{high}");
        // One value: no spread to estimate, the interval is the value.
        assert_eq!(interval_95([3.0].into_iter(), 2.0), [6.0, 6.0]);
    }

    #[test]
    fn without_guardrails_only_consent_is_respected() {
        let mut config = SimulatorConfig::default();
        config.shop.apply_guardrails = false;
        let params = ComparisonParams {
            policies: vec!["fixed".into()],
            carts: 300,
            train_carts: 0,
            seed: 6,
        };
        let free = compare_policies(&config, &params).unwrap();
        let guarded = compare_policies(&SimulatorConfig::default(), &params).unwrap();
        assert_eq!(free[0].guardrail_changed_share, 0.0);
        assert!(guarded[0].guardrail_changed_share > 0.1);
        assert!(free[0].messages_per_cart > guarded[0].messages_per_cart);
    }

    #[test]
    fn the_planner_prices_coupons_only_when_the_budget_binds() {
        let mut config = SimulatorConfig::default();
        config.shop.carts_per_day = 10;
        let simulator = Simulator::new(config.clone()).unwrap();
        let mut rng = SmallRng::seed_from_u64(8);
        let train = sample_population(&simulator, 6_000, &mut rng);
        let logging = budgeted_logging(&simulator, &train).unwrap();
        let log: Vec<_> = log_episodes(&simulator, &train, &logging, &mut rng)
            .into_iter()
            .flatten()
            .collect();
        let planner = FittedQParams::default()
            .fit(&log, config.costs, &config.step_delays_hours)
            .unwrap();
        // 500.00 a day for 10 carts: coupons never need rationing.
        let free = calibrate_shadow_price(&simulator, planner.clone(), &train, &mut rng);
        assert_eq!(free.coupon_shadow_price(), 0.0);
        // 5.00 a day: they do, and the priced planner proposes fewer coupons.
        config.guardrails.daily_discount_budget_minor = 500;
        let tight = Simulator::new(config).unwrap();
        let priced = calibrate_shadow_price(&tight, planner.clone(), &train, &mut rng);
        assert!(priced.coupon_shadow_price() > 0.0);
        let sample = &train[..200];
        let before = proposed_coupons_per_day(&tight, &planner, sample, &mut rng);
        let after = proposed_coupons_per_day(&tight, &priced, sample, &mut rng);
        assert!(after < before, "{after} >= {before}");
    }

    #[test]
    fn the_bayes_ceiling_ranks_between_the_fixed_flow_and_the_oracle() {
        let config = SimulatorConfig::default();
        let params = ComparisonParams {
            policies: vec!["fixed".into(), "bayes".into(), "oracle".into()],
            carts: 120,
            train_carts: 40,
            seed: 3,
        };
        let rows = compare_policies(&config, &params).unwrap();
        let value = |i: usize| rows[i].incremental_net_revenue_per_1000;
        assert!(value(1) > value(0), "bayes {} fixed {}", value(1), value(0));
        assert!(
            value(2) >= value(1) - 1e-6,
            "oracle {} bayes {}",
            value(2),
            value(1)
        );
    }
}
