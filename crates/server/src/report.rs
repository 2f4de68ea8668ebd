//! The report of the engine's records (`cartback report`, `GET /v1/report`, the dashboard):
//! reads the carts, every abandonment's outcome ([`crate::outcomes`]) and the outbox with
//! its tracking from the store, and folds them with `cartback_report::ReportBuilder`; the
//! first decision step of every settled treated abandonment, with its recorded policy
//! state, becomes a first-touch round of the report's off-policy section (the rounds
//! `cartback decisions export` writes).

use crate::outcomes::{
    Booking, FirstState, KeepState, LoggedAbandonment, OutcomeFacts, read_abandonments,
};
use cartback_policy::actions::ActionKind;
use cartback_report::{FirstTouchRound, MessageOutcome, Period, Report, ReportBuilder};
use cartback_store::{Decision, Store, StoreError};
use std::collections::HashMap;

/// The report of everything in `store` inside `period` (in `currency` only, when given), as
/// of `booking.as_of`: one pass over the carts, the outbox and the tracking, one over the
/// decision log.
pub fn build_report(
    store: &mut dyn Store,
    booking: &Booking,
    period: Period,
    currency: Option<String>,
) -> Result<Report, StoreError> {
    build(store, booking, period, currency, true)
}

/// [`build_report`] without its off-policy section: no recorded state is parsed and no
/// estimator runs (`examples/report_scale.rs` times the report both ways).
pub fn build_report_without_off_policy(
    store: &mut dyn Store,
    booking: &Booking,
    period: Period,
    currency: Option<String>,
) -> Result<Report, StoreError> {
    build(store, booking, period, currency, false)
}

fn build(
    store: &mut dyn Store,
    booking: &Booking,
    period: Period,
    currency: Option<String>,
    off_policy: bool,
) -> Result<Report, StoreError> {
    let mut builder = ReportBuilder::new(period).with_currency(currency);
    let keep = if off_policy {
        builder = builder.with_off_policy();
        KeepState::FirstStep
    } else {
        KeepState::Nothing
    };
    let facts = OutcomeFacts::read(store, &mut |cart| builder.add_cart(cart))?;
    // Each decision's action, and its cart's currency (for the messages).
    let mut decided: HashMap<i64, (String, Option<String>)> = HashMap::new();
    read_abandonments::<StoreError>(store, booking, &facts, keep, |read| {
        let (decisions, currency) = match read {
            LoggedAbandonment::Read {
                decisions,
                first,
                state,
                outcome,
                ..
            } => {
                builder.add_abandonment(&outcome);
                if off_policy && outcome.settled && !outcome.holdout {
                    match first_touch(decisions, first, state, outcome.net_minor()) {
                        Some(round) => builder.add_first_touch(FirstTouchRound {
                            currency: outcome.currency.clone(),
                            ..round
                        }),
                        None => builder.add_first_touch_without_state(
                            first.decided_at,
                            outcome.currency.as_deref(),
                        ),
                    }
                }
                (decisions, outcome.currency)
            }
            LoggedAbandonment::WithoutFirstStep { decisions } => (decisions, None),
            LoggedAbandonment::CartMissing { .. } => return Ok(()),
        };
        for decision in decisions {
            decided.insert(decision.id, (decision.action.clone(), currency.clone()));
        }
        Ok(())
    })?;
    for message in facts.messages.values().flatten() {
        let tracking = facts.tracked.get(&message.id).copied().unwrap_or_default();
        let (action, currency) = decided
            .get(&message.decision_id)
            .cloned()
            .unwrap_or_else(|| ("unknown".into(), None));
        builder.add_message(&MessageOutcome {
            id: message.id,
            action,
            status: message.status.as_str().to_owned(),
            channel: message.channel.clone(),
            due_at: message.due_at,
            sent_at: message.sent_at,
            opened: tracking.opened,
            clicked: tracking.clicked,
            unsubscribed: tracking.unsubscribed,
            attributed: message.attributed,
            currency,
        });
    }
    Ok(builder.finish(booking.as_of))
}

/// The first-touch round of an abandonment (its step-0 decision `first` with its recorded
/// `state`, every step in `decisions`), rewarded with `reward`; `None` when the first decision
/// has no readable state (taken before migration 5) or an action that is not a cartback
/// action.
fn first_touch(
    decisions: &[Decision],
    first: &Decision,
    state: FirstState,
    reward: f64,
) -> Option<FirstTouchRound> {
    let state = *state?.ok()?;
    let action = ActionKind::from_name(&first.action)?;
    if !(first.propensity > 0.0 && first.propensity <= 1.0 && reward.is_finite()) {
        return None;
    }
    let nothing_throughout = decisions
        .iter()
        .all(|d| ActionKind::from_name(&d.action) == Some(ActionKind::DoNothing))
        .then(|| decisions.iter().map(|d| d.propensity).product::<f64>())
        .filter(|&p| p > 0.0);
    Some(FirstTouchRound {
        decided_at: first.decided_at,
        currency: None,
        action,
        propensity: first.propensity,
        reward,
        state,
        nothing_throughout,
    })
}
