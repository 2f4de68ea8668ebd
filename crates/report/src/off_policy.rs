//! The report's off-policy estimates: from the period's settled **first-touch rounds** (the
//! first decision step of every treated abandonment, with the policy state the engine
//! recorded, rewarded with the abandonment's net outcome), what the logged policy realised
//! per abandonment, what each other first touch would have given (SNIPW and DR with
//! percentile bootstrap intervals, and the importance weights' effective sample size), and a
//! check against the randomised holdout: the off-policy estimate of doing nothing at every
//! step next to the holdout's measured value.
//!
//! The estimators are `cartback_policy::ope`'s (those of `cartback ope --format cartback`):
//! the built-in policies' distributions pushed through each round's recorded guardrail
//! outcomes, the cross-fitted ridge reward model, obp's SNIPW and DR. Figures nobody should
//! trust are not given: fewer than [`MIN_ROUNDS`] rounds (`too few`), or an evaluated policy
//! whose importance weights have an effective sample size below [`MIN_EFFECTIVE_SAMPLE_SIZE`]
//! or a mean below [`MIN_MEAN_WEIGHT`] (`little overlap`: the log rarely took what it would).

use crate::report::{GroupOutcome, MIN_GROUP, format_money};
use crate::stats::{Estimate, Z_95};
use cartback_core::Timestamp;
use cartback_policy::actions::ActionKind;
use cartback_policy::ope::{
    Bootstrap, BootstrapParams, CartbackLog, DoublyRobust, LoggedFeedback, LoggedRound,
    LoggedState, OffPolicyEstimator, OpeError, OpeInput, SelfNormalizedInverseProbabilityWeighting,
    builtin_policy, fit_reward_model, policy_action_dist,
};
use serde::Serialize;

/// Below this many first-touch rounds no policy is estimated (`too few`).
pub const MIN_ROUNDS: u64 = 100;
/// An evaluated policy whose importance weights count as fewer rounds than this
/// (`(Σw)² / Σw²`) gets no estimate (`little overlap`); the lift's minimum group size.
pub const MIN_EFFECTIVE_SAMPLE_SIZE: f64 = MIN_GROUP as f64;
/// An evaluated policy whose mean importance weight is below this gets no estimate (`little
/// overlap`): with correct propensities the mean weight is 1 on average, and it falls short
/// by the share of the evaluated policy's choices the logged policy never made (a
/// deterministic log's zero-probability actions), which no effective sample size reveals.
pub const MIN_MEAN_WEIGHT: f64 = 0.5;
/// Bootstrap resamples of every interval (all series resampled with the same draws).
pub const BOOTSTRAP_SAMPLES: usize = 200;
/// The bootstrap's seed: the same store gives the same report.
pub const BOOTSTRAP_SEED: u64 = 12_345;
/// Prior precision of the cross-fitted ridge reward model (`cartback ope --ridge`).
pub const RIDGE: f64 = 1.0;

/// The alternatives evaluated, as `cartback ope --eval-policy builtin:…` names them, with
/// the first touch each takes. Rounds are first decision steps, so a fixed flow is its first
/// action: one row per possible first touch (where a channel lacks consent, the fixed flow
/// does nothing, as the engine would).
pub const ALTERNATIVES: [(&str, ActionKind); 8] = [
    ("do_nothing", ActionKind::DoNothing),
    ("fixed_flow", ActionKind::ReminderEmail),
    (
        "fixed_flow=recommendation_email",
        ActionKind::RecommendationEmail,
    ),
    ("fixed_flow=webhook_push", ActionKind::WebhookPush),
    ("fixed_flow=discount_5", ActionKind::Discount5),
    ("fixed_flow=discount_10", ActionKind::Discount10),
    ("fixed_flow=discount_15", ActionKind::Discount15),
    ("fixed_flow=discount_20", ActionKind::Discount20),
];

/// One settled first-touch round: the first decision step of a treated abandonment.
#[derive(Clone, Debug, PartialEq)]
pub struct FirstTouchRound {
    /// When the step-0 decision was taken (the report's period applies to it).
    pub decided_at: Timestamp,
    /// ISO 4217 code of the cart's currency, when known.
    pub currency: Option<String>,
    /// The action the engine took at step 0 (after the guardrails).
    pub action: ActionKind,
    /// The probability the policy and guardrails took it with.
    pub propensity: f64,
    /// The abandonment's net outcome, minor units (every step's messages included).
    pub reward: f64,
    /// The recorded state of step 0.
    pub state: LoggedState,
    /// When every decision step of the abandonment did nothing, the product of their
    /// propensities (the logged probability of doing nothing throughout); else `None`.
    pub nothing_throughout: Option<f64>,
}

/// What one evaluated policy would have given per abandonment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PolicyEstimate {
    /// The built-in's name (`cartback ope --eval-policy builtin:NAME`).
    pub policy: String,
    /// The first touch it takes.
    pub first_touch: String,
    /// `(Σw)² / Σw²` of its importance weights.
    pub effective_sample_size: f64,
    pub mean_weight: f64,
    pub max_weight: f64,
    /// Self-normalised IPW, net per abandonment with a 95 % bootstrap interval (`None` when
    /// not trusted).
    pub snipw: Option<Estimate>,
    /// Doubly robust with the cross-fitted reward model (`None` when not trusted).
    pub dr: Option<Estimate>,
    /// `ok` or `little overlap`.
    pub verdict: String,
}

/// The off-policy estimate of doing nothing at every step beside the holdout's measurement
/// of the same (see `docs/report.md` for when they are the same quantity).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HoldoutCheck {
    /// The holdout's net revenue per settled abandonment (normal interval).
    pub holdout: Option<Estimate>,
    pub holdout_settled: u64,
    /// SNIPW of doing nothing at every step: rounds weighted by 1 / (product of the steps'
    /// propensities) where every step did nothing, 0 elsewhere.
    pub estimate: Option<Estimate>,
    /// Rounds that did nothing at every step.
    pub rounds_doing_nothing: u64,
    pub effective_sample_size: f64,
    pub mean_weight: f64,
    /// estimate − holdout, with the two intervals' standard errors combined.
    pub difference: Option<Estimate>,
    /// The difference's interval contains zero.
    pub agrees: Option<bool>,
    pub verdict: String,
}

/// The report's off-policy section.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OffPolicy {
    /// Settled first-touch rounds evaluated (treated abandonments of the period).
    pub rounds: u64,
    /// Settled treated abandonments whose first decision has no (readable) recorded state.
    pub skipped_without_state: u64,
    /// Rounds in another currency than the report's.
    pub skipped_other_currency: u64,
    /// Decision steps of the logged flow (the largest in the rounds' states).
    pub flow_steps: Option<usize>,
    /// The logged policy's realised net revenue per abandonment (on-policy mean, bootstrap
    /// interval).
    pub logged: Option<Estimate>,
    pub policies: Vec<PolicyEstimate>,
    pub holdout_check: Option<HoldoutCheck>,
    pub bootstrap_samples: usize,
    pub bootstrap_seed: u64,
    /// One sentence saying what can be read from the figures.
    pub verdict: String,
}

/// The off-policy section from `rounds` (already in the report's period and currency),
/// checked against `holdout`.
pub fn off_policy_section(
    rounds: &[FirstTouchRound],
    skipped_without_state: u64,
    skipped_other_currency: u64,
    holdout: &GroupOutcome,
    currency: Option<&str>,
) -> OffPolicy {
    let mut section = OffPolicy {
        rounds: rounds.len() as u64,
        skipped_without_state,
        skipped_other_currency,
        flow_steps: rounds.iter().map(|r| r.state.observed.n_steps).max(),
        bootstrap_samples: BOOTSTRAP_SAMPLES,
        bootstrap_seed: BOOTSTRAP_SEED,
        ..OffPolicy::default()
    };
    let skipped = if skipped_without_state > 0 {
        format!(
            " {skipped_without_state} abandonments whose first decision has no recorded \
             policy state were skipped."
        )
    } else {
        String::new()
    };
    if rounds.is_empty() {
        section.verdict = format!(
            "No settled first-touch round with a recorded policy state yet: nothing to \
             evaluate off-policy.{skipped}"
        );
        return section;
    }
    if section.rounds < MIN_ROUNDS {
        section.verdict = format!(
            "Too few first-touch rounds to estimate other policies ({}; at least {MIN_ROUNDS} \
             are needed).{skipped}",
            section.rounds
        );
        return section;
    }
    match estimate(rounds, holdout, currency) {
        Ok((logged, policies, check)) => {
            section.logged = Some(logged);
            section.policies = policies;
            section.holdout_check = Some(check);
        }
        Err(error) => {
            section.verdict = format!("The off-policy estimates failed: {error}.{skipped}");
            return section;
        }
    }
    let money = |e: Estimate| format_money(currency, e.value);
    let trusted = section
        .policies
        .iter()
        .filter(|p| p.snipw.is_some())
        .count();
    let logged = section.logged.map(money).unwrap_or_default();
    section.verdict = if trusted == 0 {
        format!(
            "Little overlap: over {} first-touch rounds the logged policy (realised {logged} \
             per abandonment) rarely took any first action other than its own, so no \
             alternative can be estimated from this log. Set `[policy] exploration` (e.g. 0.05) \
             to log what the others need.{skipped}",
            section.rounds
        )
    } else {
        format!(
            "Over {} first-touch rounds the logged policy realised {logged} per abandonment; \
             {trusted} of {} alternative first touches overlap enough with it to be \
             estimated.{skipped}",
            section.rounds,
            section.policies.len()
        )
    };
    section
}

/// Importance-weight diagnostics of one evaluated policy.
struct Weights {
    effective_sample_size: f64,
    mean: f64,
    max: f64,
}

impl Weights {
    fn of(weights: &[f64]) -> Weights {
        let sum: f64 = weights.iter().sum();
        let squares: f64 = weights.iter().map(|w| w * w).sum();
        Weights {
            effective_sample_size: if squares > 0.0 {
                sum * sum / squares
            } else {
                0.0
            },
            mean: sum / weights.len() as f64,
            max: weights.iter().copied().fold(0.0, f64::max),
        }
    }

    fn overlap(&self) -> bool {
        self.effective_sample_size >= MIN_EFFECTIVE_SAMPLE_SIZE && self.mean >= MIN_MEAN_WEIGHT
    }

    fn verdict(&self) -> String {
        if self.overlap() {
            "ok".into()
        } else {
            format!(
                "little overlap (effective sample size {:.1}, mean weight {:.2}; at least \
                 {MIN_EFFECTIVE_SAMPLE_SIZE} and {MIN_MEAN_WEIGHT} are needed)",
                self.effective_sample_size, self.mean
            )
        }
    }
}

/// The estimates of a log of at least [`MIN_ROUNDS`] rounds.
fn estimate(
    rounds: &[FirstTouchRound],
    holdout: &GroupOutcome,
    currency: Option<&str>,
) -> Result<(Estimate, Vec<PolicyEstimate>, HoldoutCheck), OpeError> {
    let log = CartbackLog {
        feedback: LoggedFeedback::new(
            rounds
                .iter()
                .map(|r| LoggedRound {
                    action: r.action.index(),
                    position: 0,
                    reward: r.reward,
                    propensity: r.propensity,
                })
                .collect(),
        )?,
        states: rounds.iter().map(|r| Some(r.state.clone())).collect(),
        lines: (1..=rounds.len()).collect(),
    };
    let model = fit_reward_model(&log, RIDGE)?;
    // Every series resampled together: the logged rewards, then SNIPW and DR of every
    // policy with overlap, then doing nothing throughout.
    let rewards: Vec<f64> = rounds.iter().map(|r| r.reward).collect();
    let mut series: Vec<Vec<f64>> = vec![rewards];
    let mut policies = Vec::with_capacity(ALTERNATIVES.len());
    let mut series_of_policy = Vec::with_capacity(ALTERNATIVES.len());
    for (spec, first_touch) in ALTERNATIVES {
        let (policy, _) = builtin_policy(spec)?;
        let table = policy_action_dist(&*policy, &log, None)?;
        let input = OpeInput::new(&log.feedback, &table, Some(&model))?;
        let weights: Vec<f64> = input
            .importance_terms()
            .iter()
            .map(|t| t.importance_weight)
            .collect();
        let diagnostics = Weights::of(&weights);
        if diagnostics.overlap() {
            series_of_policy.push(Some(series.len()));
            series.push(SelfNormalizedInverseProbabilityWeighting.round_rewards(&input)?);
            series.push(DoublyRobust.round_rewards(&input)?);
        } else {
            series_of_policy.push(None);
        }
        policies.push(PolicyEstimate {
            policy: spec.to_owned(),
            first_touch: first_touch.name().to_owned(),
            effective_sample_size: diagnostics.effective_sample_size,
            mean_weight: diagnostics.mean,
            max_weight: diagnostics.max,
            snipw: None,
            dr: None,
            verdict: diagnostics.verdict(),
        });
    }
    let nothing_weights: Vec<f64> = rounds
        .iter()
        .map(|r| r.nothing_throughout.map_or(0.0, |p| 1.0 / p))
        .collect();
    let nothing = Weights::of(&nothing_weights);
    let nothing_series = nothing.overlap().then(|| {
        series.push(
            rounds
                .iter()
                .zip(&nothing_weights)
                .map(|(r, w)| w * r.reward / nothing.mean)
                .collect(),
        );
        series.len() - 1
    });
    let bootstrap: Bootstrap = BootstrapParams {
        n_samples: BOOTSTRAP_SAMPLES,
        alpha: 0.05,
        seed: BOOTSTRAP_SEED,
    }
    .validate()?;
    let slices: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
    let intervals = bootstrap.intervals(&slices)?;
    let estimate_of = |index: usize| {
        let values = &series[index];
        Estimate {
            value: values.iter().sum::<f64>() / values.len() as f64,
            ci_low: intervals[index].low,
            ci_high: intervals[index].high,
        }
    };
    for (policy, index) in policies.iter_mut().zip(series_of_policy) {
        if let Some(index) = index {
            policy.snipw = Some(estimate_of(index));
            policy.dr = Some(estimate_of(index + 1));
        }
    }
    let check = holdout_check(
        holdout,
        nothing_series.map(estimate_of),
        &nothing,
        rounds
            .iter()
            .filter(|r| r.nothing_throughout.is_some())
            .count() as u64,
        currency,
    );
    Ok((estimate_of(0), policies, check))
}

fn holdout_check(
    holdout: &GroupOutcome,
    estimate: Option<Estimate>,
    weights: &Weights,
    rounds_doing_nothing: u64,
    currency: Option<&str>,
) -> HoldoutCheck {
    let mut check = HoldoutCheck {
        holdout: holdout.net_per_abandonment_minor,
        holdout_settled: holdout.settled,
        estimate,
        rounds_doing_nothing,
        effective_sample_size: weights.effective_sample_size,
        mean_weight: weights.mean,
        ..HoldoutCheck::default()
    };
    let money = |minor: f64| format_money(currency, minor);
    let with_interval = |e: Estimate| {
        format!(
            "{} [{}, {}]",
            money(e.value),
            money(e.ci_low),
            money(e.ci_high)
        )
    };
    if holdout.settled < MIN_GROUP {
        check.verdict = format!(
            "Too few settled holdout abandonments to check the estimates against ({}; at least \
             {MIN_GROUP} are needed).",
            holdout.settled
        );
        return check;
    }
    check.verdict = match (estimate, holdout.net_per_abandonment_minor) {
        (None, measured) => format!(
            "Little overlap: the logged policy did nothing at every step on {rounds_doing_nothing} \
             rounds (effective sample size {:.1}, mean weight {:.2}), too few to estimate doing \
             nothing{}.",
            weights.effective_sample_size,
            weights.mean,
            measured.map_or_else(String::new, |m| format!(
                "; the holdout measured {}",
                with_interval(m)
            ))
        ),
        (Some(_), None) => "The holdout has no net revenue figure.".into(),
        (Some(estimate), Some(measured)) => {
            // Standard errors from the 95 % intervals (the bootstrap's is not symmetric:
            // half its width stands in); the groups are different shoppers, so independent.
            let se = |e: Estimate| (e.ci_high - e.ci_low) / (2.0 * Z_95);
            let d = estimate.value - measured.value;
            let half = Z_95 * (se(estimate).powi(2) + se(measured).powi(2)).sqrt();
            let difference = Estimate {
                value: d,
                ci_low: d - half,
                ci_high: d + half,
            };
            let agrees = !difference.excludes_zero();
            check.difference = Some(difference);
            check.agrees = Some(agrees);
            let figures = format!(
                "the off-policy estimate of doing nothing, {}, against the holdout's measured {} \
                 (difference {})",
                with_interval(estimate),
                with_interval(measured),
                with_interval(difference)
            );
            if agrees {
                format!("Agrees: {figures} is within the sampling error.")
            } else {
                format!(
                    "Disagrees: {figures} excludes zero. Check the logged propensities; the \
                     estimates of other policies are doubtful too."
                )
            }
        }
    };
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Moments;
    use cartback_policy::policies::ObservedState;
    use cartback_policy::simulator::CartFeatures;

    fn observed(value: i64, email: bool) -> ObservedState {
        ObservedState {
            features: CartFeatures {
                cart_value_minor: value,
                predicted_propensity: 0.1,
                returning_customer: false,
                mobile: false,
                email_consent: email,
                webhook_consent: false,
                abandoned_hour: 10,
                history: Default::default(),
                session: Default::default(),
            },
            step: 0,
            n_steps: 1,
            abandoned_at: Timestamp(1_780_000_000_000),
            send_at: Timestamp(1_780_000_000_000),
            send_hour_local: 10,
            messages_sent: 0,
            coupon_sent_percent: 0,
            subscribed: true,
        }
    }

    /// A one-step round: every proposal passes unchanged (e-mail consent, no push).
    fn round(action: ActionKind, propensity: f64, reward: f64) -> FirstTouchRound {
        FirstTouchRound {
            decided_at: Timestamp(0),
            currency: Some("EUR".into()),
            action,
            propensity,
            reward,
            state: LoggedState::unchanged(observed(5_000, true)),
            nothing_throughout: (action == ActionKind::DoNothing).then_some(propensity),
        }
    }

    fn holdout(values: &[f64]) -> GroupOutcome {
        let mut moments = Moments::default();
        values.iter().for_each(|&v| moments.push(v));
        GroupOutcome {
            abandonments: values.len() as u64,
            settled: values.len() as u64,
            net_per_abandonment_minor: moments.mean_estimate(),
            ..GroupOutcome::default()
        }
    }

    /// Half the rounds did nothing (reward 100 or 300), half sent a reminder (1,000), each
    /// with propensity 1/2; both halves of the cross-fitting (even and odd rounds) alike.
    fn half_and_half(n: usize) -> Vec<FirstTouchRound> {
        (0..n)
            .map(|i| {
                if i % 4 < 2 {
                    let reward = if i % 8 < 2 { 100.0 } else { 300.0 };
                    round(ActionKind::DoNothing, 0.5, reward)
                } else {
                    round(ActionKind::ReminderEmail, 0.5, 1_000.0)
                }
            })
            .collect()
    }

    fn policy<'a>(section: &'a OffPolicy, name: &str) -> &'a PolicyEstimate {
        section.policies.iter().find(|p| p.policy == name).unwrap()
    }

    #[test]
    fn snipw_of_a_first_touch_is_the_mean_reward_of_the_rounds_that_took_it() {
        let rounds = half_and_half(200);
        let section = off_policy_section(&rounds, 3, 0, &holdout(&[200.0; 40]), Some("EUR"));
        assert_eq!(section.rounds, 200);
        assert_eq!(section.skipped_without_state, 3);
        assert_eq!(section.flow_steps, Some(1));
        // The logged policy's own value: the mean reward, (200 + 1,000) / 2.
        assert_eq!(section.logged.unwrap().value, 600.0);
        // Equal propensities: SNIPW of doing nothing is the mean reward of its rounds (200),
        // of the reminder that of its (1,000); the weights are 2 on half the rounds, so the
        // effective sample size is 100 and the mean weight 1.
        let nothing = policy(&section, "do_nothing");
        assert_eq!(nothing.first_touch, "do_nothing");
        assert!(
            (nothing.snipw.unwrap().value - 200.0).abs() < 1e-9,
            "{nothing:?}"
        );
        assert!((nothing.effective_sample_size - 100.0).abs() < 1e-9);
        assert!((nothing.mean_weight - 1.0).abs() < 1e-12);
        assert_eq!(nothing.max_weight, 2.0);
        assert_eq!(nothing.verdict, "ok");
        let snipw = nothing.snipw.unwrap();
        assert!(snipw.ci_low < 200.0 && 200.0 < snipw.ci_high, "{snipw:?}");
        let reminder = policy(&section, "fixed_flow");
        assert_eq!(reminder.first_touch, "reminder_email");
        assert!((reminder.snipw.unwrap().value - 1_000.0).abs() < 1e-9);
        // Each fold of the cross-fitting logs half of each action: DR's correction makes up
        // for the (shrunk) ridge prediction exactly, fold by fold.
        assert!(
            (reminder.dr.unwrap().value - 1_000.0).abs() < 1e-6,
            "{reminder:?}"
        );
        assert!(
            (nothing.dr.unwrap().value - 200.0).abs() < 1e-6,
            "{nothing:?}"
        );
        // Never logged: a 10 % coupon first has weight 0 everywhere.
        let coupon = policy(&section, "fixed_flow=discount_10");
        assert_eq!(coupon.effective_sample_size, 0.0);
        assert!(coupon.snipw.is_none() && coupon.dr.is_none());
        assert!(coupon.verdict.starts_with("little overlap"), "{coupon:?}");
        assert!(
            section
                .verdict
                .starts_with("Over 200 first-touch rounds the logged policy realised 6.00 EUR"),
            "{}",
            section.verdict
        );
        // Push needs webhook consent, which nobody gave: the "push first" flow does nothing.
        assert_eq!(
            policy(&section, "fixed_flow=webhook_push").snipw,
            nothing.snipw
        );
        assert!(
            section.verdict.contains("3 of 8 alternative"),
            "{}",
            section.verdict
        );
        assert!(
            section
                .verdict
                .contains("3 abandonments whose first decision has no recorded")
        );
        // The holdout measured 200 per abandonment: doing nothing throughout is estimated at
        // 200 too (one step: the same rounds as the first touch).
        let check = section.holdout_check.unwrap();
        assert_eq!(check.rounds_doing_nothing, 100);
        assert!((check.estimate.unwrap().value - 200.0).abs() < 1e-9);
        assert_eq!(check.agrees, Some(true));
        assert!(check.verdict.starts_with("Agrees: "), "{}", check.verdict);
        // The same rounds give the same figures: the bootstrap's seed is fixed.
        let again = off_policy_section(&rounds, 3, 0, &holdout(&[200.0; 40]), Some("EUR"));
        assert_eq!(
            again,
            off_policy_section(&rounds, 3, 0, &holdout(&[200.0; 40]), Some("EUR"))
        );
    }

    #[test]
    fn unequal_propensities_are_weighted_by_their_inverse() {
        // Doing nothing logged with propensity 0.8 (reward 0) and 0.2 (reward 500), the
        // reminder the rest of the time: SNIPW = Σ w r / Σ w with w = 1/p, so
        // (n/2 × 1.25 × 0 + n/2 × 5 × 500) / (n/2 × 1.25 + n/2 × 5) = 400.
        let mut rounds = Vec::new();
        for i in 0..300 {
            rounds.push(match i % 3 {
                0 => round(ActionKind::DoNothing, 0.8, 0.0),
                1 => round(ActionKind::DoNothing, 0.2, 500.0),
                _ => round(ActionKind::ReminderEmail, 0.5, 700.0),
            });
        }
        let section = off_policy_section(&rounds, 0, 0, &holdout(&[0.0; 10]), None);
        let nothing = policy(&section, "do_nothing");
        assert!(
            (nothing.snipw.unwrap().value - 400.0).abs() < 1e-9,
            "{nothing:?}"
        );
        // Too few held-out abandonments: no comparison.
        let check = section.holdout_check.unwrap();
        assert_eq!(check.agrees, None);
        assert!(
            check.verdict.starts_with("Too few settled holdout"),
            "{}",
            check.verdict
        );
    }

    #[test]
    fn a_deterministic_log_evaluates_nothing_else_and_says_why() {
        // Every shopper got the reminder with probability 1, but a fifth had no e-mail
        // consent: the guardrails turned every proposal into doing nothing, with probability 1.
        let rounds: Vec<FirstTouchRound> = (0..500)
            .map(|i| {
                if i % 5 == 0 {
                    FirstTouchRound {
                        state: LoggedState::suppressed(observed(5_000, false)),
                        ..round(ActionKind::DoNothing, 1.0, 50.0)
                    }
                } else {
                    round(ActionKind::ReminderEmail, 1.0, 900.0)
                }
            })
            .collect();
        let section = off_policy_section(&rounds, 0, 0, &holdout(&[50.0; 60]), Some("EUR"));
        // The fixed flow is the logged policy: every weight 1.
        let reminder = policy(&section, "fixed_flow");
        assert_eq!(reminder.effective_sample_size, 500.0);
        assert_eq!(reminder.snipw.unwrap().value, section.logged.unwrap().value);
        // Doing nothing has 100 rounds of weight 1 (ESS 100) but covers only a fifth of the
        // carts (mean weight 0.2): its 50 would describe the unconsenting shoppers only.
        let nothing = policy(&section, "do_nothing");
        assert!((nothing.effective_sample_size - 100.0).abs() < 1e-9);
        assert!((nothing.mean_weight - 0.2).abs() < 1e-12);
        assert!(nothing.snipw.is_none(), "{nothing:?}");
        assert!(nothing.verdict.starts_with("little overlap"));
        let check = section.holdout_check.unwrap();
        assert!(check.estimate.is_none());
        assert!(
            check.verdict.starts_with("Little overlap: "),
            "{}",
            check.verdict
        );
        assert!(
            section.verdict.contains("1 of 8 alternative"),
            "{}",
            section.verdict
        );
    }

    #[test]
    fn too_few_rounds_give_no_figures() {
        let section = off_policy_section(&half_and_half(99), 0, 0, &holdout(&[0.0; 40]), None);
        assert_eq!(section.rounds, 99);
        assert!(section.logged.is_none() && section.policies.is_empty());
        assert!(
            section.verdict.starts_with(
                "Too few first-touch rounds to estimate other policies (99; at least 100"
            ),
            "{}",
            section.verdict
        );
        let none = off_policy_section(&[], 4, 0, &holdout(&[]), None);
        assert!(none.verdict.starts_with("No settled first-touch round"));
        assert!(
            none.verdict
                .contains(" 4 abandonments whose first decision")
        );
    }

    #[test]
    fn a_holdout_far_from_the_estimate_disagrees() {
        let rounds = half_and_half(400);
        let section = off_policy_section(
            &rounds,
            0,
            0,
            &holdout(&[5_000.0, 5_100.0].repeat(30)),
            None,
        );
        let check = section.holdout_check.unwrap();
        assert_eq!(check.agrees, Some(false));
        assert!(
            check.verdict.starts_with("Disagrees: "),
            "{}",
            check.verdict
        );
        let d = check.difference.unwrap();
        assert!(d.ci_high < 0.0, "{d:?}");
    }
}
