//! The state of one shopping cart, as the tracker folds it from events.
//!
//! Owns [`Cart`], its lines and its [`CartState`] life cycle:
//! `active → idle → abandoned → recovered | expired`, or `active/idle → purchased`.
//! The transitions themselves are made by the tracker (`tracker` module); this module
//! is the data every other crate (store, episodes, policies, server) reads.

use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a cart is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartState {
    /// Items in it and recent activity.
    Active,
    /// No activity for a short while; the shopper may still come back in the session.
    Idle,
    /// No activity for the idle timeout with items still in it: the engine may act.
    Abandoned,
    /// Ordered after having been abandoned, inside the attribution window.
    Recovered,
    /// Ordered without ever having been abandoned.
    Purchased,
    /// Closed without an order: the attribution window passed after abandonment, or the
    /// cart was emptied and left.
    Expired,
}

impl CartState {
    pub const ALL: [CartState; 6] = [
        CartState::Active,
        CartState::Idle,
        CartState::Abandoned,
        CartState::Recovered,
        CartState::Purchased,
        CartState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CartState::Active => "active",
            CartState::Idle => "idle",
            CartState::Abandoned => "abandoned",
            CartState::Recovered => "recovered",
            CartState::Purchased => "purchased",
            CartState::Expired => "expired",
        }
    }

    /// Whether the cart is closed for good (a new cart starts for the user after it).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CartState::Recovered | CartState::Purchased | CartState::Expired
        )
    }
}

impl FromStr for CartState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CartState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown cart state `{s}`"))
    }
}

impl fmt::Display for CartState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One product line in a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Unit price in minor units, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<i64>,
    pub quantity: u32,
}

/// A user's latest session at one instant: the episodes' `session_*`, `past_sessions`,
/// `channel` and `device` columns. A session is the run of the user's events with one
/// `session_id`, or, for events without one, events at most the idle timeout apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    /// Events of any kind in the session.
    pub events: u32,
    /// `product_viewed` events in the session.
    pub views: u32,
    /// Distinct products viewed in the session.
    pub products_viewed: u32,
    /// Last − first event of the session.
    pub length_millis: i64,
    /// Σ gaps between consecutive session events, each capped at the idle timeout.
    pub dwell_millis: i64,
    /// The user's sessions before this one.
    pub past_sessions: u32,
    /// The latest `channel` seen for the user, on any event (`web`, `app`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The latest `device` seen for the user, on any event (`desktop`, `mobile`, `tablet`,
    /// Segment's `ios` / `android`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// A cart and everything the tracker knows about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// The shop's cart id, or `{user_id}#{n}` for the user's n-th cart when the source has
    /// no cart ids.
    pub id: String,
    pub user_id: String,
    pub state: CartState,
    pub lines: Vec<CartLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Sum of the lines in minor units.
    pub value: i64,
    /// Counts of shopper actions on the cart.
    pub adds: u32,
    pub removes: u32,
    pub views: u32,
    pub checkout_started: bool,
    /// `coupon_entered` events on the cart: codes typed into the checkout's coupon field,
    /// whatever became of them (0 in carts stored before the field existed).
    #[serde(default)]
    pub coupons_entered: u32,
    pub created_at: Timestamp,
    pub last_activity: Timestamp,
    /// First time the cart was declared abandoned (kept after the shopper comes back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned_at: Option<Timestamp>,
    /// How many times it went abandoned (a shopper can come back and leave again).
    pub abandonments: u32,
    /// When it reached a terminal state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Order value in minor units when ordered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_value: Option<i64>,
    /// The discount code the order was placed with, when the order event names one
    /// (`coupon_code` on `order_completed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_coupon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Created by an order with no open cart: the shopper bought without cart activity the
    /// tracker saw (the lines are the order's items).
    #[serde(default)]
    pub direct_purchase: bool,
    /// An `order_cancelled` event arrived for this cart's order (the state stays).
    #[serde(default)]
    pub order_cancelled: bool,
    /// Where the cart's sessions came from: the distinct keys of the events' `referrer`
    /// (a URL's host without `www.`, or a campaign source), lower-cased, in order of arrival,
    /// at most [`MAX_CART_REFERRERS`](crate::referrer::MAX_CART_REFERRERS) (see
    /// [`crate::referrer`]). Empty in carts stored before the field existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referrers: Vec<String>,
    /// The user's latest session as of the cart's latest abandonment, measured as the
    /// episodes measure it (`docs/episodes.md`), so the live engine's propensity model sees
    /// the session columns it was trained on. Only from a tracker that keeps session activity
    /// ([`CartTracker::with_session_features`](crate::CartTracker::with_session_features)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_at_abandonment: Option<SessionSnapshot>,
}

impl Cart {
    /// Number of units in the cart.
    pub fn units(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// Whether the shopper reached checkout: a `checkout_started` or a coupon event (the
    /// coupon field is on the checkout page).
    pub fn reached_checkout(&self) -> bool {
        self.checkout_started || self.coupons_entered > 0
    }
}
