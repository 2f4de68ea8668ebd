//! The report of the engine's records (`cartback report`, `GET /v1/report`, the dashboard):
//! reads the carts, every abandonment's outcome ([`crate::outcomes`]) and the outbox with
//! its tracking from the store, and folds them with `cartback_report::ReportBuilder`.

use crate::outcomes::{Booking, KeepState, LoggedAbandonment, OutcomeFacts, read_abandonments};
use cartback_report::{MessageOutcome, Period, Report, ReportBuilder};
use cartback_store::{Store, StoreError};
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
    let mut builder = ReportBuilder::new(period).with_currency(currency);
    let facts = OutcomeFacts::read(store, &mut |cart| builder.add_cart(cart))?;
    // Each decision's action, and its cart's currency (for the messages).
    let mut decided: HashMap<i64, (String, Option<String>)> = HashMap::new();
    read_abandonments::<StoreError>(store, booking, &facts, KeepState::Nothing, |read| {
        let (decisions, currency) = match read {
            LoggedAbandonment::Read {
                decisions, outcome, ..
            } => {
                builder.add_abandonment(&outcome);
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
