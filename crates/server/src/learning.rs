//! The engine's decision log as episodes to learn a policy from (`cartback policy train
//! --from-log`): every settled abandonment with each decision step's recorded state, the
//! action taken and its logged propensity, what its messages cost and whether one recorded
//! an unsubscribe, and the abandonment's outcome as the report books it
//! ([`crate::outcomes`]). The learning and the held-out evaluation are
//! `cartback_policy::log_training`.

use crate::config::ServerConfig;
use crate::outcomes::{
    Booking, FirstState, KeepState, LoggedAbandonment, OutcomeFacts, message_cost,
    read_abandonments,
};
use cartback_core::Timestamp;
use cartback_policy::actions::{ActionCosts, ActionKind};
use cartback_policy::log_training::{
    DailyBudget, FittedQTraining, LogEvaluation, LogTrainingError, LoggedEpisode, LoggedStep,
    StepValueModel, evaluate_on_log, fit_fitted_q, fit_uplift_greedy, guardrails_from_record,
    split_for_evaluation,
};
use cartback_policy::ope::BootstrapParams;
use cartback_policy::policies::{FittedQParams, UpliftGreedyParams};
use cartback_policy::state_file::{
    DecisionLogInfo, LearnedPolicy, PolicyKind, PolicyStateFile, TrainingInfo,
};
use cartback_report::AbandonmentOutcome;
use cartback_store::{Decision, MessageStatus, Store, StoreError};
use serde::Serialize;

/// What [`read_logged_episodes`] read and why abandonments were left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EpisodeCounts {
    /// Decisions read (every step of every abandonment).
    pub decisions: u64,
    /// (cart, abandonment) pairs among them.
    pub abandonments: u64,
    /// Episodes kept.
    pub episodes: u64,
    /// Of those, the holdout's (kept: they show what doing nothing makes).
    pub holdout: u64,
    /// Left out: the attribution window has not closed yet.
    pub unsettled: u64,
    /// Left out: a decision without a recorded state (taken before migration 5) or with
    /// one that does not parse (another release's layout).
    pub without_state: u64,
    /// Left out: an action or guardrail this release does not know (older decisions say
    /// `none` or `reminder_<channel>`).
    pub unknown_action: u64,
    /// Left out: its decisions do not start at step 0 with each step once, in order, each
    /// recording its own step (a step written twice, or a recorded state of another step).
    /// A step the engine skipped (more than `max_decision_lag` late after downtime) is no
    /// reason: the episode keeps the steps that were decided.
    pub broken_steps: u64,
    /// Left out: decisions whose cart or step 0 is no longer stored. Erasure and retention
    /// remove a user's or a closed cart's decisions with it, so this counts only what other
    /// means left behind.
    pub erased: u64,
    /// Days from the first to the last kept episode's first decision (at least 1).
    pub days: f64,
}

/// Logged episodes and the counts of what was read.
#[derive(Clone, Debug, Default)]
pub struct LoggedEpisodes {
    pub episodes: Vec<LoggedEpisode>,
    pub counts: EpisodeCounts,
}

/// Why one abandonment is not an episode.
#[derive(Clone, Debug, PartialEq)]
pub enum Skipped {
    Unsettled,
    WithoutState,
    UnknownAction(String),
    BrokenSteps,
}

/// Reads every settled abandonment of the decision log as an episode (one pass over the
/// carts, the outbox and the tracking, one over the decisions).
pub fn read_logged_episodes(
    store: &mut dyn Store,
    booking: &Booking,
) -> Result<LoggedEpisodes, StoreError> {
    let facts = OutcomeFacts::read(store, &mut |_| {})?;
    let mut read = LoggedEpisodes::default();
    let counts = read_abandonments::<StoreError>(
        store,
        booking,
        &facts,
        KeepState::EveryStep,
        |abandonment| {
            match abandonment {
                LoggedAbandonment::Read {
                    decisions,
                    states,
                    outcome,
                    ..
                } => match episode(decisions, states, &outcome, &facts, &booking.costs) {
                    Ok(episode) => {
                        read.counts.holdout += u64::from(episode.holdout());
                        read.episodes.push(episode);
                    }
                    Err(Skipped::Unsettled) => read.counts.unsettled += 1,
                    Err(Skipped::WithoutState) => read.counts.without_state += 1,
                    Err(Skipped::UnknownAction(_)) => read.counts.unknown_action += 1,
                    Err(Skipped::BrokenSteps) => read.counts.broken_steps += 1,
                },
                LoggedAbandonment::WithoutFirstStep { .. }
                | LoggedAbandonment::CartMissing { .. } => read.counts.erased += 1,
            }
            Ok(())
        },
    )?;
    read.counts.decisions = counts.decisions;
    read.counts.abandonments = counts.abandonments;
    read.counts.episodes = read.episodes.len() as u64;
    let first = read.episodes.iter().map(|e| e.decided_at).min();
    let last = read.episodes.iter().map(|e| e.decided_at).max();
    read.counts.days = match (first, last) {
        (Some(first), Some(last)) => {
            ((last.as_millis() - first.as_millis()) as f64 / 86_400_000.0).max(1.0)
        }
        _ => 1.0,
    };
    Ok(read)
}

/// One abandonment's episode: its decisions (`states[i]` parsed from `decisions[i]`), its
/// booked outcome, and its messages' fates from `facts`.
pub fn episode(
    decisions: &[Decision],
    states: &[FirstState],
    outcome: &AbandonmentOutcome,
    facts: &OutcomeFacts,
    costs: &ActionCosts,
) -> Result<LoggedEpisode, Skipped> {
    if !outcome.settled {
        return Err(Skipped::Unsettled);
    }
    let mut order: Vec<usize> = (0..decisions.len()).collect();
    order.sort_by_key(|&i| (decisions[i].step, decisions[i].id));
    let mut steps = Vec::with_capacity(order.len());
    let mut previous: Option<u32> = None;
    for &i in &order {
        let decision = &decisions[i];
        // Steps 0, 1, … in order; one may be missing after step 0 (the engine skips a step
        // that comes more than `max_decision_lag` late and decides the next).
        let in_order = match previous {
            None => decision.step == 0,
            Some(p) => decision.step > p,
        };
        if !in_order {
            return Err(Skipped::BrokenSteps);
        }
        previous = Some(decision.step);
        let Some(Some(Ok(state))) = states.get(i) else {
            return Err(Skipped::WithoutState);
        };
        if state.observed.step != decision.step as usize {
            return Err(Skipped::BrokenSteps);
        }
        let action = ActionKind::from_name(&decision.action)
            .ok_or_else(|| Skipped::UnknownAction(decision.action.clone()))?;
        let changed_by = guardrails_from_record(&decision.guardrail)
            .map_err(|_| Skipped::UnknownAction(decision.guardrail.clone()))?;
        let mut step = LoggedStep {
            state: (**state).clone(),
            action,
            propensity: decision.propensity,
            changed_by,
            message_sent: false,
            message_cost_minor: 0.0,
            unsubscribed: false,
        };
        for message in facts.messages.get(&decision.id).into_iter().flatten() {
            if message.status != MessageStatus::Sent {
                continue;
            }
            step.message_sent = true;
            step.message_cost_minor += message_cost(costs, &decision.action, &message.channel);
            step.unsubscribed |= facts
                .tracked
                .get(&message.id)
                .is_some_and(|t| t.unsubscribed);
        }
        steps.push(step);
    }
    let first = &decisions[order[0]];
    Ok(LoggedEpisode {
        id: format!("{}#{}", first.cart_id, first.abandonment),
        cart_id: first.cart_id.clone(),
        decided_at: first.decided_at,
        steps,
        bought: outcome.revenue_minor() > 0,
        order_value_minor: outcome.revenue_minor(),
        discount_minor: outcome.discount_given_minor(),
        unsubscribe_loss_minor: outcome.unsubscribe_loss_minor,
    })
}

/// How `cartback policy train --from-log` learns and judges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogTrainingOptions {
    /// Share of carts held out of training to judge the policy on (0 < share < 1).
    pub evaluation_share: f64,
    /// Bootstrap resamples of the judgement's intervals.
    pub bootstrap_samples: usize,
    /// Seed of the learners and the bootstrap.
    pub seed: u64,
    /// Exploration floor the learned policy keeps live (as `cartback policy train` gives
    /// simulator-trained policies), so its own log can train the next one.
    pub epsilon: f64,
}

impl Default for LogTrainingOptions {
    fn default() -> Self {
        LogTrainingOptions {
            evaluation_share: 0.2,
            bootstrap_samples: 1_000,
            seed: 42,
            epsilon: 0.05,
        }
    }
}

/// A policy learned from the decision log, and what it was learned and judged on.
#[derive(Debug)]
pub struct LogTrainingOutcome {
    pub file: PolicyStateFile,
    pub counts: EpisodeCounts,
    /// Episodes trained on and held out.
    pub trained_on: usize,
    pub held_out: usize,
    /// The planner's training summary (fitted Q only).
    pub fitted_q: Option<FittedQTraining>,
    pub evaluation: LogEvaluation,
}

/// Why learning from the decision log failed.
#[derive(Debug, thiserror::Error)]
pub enum LearningError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "`{0}` learns online (or needs no state): from a decision log the fitted-Q planner \
         (`fitted_q`) and uplift-greedy (`uplift_greedy`) can learn"
    )]
    NotFromLog(&'static str),
    #[error("{0}")]
    Parameter(String),
    #[error(transparent)]
    Training(#[from] LogTrainingError),
}

/// What [`train_from_log`] checks before it reads the store: `kind` learns from a log, the
/// evaluation share is in (0, 1), `policy.step_delays` are whole hours (returned in hours).
/// The CLI calls it before opening the store, so a refused request leaves no store behind.
pub fn check_request(
    config: &ServerConfig,
    kind: PolicyKind,
    options: LogTrainingOptions,
) -> Result<Vec<u32>, LearningError> {
    if !matches!(kind, PolicyKind::FittedQ | PolicyKind::UpliftGreedy) {
        return Err(LearningError::NotFromLog(kind.name()));
    }
    if !(options.evaluation_share > 0.0 && options.evaluation_share < 1.0) {
        return Err(LearningError::Parameter(format!(
            "the evaluation share must be in (0, 1), got {}",
            options.evaluation_share
        )));
    }
    let mut step_delays_hours = Vec::new();
    for delay in &config.policy.step_delays {
        let millis = delay.as_millis();
        if millis % 3_600_000 != 0 || millis < 0 {
            return Err(LearningError::Parameter(format!(
                "policy.step_delays must be whole hours to train a policy for them, got {} ms",
                millis
            )));
        }
        step_delays_hours.push((millis / 3_600_000) as u32);
    }
    Ok(step_delays_hours)
}

/// Checks that the log was decided at the steps the policy is trained for: step k of an
/// abandonment is decided `policy.step_delays[k]` after it, or later when the engine was
/// late, so the earliest logged offset of each step is its delay. A log made under other
/// delays would teach the planner the purchase rates of other hours.
pub fn check_logged_step_delays(
    episodes: &[LoggedEpisode],
    step_delays_hours: &[u32],
) -> Result<(), LearningError> {
    let mut earliest: Vec<Option<i64>> = vec![None; step_delays_hours.len()];
    for step in episodes.iter().flat_map(|e| &e.steps) {
        let observed = &step.state.observed;
        if let Some(slot) = earliest.get_mut(observed.step) {
            let offset = observed.send_at.as_millis() - observed.abandoned_at.as_millis();
            *slot = Some(slot.map_or(offset, |o: i64| o.min(offset)));
        }
    }
    for (step, (logged, configured)) in earliest.iter().zip(step_delays_hours).enumerate() {
        if let Some(logged) = logged
            && *logged != i64::from(*configured) * 3_600_000
        {
            return Err(LearningError::Parameter(format!(
                "the log decided step {step} {:.2} h after abandonment, but policy.step_delays \
                 says {configured} h: train with the step delays the log was made with",
                *logged as f64 / 3_600_000.0
            )));
        }
    }
    Ok(())
}

/// Learns a `kind` policy from the settled abandonments of `store`'s decision log, holding
/// `options.evaluation_share` of the carts out, and judges it on them
/// (`cartback_policy::log_training`). `config` gives the flow's steps
/// (`policy.step_delays`, whole hours), the costs and the daily discount budget.
pub fn train_from_log(
    store: &mut dyn Store,
    booking: &Booking,
    config: &ServerConfig,
    kind: PolicyKind,
    options: LogTrainingOptions,
) -> Result<LogTrainingOutcome, LearningError> {
    let step_delays_hours = check_request(config, kind, options)?;
    let read = read_logged_episodes(store, booking)?;
    check_logged_step_delays(&read.episodes, &step_delays_hours)?;
    let counts = read.counts;
    let abandonments_per_day = counts.episodes as f64 / counts.days;
    let (train, held) = split_for_evaluation(read.episodes, options.evaluation_share);
    if train.is_empty() {
        return Err(LearningError::Training(LogTrainingError::Empty));
    }
    let mut fitted_q = None;
    let policy = match kind {
        PolicyKind::FittedQ => {
            let params = FittedQParams {
                seed: options.seed,
                leave_out_thin_actions: true,
                ..FittedQParams::default()
            };
            let budget = DailyBudget {
                minor_per_day: config.guardrails.daily_discount_budget_minor as f64,
                abandonments_per_day,
            };
            let (planner, summary) = fit_fitted_q(
                &train,
                &params,
                config.costs,
                &step_delays_hours,
                Some(budget),
                options.epsilon,
            )?;
            fitted_q = Some(summary);
            LearnedPolicy::FittedQ(planner)
        }
        _ => LearnedPolicy::UpliftGreedy(fit_uplift_greedy(
            &train,
            UpliftGreedyParams::default(),
            config.costs,
            step_delays_hours.len(),
        )?),
    };
    // The planner's own plan, coupons at their redeemed cost, is the doubly robust
    // estimate's model.
    let model = match &policy {
        LearnedPolicy::FittedQ(planner) => Some(planner.clone().with_coupon_shadow_price(0.0)),
        _ => None,
    };
    let evaluation = evaluate_on_log(
        &*policy.clone().into_policy(),
        model.as_ref().map(|m| m as &dyn StepValueModel),
        &held,
        BootstrapParams {
            n_samples: options.bootstrap_samples,
            alpha: 0.05,
            seed: options.seed,
        },
    )?;
    let decided = |pick: fn(Timestamp, Timestamp) -> Timestamp| {
        train
            .iter()
            .map(|e| e.decided_at)
            .reduce(pick)
            .unwrap_or(Timestamp(0))
    };
    let file = PolicyStateFile {
        kind,
        written_by: env!("CARGO_PKG_VERSION").to_owned(),
        step_delays_hours,
        trained_on: TrainingInfo {
            carts: train.len(),
            seed: options.seed,
            simulator_config: String::new(),
            decision_log: Some(DecisionLogInfo {
                first_decision: decided(Timestamp::min),
                last_decision: decided(Timestamp::max),
                held_out: held.len(),
                verdict: evaluation.verdict.clone(),
            }),
        },
        policy,
    };
    Ok(LogTrainingOutcome {
        file,
        counts,
        trained_on: train.len(),
        held_out: held.len(),
        fitted_q,
        evaluation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_policy::policies::FixedFlow;
    use cartback_policy::simulator::{
        Simulator, SimulatorConfig, sample_population, simulated_logged_episodes,
    };
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn a_log_made_under_other_step_delays_is_refused_naming_the_step() {
        // The simulator's flow decides at 1 h, 24 h and 72 h.
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(3);
        let shoppers = sample_population(&simulator, 200, &mut rng);
        let episodes =
            simulated_logged_episodes(&simulator, &shoppers, &FixedFlow::default(), "c", &mut rng);
        check_logged_step_delays(&episodes, &[1, 24, 72]).unwrap();
        let err = check_logged_step_delays(&episodes, &[1, 48, 72]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("step 1 24.00 h after abandonment")
                && message.contains("policy.step_delays says 48 h"),
            "{message}"
        );
        // A step decided late (after downtime) is later than its delay, never earlier: the
        // earliest offset decides.
        let mut late = episodes.clone();
        late[0].steps[0].state.observed.send_at =
            late[0].steps[0].state.observed.send_at + cartback_core::Duration::hours(5);
        check_logged_step_delays(&late, &[1, 24, 72]).unwrap();
    }
}
