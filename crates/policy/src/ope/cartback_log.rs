//! cartback's own decision log, as `cartback decisions export` writes it: one round per
//! (cart, abandonment) with the state the engine's policy was given at the first decision
//! step, so that any cartback policy — a state file of `cartback policy train`, or a
//! built-in — can be evaluated on it, round by round, and a reward model fitted on it.
//!
//! - [`LoggedState`]: what the engine records with every decision (`engine_decisions.state`):
//!   the policy's [`ObservedState`] and, for every action the policy could have proposed,
//!   the action the engine would then have taken (guardrails and delivery channels applied).
//!   The recorded `propensity` is the policy's mass over every proposal that ends at the
//!   logged action, so an evaluation policy's probability of the logged action is computed
//!   the same way ([`LoggedState::push_forward`]).
//! - [`read_cartback_log`]: the NDJSON log, export lines or the older toy lines
//!   (`{"action", "propensity", "reward", "position"}`, no state).
//! - [`policy_action_dist`]: a [`Policy`]'s full distribution (with its production ε floor)
//!   on every logged state, pushed through that round's guardrail outcomes: a per-round
//!   `evaluation_action_dist`.
//! - [`fit_reward_model`]: per-action ridge regression of the reward on the policies'
//!   feature vector ([`feature_vector`]), cross-fitted in two folds.

use super::error::OpeError;
use super::logged_feedback::{LoggedFeedback, LoggedRound};
use super::tables::{ActionTable, EvaluationPolicy, RewardModel};
use crate::actions::ActionKind;
use crate::policies::{
    DoNothing, FEATURE_DIMENSION, FixedFlow, N_ACTIONS, Observation, ObservedState, Policy,
    RidgeRegression, UniformRandom, feature_vector,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;

/// What the engine records with a decision: the state its policy was given and what each
/// possible proposal would have become.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedState {
    /// The policy's input at this step.
    pub observed: ObservedState,
    /// For every action (by name), the action the engine takes when the policy proposes it:
    /// itself when every guardrail passes, a smaller coupon under the margin floor or the
    /// discount budget, `do_nothing` when a guardrail suppresses it or no channel delivers
    /// it. Every proposal maps to `do_nothing` in the holdout and without any reachable
    /// channel (the policy is not asked there; `observed` is what it would have seen).
    pub executed: BTreeMap<ActionKind, ActionKind>,
    /// What the policy proposed before the guardrails (`None` in the holdout, where the
    /// policy is not asked, and in decisions recorded before it was kept). Learning from the
    /// log ([`crate::log_training`]) reads it to learn what the guardrails do to a proposal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed: Option<ActionKind>,
}

impl LoggedState {
    /// A state whose proposals all pass unchanged.
    pub fn unchanged(observed: ObservedState) -> LoggedState {
        LoggedState::from_outcomes(observed, ActionKind::ALL)
    }

    /// A state in which nothing is sent whatever the proposal (holdout, unreachable).
    pub fn suppressed(observed: ObservedState) -> LoggedState {
        LoggedState::from_outcomes(observed, [ActionKind::DoNothing; N_ACTIONS])
    }

    /// `outcomes[i]`: what the engine takes when the policy proposes `ActionKind::ALL[i]`.
    pub fn from_outcomes(observed: ObservedState, outcomes: [ActionKind; N_ACTIONS]) -> Self {
        LoggedState {
            observed,
            executed: ActionKind::ALL.into_iter().zip(outcomes).collect(),
            proposed: None,
        }
    }

    /// The same state, recording that the policy proposed `proposal`.
    pub fn with_proposal(mut self, proposal: ActionKind) -> LoggedState {
        self.proposed = Some(proposal);
        self
    }

    /// The outcome of every proposal in `ActionKind::ALL` order; an error names the first
    /// action missing from `executed`.
    pub fn outcomes(&self) -> Result<[ActionKind; N_ACTIONS], String> {
        let mut outcomes = [ActionKind::DoNothing; N_ACTIONS];
        for kind in ActionKind::ALL {
            outcomes[kind.index()] = *self
                .executed
                .get(&kind)
                .ok_or_else(|| format!("`executed` has no entry for `{kind}`"))?;
        }
        Ok(outcomes)
    }

    /// The probability of every final action when proposals are drawn from `proposal`:
    /// the mass of every proposal that ends there, summed in `ActionKind::ALL` order (the
    /// engine's own sum, so the logging policy reproduces its logged propensities exactly).
    pub fn push_forward(
        outcomes: &[ActionKind; N_ACTIONS],
        proposal: &[f64; N_ACTIONS],
    ) -> [f64; N_ACTIONS] {
        std::array::from_fn(|final_index| {
            (0..N_ACTIONS)
                .filter(|&i| proposal[i] > 0.0 && outcomes[i].index() == final_index)
                .map(|i| proposal[i])
                .sum::<f64>()
                // Every proposal ending at one action sums a rounding error above 1.
                .min(1.0)
        })
    }
}

/// One line of `cartback decisions export`: the first decision step of one abandonment and
/// the abandonment's net outcome. See `docs/ope.md` for the exact definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartbackRound {
    pub cart_id: String,
    pub abandonment: u32,
    /// The step-0 decision's id in `engine_decisions`.
    pub decision_id: i64,
    pub decided_at: cartback_core::Timestamp,
    /// The action the engine took at step 0 (after the guardrails).
    pub action: ActionKind,
    /// Probability that the engine's policy and guardrails took `action`.
    pub propensity: f64,
    /// Net outcome of the abandonment, minor units: `order_value_minor - discount_minor -
    /// message_cost_minor - unsubscribe_loss_minor`.
    pub reward: f64,
    /// The cart was ordered after this decision, inside the attribution window.
    pub recovered: bool,
    /// The order's value when recovered (else 0).
    pub order_value_minor: i64,
    /// An outbox message of the abandonment was attributed the order.
    pub attributed: bool,
    /// The largest coupon sent in the abandonment's messages, when recovered (else 0).
    pub discount_minor: i64,
    /// Messages of the abandonment that went out (any step) and what they cost.
    pub messages_sent: u32,
    pub message_cost_minor: f64,
    /// Loss booked when a message of the abandonment recorded an unsubscribe.
    pub unsubscribe_loss_minor: f64,
    /// The step-0 decision's guardrail field (`passed` or the guardrails that changed it).
    pub guardrail: String,
    pub state: LoggedState,
}

/// A cartback log: the bandit feedback and, per round, the logged state when recorded.
#[derive(Clone, Debug)]
pub struct CartbackLog {
    pub feedback: LoggedFeedback,
    /// Per round; `None` for lines without `state` (the older toy format).
    pub states: Vec<Option<LoggedState>>,
    /// The line (from 1) of every round, for errors.
    pub lines: Vec<usize>,
}

impl CartbackLog {
    /// The state of every round, or an error naming the first line without one.
    pub fn require_states(&self, purpose: &str) -> Result<Vec<&LoggedState>, OpeError> {
        self.states
            .iter()
            .zip(&self.lines)
            .map(|(state, &line)| {
                state.as_ref().ok_or_else(|| OpeError::Field {
                    line,
                    field: "state".into(),
                    message: format!(
                        "missing; {purpose} needs the state the engine's policy saw (export the log with `cartback decisions export`)"
                    ),
                })
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct Line {
    action: Value,
    propensity: f64,
    reward: f64,
    #[serde(default)]
    position: usize,
    #[serde(default)]
    state: Option<Value>,
}

/// Parses a cartback log: export lines (`cartback decisions export`) and the older lines
/// without `state` alike. Errors name the field and the line (counted from 1).
pub fn read_cartback_log<R: BufRead>(reader: R) -> Result<CartbackLog, OpeError> {
    let mut rounds = Vec::new();
    let mut states = Vec::new();
    let mut lines = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let text = line.map_err(|e| OpeError::File {
            what: "decision log".into(),
            message: format!("line {line_number}: {e}"),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let field_error = |field: &str, message: String| OpeError::Field {
            line: line_number,
            field: field.to_string(),
            message,
        };
        let decision: Line = serde_json::from_str(&text).map_err(|e| {
            let message = e.to_string();
            let field = ["action", "propensity", "reward", "position", "state"]
                .into_iter()
                .find(|f| message.contains(&format!("`{f}`")))
                .unwrap_or("(line)");
            field_error(field, message)
        })?;
        let action = match &decision.action {
            Value::String(name) => ActionKind::from_name(name)
                .ok_or_else(|| field_error("action", format!("unknown action `{name}`")))?
                .index(),
            Value::Number(number) => number.as_u64().map(|n| n as usize).ok_or_else(|| {
                field_error("action", format!("`{number}` is not an action index"))
            })?,
            other => {
                return Err(field_error(
                    "action",
                    format!("`{other}` is neither a name nor an index"),
                ));
            }
        };
        if !(decision.propensity > 0.0 && decision.propensity <= 1.0) {
            return Err(field_error(
                "propensity",
                format!("{} is not in (0, 1]", decision.propensity),
            ));
        }
        let state = match decision.state {
            None | Some(Value::Null) => None,
            Some(value) => {
                let state: LoggedState = serde_json::from_value(value)
                    .map_err(|e| field_error("state", e.to_string()))?;
                let outcomes = state.outcomes().map_err(|e| field_error("state", e))?;
                if action < N_ACTIONS && !outcomes.iter().any(|o| o.index() == action) {
                    return Err(field_error(
                        "state",
                        format!(
                            "no proposal ends at the logged action `{}` in `executed`",
                            ActionKind::ALL[action]
                        ),
                    ));
                }
                Some(state)
            }
        };
        rounds.push(LoggedRound {
            action,
            position: decision.position,
            reward: decision.reward,
            propensity: decision.propensity,
        });
        states.push(state);
        lines.push(line_number);
    }
    Ok(CartbackLog {
        feedback: LoggedFeedback::new(rounds)?,
        states,
        lines,
    })
}

/// The distribution over final actions of `policy` on every logged round: the policy's
/// [`distribution`](Policy::distribution) on the logged state (its production ε floor
/// included), pushed through that round's guardrail outcomes. `n_steps`, when given, is the
/// number of decision steps the policy was made for; a logged state with another count is
/// refused.
pub fn policy_action_dist(
    policy: &dyn Policy,
    log: &CartbackLog,
    n_steps: Option<usize>,
) -> Result<EvaluationPolicy, OpeError> {
    let states = log.require_states("a cartback policy")?;
    let mut values = Vec::with_capacity(states.len() * N_ACTIONS);
    for ((state, &line), round) in states.iter().zip(&log.lines).zip(0..) {
        if let Some(n) = n_steps
            && state.observed.n_steps != n
        {
            return Err(OpeError::Field {
                line,
                field: "state".into(),
                message: format!(
                    "the decision was taken in a flow of {} steps, the policy was made for {n}",
                    state.observed.n_steps
                ),
            });
        }
        let outcomes = state
            .outcomes()
            .map_err(|message| OpeError::Mismatch { round, message })?;
        let proposal = policy
            .distribution(&Observation {
                state: state.observed,
                truth: None,
            })
            .probabilities;
        let final_dist = LoggedState::push_forward(&outcomes, &proposal);
        values.extend(final_dist);
    }
    EvaluationPolicy::new(ActionTable::per_round_flat(
        "evaluation_action_dist",
        N_ACTIONS,
        1,
        values,
    )?)
}

/// The built-in policies `cartback ope --eval-policy builtin:NAME` evaluates: `do_nothing`,
/// `uniform_random` (uniform over the allowed actions), `fixed_flow` (reminder, reminder, 10 %
/// coupon) or `fixed_flow=ACTION,ACTION,…` (one action per step). Returns the policy and
/// its description.
pub fn builtin_policy(spec: &str) -> Result<(Box<dyn Policy>, String), OpeError> {
    let invalid = |message: String| OpeError::Parameter {
        name: "eval-policy".into(),
        message,
    };
    let (name, steps) = match spec.split_once('=') {
        Some((name, steps)) => (name.trim(), Some(steps)),
        None => (spec.trim(), None),
    };
    match (name, steps) {
        ("do_nothing", None) => Ok((Box::new(DoNothing), "built-in do_nothing".into())),
        ("uniform_random", None) => Ok((Box::new(UniformRandom), "built-in uniform_random".into())),
        ("fixed_flow", None) => Ok((
            Box::new(FixedFlow::default()),
            "built-in fixed_flow [reminder_email, reminder_email, discount_10]".into(),
        )),
        ("fixed_flow", Some(steps)) => {
            let kinds = steps
                .split(',')
                .map(|name| {
                    ActionKind::from_name(name.trim())
                        .ok_or_else(|| invalid(format!("`{}` is not an action name", name.trim())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            Ok((
                Box::new(FixedFlow::new(kinds)),
                format!("built-in fixed_flow [{}]", names.join(", ")),
            ))
        }
        _ => Err(invalid(format!(
            "unknown built-in `{spec}`: expected do_nothing, uniform_random, fixed_flow or fixed_flow=ACTION,ACTION,…"
        ))),
    }
}

/// Rounds an action needs in a fold before its ridge regression is used; with fewer, the
/// fold's mean reward of the action stands in (the overall mean when it has none).
pub const MIN_ROUNDS_PER_ACTION: usize = 2 * FEATURE_DIMENSION;

/// A reward model fitted on the log itself: for every action, a ridge regression (prior
/// precision `ridge`) of the reward on the policies' feature vector of the logged state.
/// Cross-fitted in two folds (even and odd rounds): the predictions for a round come from
/// the models fitted on the other fold, so DM and DR never use a model fitted on the round
/// itself.
pub fn fit_reward_model(log: &CartbackLog, ridge: f64) -> Result<RewardModel, OpeError> {
    if !(ridge.is_finite() && ridge > 0.0) {
        return Err(OpeError::Parameter {
            name: "ridge".into(),
            message: format!("must be a positive number, got {ridge}"),
        });
    }
    let states = log.require_states("the fitted reward model")?;
    let rounds = log.feedback.rounds();
    if let Some((round, r)) = rounds
        .iter()
        .enumerate()
        .find(|(_, r)| r.action >= N_ACTIONS)
    {
        return Err(OpeError::Mismatch {
            round,
            message: format!("action {} is not a cartback action", r.action),
        });
    }
    let features: Vec<[f64; FEATURE_DIMENSION]> =
        states.iter().map(|s| feature_vector(&s.observed)).collect();
    let mut predictions = vec![[0.0; N_ACTIONS]; rounds.len()];
    for fold in 0..2 {
        let training = |i: &usize| i % 2 != fold;
        let mut models: Vec<RidgeRegression> = (0..N_ACTIONS)
            .map(|_| RidgeRegression::new(ridge))
            .collect();
        let mut sums = [0.0; N_ACTIONS];
        let mut counts = [0usize; N_ACTIONS];
        for i in (0..rounds.len()).filter(training) {
            let a = rounds[i].action;
            models[a].update(&features[i], rounds[i].reward);
            sums[a] += rounds[i].reward;
            counts[a] += 1;
        }
        let total: usize = counts.iter().sum();
        let overall = if total > 0 {
            sums.iter().sum::<f64>() / total as f64
        } else {
            0.0
        };
        for i in (0..rounds.len()).filter(|i| !training(i)) {
            for a in 0..N_ACTIONS {
                predictions[i][a] = if counts[a] >= MIN_ROUNDS_PER_ACTION {
                    models[a].predict(&features[i])
                } else if counts[a] > 0 {
                    sums[a] / counts[a] as f64
                } else {
                    overall
                };
            }
        }
    }
    Ok(RewardModel::new(ActionTable::per_round_flat(
        "reward_model_table",
        N_ACTIONS,
        1,
        predictions.into_iter().flatten().collect(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::CartFeatures;
    use cartback_core::Timestamp;

    fn observed(step: usize, value: i64) -> ObservedState {
        ObservedState {
            features: CartFeatures {
                cart_value_minor: value,
                predicted_propensity: 0.1,
                returning_customer: false,
                mobile: true,
                email_consent: true,
                webhook_consent: false,
                abandoned_hour: 14,
                history: Default::default(),
                session: Default::default(),
            },
            step,
            n_steps: 3,
            abandoned_at: Timestamp(1_780_000_000_000),
            send_at: Timestamp(1_780_003_600_000),
            send_hour_local: 15,
            messages_sent: 0,
            coupon_sent_percent: 0,
            subscribed: true,
        }
    }

    fn line(action: &str, propensity: f64, reward: f64, state: &LoggedState) -> String {
        serde_json::json!({"action": action, "propensity": propensity, "reward": reward,
                           "state": state, "cart_id": "c"})
        .to_string()
    }

    #[test]
    fn the_state_round_trips_through_json_and_old_lines_still_read() {
        let state = LoggedState::unchanged(observed(0, 8_000));
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains(r#""discount_10":"discount_10""#), "{text}");
        let back: LoggedState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
        let log_text = format!(
            "{}\n{{\"action\": 0, \"propensity\": 0.5, \"reward\": 1}}\n",
            line("reminder_email", 0.25, 31.5, &state)
        );
        let log = read_cartback_log(log_text.as_bytes()).unwrap();
        assert_eq!(log.states[0].as_ref(), Some(&state));
        assert_eq!(log.states[1], None);
        assert_eq!(log.lines, vec![1, 2]);
        let err = log.require_states("test").unwrap_err().to_string();
        assert!(err.starts_with("line 2: field `state`: missing"), "{err}");
    }

    #[test]
    fn bad_states_name_the_line_and_field() {
        let mut state = LoggedState::unchanged(observed(0, 8_000));
        state.executed.remove(&ActionKind::Discount20);
        let text = format!(
            "{}\n{}\n",
            line(
                "do_nothing",
                1.0,
                0.0,
                &LoggedState::unchanged(observed(0, 1))
            ),
            line("do_nothing", 1.0, 0.0, &state)
        );
        let err = read_cartback_log(text.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err,
            "line 2: field `state`: `executed` has no entry for `discount_20`"
        );
        let text =
            r#"{"action": "do_nothing", "propensity": 1, "reward": 0, "state": {"observed": 3}}"#;
        let err = read_cartback_log(text.as_bytes()).unwrap_err().to_string();
        assert!(
            err.starts_with("line 1: field `state`: invalid type"),
            "{err}"
        );
        // The logged action must be one the guardrails can end at.
        let suppressed = LoggedState::suppressed(observed(0, 1));
        let text = line("reminder_email", 1.0, 0.0, &suppressed);
        let err = read_cartback_log(text.as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("no proposal ends at the logged action"),
            "{err}"
        );
    }

    #[test]
    fn the_distribution_is_pushed_through_the_guardrails() {
        // The budget turns a 10 % coupon into 5 %; the holdout suppresses everything.
        let mut outcomes = ActionKind::ALL;
        outcomes[ActionKind::Discount10.index()] = ActionKind::Discount5;
        let budget = LoggedState::from_outcomes(observed(2, 8_000), outcomes);
        let holdout = LoggedState::suppressed(observed(0, 8_000));
        let text = format!(
            "{}\n{}\n",
            line("discount_5", 1.0, 0.0, &budget),
            line("do_nothing", 1.0, 0.0, &holdout)
        );
        let log = read_cartback_log(text.as_bytes()).unwrap();
        let fixed = policy_action_dist(&FixedFlow::default(), &log, Some(3)).unwrap();
        // Step 3 of the fixed flow proposes 10 %, which the budget made 5 %.
        assert_eq!(fixed.table().get(0, ActionKind::Discount5.index(), 0), 1.0);
        assert_eq!(fixed.table().get(0, ActionKind::Discount10.index(), 0), 0.0);
        assert_eq!(fixed.table().get(1, ActionKind::DoNothing.index(), 0), 1.0);
        let random = policy_action_dist(&UniformRandom, &log, None).unwrap();
        // Uniform over the 7 allowed actions (no push consent): 5 % gets its own and 10 %'s.
        assert!(
            (random.table().get(0, ActionKind::Discount5.index(), 0) - 2.0 / 7.0).abs() < 1e-15
        );
        let err = policy_action_dist(&UniformRandom, &log, Some(4))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("line 1: field `state`: the decision was taken in a flow of 3 steps"),
            "{err}"
        );
    }

    #[test]
    fn the_fitted_model_is_cross_fitted_and_learns_a_linear_reward() {
        // Reward = 100 × cart value / 60.00 for reminders, 0 for doing nothing.
        let mut text = String::new();
        for i in 0..400 {
            let value = 2_000 + 37 * i;
            let state = LoggedState::unchanged(observed(0, value));
            let (action, reward) = if i % 3 == 0 {
                ("do_nothing", 0.0)
            } else {
                ("reminder_email", 100.0 * value as f64 / 6_000.0)
            };
            text.push_str(&line(action, 0.5, reward, &state));
            text.push('\n');
        }
        let log = read_cartback_log(text.as_bytes()).unwrap();
        let model = fit_reward_model(&log, 1e-3).unwrap();
        for round in [0, 1, 200, 399] {
            let value = (2_000 + 37 * round) as f64;
            let q = model
                .table()
                .get(round, ActionKind::ReminderEmail.index(), 0);
            assert!(
                (q - 100.0 * value / 6_000.0).abs() < 0.05,
                "round {round}: {q}"
            );
            let nothing = model.table().get(round, ActionKind::DoNothing.index(), 0);
            assert!(nothing.abs() < 1e-6, "{nothing}");
        }
        // Discounts were never logged: the other fold's overall mean reward stands in.
        let odd: Vec<f64> = log
            .feedback
            .rounds()
            .iter()
            .skip(1)
            .step_by(2)
            .map(|r| r.reward)
            .collect();
        let odd_mean = odd.iter().sum::<f64>() / odd.len() as f64;
        let q = model.table().get(0, ActionKind::Discount10.index(), 0);
        assert!((q - odd_mean).abs() < 1e-9, "{q} vs {odd_mean}");
        // Cross-fitting: a round's own reward does not move its prediction.
        let changed = text.replacen("\"reward\":", "\"reward\":1e6,\"old\":", 1);
        let log2 = read_cartback_log(changed.as_bytes()).unwrap();
        assert_ne!(
            log2.feedback.rounds()[0].reward,
            log.feedback.rounds()[0].reward
        );
        let model2 = fit_reward_model(&log2, 1e-3).unwrap();
        for a in 0..N_ACTIONS {
            assert_eq!(model2.table().get(0, a, 0), model.table().get(0, a, 0));
        }
        assert!(fit_reward_model(&log, 0.0).is_err());
    }

    #[test]
    fn old_lines_read_action_names_and_indices() {
        let text = "{\"action\": \"reminder_email\", \"propensity\": 0.25, \"reward\": 31.5}\n\n{\"action\": 4, \"propensity\": 0.05, \"reward\": 0, \"position\": 1, \"extra\": true}\n";
        let log = read_cartback_log(text.as_bytes()).unwrap().feedback;
        assert_eq!(log.rounds()[0].action, ActionKind::ReminderEmail.index());
        assert_eq!(log.rounds()[0].reward, 31.5);
        assert_eq!(log.rounds()[1].action, 4);
        assert_eq!(log.rounds()[1].position, 1);
    }

    #[test]
    fn old_lines_errors_name_the_field_and_line() {
        let text = "{\"action\": 1, \"propensity\": 0.5, \"reward\": 1}\n{\"action\": \"fax\", \"propensity\": 0.5, \"reward\": 1}\n";
        let err = read_cartback_log(text.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: field `action`: unknown action `fax`"
        );
        let err = read_cartback_log("{\"action\": 1, \"reward\": 1}".as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with("line 1: field `propensity`"),
            "{err}"
        );
        let err = read_cartback_log("{\"action\": 1, \"propensity\": 2, \"reward\": 1}".as_bytes())
            .unwrap_err();
        assert!(err.to_string().contains("not in (0, 1]"), "{err}");
    }

    #[test]
    fn a_certain_final_action_has_probability_one_exactly() {
        // An ε = 0.2 exploring policy's masses over eight allowed actions, all ending at
        // doing nothing (every contact suppressed), sum a rounding error above 1 in floating
        // point; the push-forward gives exactly 1, what the engine records and off-policy
        // evaluation accepts.
        let u = 0.2 / 8.0;
        let proposal = [0.8 + u, u, u, u, u, u, u, u];
        assert!(proposal.iter().sum::<f64>() > 1.0);
        let dist = LoggedState::push_forward(&[ActionKind::DoNothing; N_ACTIONS], &proposal);
        assert_eq!(dist[ActionKind::DoNothing.index()], 1.0);
    }
}
