//! Guardrails: pure checks that stand between a policy's proposal and what is sent. A policy
//! proposes; guardrails dispose; the [`GuardedDecision`] records every guardrail that changed
//! the proposal and why.
//!
//! One file per family of rule:
//! - `lifecycle.rs`: never after checkout or purchase (only abandoned carts are contacted);
//! - `holdout.rs`: a randomised holdout group by deterministic hash of the user id;
//! - `consent.rs`: consent per channel;
//! - `frequency.rs`: frequency cap per user, minimum gap and maximum messages per cart;
//! - `stock.rs`: out-of-stock suppression;
//! - `discount.rs`: margin floor per item and daily discount budget;
//! - `quiet_hours.rs`: quiet hours in the shopper's time zone, daylight-saving aware;
//! - `apply.rs`: the order in which they run and the decision record.

mod apply;
mod config;
mod consent;
mod context;
mod discount;
mod frequency;
mod holdout;
mod lifecycle;
mod quiet_hours;
mod stock;

pub use apply::{GuardedDecision, Guardrail, GuardrailChange, Proposal, apply_guardrails};
pub use config::{GuardrailConfig, GuardrailConfigError, GuardrailSettings};
pub use consent::check_consent;
pub use context::{ChannelConsent, LineContext, ShopperContext};
pub use discount::{check_discount_budget, check_margin_floor, largest_discount_within_margin};
pub use frequency::{check_cart_gap, check_cart_message_limit, check_user_frequency_cap};
pub use holdout::{HoldoutGroup, check_holdout};
pub use lifecycle::check_cart_still_abandoned;
pub use quiet_hours::{QuietHours, check_quiet_hours};
pub use stock::check_stock;

use crate::actions::ActionKind;
use cartback_core::Timestamp;

/// What one guardrail says about a proposal.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing to change.
    Allow,
    /// Send nothing.
    Suppress { reason: String },
    /// Send a milder action instead (a smaller coupon, no coupon).
    Downgrade { to: ActionKind, reason: String },
    /// Send the same action later.
    Postpone { until: Timestamp, reason: String },
}
