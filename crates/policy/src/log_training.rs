//! Learning a policy from the engine's own decision log, and judging it there before it
//! goes live.
//!
//! - [`LoggedEpisode`]: one logged abandonment: every decision step with the state the
//!   engine recorded ([`LoggedState`]), the action it took, the probability it took it with,
//!   the guardrails that changed it and what its message did, then what became of the cart.
//!   The server reads them from the store; [`crate::simulator::simulated_logged_episodes`]
//!   draws them from the shopper simulator, where the truth is known.
//! - [`LoggedEpisode::transitions`]: the simulator's [`Transition`]s they amount to, so the
//!   batch learners train on a shop's log as they train on simulated logs:
//!   [`fit_fitted_q`] (the fitted-Q planner, which also learns what the guardrails do to
//!   each proposal from the recorded outcomes of every proposal, and gets the coupon shadow
//!   price that keeps its coupons inside the daily discount budget,
//!   [`calibrate_shadow_price`]) and [`fit_uplift_greedy`].
//! - [`evaluate_on_log`]: what a policy would have made per abandonment on held-out
//!   episodes, by self-normalised importance weighting of whole episodes (the product of
//!   every step's probability ratio), beside what the logged policy made, with paired
//!   bootstrap intervals and the same overlap rules as the report's off-policy section.
//! - [`split_for_evaluation`]: a deterministic split by cart, so an episode used for
//!   training is never used to judge.

use crate::actions::{ActionCosts, ActionKind};
use crate::guardrails::Guardrail;
use crate::ope::{BootstrapParams, LoggedState, OpeError, PROPENSITY_ROUNDING};
use crate::policies::{
    FittedQ, FittedQParams, N_ACTIONS, Observation, Policy, PolicyError, UpliftGreedy,
    UpliftGreedyParams, allowed_actions,
};
use crate::simulator::{GUARDRAILS, GuardrailSet, Transition, guardrail_name};
use cartback_core::Timestamp;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Fewest held-out episodes [`evaluate_on_log`] estimates from.
pub const MIN_EVALUATION_EPISODES: usize = 100;
/// Smallest effective sample size `(Σw)² / Σw²` of the importance weights that is trusted.
pub const MIN_EFFECTIVE_SAMPLE_SIZE: f64 = 30.0;
/// A group of episodes (by logged first action) carrying at least this share of the
/// importance weight must have [`MIN_EFFECTIVE_SAMPLE_SIZE`] effective episodes of its own.
pub const MIN_GROUP_WEIGHT_SHARE: f64 = 0.05;
/// Smallest mean importance weight that is trusted: the weights average 1 when the log
/// covers what the policy does; far below, the policy mostly does what the log never did.
pub const MIN_MEAN_WEIGHT: f64 = 0.5;

/// One decision step of a logged abandonment.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedStep {
    /// What the policy was given and what each proposal would have become.
    pub state: LoggedState,
    /// The action the engine took (after the guardrails and the delivery channels).
    pub action: ActionKind,
    /// The probability that policy and guardrails together took `action`.
    pub propensity: f64,
    /// The guardrails that changed the proposal.
    pub changed_by: GuardrailSet,
    /// A message of this step went out.
    pub message_sent: bool,
    /// What this step's messages cost, minor units.
    pub message_cost_minor: f64,
    /// A message of this step recorded an unsubscribe.
    pub unsubscribed: bool,
}

/// One logged abandonment: its decision steps in order and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedEpisode {
    /// Names the abandonment in errors and keys the evaluation split (`cart#abandonment`).
    pub id: String,
    /// The cart the abandonment belongs to: every abandonment of a cart falls on the same
    /// side of [`split_for_evaluation`].
    pub cart_id: String,
    /// When the first step was decided.
    pub decided_at: Timestamp,
    /// Steps 0, 1, … as decided (a flow that ended early has fewer than its `n_steps`).
    pub steps: Vec<LoggedStep>,
    /// The cart was ordered after the first decision, inside the attribution window (and
    /// the order was kept).
    pub bought: bool,
    /// The order's value when bought (else 0), minor units.
    pub order_value_minor: i64,
    /// The coupon given away on the order (the largest one sent), minor units.
    pub discount_minor: i64,
    /// Loss booked for an unsubscribe, minor units.
    pub unsubscribe_loss_minor: f64,
}

impl LoggedEpisode {
    /// Whether the abandonment's shopper is in the holdout (never contacted).
    pub fn holdout(&self) -> bool {
        self.steps
            .first()
            .is_some_and(|s| s.changed_by.contains(Guardrail::Holdout))
    }

    /// Net revenue of the abandonment, minor units: the order less its coupon, less every
    /// message's cost and the unsubscribe loss (as the report books it).
    pub fn net_minor(&self) -> f64 {
        let order = if self.bought {
            (self.order_value_minor - self.discount_minor) as f64
        } else {
            0.0
        };
        order
            - self.steps.iter().map(|s| s.message_cost_minor).sum::<f64>()
            - self.unsubscribe_loss_minor
    }

    /// Checks what the learners and estimators rely on; the message names the episode.
    pub fn validate(&self) -> Result<(), String> {
        let fail = |what: String| Err(format!("abandonment {}: {what}", self.id));
        let Some(first) = self.steps.first() else {
            return fail("has no decision step".into());
        };
        let n_steps = first.state.observed.n_steps;
        if self.steps.len() > n_steps {
            return fail(format!(
                "{} decision steps in a flow of {n_steps}",
                self.steps.len()
            ));
        }
        let mut previous: Option<usize> = None;
        for (index, step) in self.steps.iter().enumerate() {
            // Steps 0, 1, … in order; a step may be missing after step 0 (the engine skips
            // one that comes too late after downtime, and decides the next).
            let recorded = step.state.observed.step;
            let in_order = match previous {
                None => recorded == 0,
                Some(p) => recorded > p,
            };
            if !in_order || recorded >= n_steps {
                return fail(format!(
                    "its decision {index} records step {recorded}{}",
                    previous.map_or(String::new(), |p| format!(" after step {p}"))
                ));
            }
            previous = Some(recorded);
            if step.state.observed.n_steps != n_steps {
                return fail(format!(
                    "step {index} was decided in a flow of {} steps, step 0 in one of {n_steps}",
                    step.state.observed.n_steps
                ));
            }
            // The engine sums the policy's mass over every proposal ending at the action
            // taken, so a certain action can come out a rounding error above 1.
            if !(step.propensity > 0.0 && step.propensity <= 1.0 + PROPENSITY_ROUNDING) {
                return fail(format!(
                    "step {index} has propensity {}, expected (0, 1]",
                    step.propensity
                ));
            }
            step.state
                .outcomes()
                .map_err(|e| format!("abandonment {}: step {index}: {e}", self.id))?;
        }
        Ok(())
    }

    /// The steps as the simulator's transitions: each step's reward is its message cost
    /// and unsubscribe loss, plus the order less its coupon on the last step when the cart
    /// was bought (the rewards sum to [`net_minor`](Self::net_minor)). The proposal is the
    /// recorded one, else (the holdout, older decisions) the action taken; what went out is
    /// the action when its message was sent, else nothing.
    pub fn transitions(&self) -> Vec<Transition> {
        let last = self.steps.len().saturating_sub(1);
        let mut unsubscribe_booked = false;
        self.steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let bought = self.bought && index == last;
                let unsubscribed = step.unsubscribed && !unsubscribe_booked;
                unsubscribe_booked |= unsubscribed;
                let mut reward = -step.message_cost_minor;
                if unsubscribed {
                    reward -= self.unsubscribe_loss_minor;
                }
                if bought {
                    reward += (self.order_value_minor - self.discount_minor) as f64;
                }
                Transition {
                    state: step.state.observed,
                    action: step.state.proposed.unwrap_or(step.action),
                    propensity: step.propensity,
                    executed: if step.message_sent {
                        step.action
                    } else {
                        ActionKind::DoNothing
                    },
                    changed_by: step.changed_by,
                    reward_minor: reward,
                    bought,
                    discount_minor: if bought {
                        self.discount_minor as f64
                    } else {
                        0.0
                    },
                    unsubscribed,
                    next_state: self.steps.get(index + 1).map(|s| s.state.observed),
                }
            })
            .collect()
    }
}

/// The guardrails named by a decision's `guardrail` field (`passed`, or names separated by
/// commas); an unknown name is an error naming it.
pub fn guardrails_from_record(field: &str) -> Result<GuardrailSet, String> {
    let mut set = GuardrailSet::default();
    for name in field.split(',').map(str::trim) {
        if name.is_empty() || name == "passed" {
            continue;
        }
        let guardrail = GUARDRAILS
            .iter()
            .find(|g| guardrail_name(**g) == name)
            .ok_or_else(|| format!("unknown guardrail `{name}`"))?;
        set.insert(*guardrail);
    }
    Ok(set)
}

/// Splits `episodes` into (training, evaluation): a cart goes to evaluation when the hash
/// of its id (xxh3 with the split's own seed, so the same on every machine and in every run,
/// and unrelated to the holdout's) falls below `evaluation_share`.
pub fn split_for_evaluation(
    episodes: Vec<LoggedEpisode>,
    evaluation_share: f64,
) -> (Vec<LoggedEpisode>, Vec<LoggedEpisode>) {
    episodes.into_iter().partition(|e| {
        let hash = xxh3_64_with_seed(e.cart_id.as_bytes(), SPLIT_SEED);
        ((hash >> 11) as f64 / (1u64 << 53) as f64) >= evaluation_share
    })
}

/// Seed of [`split_for_evaluation`]'s hash.
const SPLIT_SEED: u64 = 0x6361_7274_6c6f_6731;

/// Why learning from a log failed.
#[derive(Debug, thiserror::Error)]
pub enum LogTrainingError {
    #[error("the log has no abandonment to learn from")]
    Empty,
    #[error("{0}")]
    Episode(String),
    #[error(
        "abandonment {id} was decided in a flow of {found} steps; the policy is trained for \
         {expected} (`policy.step_delays`)"
    )]
    Steps {
        id: String,
        found: usize,
        expected: usize,
    },
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Estimate(#[from] OpeError),
}

fn checked_transitions(
    episodes: &[LoggedEpisode],
    n_steps: usize,
) -> Result<Vec<Transition>, LogTrainingError> {
    if episodes.is_empty() {
        return Err(LogTrainingError::Empty);
    }
    let mut log = Vec::new();
    for episode in episodes {
        episode.validate().map_err(LogTrainingError::Episode)?;
        let found = episode.steps[0].state.observed.n_steps;
        if found != n_steps {
            return Err(LogTrainingError::Steps {
                id: episode.id.clone(),
                found,
                expected: n_steps,
            });
        }
        log.extend(episode.transitions());
    }
    Ok(log)
}

/// The daily discount budget a planner trained on a log must keep to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DailyBudget {
    /// `guardrails.daily_discount_budget`, minor units.
    pub minor_per_day: f64,
    /// Abandonments the engine decides about per day (the log's rate).
    pub abandonments_per_day: f64,
}

/// What [`fit_fitted_q`] learned besides the planner.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FittedQTraining {
    pub episodes: usize,
    pub transitions: usize,
    /// Decision steps whose recorded proposal outcomes taught what the guardrails do.
    pub guardrail_outcome_steps: usize,
    /// Per executed action: (times it went out, purchases in its step).
    pub executed: Vec<(ActionKind, usize, usize)>,
    /// Actions the planner never proposes: too few purchases (or non-purchases) after
    /// them in the log to learn from (`FittedQParams::leave_out_thin_actions`).
    pub left_out: Vec<ActionKind>,
    pub coupon_shadow_price: f64,
    /// Coupon face value per day the planner is expected to issue with that price (per-
    /// decision importance weighting on the log), minor units.
    pub expected_coupons_per_day_minor: Option<f64>,
}

/// Trains the fitted-Q planner on logged episodes whose flows have
/// `step_delays_hours.len()` steps, then prices coupons to keep it inside `budget`. The
/// planner keeps an exploration floor `epsilon` (the engine's logs stay usable for the
/// next round of learning).
pub fn fit_fitted_q(
    episodes: &[LoggedEpisode],
    params: &FittedQParams,
    costs: ActionCosts,
    step_delays_hours: &[u32],
    budget: Option<DailyBudget>,
    epsilon: f64,
) -> Result<(FittedQ, FittedQTraining), LogTrainingError> {
    let log = checked_transitions(episodes, step_delays_hours.len())?;
    let mut outcomes = Vec::new();
    for step in episodes.iter().flat_map(|e| &e.steps) {
        if step.changed_by.contains(Guardrail::Holdout)
            || step.changed_by.contains(Guardrail::DiscountBudget)
        {
            continue;
        }
        let allowed = allowed_actions(&step.state.observed);
        let executed = step.state.outcomes().map_err(LogTrainingError::Episode)?;
        outcomes.push((
            step.state.observed.step,
            std::array::from_fn(|i| allowed[i].then_some(executed[i])),
        ));
    }
    let planner = params
        .fit_with_guardrail_outcomes(&log, Some(&outcomes), costs, step_delays_hours)?
        .with_epsilon(epsilon);
    let mut executed = Vec::new();
    for kind in ActionKind::ALL {
        let rows = log.iter().filter(|t| t.executed == kind);
        let (sent, bought) = rows.fold((0, 0), |(n, b), t| (n + 1, b + usize::from(t.bought)));
        executed.push((kind, sent, bought));
    }
    let (planner, expected) = match budget {
        None => (planner, None),
        Some(budget) => {
            let sample = calibration_sample(episodes);
            let planner = calibrate_shadow_price(planner, &sample, budget);
            let spend = coupon_spend_per_abandonment(&planner, &sample);
            (planner, Some(spend * budget.abandonments_per_day))
        }
    };
    Ok((
        planner.clone(),
        FittedQTraining {
            episodes: episodes.len(),
            transitions: log.len(),
            guardrail_outcome_steps: outcomes.len(),
            executed,
            left_out: planner.left_out(),
            coupon_shadow_price: planner.coupon_shadow_price(),
            expected_coupons_per_day_minor: expected,
        },
    ))
}

/// The shadow price is calibrated on the latest this many episodes (the simulator's
/// calibration uses its first 20 days of 100 carts): planning every logged state ten times
/// over would cost minutes on a large log.
pub const CALIBRATION_EPISODES: usize = 2_000;

/// The latest [`CALIBRATION_EPISODES`] episodes by first decision.
fn calibration_sample(episodes: &[LoggedEpisode]) -> Vec<LoggedEpisode> {
    let mut order: Vec<&LoggedEpisode> = episodes.iter().collect();
    order.sort_by_key(|e| e.decided_at);
    let skip = order.len().saturating_sub(CALIBRATION_EPISODES);
    order[skip..].iter().map(|e| (*e).clone()).collect()
}

/// Trains uplift-greedy on logged episodes (its per-action reward models on every step).
pub fn fit_uplift_greedy(
    episodes: &[LoggedEpisode],
    params: UpliftGreedyParams,
    costs: ActionCosts,
    n_steps: usize,
) -> Result<UpliftGreedy, LogTrainingError> {
    let log = checked_transitions(episodes, n_steps)?;
    Ok(params.fit(&log, costs)?)
}

/// `policy`'s distribution over the final action of `step`: its proposal distribution
/// pushed through the step's recorded outcomes (its exploration floor included).
fn final_distribution(policy: &dyn Policy, step: &LoggedStep) -> [f64; N_ACTIONS] {
    let proposal = policy
        .distribution(&Observation {
            state: step.state.observed,
            truth: None,
        })
        .probabilities;
    match step.state.outcomes() {
        Ok(outcomes) => LoggedState::push_forward(&outcomes, &proposal),
        Err(_) => [0.0; N_ACTIONS],
    }
}

/// Coupon face value `policy` would issue per abandonment on the log's shoppers, by
/// per-decision importance weighting: step k's expected coupon under the policy on the
/// logged state, weighted by the probability ratio of the steps before it (the state of
/// step k is reached under the policy as often as that ratio says). Holdout episodes count
/// with nothing issued.
pub fn coupon_spend_per_abandonment(policy: &dyn Policy, episodes: &[LoggedEpisode]) -> f64 {
    if episodes.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for episode in episodes {
        let mut ratio = 1.0;
        for step in &episode.steps {
            let dist = final_distribution(policy, step);
            let value = step.state.observed.features.cart_value_minor;
            let coupons: f64 = ActionKind::ALL
                .iter()
                .map(|&a| dist[a.index()] * ActionCosts::discount_given(a, value) as f64)
                .sum();
            total += ratio * coupons;
            ratio *= dist[step.action.index()] / step.propensity;
            if ratio == 0.0 {
                break;
            }
        }
    }
    total / episodes.len() as f64
}

/// The planner with the coupon shadow price that keeps its expected coupons within 95 %
/// of the daily budget: zero when they fit at zero, else the smallest price found by
/// bisection on [0, 4] (the simulator's calibration, with the spend estimated on the log).
pub fn calibrate_shadow_price(
    planner: FittedQ,
    episodes: &[LoggedEpisode],
    budget: DailyBudget,
) -> FittedQ {
    let limit = 0.95 * budget.minor_per_day;
    let per_day =
        |p: &FittedQ| coupon_spend_per_abandonment(p, episodes) * budget.abandonments_per_day;
    let mut planner = planner.with_coupon_shadow_price(0.0);
    if per_day(&planner) <= limit {
        return planner;
    }
    let (mut low, mut high) = (0.0, 4.0);
    for _ in 0..10 {
        let middle = 0.5 * (low + high);
        planner = planner.with_coupon_shadow_price(middle);
        if per_day(&planner) <= limit {
            high = middle;
        } else {
            low = middle;
        }
    }
    planner.with_coupon_shadow_price(high)
}

/// A value per abandonment with its 95 % bootstrap interval, minor units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ValueEstimate {
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// One way of letting the evaluated policy act, estimated on the log.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PolicyValue {
    /// Self-normalised importance-weighted net revenue per abandonment (`None` when the
    /// weights do not overlap enough to trust it).
    pub estimate: Option<ValueEstimate>,
    /// estimate − the logged policy's, from the same resamples (`None` when not trusted).
    pub difference: Option<ValueEstimate>,
    /// Weighted doubly robust estimate (the whole flow, given a value model of the policy;
    /// `None` otherwise or when not trusted): the model's value of the first state plus
    /// every step's self-normalised importance-weighted correction of it. Unbiased like the
    /// weighting when the weights are, and far narrower when the model is close.
    pub doubly_robust: Option<ValueEstimate>,
    /// doubly robust − the logged policy's, from the same resamples.
    pub doubly_robust_difference: Option<ValueEstimate>,
    /// `(Σw)² / Σw²` of the importance weights.
    pub effective_sample_size: f64,
    pub mean_weight: f64,
    pub max_weight: f64,
    /// The episodes of one logged first action carrying at least
    /// [`MIN_GROUP_WEIGHT_SHARE`] of the weight on fewer than [`MIN_EFFECTIVE_SAMPLE_SIZE`]
    /// effective episodes (the largest such share), which makes the estimate untrustworthy
    /// whatever the overall effective sample size: a few heavily weighted episodes without a
    /// purchase among them decide it, and the bootstrap cannot see what they miss.
    pub thin_group: Option<ThinGroup>,
}

impl PolicyValue {
    /// The diagnostics of `weights`, `first_actions[i]` being episode i's logged first
    /// action.
    fn of(weights: &[f64], first_actions: &[ActionKind]) -> PolicyValue {
        let sum: f64 = weights.iter().sum();
        let squares: f64 = weights.iter().map(|w| w * w).sum();
        // Per logged first action: Σw, Σw².
        let mut groups = [(0.0, 0.0); N_ACTIONS];
        for (w, a) in weights.iter().zip(first_actions) {
            groups[a.index()].0 += w;
            groups[a.index()].1 += w * w;
        }
        let thin_group = ActionKind::ALL
            .into_iter()
            .filter_map(|a| {
                let (group_sum, group_squares) = groups[a.index()];
                let share = if sum > 0.0 { group_sum / sum } else { 0.0 };
                let effective = if group_squares > 0.0 {
                    group_sum * group_sum / group_squares
                } else {
                    0.0
                };
                (share >= MIN_GROUP_WEIGHT_SHARE && effective < MIN_EFFECTIVE_SAMPLE_SIZE)
                    .then_some((a, share, effective))
            })
            .max_by(|x, y| x.1.total_cmp(&y.1))
            .map(|(a, share, effective)| ThinGroup {
                first_action: a,
                weight_share: share,
                effective_sample_size: effective,
            });
        PolicyValue {
            thin_group,
            estimate: None,
            difference: None,
            doubly_robust: None,
            doubly_robust_difference: None,
            effective_sample_size: if squares > 0.0 {
                sum * sum / squares
            } else {
                0.0
            },
            mean_weight: sum / weights.len().max(1) as f64,
            max_weight: weights.iter().copied().fold(0.0, f64::max),
        }
    }

    /// Whether the weights overlap enough to trust an estimate.
    pub fn overlaps(&self) -> bool {
        self.effective_sample_size >= MIN_EFFECTIVE_SAMPLE_SIZE
            && self.mean_weight >= MIN_MEAN_WEIGHT
            && self.thin_group.is_none()
    }

    fn diagnostics(&self) -> String {
        let mut text = format!(
            "effective sample size {:.1}, mean weight {:.2}",
            self.effective_sample_size, self.mean_weight
        );
        if let Some(g) = &self.thin_group {
            text.push_str(&format!(
                ", and the episodes that began with {} carry {:.0} % of the weight on an \
                 effective {:.1}",
                g.first_action,
                100.0 * g.weight_share,
                g.effective_sample_size
            ));
        }
        text
    }
}

/// A group of episodes, by logged first action, that carries much of the estimate on few
/// effective episodes ([`PolicyValue::thin_group`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ThinGroup {
    pub first_action: ActionKind,
    /// Its share of the total importance weight.
    pub weight_share: f64,
    /// `(Σw)² / Σw²` within the group.
    pub effective_sample_size: f64,
}

/// [`evaluate_on_log`]'s result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogEvaluation {
    /// Held-out episodes evaluated (the holdout's left out: no policy acts there).
    pub episodes: usize,
    /// What the logged policy made per abandonment.
    pub logged: Option<ValueEstimate>,
    /// The policy deciding every step of the flow: each episode weighted by the product of
    /// its steps' probability ratios.
    pub whole_flow: PolicyValue,
    /// The policy deciding the first step and the logged policy the later ones: weighted by
    /// the first step's ratio alone, so it overlaps far more often.
    pub first_touch: PolicyValue,
    /// What the figures say, for programs (`cartback policy train --from-log` does not
    /// write a policy judged [`Judgement::Worse`]).
    pub judgement: Judgement,
    /// What can be read from the figures, in a sentence or two.
    pub verdict: String,
}

/// [`LogEvaluation::judgement`]: the policy against the logged one, by the most complete
/// trusted estimate (whole flow doubly robust, else whole flow weighted, else first touch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// Fewer than [`MIN_EVALUATION_EPISODES`] held-out episodes.
    #[default]
    TooFew,
    /// No estimate is trusted (see [`PolicyValue::overlaps`]).
    LittleOverlap,
    /// The 95 % interval of the difference lies above zero.
    Better,
    /// It lies below zero.
    Worse,
    /// It contains zero.
    Undecided,
}

/// A model of the net revenue from a decision step to the end of the flow when an action
/// is taken now and the evaluated policy decides the later steps: the direct-method part of
/// [`evaluate_on_log`]'s doubly robust estimate (the fitted-Q planner's own plan,
/// [`FittedQ::executed_values`]).
pub trait StepValueModel {
    /// Per final action, in `ActionKind::ALL` order, minor units.
    fn step_values(&self, state: &crate::policies::ObservedState) -> [f64; N_ACTIONS];
}

impl StepValueModel for FittedQ {
    fn step_values(&self, state: &crate::policies::ObservedState) -> [f64; N_ACTIONS] {
        self.executed_values(state)
    }
}

/// Per (episode, step) terms of the weighted doubly robust estimate, `horizon` steps per
/// episode (an episode that ended keeps its last cumulative weight, with nothing after).
struct DoublyRobustTerms {
    horizon: usize,
    /// Cumulative importance weight through the step, and through the step before (1 at 0).
    weight: Vec<f64>,
    previous: Vec<f64>,
    reward: Vec<f64>,
    /// The model's value of the logged action, and of the policy's distribution.
    q: Vec<f64>,
    v: Vec<f64>,
}

impl DoublyRobustTerms {
    /// `distributions[i][k]` and `ratios[i][k]`: the policy's final-action distribution on
    /// episode i's k-th logged step and its importance ratio there.
    fn new(
        model: &dyn StepValueModel,
        episodes: &[&LoggedEpisode],
        distributions: &[Vec<[f64; N_ACTIONS]>],
        ratios: &[Vec<f64>],
    ) -> DoublyRobustTerms {
        // By recorded step: a step the engine skipped keeps the weight, with nothing in it.
        let horizon = episodes
            .iter()
            .filter_map(|e| e.steps.last().map(|s| s.state.observed.step + 1))
            .max()
            .unwrap_or(0);
        let size = episodes.len() * horizon;
        let mut terms = DoublyRobustTerms {
            horizon,
            weight: Vec::with_capacity(size),
            previous: Vec::with_capacity(size),
            reward: Vec::with_capacity(size),
            q: Vec::with_capacity(size),
            v: Vec::with_capacity(size),
        };
        for ((episode, ratios), dists) in episodes.iter().zip(ratios).zip(distributions) {
            let transitions = episode.transitions();
            let mut cumulative = 1.0;
            let mut next = 0;
            for t in 0..horizon {
                terms.previous.push(cumulative);
                let position = episode
                    .steps
                    .get(next)
                    .filter(|s| s.state.observed.step == t)
                    .map(|_| next);
                match position.map(|p| (p, &episode.steps[p])) {
                    Some((p, step)) => {
                        next += 1;
                        cumulative *= ratios[p];
                        let values = model.step_values(&step.state.observed);
                        let dist = dists[p];
                        terms.weight.push(cumulative);
                        terms.reward.push(transitions[p].reward_minor);
                        terms.q.push(values[step.action.index()]);
                        terms.v.push(
                            ActionKind::ALL
                                .iter()
                                .map(|a| dist[a.index()] * values[a.index()])
                                .sum(),
                        );
                    }
                    None => {
                        terms.weight.push(cumulative);
                        terms.reward.push(0.0);
                        terms.q.push(0.0);
                        terms.v.push(0.0);
                    }
                }
            }
        }
        terms
    }

    /// The estimate over the episodes `draw` yields (indices, repeats allowed).
    fn estimate(&self, draw: impl Iterator<Item = usize>) -> f64 {
        let h = self.horizon;
        // Per step: Σw, Σw(r − q), Σw_prev, Σw_prev·v.
        let mut sums = vec![[0.0; 4]; h];
        for i in draw {
            for (t, sum) in sums.iter_mut().enumerate() {
                let k = i * h + t;
                sum[0] += self.weight[k];
                sum[1] += self.weight[k] * (self.reward[k] - self.q[k]);
                sum[2] += self.previous[k];
                sum[3] += self.previous[k] * self.v[k];
            }
        }
        sums.iter()
            .map(|[w, correction, previous, value]| {
                let corrected = if *w > 0.0 { correction / w } else { 0.0 };
                let baseline = if *previous > 0.0 {
                    value / previous
                } else {
                    0.0
                };
                corrected + baseline
            })
            .sum()
    }
}

/// Estimates `policy`'s net revenue per abandonment on `episodes` (held out from its
/// training) by self-normalised importance weighting, for the whole flow and for the first
/// touch alone ([`LogEvaluation`]), and, given a `model` of the policy's values, by weighted
/// doubly robust estimation of the whole flow (Thomas & Brunskill 2016), beside the logged
/// policy's realised mean, with percentile bootstrap intervals (`bootstrap`'s resamples;
/// every figure from the same draws, each recomputed in each). Episodes that ended early (a
/// purchase, a return to the cart) have fewer factors: what followed is the same whatever
/// the policy would have done. A whole flow of three steps and eight actions rarely
/// overlaps with a log unless the logged policy explored a lot; its first touch does with
/// a few per cent, and the doubly robust estimate narrows the whole flow's interval.
pub fn evaluate_on_log(
    policy: &dyn Policy,
    model: Option<&dyn StepValueModel>,
    episodes: &[LoggedEpisode],
    bootstrap: BootstrapParams,
) -> Result<LogEvaluation, LogTrainingError> {
    let bootstrap = bootstrap.validate()?;
    let params = bootstrap.params();
    let treated: Vec<&LoggedEpisode> = episodes.iter().filter(|e| !e.holdout()).collect();
    for episode in &treated {
        episode.validate().map_err(LogTrainingError::Episode)?;
    }
    let mut evaluation = LogEvaluation {
        episodes: treated.len(),
        logged: None,
        whole_flow: PolicyValue::default(),
        first_touch: PolicyValue::default(),
        judgement: Judgement::TooFew,
        verdict: String::new(),
    };
    if treated.len() < MIN_EVALUATION_EPISODES {
        evaluation.verdict = format!(
            "Too few held-out abandonments to judge the policy ({}; at least \
             {MIN_EVALUATION_EPISODES} are needed).",
            treated.len()
        );
        return Ok(evaluation);
    }
    let rewards: Vec<f64> = treated.iter().map(|e| e.net_minor()).collect();
    // The policy's final-action distribution on every logged step, computed once (a
    // planner's plans them): the ratios and the doubly robust terms read it.
    let distributions: Vec<Vec<[f64; N_ACTIONS]>> = treated
        .iter()
        .map(|e| {
            e.steps
                .iter()
                .map(|s| final_distribution(policy, s))
                .collect()
        })
        .collect();
    let ratios: Vec<Vec<f64>> = treated
        .iter()
        .zip(&distributions)
        .map(|(e, dists)| {
            e.steps
                .iter()
                .zip(dists)
                .map(|(s, dist)| dist[s.action.index()] / s.propensity)
                .collect()
        })
        .collect();
    let whole: Vec<f64> = ratios.iter().map(|r| r.iter().product()).collect();
    let first: Vec<f64> = ratios.iter().map(|r| r[0]).collect();
    let first_actions: Vec<ActionKind> = treated.iter().map(|e| e.steps[0].action).collect();
    evaluation.whole_flow = PolicyValue::of(&whole, &first_actions);
    evaluation.first_touch = PolicyValue::of(&first, &first_actions);
    let doubly_robust = model
        .filter(|_| evaluation.whole_flow.overlaps())
        .map(|model| DoublyRobustTerms::new(model, &treated, &distributions, &ratios));
    // Paired resamples: the logged mean and every estimate from the same draws, so the
    // differences' intervals account for their correlation.
    let n = treated.len();
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let mut logged = Vec::with_capacity(params.n_samples);
    let mut resampled: [(Vec<f64>, Vec<f64>); 2] = Default::default();
    let mut resampled_dr: (Vec<f64>, Vec<f64>) = Default::default();
    let mut draw = Vec::with_capacity(n);
    for _ in 0..params.n_samples {
        draw.clear();
        draw.extend((0..n).map(|_| rng.random_range(0..n)));
        let mut reward_sum = 0.0;
        let mut sums = [(0.0, 0.0); 2];
        for &i in &draw {
            reward_sum += rewards[i];
            for (sum, weights) in sums.iter_mut().zip([&whole, &first]) {
                sum.0 += weights[i] * rewards[i];
                sum.1 += weights[i];
            }
        }
        let mean = reward_sum / n as f64;
        logged.push(mean);
        for ((weighted, weight), (values, differences)) in sums.into_iter().zip(&mut resampled) {
            if weight > 0.0 {
                values.push(weighted / weight);
                differences.push(weighted / weight - mean);
            }
        }
        if let Some(terms) = &doubly_robust {
            let value = terms.estimate(draw.iter().copied());
            resampled_dr.0.push(value);
            resampled_dr.1.push(value - mean);
        }
    }
    let interval = |mut values: Vec<f64>, point: f64| {
        values.sort_by(f64::total_cmp);
        ValueEstimate {
            value: point,
            ci_low: crate::ope::percentile_sorted(&values, 100.0 * params.alpha / 2.0),
            ci_high: crate::ope::percentile_sorted(&values, 100.0 * (1.0 - params.alpha / 2.0)),
        }
    };
    let logged_mean = rewards.iter().sum::<f64>() / n as f64;
    evaluation.logged = Some(interval(logged, logged_mean));
    for ((value, weights), (values, differences)) in [
        (&mut evaluation.whole_flow, &whole),
        (&mut evaluation.first_touch, &first),
    ]
    .into_iter()
    .zip(resampled)
    {
        if value.overlaps() && !values.is_empty() {
            let total: f64 = weights.iter().sum();
            let point = weights
                .iter()
                .zip(&rewards)
                .map(|(w, r)| w * r)
                .sum::<f64>()
                / total;
            value.estimate = Some(interval(values, point));
            value.difference = Some(interval(differences, point - logged_mean));
        }
    }
    if let Some(terms) = &doubly_robust {
        let point = terms.estimate(0..n);
        let (values, differences) = resampled_dr;
        evaluation.whole_flow.doubly_robust = Some(interval(values, point));
        evaluation.whole_flow.doubly_robust_difference =
            Some(interval(differences, point - logged_mean));
    }
    (evaluation.judgement, evaluation.verdict) = verdict(&evaluation);
    Ok(evaluation)
}

fn verdict(evaluation: &LogEvaluation) -> (Judgement, String) {
    let whole = &evaluation.whole_flow;
    let (what, difference, caveat) = if let Some(d) = whole.doubly_robust_difference {
        (
            "The policy over the whole flow (doubly robust)",
            d,
            String::new(),
        )
    } else if let Some(d) = whole.difference {
        ("The policy over the whole flow", d, String::new())
    } else if let Some(d) = evaluation.first_touch.difference {
        (
            "The policy's first touch (the logged policy deciding the later steps)",
            d,
            format!(
                " The whole flow cannot be estimated from this log ({}).",
                whole.diagnostics()
            ),
        )
    } else {
        return (
            Judgement::LittleOverlap,
            format!(
                "Little overlap: the log rarely did what this policy does (whole flow: {}; \
                 first touch: {}; at least {MIN_EFFECTIVE_SAMPLE_SIZE} and {MIN_MEAN_WEIGHT} \
                 are needed), so its value cannot be estimated here. Log with more \
                 exploration (`[policy] exploration`) or for longer.",
                evaluation.whole_flow.diagnostics(),
                evaluation.first_touch.diagnostics()
            ),
        );
    };
    let (judgement, text) = if difference.ci_low > 0.0 {
        (
            Judgement::Better,
            "Better: estimated to make more per abandonment than the logged policy, and the \
             interval of the difference excludes zero.",
        )
    } else if difference.ci_high < 0.0 {
        (
            Judgement::Worse,
            "Worse: estimated to make less per abandonment than the logged policy, and the \
             interval of the difference excludes zero. Do not deploy it.",
        )
    } else {
        (
            Judgement::Undecided,
            "Undecided: the interval of the difference to the logged policy contains zero; \
             more logged abandonments would tell.",
        )
    };
    (judgement, format!("{what}: {text}{caveat}"))
}

#[cfg(test)]
mod tests;
