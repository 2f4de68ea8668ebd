//! Export of the engine's decision log for off-policy evaluation (`cartback decisions
//! export`): one round per (cart, abandonment), as NDJSON lines of
//! [`CartbackRound`], which `cartback ope --format
//! cartback` reads.
//!
//! A round is the abandonment's **first** decision step (step 0): its action, the
//! probability the engine's policy and guardrails took it with, and the state the policy was
//! given. Its reward is the abandonment's net outcome in minor units, booked as the
//! simulator books a cart (`StepAccounting::net_minor`, `ActionCosts`):
//!
//! - the order's value (`carts.payload` `order_value`; the cart value when the order gave
//!   none or 0) when the cart was recovered — the tracker's `recovered` state: ordered inside
//!   the attribution window after its abandonment — at or after the decision, and this is
//!   the cart's latest abandonment (an earlier one ended with the shopper coming back, not
//!   with an order);
//! - less the largest coupon (`discount_minor`) among the abandonment's messages that went
//!   out, when recovered (the simulator charges the largest coupon the shopper saw);
//! - less every sent message's cost (`ActionCosts::message_cost` of its action);
//! - less `ActionCosts::unsubscribe_loss_minor` when a message of the abandonment recorded
//!   an unsubscribe.
//!
//! Later steps are part of the outcome as they were logged: evaluating a policy on these
//! rounds estimates the value of letting it take the **first touch**, the rest of each flow
//! staying as it was.
//!
//! Skipped (and counted): decisions without a recorded state (taken before migration 5),
//! holdout abandonments (no policy acts on them: every policy's value is the same there),
//! abandonments whose outcome is still open (the cart is still abandoned, or active again,
//! inside its window), abandonments without a step-0 decision, and carts no longer stored
//! (erased).

use cartback_core::CartState;
use cartback_policy::actions::{ActionCosts, ActionKind};
use cartback_policy::ope::{CartbackRound, LoggedState};
use cartback_store::{Decision, MessageStatus, OutboxMessage, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;

/// What an export wrote and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Decisions read from the log (every step).
    pub decisions: u64,
    /// (cart, abandonment) pairs among them.
    pub abandonments: u64,
    /// Rounds written.
    pub rounds: u64,
    pub skipped_without_state: u64,
    pub skipped_holdout: u64,
    pub skipped_open: u64,
    pub skipped_without_first_step: u64,
    pub skipped_cart_missing: u64,
    /// Rounds whose cart was recovered.
    pub recovered: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("decision {decision_id} (cart {cart_id}): field `state`: {message}")]
    State {
        decision_id: i64,
        cart_id: String,
        message: String,
    },
}

/// Decisions are read in pages of this many.
const PAGE: usize = 5_000;

/// Writes one line per round to `out` (see the module comment) and says what it skipped.
pub fn export_rounds(
    store: &mut dyn Store,
    costs: &ActionCosts,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary::default();
    // Every decision, grouped by (cart, abandonment) in the order of their first decision.
    let mut groups: Vec<Vec<Decision>> = Vec::new();
    let mut index: HashMap<(String, u32), usize> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.decision_log(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for mut decision in page {
            summary.decisions += 1;
            // Held until every page is read: keep only what a round needs (the state of
            // step 0; ids, actions and coupons of the later steps).
            decision.reasons = Vec::new();
            decision.scores = serde_json::Value::Null;
            if decision.step != 0 {
                decision.state = None;
            }
            let key = (decision.cart_id.clone(), decision.abandonment);
            let at = *index.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[at].push(decision);
        }
    }
    summary.abandonments = groups.len() as u64;
    let mut cart_cache: Option<(String, Option<cartback_core::Cart>, Vec<OutboxMessage>)> = None;
    for group in &groups {
        let Some(first) = group.iter().find(|d| d.step == 0) else {
            summary.skipped_without_first_step += 1;
            continue;
        };
        if first.holdout {
            summary.skipped_holdout += 1;
            continue;
        }
        let Some(state_value) = &first.state else {
            summary.skipped_without_state += 1;
            continue;
        };
        let state_error = |message: String| ExportError::State {
            decision_id: first.id,
            cart_id: first.cart_id.clone(),
            message,
        };
        let state: LoggedState =
            serde_json::from_value(state_value.clone()).map_err(|e| state_error(e.to_string()))?;
        let action = ActionKind::from_name(&first.action).ok_or_else(|| {
            state_error(format!(
                "action `{}` is not a cartback action",
                first.action
            ))
        })?;
        if cart_cache
            .as_ref()
            .is_none_or(|(id, _, _)| *id != first.cart_id)
        {
            let cart = store.cart(&first.cart_id)?;
            let messages = store.messages_of_cart(&first.cart_id)?;
            cart_cache = Some((first.cart_id.clone(), cart, messages));
        }
        let Some((_, cart, messages)) = &cart_cache else {
            unreachable!("filled above")
        };
        let Some(cart) = cart else {
            summary.skipped_cart_missing += 1;
            continue;
        };
        let latest = first.abandonment >= cart.abandonments;
        let settled = !latest
            || matches!(
                cart.state,
                CartState::Recovered | CartState::Purchased | CartState::Expired
            );
        if !settled {
            summary.skipped_open += 1;
            continue;
        }
        let recovered = latest
            && cart.state == CartState::Recovered
            && cart.closed_at.is_some_and(|at| at >= first.decided_at);
        let mut messages_sent = 0;
        let mut message_cost_minor = 0.0;
        let mut discount_minor = 0;
        let mut attributed = false;
        let mut unsubscribed = false;
        for decision in group {
            for message in messages.iter().filter(|m| m.decision_id == decision.id) {
                attributed |= message.attributed_order.is_some();
                if message.status != MessageStatus::Sent {
                    continue;
                }
                messages_sent += 1;
                message_cost_minor += message_cost(costs, &decision.action, &message.channel);
                discount_minor = discount_minor.max(decision.discount_minor);
                unsubscribed |= store
                    .tracking_counts(message.id)?
                    .iter()
                    .any(|(kind, n)| kind == "unsubscribe" && *n > 0);
            }
        }
        let order_value_minor = if recovered {
            // An order event without a total or priced items records 0: the cart's value.
            cart.order_value.filter(|&v| v > 0).unwrap_or(cart.value)
        } else {
            0
        };
        let discount_minor = if recovered { discount_minor } else { 0 };
        let unsubscribe_loss_minor = if unsubscribed {
            costs.unsubscribe_loss_minor
        } else {
            0.0
        };
        let round = CartbackRound {
            cart_id: first.cart_id.clone(),
            abandonment: first.abandonment,
            decision_id: first.id,
            decided_at: first.decided_at,
            action,
            propensity: first.propensity,
            reward: order_value_minor as f64
                - discount_minor as f64
                - message_cost_minor
                - unsubscribe_loss_minor,
            recovered,
            order_value_minor,
            attributed,
            discount_minor,
            messages_sent,
            message_cost_minor,
            unsubscribe_loss_minor,
            guardrail: first.guardrail.clone(),
            state,
        };
        serde_json::to_writer(&mut *out, &round).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        summary.rounds += 1;
        summary.recovered += u64::from(recovered);
    }
    out.flush()?;
    Ok(summary)
}

/// The cost of one sent message: its action's ([`ActionCosts::message_cost`]); decisions of
/// older releases (`reminder_<channel>`) by their channel.
fn message_cost(costs: &ActionCosts, action: &str, channel: &str) -> f64 {
    match ActionKind::from_name(action) {
        Some(kind) => costs.message_cost(kind),
        None if channel == "webhook" => costs.webhook_minor,
        None => costs.email_minor,
    }
}
