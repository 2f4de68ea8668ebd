//! Running counts of what the tracker has folded: [`TrackerStats`].

use serde::{Deserialize, Serialize};

/// Counts kept up to date on every event and transition, so [`stats`](super::CartTracker::stats)
/// costs nothing. Cart-state counts describe the state *now*.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerStats {
    /// Events folded (including late ones).
    pub events: u64,
    /// Events that arrived behind the watermark (or behind the tracker's clock when folded
    /// directly) and were folded in arrival order at the tracker's current time.
    pub late: u64,
    /// The same event (timestamp and id) seen twice while buffered; folded once.
    pub duplicates: u64,
    /// Distinct users seen.
    pub users: u64,
    /// Carts created.
    pub carts: u64,
    pub active: u64,
    pub idle: u64,
    /// Carts abandoned and not ordered: in state `abandoned` now, or `expired` after at
    /// least one abandonment.
    pub abandoned: u64,
    /// Carts in state `expired` (after abandonment, or emptied and left).
    pub expired: u64,
    pub purchased: u64,
    pub recovered: u64,
    /// Orders with no open cart: a cart is created already purchased (counted in `purchased`).
    pub direct_purchases: u64,
    /// Distinct orders (order ids; an order without an id counts once).
    pub orders: u64,
    /// `order_completed` rows that repeated an order id already folded (REES46 writes one
    /// row per purchased product); their value is added to that order.
    pub order_rows_merged: u64,
    /// Removals that matched nothing: a `product_removed` with no open cart (or no items),
    /// or one of its items not in the cart (counted per item).
    pub unmatched_removals: u64,
    /// `order_cancelled` events whose order is unknown.
    pub unmatched_cancellations: u64,
    /// Item prices dropped because their currency differed from the cart's.
    pub currency_conflicts: u64,
}
