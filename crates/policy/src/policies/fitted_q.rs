//! Model-based fitted Q ("fqi"): multi-step planning over learned outcome models.
//!
//! From a randomised log (every allowed action tried, guardrails included) it learns a
//! gradient-boosted model of the probability that the shopper buys in the step given the
//! action that went out (`cartback-ml`'s histogram GBDT, log-loss: one model per action,
//! or, for large logs, one model pooled over all actions with the action's channel, content
//! and coupon as inputs, so the actions share what predicts buying at all) over the
//! observable state — cart value, propensity score, returning customer, device, consent,
//! local send hour, step, messages and coupons so far, the customer's coupon and e-mail
//! history, the session's signals of discount seeking — and small tables of what the
//! guardrails and shoppers do with a proposal: how often it actually goes out, the coupon
//! share redeemed by buyers, the unsubscribe rate.
//!
//! It then acts by exact backward induction over the observable next states: the value of
//! an action is its expected net revenue in this step plus, if the shopper has not bought,
//! the best value of the state it leads to (sent or suppressed, still subscribed or not),
//! itself planned with the same models. The purchase models condition on the contact
//! history, so "contacted and still not bought" lowers later purchase probabilities the way
//! the data shows — the learned counterpart of the Bayes-optimal policy's posterior.
//!
//! A shadow price on coupon face value (`coupon_shadow_price`, minor units per minor unit
//! issued) makes it spend a binding daily discount budget on the carts where coupons earn
//! most, instead of on whoever abandons first; the simulator calibrates it on the training
//! shoppers.

use super::{
    ActionDistribution, N_ACTIONS, Observation, ObservedState, Policy, PolicyError, allowed_actions,
};
use crate::actions::{ActionCosts, ActionKind, Channel};
use crate::guardrails::Guardrail;
use crate::simulator::Transition;
use cartback_ml::dataset::FeatureMatrix;
use cartback_ml::gbdt::{GbdtModel, GbdtParams};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Values of the states met while planning one decision, by their varying parts.
type Memo = HashMap<(usize, u32, u32, bool), f64>;

/// Inputs of the purchase models.
pub const PLANNER_FEATURES: usize = 20;
/// Most steps the tables distinguish.
const STEPS: usize = 6;
/// Coupon-so-far buckets: 0, 5, 10, 15, 20 %.
const COUPON_BUCKETS: usize = 5;
/// Messages-so-far buckets: 0, 1, 2, 3+.
const MESSAGE_BUCKETS: usize = 4;

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The purchase models' inputs for a state.
pub fn planner_features(state: &ObservedState) -> [f64; PLANNER_FEATURES] {
    let f = &state.features;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let [code_typed, field_left_empty, deal_site] = f.session.indicators();
    [
        (f.cart_value_minor.max(1) as f64).ln(),
        logit(f.predicted_propensity),
        flag(f.returning_customer),
        flag(f.mobile),
        flag(f.email_consent),
        flag(f.webhook_consent),
        f64::from(state.send_hour_local),
        flag(!(7..22).contains(&state.send_hour_local)),
        state.step as f64,
        f64::from(state.messages_sent),
        f64::from(state.coupon_sent_percent),
        flag(state.subscribed),
        // The customer's history (all zero without one).
        f64::from(f.history.coupon_orders),
        f64::from(f.history.orders.saturating_sub(f.history.coupon_orders)),
        f64::from(f.history.emails),
        f64::from(f.history.email_opens),
        f64::from(f.history.email_clicks),
        // The session's signals of discount seeking (all zero when not observed).
        code_typed,
        field_left_empty,
        deal_site,
    ]
}

/// Inputs describing the executed action, for the pooled purchase model.
const ACTION_FEATURES: usize = 5;

fn action_features(kind: ActionKind) -> [f64; ACTION_FEATURES] {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    [
        flag(kind.is_contact()),
        flag(kind.channel() == Some(Channel::Email)),
        flag(kind.channel() == Some(Channel::Webhook)),
        flag(kind == ActionKind::RecommendationEmail),
        f64::from(kind.discount_percent()),
    ]
}

fn pooled_row(
    x: &[f64; PLANNER_FEATURES],
    kind: ActionKind,
) -> [f64; PLANNER_FEATURES + ACTION_FEATURES] {
    let mut row = [0.0; PLANNER_FEATURES + ACTION_FEATURES];
    row[..PLANNER_FEATURES].copy_from_slice(x);
    row[PLANNER_FEATURES..].copy_from_slice(&action_features(kind));
    row
}

/// Per logged decision step: its step, and what every proposal (`ActionKind::ALL` order)
/// would have become, `None` where the state does not allow it
/// ([`FittedQParams::fit_with_guardrail_outcomes`]).
pub type GuardrailOutcomes = [(usize, [Option<ActionKind>; N_ACTIONS])];

#[derive(Clone, Debug, PartialEq)]
pub struct FittedQParams {
    /// Boosting rounds at most (early stopping on a validation split picks fewer).
    pub trees: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub max_leaves: usize,
    /// Fewest rows in a leaf (at most a twentieth of an action's rows).
    pub min_samples_leaf: usize,
    /// Shadow price of coupon face value (0 = coupons cost only what is redeemed).
    pub coupon_shadow_price: f64,
    /// Logs of at least this many transitions get one purchase model over every executed
    /// action, with the action's channel, content and coupon as inputs; smaller ones one
    /// model per action (0: always pooled, `usize::MAX`: never). On the simulator's tuning
    /// seeds the per-action models did better up to 100,000 training carts (≈ 250,000
    /// transitions) and the pooled one at 300,000 (≈ 750,000).
    pub pool_from_transitions: usize,
    pub seed: u64,
    /// An action that went out with fewer than 5 purchases (or 5 non-purchases) in the log
    /// is refused (`false`, the simulator's training, where every action is logged), or
    /// left out: the planner never proposes it, nor a proposal that could turn into it
    /// (`true`, learning from a shop's own log, where a rarely explored coupon must not stop
    /// the others from being learned). Doing nothing is never left out.
    pub leave_out_thin_actions: bool,
}

impl Default for FittedQParams {
    fn default() -> Self {
        FittedQParams {
            trees: 400,
            learning_rate: 0.05,
            max_depth: 3,
            max_leaves: 8,
            min_samples_leaf: 200,
            coupon_shadow_price: 0.0,
            pool_from_transitions: 500_000,
            seed: 7,
            leave_out_thin_actions: false,
        }
    }
}

/// A share with a prior of `prior_weight` observations at `prior`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Rate {
    hits: f64,
    total: f64,
}

impl Rate {
    fn add(&mut self, hit: f64) {
        self.hits += hit;
        self.total += 1.0;
    }

    fn value(&self, prior: f64, prior_weight: f64) -> f64 {
        (self.hits + prior * prior_weight) / (self.total + prior_weight)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FittedQ {
    /// P(buy in the step | state, action that went out), one booster per executed action
    /// (doing nothing includes proposals the guardrails suppressed), or one booster over
    /// every action (`pooled`).
    buy: Vec<GbdtModel>,
    #[serde(default)]
    pooled: bool,
    /// What goes out when an action is proposed, by proposal and step: counts of every
    /// executed action (the daily budget's changes left out: the shadow price manages it).
    execution: Vec<[[f64; N_ACTIONS]; STEPS]>,
    /// Coupon share of the cart value redeemed by a buyer | executed action, coupon so far.
    redeemed: Vec<[Rate; COUPON_BUCKETS]>,
    /// P(unsubscribe | executed action, messages so far).
    unsubscribe: Vec<[Rate; MESSAGE_BUCKETS]>,
    costs: ActionCosts,
    step_delays_hours: Vec<u32>,
    coupon_shadow_price: f64,
    /// Exploration floor (0 = greedy).
    epsilon: f64,
    /// Actions too thin in the training log to learn (`FittedQParams::leave_out_thin_actions`):
    /// never planned, though the exploration floor still tries them.
    #[serde(default)]
    left_out: [bool; N_ACTIONS],
}

fn fit_error(e: cartback_ml::MlError) -> PolicyError {
    PolicyError::Parameter {
        name: "fqi",
        message: e.to_string(),
    }
}

impl FittedQParams {
    /// Learns the models from `log` (a randomised log: every action must have gone out and
    /// led to purchases) for carts whose decision steps come `step_delays_hours` after
    /// abandonment.
    pub fn fit(
        &self,
        log: &[Transition],
        costs: ActionCosts,
        step_delays_hours: &[u32],
    ) -> Result<FittedQ, PolicyError> {
        self.fit_with_guardrail_outcomes(log, None, costs, step_delays_hours)
    }

    /// [`fit`](Self::fit), learning what the guardrails do to each proposal from
    /// `guardrail_outcomes` instead of from the log's proposals: per logged decision step,
    /// its step and what every proposal would have become (`ActionKind::ALL` order), as the
    /// engine records it with each decision (`LoggedState::executed`), `None` for the
    /// proposals the state does not allow (no consent for the channel: the policy never
    /// proposes them there). Every allowed proposal of a step counts, not only the one that
    /// was made; the caller leaves out the steps the daily discount budget changed (the
    /// shadow price manages the budget) and the holdout's.
    pub fn fit_with_guardrail_outcomes(
        &self,
        log: &[Transition],
        guardrail_outcomes: Option<&GuardrailOutcomes>,
        costs: ActionCosts,
        step_delays_hours: &[u32],
    ) -> Result<FittedQ, PolicyError> {
        if log.is_empty() {
            return Err(PolicyError::NoTrainingData { policy: "fqi" });
        }
        if !(self.coupon_shadow_price >= 0.0 && self.coupon_shadow_price.is_finite()) {
            return Err(PolicyError::Parameter {
                name: "coupon_shadow_price",
                message: format!(
                    "must be a non-negative number, got {}",
                    self.coupon_shadow_price
                ),
            });
        }
        if step_delays_hours.is_empty() {
            return Err(PolicyError::Parameter {
                name: "step_delays_hours",
                message: "needs at least one decision step".into(),
            });
        }
        let gbdt = GbdtParams {
            n_trees: self.trees,
            learning_rate: self.learning_rate,
            max_depth: self.max_depth,
            max_leaves: self.max_leaves,
            min_samples_leaf: self.min_samples_leaf,
            validation_fraction: 0.2,
            early_stopping_rounds: 30,
            seed: self.seed,
            ..GbdtParams::default()
        };
        let mut buy = Vec::with_capacity(N_ACTIONS);
        let mut execution = vec![[[0.0; N_ACTIONS]; STEPS]; N_ACTIONS];
        let mut redeemed = vec![[Rate::default(); COUPON_BUCKETS]; N_ACTIONS];
        let mut unsubscribe = vec![[Rate::default(); MESSAGE_BUCKETS]; N_ACTIONS];
        match guardrail_outcomes {
            None => {
                for t in log {
                    if !t.changed_by.contains(Guardrail::DiscountBudget) {
                        execution[t.action.index()][t.state.step.min(STEPS - 1)]
                            [t.executed.index()] += 1.0;
                    }
                }
            }
            Some(outcomes) => {
                for (step, outcome) in outcomes {
                    for (proposal, executed) in ActionKind::ALL.into_iter().zip(outcome) {
                        if let Some(executed) = executed {
                            execution[proposal.index()][(*step).min(STEPS - 1)]
                                [executed.index()] += 1.0;
                        }
                    }
                }
            }
        }
        let pooled = log.len() >= self.pool_from_transitions;
        // P(buy) over `rows`, each turned into `width` inputs by `inputs`; small logs get
        // smaller leaves (a twentieth of the rows at most).
        let fit_buy = |rows: &[&Transition],
                       width: usize,
                       inputs: &dyn Fn(&Transition) -> Vec<f64>|
         -> Result<GbdtModel, PolicyError> {
            let values: Vec<f64> = rows.iter().flat_map(|t| inputs(t)).collect();
            let labels: Vec<f64> = rows.iter().map(|t| f64::from(u8::from(t.bought))).collect();
            let matrix = FeatureMatrix::new(rows.len(), width, values).map_err(fit_error)?;
            let params = GbdtParams {
                min_samples_leaf: self.min_samples_leaf.min(rows.len() / 20).max(5),
                ..gbdt.clone()
            };
            params.fit(&matrix, &labels).map_err(fit_error)
        };
        if pooled {
            let all: Vec<&Transition> = log.iter().collect();
            buy.push(fit_buy(&all, PLANNER_FEATURES + ACTION_FEATURES, &|t| {
                pooled_row(&planner_features(&t.state), t.executed).to_vec()
            })?);
        }
        let mut left_out = [false; N_ACTIONS];
        for kind in ActionKind::ALL {
            let rows: Vec<&Transition> = log.iter().filter(|t| t.executed == kind).collect();
            let positives = rows.iter().filter(|t| t.bought).count();
            let thin = positives < 5 || rows.len() - positives < 5;
            if thin && self.leave_out_thin_actions && kind != ActionKind::DoNothing {
                left_out[kind.index()] = true;
                if !pooled {
                    // A stand-in, never read: the planner skips left-out actions.
                    buy.push(buy[ActionKind::DoNothing.index()].clone());
                }
                continue;
            }
            if thin {
                return Err(PolicyError::Parameter {
                    name: "log",
                    message: format!(
                        "{kind} went out {} times with {positives} purchases in the log: too \
                         few to learn from",
                        rows.len()
                    ),
                });
            }
            if !pooled {
                buy.push(fit_buy(&rows, PLANNER_FEATURES, &|t| {
                    planner_features(&t.state).to_vec()
                })?);
            }
            for t in rows {
                if t.bought {
                    let value = t.state.features.cart_value_minor.max(1) as f64;
                    redeemed[kind.index()][coupon_bucket(t.state.coupon_sent_percent)]
                        .add(t.discount_minor / value);
                }
                unsubscribe[kind.index()][message_bucket(t.state.messages_sent)]
                    .add(f64::from(u8::from(t.unsubscribed)));
            }
        }
        Ok(FittedQ {
            buy,
            pooled,
            execution,
            redeemed,
            unsubscribe,
            costs,
            step_delays_hours: step_delays_hours.to_vec(),
            coupon_shadow_price: self.coupon_shadow_price,
            epsilon: 0.0,
            left_out,
        })
    }
}

fn coupon_bucket(percent: u32) -> usize {
    ((percent / 5) as usize).min(COUPON_BUCKETS - 1)
}

fn message_bucket(messages: u32) -> usize {
    (messages as usize).min(MESSAGE_BUCKETS - 1)
}

impl FittedQ {
    /// The same models with another shadow price of coupon face value.
    pub fn with_coupon_shadow_price(mut self, price: f64) -> Self {
        self.coupon_shadow_price = price.max(0.0);
        self
    }

    /// The same models with an exploration floor (0 = greedy).
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon.clamp(0.0, 1.0);
        self
    }

    pub fn coupon_shadow_price(&self) -> f64 {
        self.coupon_shadow_price
    }

    /// The actions left out as too thin in the training log (never planned).
    pub fn left_out(&self) -> Vec<ActionKind> {
        ActionKind::ALL
            .into_iter()
            .filter(|k| self.left_out[k.index()])
            .collect()
    }

    /// The learned probability that the shopper buys in this step if `kind` goes out.
    pub fn purchase_probability(&self, kind: ActionKind, state: &ObservedState) -> f64 {
        sigmoid(self.buy_margin(kind, &planner_features(state)))
    }

    /// The purchase models' log-odds that the shopper buys if `kind` goes out.
    fn buy_margin(&self, kind: ActionKind, x: &[f64; PLANNER_FEATURES]) -> f64 {
        if self.pooled {
            self.buy[0].margin(&pooled_row(x, kind))
        } else {
            self.buy[kind.index()].margin(x)
        }
    }

    /// Probability of each executed action when `proposal` is proposed at `step`.
    fn executions(&self, proposal: ActionKind, step: usize) -> [f64; N_ACTIONS] {
        let counts = &self.execution[proposal.index()][step.min(STEPS - 1)];
        let total: f64 = counts.iter().sum();
        let mut p = [0.0; N_ACTIONS];
        if total < 1.0 {
            // Never logged: assume it goes out as proposed.
            p[proposal.index()] = 1.0;
        } else {
            for (share, count) in p.iter_mut().zip(counts) {
                *share = count / total;
            }
        }
        p
    }

    /// The observable state after `state` when the shopper does not buy.
    fn next_state(
        &self,
        state: &ObservedState,
        executed: ActionKind,
        subscribed: bool,
    ) -> Option<ObservedState> {
        let next_step = state.step + 1;
        if next_step >= state.n_steps || next_step >= self.step_delays_hours.len() {
            return None;
        }
        let now = self.step_delays_hours[state.step.min(self.step_delays_hours.len() - 1)];
        let later = self.step_delays_hours[next_step];
        let mut next = *state;
        next.step = next_step;
        next.send_at = state.abandoned_at + cartback_core::Duration::hours(i64::from(later));
        next.send_hour_local = (state.send_hour_local + later - now) % 24;
        if executed.is_contact() {
            next.messages_sent += 1;
            next.coupon_sent_percent = next.coupon_sent_percent.max(executed.discount_percent());
        }
        next.subscribed = state.subscribed && subscribed;
        Some(next)
    }

    /// Expected net revenue (minor units, coupon shadow price included) of proposing every
    /// allowed action in `state` and planning the later steps with the same models
    /// (`-inf` for actions the shopper cannot receive).
    pub fn action_values(&self, state: &ObservedState) -> [f64; N_ACTIONS] {
        self.values(state, &mut Memo::new())
    }

    /// The planned net revenue from `state` on, minor units, when each action (by
    /// `ActionKind::ALL` index) goes out now and the planner decides the later steps: the
    /// direct-method model of the doubly robust estimate of the planner on a logged flow
    /// (`crate::log_training`). Coupons cost their shadow price too (0: what is redeemed).
    pub fn executed_values(&self, state: &ObservedState) -> [f64; N_ACTIONS] {
        let x = planner_features(state);
        let mut memo = Memo::new();
        ActionKind::ALL.map(|kind| self.executed_value(state, &x, kind, &mut memo))
    }

    /// Value of executing `executed` in `state`, later steps planned.
    fn executed_value(
        &self,
        state: &ObservedState,
        x: &[f64; PLANNER_FEATURES],
        executed: ActionKind,
        memo: &mut Memo,
    ) -> f64 {
        let value = state.features.cart_value_minor as f64;
        let p_buy = sigmoid(self.buy_margin(executed, x));
        let redeemed = self.redeemed[executed.index()][coupon_bucket(state.coupon_sent_percent)]
            .value(
                f64::from(executed.discount_percent().max(state.coupon_sent_percent)) / 200.0,
                5.0,
            );
        let p_unsub = if executed.is_contact() {
            self.unsubscribe[executed.index()][message_bucket(state.messages_sent)]
                .value(self.costs.unsubscribe_rate(executed), 50.0)
        } else {
            0.0
        };
        let message = match executed.channel() {
            None => 0.0,
            Some(Channel::Email) => self.costs.email_minor,
            Some(Channel::Webhook) => self.costs.webhook_minor,
        };
        let face = ActionCosts::discount_given(executed, state.features.cart_value_minor) as f64;
        let mut total = p_buy * value * (1.0 - redeemed)
            - message
            - p_unsub * self.costs.unsubscribe_loss_minor
            - self.coupon_shadow_price * face;
        if state.step + 1 < state.n_steps {
            let mut continuation = |subscribed: bool| -> f64 {
                self.next_state(state, executed, subscribed)
                    .map_or(0.0, |next| self.state_value(&next, memo))
            };
            let later = if executed.is_contact() {
                (1.0 - p_unsub) * continuation(true) + p_unsub * continuation(false)
            } else {
                continuation(true)
            };
            total += (1.0 - p_buy) * later;
        }
        total
    }

    fn values(&self, state: &ObservedState, memo: &mut Memo) -> [f64; N_ACTIONS] {
        let allowed = allowed_actions(state);
        let x = planner_features(state);
        let mut executed_values = [None; N_ACTIONS];
        let mut q = [f64::NEG_INFINITY; N_ACTIONS];
        for proposal in ActionKind::ALL {
            if !allowed[proposal.index()] || self.left_out[proposal.index()] {
                continue;
            }
            let shares = self.executions(proposal, state.step);
            if ActionKind::ALL
                .iter()
                .any(|e| shares[e.index()] > 0.0 && self.left_out[e.index()])
            {
                continue;
            }
            let mut total = 0.0;
            for executed in ActionKind::ALL {
                let share = shares[executed.index()];
                if share <= 0.0 {
                    continue;
                }
                let v = match executed_values[executed.index()] {
                    Some(v) => v,
                    None => {
                        let v = self.executed_value(state, &x, executed, memo);
                        executed_values[executed.index()] = Some(v);
                        v
                    }
                };
                total += share * v;
            }
            q[proposal.index()] = total;
        }
        q
    }

    fn state_value(&self, state: &ObservedState, memo: &mut Memo) -> f64 {
        let key = (
            state.step,
            state.messages_sent,
            state.coupon_sent_percent,
            state.subscribed,
        );
        if let Some(v) = memo.get(&key) {
            return *v;
        }
        let v = self
            .values(state, memo)
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max);
        memo.insert(key, v);
        v
    }
}

impl Policy for FittedQ {
    fn name(&self) -> &str {
        "fqi"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let state = &observation.state;
        let q = self.action_values(state);
        let allowed = allowed_actions(state);
        let mut best = ActionKind::DoNothing;
        for kind in ActionKind::ALL {
            // Ties go to the cheaper (earlier) action: strict improvement needed.
            if allowed[kind.index()] && q[kind.index()] > q[best.index()] + 1e-9 {
                best = kind;
            }
        }
        ActionDistribution::epsilon_greedy(
            best,
            self.epsilon,
            &allowed,
            q,
            format!(
                "fitted Q: {best} has the highest planned net revenue over the remaining steps ({:.0} minor units)",
                q[best.index()]
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{BudgetedRandom, DoNothing, FixedFlow};
    use crate::simulator::{
        DiscountLedger, Simulator, SimulatorConfig, expected_outcome, log_episodes,
        sample_population,
    };
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn plans_from_a_randomised_log_and_beats_the_fixed_flow() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let config = simulator.config();
        let mut rng = SmallRng::seed_from_u64(21);
        let train = sample_population(&simulator, 12_000, &mut rng);
        let logging = BudgetedRandom::new(0.15).unwrap();
        let log: Vec<Transition> = log_episodes(&simulator, &train, &logging, &mut rng)
            .into_iter()
            .flatten()
            .collect();
        let policy = FittedQParams::default()
            .fit(&log, config.costs, &config.step_delays_hours)
            .unwrap();
        let fresh = sample_population(&simulator, 300, &mut rng);
        let ledger = DiscountLedger::default();
        let value = |p: &dyn Policy| -> f64 {
            fresh
                .iter()
                .map(|s| expected_outcome(&simulator, s, &ledger, p).net_revenue_minor)
                .sum()
        };
        let planned = value(&policy);
        assert!(
            planned > value(&DoNothing),
            "fitted Q does not beat doing nothing"
        );
        assert!(
            planned > value(&FixedFlow::default()),
            "fitted Q does not beat the fixed flow"
        );
        // Planning sees the later steps: an allowed action's value includes them, so doing
        // nothing now is worth more than the unaided purchase of this step alone.
        let state = crate::simulator::observe(
            &simulator,
            &fresh[0],
            &crate::simulator::CartProgress::START,
        );
        let q = policy.action_values(&state);
        let now_only = policy.purchase_probability(ActionKind::DoNothing, &state)
            * state.features.cart_value_minor as f64;
        assert!(q[ActionKind::DoNothing.index()] > now_only);
        // One model pooled over the actions plans as well.
        let pooled = FittedQParams {
            pool_from_transitions: 0,
            ..Default::default()
        }
        .fit(&log, config.costs, &config.step_delays_hours)
        .unwrap();
        assert_eq!((pooled.buy.len(), policy.buy.len()), (1, N_ACTIONS));
        assert!(
            value(&pooled) > value(&FixedFlow::default()),
            "the pooled planner does not beat the fixed flow"
        );
        // A high enough shadow price stops coupons.
        let priced = policy.clone().with_coupon_shadow_price(10.0);
        for s in &fresh[..50] {
            let state =
                crate::simulator::observe(&simulator, s, &crate::simulator::CartProgress::START);
            let d = priced.distribution(&Observation { state, truth: None });
            assert_eq!(d.mode().discount_percent(), 0);
        }
    }

    #[test]
    fn bad_logs_and_parameters_are_rejected() {
        let costs = ActionCosts::default();
        assert_eq!(
            FittedQParams::default()
                .fit(&[], costs, &[1, 24])
                .unwrap_err(),
            PolicyError::NoTrainingData { policy: "fqi" }
        );
        let bad = FittedQParams {
            coupon_shadow_price: -1.0,
            ..Default::default()
        };
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(2);
        let shoppers = sample_population(&simulator, 20, &mut rng);
        let log: Vec<Transition> = log_episodes(&simulator, &shoppers, &DoNothing, &mut rng)
            .into_iter()
            .flatten()
            .collect();
        assert!(matches!(
            bad.fit(&log, costs, &[1, 24, 72]),
            Err(PolicyError::Parameter {
                name: "coupon_shadow_price",
                ..
            })
        ));
        // Only "do nothing" was logged: the other actions cannot be learned.
        let err = FittedQParams::default()
            .fit(&log, costs, &[1, 24, 72])
            .unwrap_err();
        assert!(err.to_string().contains("too few to learn from"), "{err}");
    }
}
