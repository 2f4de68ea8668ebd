//! The report of the engine's records (`cartback report`, `GET /v1/report`, the dashboard):
//! reads the carts, every abandonment's outcome ([`crate::outcomes`]) and the outbox with
//! its tracking from the store, and folds them with `cartback_report::ReportBuilder`.

use crate::outcomes::{
    Booking, KeepState, LoggedAbandonment, read_abandonments, tracking_by_message,
};
use cartback_report::{MessageOutcome, Period, Report, ReportBuilder};
use cartback_store::{Store, StoreError};
use std::collections::HashMap;

/// Messages are read in pages of this many.
const PAGE: usize = 5_000;

/// The report of everything in `store` inside `period`, as of `booking.as_of`.
pub fn build_report(
    store: &mut dyn Store,
    booking: &Booking,
    period: Period,
) -> Result<Report, StoreError> {
    let mut builder = ReportBuilder::new(period);
    store.scan_carts(&mut |cart| builder.add_cart(&cart))?;
    let tracked = tracking_by_message(store)?;
    let mut actions: HashMap<i64, String> = HashMap::new();
    read_abandonments::<StoreError>(store, booking, &tracked, KeepState::Nothing, |read| {
        let decisions = match read {
            LoggedAbandonment::Read {
                decisions, outcome, ..
            } => {
                builder.add_abandonment(&outcome);
                decisions
            }
            LoggedAbandonment::WithoutFirstStep { decisions } => decisions,
            LoggedAbandonment::CartMissing { .. } => return Ok(()),
        };
        for decision in decisions {
            actions.insert(decision.id, decision.action.clone());
        }
        Ok(())
    })?;
    let mut after = 0;
    loop {
        let page = store.message_log(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for message in page {
            let tracking = tracked.get(&message.id).copied().unwrap_or_default();
            builder.add_message(&MessageOutcome {
                id: message.id,
                action: actions
                    .get(&message.decision_id)
                    .cloned()
                    .unwrap_or_else(|| "unknown".into()),
                channel: message.channel,
                status: message.status.as_str().to_owned(),
                due_at: message.due_at,
                sent_at: message.sent_at,
                opened: tracking.opened,
                clicked: tracking.clicked,
                unsubscribed: tracking.unsubscribed,
                attributed: message.attributed_order.is_some(),
            });
        }
    }
    Ok(builder.finish(booking.as_of))
}
