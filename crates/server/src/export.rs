//! Export of the engine's decision log for off-policy evaluation (`cartback decisions
//! export`): one round per (cart, abandonment), as NDJSON lines of
//! [`CartbackRound`], which `cartback ope --format
//! cartback` reads.
//!
//! A round is the abandonment's **first** decision step (step 0): its action, the
//! probability the engine's policy and guardrails took it with, and the state the policy was
//! given. Its reward is the abandonment's net outcome in minor units as
//! [`crate::outcomes`] books it (the simulator's way): the order's value if the cart was
//! recovered after the decision and the order was not cancelled, less the largest coupon
//! that went out, every sent message's cost and the unsubscribe loss.
//!
//! Later steps are part of the outcome as they were logged: evaluating a policy on these
//! rounds estimates the value of letting it take the **first touch**, the rest of each flow
//! staying as it was.
//!
//! Skipped (and counted): decisions without a recorded state (taken before migration 5),
//! holdout abandonments (no policy acts on them: every policy's value is the same there),
//! abandonments whose attribution window has not closed yet (see [`crate::outcomes`]: taking
//! outcomes as they become known would over-represent recoveries), abandonments without a step-0 decision, and carts no longer stored
//! (erased).

use crate::outcomes::{Booking, KeepState, LoggedAbandonment, OutcomeFacts, read_abandonments};
use cartback_policy::actions::ActionKind;
use cartback_policy::ope::CartbackRound;
use cartback_store::Store;
use cartback_store::StoreError;
use serde::Serialize;
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

/// Writes one line per round to `out` (see the module comment) and says what it skipped.
pub fn export_rounds(
    store: &mut dyn Store,
    booking: &Booking,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary::default();
    let facts = OutcomeFacts::read(store, &mut |_| {})?;
    let counts =
        read_abandonments::<ExportError>(store, booking, &facts, KeepState::FirstStep, |read| {
            let (first, state, outcome) = match read {
                LoggedAbandonment::Read {
                    first,
                    state,
                    outcome,
                    ..
                } => (first, state, outcome),
                LoggedAbandonment::WithoutFirstStep { .. } => {
                    summary.skipped_without_first_step += 1;
                    return Ok(());
                }
                LoggedAbandonment::CartMissing { .. } => {
                    summary.skipped_cart_missing += 1;
                    return Ok(());
                }
            };
            if first.holdout {
                summary.skipped_holdout += 1;
                return Ok(());
            }
            let Some(state) = state else {
                summary.skipped_without_state += 1;
                return Ok(());
            };
            let state_error = |message: String| ExportError::State {
                decision_id: first.id,
                cart_id: first.cart_id.clone(),
                message,
            };
            let state = state.map_err(state_error)?;
            let action = ActionKind::from_name(&first.action).ok_or_else(|| {
                state_error(format!(
                    "action `{}` is not a cartback action",
                    first.action
                ))
            })?;
            if !outcome.settled {
                summary.skipped_open += 1;
                return Ok(());
            }
            let round = CartbackRound {
                cart_id: first.cart_id.clone(),
                abandonment: first.abandonment,
                decision_id: first.id,
                decided_at: first.decided_at,
                action,
                propensity: first.propensity,
                reward: outcome.net_minor(),
                recovered: outcome.recovered,
                order_value_minor: outcome.order_value_minor,
                attributed: outcome.attributed,
                discount_minor: outcome.discount_minor,
                messages_sent: outcome.messages_sent,
                message_cost_minor: outcome.message_cost_minor,
                unsubscribe_loss_minor: outcome.unsubscribe_loss_minor,
                guardrail: first.guardrail.clone(),
                state: *state,
            };
            serde_json::to_writer(&mut *out, &round).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            summary.rounds += 1;
            summary.recovered += u64::from(outcome.recovered);
            Ok(())
        })?;
    summary.decisions = counts.decisions;
    summary.abandonments = counts.abandonments;
    out.flush()?;
    Ok(summary)
}
