//! What the report reads, one record per fact, independent of where it is stored: the
//! carts (`cartback_core::Cart`, as the tracker folded them), each abandonment's outcome
//! with its holdout assignment ([`AbandonmentOutcome`]) and each outbox message with what
//! its tracking recorded ([`MessageOutcome`]). `cartback-server` reads them from the store.

use cartback_core::Timestamp;
use serde::Serialize;

/// One abandonment of one cart (a cart can be abandoned, come back and be abandoned again)
/// and what became of it, booked as `cartback decisions export` books a round.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbandonmentOutcome {
    pub cart_id: String,
    /// 1 for the cart's first abandonment.
    pub abandonment: u32,
    /// When the engine took its first decision about it.
    pub decided_at: Timestamp,
    /// The shopper is in the randomised holdout: tracked, never contacted.
    pub holdout: bool,
    /// The first decision's action (`do_nothing` for the holdout).
    pub first_action: String,
    /// Its outcome is final: its attribution window has closed. Open abandonments are
    /// counted apart (only their number), so that outcomes known early — a recovery is known
    /// when the order arrives, a loss only when the window closes — do not bias the rates.
    pub settled: bool,
    /// Ordered inside the attribution window after the first decision.
    pub recovered: bool,
    /// The order's value when recovered, else 0.
    pub order_value_minor: i64,
    /// The recovered order was cancelled afterwards: no revenue.
    pub order_cancelled: bool,
    /// The largest coupon among the messages that went out, when recovered, else 0.
    pub discount_minor: i64,
    pub messages_sent: u32,
    pub message_cost_minor: f64,
    /// A message of this abandonment recorded an unsubscribe.
    pub unsubscribed: bool,
    /// The loss booked for that unsubscribe (the costs' `unsubscribe_loss_minor`), else 0.
    pub unsubscribe_loss_minor: f64,
    /// The order was attributed to one of the engine's messages (last touch).
    pub attributed: bool,
    /// ISO 4217 code of the cart's currency, when known.
    pub currency: Option<String>,
}

impl AbandonmentOutcome {
    /// Revenue kept: the order's value unless it was cancelled.
    pub fn revenue_minor(&self) -> i64 {
        if self.recovered && !self.order_cancelled {
            self.order_value_minor
        } else {
            0
        }
    }

    /// Discount given away: the coupon of a kept order.
    pub fn discount_given_minor(&self) -> i64 {
        if self.revenue_minor() > 0 {
            self.discount_minor
        } else {
            0
        }
    }

    /// Net revenue of the abandonment: revenue − coupon − message costs − unsubscribe loss.
    pub fn net_minor(&self) -> f64 {
        (self.revenue_minor() - self.discount_given_minor()) as f64
            - self.message_cost_minor
            - self.unsubscribe_loss_minor
    }
}

/// One outbox message and what its tracking recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageOutcome {
    pub id: i64,
    /// The decision's action (`reminder_email`, `discount_10`, …).
    pub action: String,
    /// `email`, `webhook` or `log`.
    pub channel: String,
    /// `pending`, `sending`, `sent`, `cancelled` or `failed`.
    pub status: String,
    /// When it was (or is) due to go out.
    pub due_at: Timestamp,
    /// When it went out (sent messages only).
    pub sent_at: Option<Timestamp>,
    /// Its open pixel loaded at least once ([`MessageOutcome::has_open_pixel`]; mail clients
    /// that load every image count too, so opens overstate reading).
    pub opened: bool,
    /// Its restore link was followed at least once.
    pub clicked: bool,
    pub unsubscribed: bool,
    /// An order was attributed to it (last touch inside the attribution window).
    pub attributed: bool,
    /// ISO 4217 code of its cart's currency, when known.
    pub currency: Option<String>,
}

impl MessageOutcome {
    pub fn is_sent(&self) -> bool {
        self.status == "sent"
    }

    /// Whether it carries an open pixel: every channel but `webhook` (push/SMS). The `log`
    /// channel stands in for e-mail in development and the demo.
    pub fn has_open_pixel(&self) -> bool {
        self.channel != "webhook"
    }
}

/// A settled abandonment for tests: the holdout did nothing; a treated shopper got one
/// e-mail (0.1 minor units) and, when recovered, used a 10 % coupon.
#[cfg(test)]
pub(crate) fn test_abandonment(
    holdout: bool,
    recovered: bool,
    value_minor: i64,
    decided_at: Timestamp,
) -> AbandonmentOutcome {
    AbandonmentOutcome {
        cart_id: "c".into(),
        abandonment: 1,
        decided_at,
        holdout,
        first_action: if holdout { "do_nothing" } else { "discount_10" }.into(),
        settled: true,
        recovered,
        order_value_minor: if recovered { value_minor } else { 0 },
        order_cancelled: false,
        discount_minor: if recovered && !holdout {
            value_minor / 10
        } else {
            0
        },
        messages_sent: u32::from(!holdout),
        message_cost_minor: if holdout { 0.0 } else { 0.1 },
        unsubscribed: false,
        unsubscribe_loss_minor: 0.0,
        attributed: recovered && !holdout,
        currency: Some("EUR".into()),
    }
}
