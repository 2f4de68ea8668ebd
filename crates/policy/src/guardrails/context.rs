//! What guardrails know about the shopper and the cart at decision time.

use cartback_core::{CartState, Timestamp};
use chrono_tz::Tz;

/// Channels the shopper agreed to be contacted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChannelConsent {
    pub email: bool,
    pub webhook: bool,
}

/// One cart line as the margin and stock guardrails see it.
#[derive(Clone, Debug, PartialEq)]
pub struct LineContext {
    pub sku: String,
    /// Unit price the shopper pays, minor units.
    pub unit_price_minor: i64,
    /// What the unit costs the shop, minor units, when known.
    pub unit_cost_minor: Option<i64>,
    pub quantity: u32,
    pub in_stock: bool,
}

/// The shopper and cart a decision is about.
#[derive(Clone, Debug, PartialEq)]
pub struct ShopperContext {
    pub user_id: String,
    pub consent: ChannelConsent,
    /// The shopper's IANA time zone (UTC when unknown).
    pub time_zone: Tz,
    pub cart_state: CartState,
    pub lines: Vec<LineContext>,
    /// When messages were sent to this user (any cart), for the user frequency cap.
    pub user_message_times: Vec<Timestamp>,
    /// When messages were sent about this cart.
    pub cart_message_times: Vec<Timestamp>,
    /// Discount already committed today (coupons issued), minor units.
    pub discount_committed_today_minor: i64,
}

impl ShopperContext {
    /// Cart value: sum of unit price × quantity, minor units.
    pub fn cart_value_minor(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.unit_price_minor * i64::from(l.quantity))
            .sum()
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// An abandoned 100.00 cart of a consenting Berlin shopper with no history.
    pub fn shopper() -> ShopperContext {
        ShopperContext {
            user_id: "user-42".into(),
            consent: ChannelConsent {
                email: true,
                webhook: true,
            },
            time_zone: chrono_tz::Europe::Berlin,
            cart_state: CartState::Abandoned,
            lines: vec![
                LineContext {
                    sku: "shirt".into(),
                    unit_price_minor: 4_000,
                    unit_cost_minor: Some(2_000),
                    quantity: 2,
                    in_stock: true,
                },
                LineContext {
                    sku: "socks".into(),
                    unit_price_minor: 2_000,
                    unit_cost_minor: None,
                    quantity: 1,
                    in_stock: true,
                },
            ],
            user_message_times: vec![],
            cart_message_times: vec![],
            discount_committed_today_minor: 0,
        }
    }
}
