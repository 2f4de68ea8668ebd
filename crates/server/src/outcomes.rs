//! Each abandonment of the engine's decision log and what became of it, read from the
//! store: the one place that books an abandonment's outcome, for the off-policy export
//! ([`crate::export`]) and the reports ([`crate::report`]).
//!
//! Decisions are grouped by (cart, abandonment) in the order of their first decision. An
//! abandonment's outcome, booked as the simulator books a cart (`ActionCosts`):
//!
//! - **settled** once its attribution window has closed: its first decision lies at least
//!   the attribution window before the report's "now" ([`Booking::as_of`]); otherwise it is
//!   still open. Waiting for the window, rather than counting an abandonment as soon as its
//!   cart is ordered or expired, keeps the outcome from choosing the sample: a recovery is
//!   known the moment the order arrives, a loss only when the window closes, so counting
//!   outcomes as they become known would overstate recent recovery rates (and both the
//!   report's and off-policy evaluation's figures with them);
//! - **recovered** when this is the cart's latest abandonment, the cart is `recovered` (the
//!   tracker's state: ordered inside the attribution window after abandonment) and the order
//!   came at or after the first decision; its order value is `carts.payload`'s
//!   `order_value` (the cart value when the order gave none or 0); an order cancelled later
//!   keeps no revenue;
//! - the largest coupon (`discount_minor`) among its messages that went out is given away
//!   when the order is kept (the simulator charges the largest coupon the shopper saw);
//! - every sent message costs `ActionCosts::message_cost` of its action;
//! - `ActionCosts::unsubscribe_loss_minor` is lost when one of its messages recorded an
//!   unsubscribe.

use cartback_core::{Cart, CartState, Duration, Timestamp};
use cartback_policy::actions::{ActionCosts, ActionKind};
use cartback_policy::ope::LoggedState;
use cartback_report::AbandonmentOutcome;
use cartback_store::{Decision, MessageStatus, OutboxMessage, Store, StoreError};
use std::collections::HashMap;

/// Decisions and messages are read in pages of this many.
const PAGE: usize = 5_000;

/// What an outcome needs of a cart (a few dozen bytes, so a million carts fit in memory).
#[derive(Clone, Debug, PartialEq)]
pub struct CartFate {
    pub state: CartState,
    pub abandonments: u32,
    pub closed_at: Option<Timestamp>,
    /// The order's value: its total, else the cart value.
    pub order_value_minor: i64,
    pub order_cancelled: bool,
    pub currency: Option<&'static str>,
}

impl CartFate {
    pub fn of(cart: &Cart) -> CartFate {
        CartFate {
            state: cart.state,
            abandonments: cart.abandonments,
            closed_at: cart.closed_at,
            // An order event without a total or priced items records 0: the cart's value.
            order_value_minor: cart.order_value.filter(|&v| v > 0).unwrap_or(cart.value),
            order_cancelled: cart.order_cancelled,
            currency: cart.currency.map(|c| c.code()),
        }
    }
}

/// What an outcome needs of an outbox message.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageFact {
    pub id: i64,
    pub decision_id: i64,
    pub channel: String,
    pub status: MessageStatus,
    pub due_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub attributed: bool,
}

impl MessageFact {
    pub fn of(message: &OutboxMessage) -> MessageFact {
        MessageFact {
            id: message.id,
            decision_id: message.decision_id,
            channel: message.channel.clone(),
            status: message.status,
            due_at: message.due_at,
            sent_at: message.sent_at,
            attributed: message.attributed_order.is_some(),
        }
    }
}

/// Everything outcomes are booked from besides the decisions, read in one pass each (no
/// query per abandonment): the carts' fates, the messages by decision, their tracking.
#[derive(Debug, Default)]
pub struct OutcomeFacts {
    pub carts: HashMap<String, CartFate>,
    pub messages: HashMap<i64, Vec<MessageFact>>,
    pub tracked: HashMap<i64, Tracked>,
}

impl OutcomeFacts {
    /// Reads them from `store`; `each_cart` sees every cart as it passes (the report folds
    /// the carts in the same pass).
    pub fn read(
        store: &mut dyn Store,
        each_cart: &mut dyn FnMut(&Cart),
    ) -> Result<OutcomeFacts, StoreError> {
        let mut facts = OutcomeFacts {
            tracked: tracking_by_message(store)?,
            ..OutcomeFacts::default()
        };
        store.scan_carts(&mut |cart| {
            each_cart(&cart);
            facts.carts.insert(cart.id.clone(), CartFate::of(&cart));
        })?;
        let mut after = 0;
        loop {
            let page = store.message_log(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for message in &page {
                let fact = MessageFact::of(message);
                facts
                    .messages
                    .entry(fact.decision_id)
                    .or_default()
                    .push(fact);
            }
        }
        Ok(facts)
    }
}

/// What a message's tracking recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tracked {
    pub opened: bool,
    pub clicked: bool,
    pub unsubscribed: bool,
}

/// Every tracked message's [`Tracked`], by message id (one query).
pub fn tracking_by_message(store: &mut dyn Store) -> Result<HashMap<i64, Tracked>, StoreError> {
    let mut tracked: HashMap<i64, Tracked> = HashMap::new();
    for (message_id, kind, count) in store.tracking_totals()? {
        let entry = tracked.entry(message_id).or_default();
        let seen = count > 0;
        match kind.as_str() {
            "open" => entry.opened |= seen,
            "click" => entry.clicked |= seen,
            "unsubscribe" => entry.unsubscribed |= seen,
            _ => {}
        }
    }
    Ok(tracked)
}

/// How abandonments are booked: the costs, and when an abandonment's outcome is final.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Booking {
    pub costs: ActionCosts,
    /// The tracker's attribution window: an order this long after abandonment still counts.
    pub attribution_window: Duration,
    /// The time the outcomes are read at (the engine's clock, or the wall clock).
    pub as_of: Timestamp,
}

impl Booking {
    /// Whether an abandonment first decided at `decided_at` has its outcome final.
    pub fn settled(&self, decided_at: Timestamp) -> bool {
        decided_at.saturating_add(self.attribution_window) <= self.as_of
    }
}

/// The recorded policy state of an abandonment's step-0 decision, parsed while the log is
/// read ([`KeepState::FirstStep`]): `None` when the decision has none (taken before
/// migration 5) or it was not kept, `Err` with serde's message when it is unreadable (boxed:
/// only step 0 of a kept log has one).
pub type FirstState = Option<Result<Box<LoggedState>, String>>;

/// One (cart, abandonment) of the log, as [`read_abandonments`] hands it out.
pub enum LoggedAbandonment<'a> {
    /// Its decisions (step order as logged; the first is step 0; none keeps its `state`,
    /// `reasons` or `scores`), the step-0 decision's parsed state and the outcome.
    Read {
        decisions: &'a [Decision],
        first: &'a Decision,
        state: FirstState,
        /// Every decision's parsed state, in `decisions` order, with [`KeepState::EveryStep`]
        /// (which leaves `state` `None`); empty otherwise.
        states: &'a [FirstState],
        outcome: AbandonmentOutcome,
    },
    /// No step-0 decision (its first step was erased or never written).
    WithoutFirstStep { decisions: &'a [Decision] },
    /// Its cart is no longer stored (erased).
    CartMissing { first: &'a Decision },
}

/// What [`read_abandonments`] read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogCounts {
    /// Decisions read (every step).
    pub decisions: u64,
    /// (cart, abandonment) pairs among them.
    pub abandonments: u64,
}

/// How much of each decision [`read_abandonments`] keeps while it reads the whole log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepState {
    /// The recorded policy state of step 0, parsed into a [`LoggedState`] as it is read (the
    /// off-policy export and the report's off-policy section): a few hundred bytes per
    /// abandonment instead of the JSON tree.
    FirstStep,
    /// Every decision's recorded state, parsed as it is read (learning a policy from the
    /// log, `crate::learning`).
    EveryStep,
    /// None (reports).
    Nothing,
}

/// Reads the whole decision log and hands every (cart, abandonment) to `visit`, in the
/// order of its first decision, booked from `facts`. Decisions keep only what outcomes need
/// (no scores, reasons or JSON state; step 0's state parsed as `keep` says) while the log is
/// held in memory.
pub fn read_abandonments<E: From<StoreError>>(
    store: &mut dyn Store,
    booking: &Booking,
    facts: &OutcomeFacts,
    keep: KeepState,
    mut visit: impl FnMut(LoggedAbandonment<'_>) -> Result<(), E>,
) -> Result<LogCounts, E> {
    /// One (cart, abandonment)'s decisions, and the state of its first step-0 decision.
    #[derive(Default)]
    struct Group {
        decisions: Vec<Decision>,
        first_state: Option<FirstState>,
        /// With [`KeepState::EveryStep`]: one per decision.
        states: Vec<FirstState>,
    }
    let mut counts = LogCounts::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<(String, u32), usize> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.decision_log(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for mut decision in page {
            counts.decisions += 1;
            decision.reasons = Vec::new();
            decision.scores = serde_json::Value::Null;
            let state = decision.state.take();
            let key = (decision.cart_id.clone(), decision.abandonment);
            let at = *index.entry(key).or_insert_with(|| {
                groups.push(Group::default());
                groups.len() - 1
            });
            let group = &mut groups[at];
            if keep == KeepState::EveryStep {
                group.states.push(state.map(|value| {
                    serde_json::from_value(value)
                        .map_err(|e| e.to_string())
                        .map(Box::new)
                }));
            } else if decision.step == 0 && group.first_state.is_none() {
                group.first_state = Some(match (keep, state) {
                    (KeepState::FirstStep, Some(value)) => Some(
                        serde_json::from_value(value)
                            .map_err(|e| e.to_string())
                            .map(Box::new),
                    ),
                    _ => None,
                });
            }
            group.decisions.push(decision);
        }
    }
    drop(index);
    counts.abandonments = groups.len() as u64;
    for group in &mut groups {
        let decisions = &group.decisions;
        let Some(first) = decisions.iter().find(|d| d.step == 0) else {
            visit(LoggedAbandonment::WithoutFirstStep { decisions })?;
            continue;
        };
        let Some(cart) = facts.carts.get(&first.cart_id) else {
            visit(LoggedAbandonment::CartMissing { first })?;
            continue;
        };
        let outcome = outcome(cart, decisions, first, facts, booking);
        visit(LoggedAbandonment::Read {
            decisions,
            first,
            state: group.first_state.take().flatten(),
            states: &group.states,
            outcome,
        })?;
    }
    Ok(counts)
}

/// The outcome of one abandonment (see the module comment).
fn outcome(
    cart: &CartFate,
    group: &[Decision],
    first: &Decision,
    facts: &OutcomeFacts,
    booking: &Booking,
) -> AbandonmentOutcome {
    let costs = &booking.costs;
    let latest = first.abandonment >= cart.abandonments;
    let settled = booking.settled(first.decided_at);
    let recovered = latest
        && cart.state == CartState::Recovered
        && cart.closed_at.is_some_and(|at| at >= first.decided_at);
    let mut messages_sent = 0;
    let mut message_cost_minor = 0.0;
    let mut discount_minor = 0;
    let mut attributed = false;
    let mut unsubscribed = false;
    for decision in group {
        for message in facts.messages.get(&decision.id).into_iter().flatten() {
            attributed |= message.attributed;
            if message.status != MessageStatus::Sent {
                continue;
            }
            messages_sent += 1;
            message_cost_minor += message_cost(costs, &decision.action, &message.channel);
            discount_minor = discount_minor.max(decision.discount_minor);
            unsubscribed |= facts
                .tracked
                .get(&message.id)
                .is_some_and(|t| t.unsubscribed);
        }
    }
    AbandonmentOutcome {
        cart_id: first.cart_id.clone(),
        abandonment: first.abandonment,
        decided_at: first.decided_at,
        holdout: first.holdout,
        first_action: first.action.clone(),
        settled,
        recovered,
        order_value_minor: if recovered { cart.order_value_minor } else { 0 },
        order_cancelled: recovered && cart.order_cancelled,
        discount_minor: if recovered { discount_minor } else { 0 },
        messages_sent,
        message_cost_minor,
        unsubscribed,
        unsubscribe_loss_minor: if unsubscribed {
            costs.unsubscribe_loss_minor
        } else {
            0.0
        },
        attributed,
        currency: cart.currency.map(str::to_owned),
    }
}

/// The cost of one sent message: its action's ([`ActionCosts::message_cost`]); decisions of
/// older releases (`reminder_<channel>`) by their channel.
pub fn message_cost(costs: &ActionCosts, action: &str, channel: &str) -> f64 {
    match ActionKind::from_name(action) {
        Some(kind) => costs.message_cost(kind),
        None if channel == "webhook" => costs.webhook_minor,
        None => costs.email_minor,
    }
}
