//! Stock levels: how many units of an item the shop can sell now, as it last reported them.
//! The shop's reports arrive out of order (webhooks), so every level carries the instant the
//! shop stamped it with, and a store keeps the newest.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The units of one item the shop can sell, as of `updated_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// The item, with the id cart lines carry (`CartLine::item_id`).
    pub item_id: String,
    /// Units available to sell; zero or less is out of stock (a shop that oversold reports
    /// a negative count).
    pub available: i64,
    /// When the shop's count was taken: a level older than the one kept is stale.
    pub updated_at: Timestamp,
}

impl StockLevel {
    /// Whether at least one unit can be sold.
    pub fn in_stock(&self) -> bool {
        self.available > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_positive_count_is_in_stock() {
        let level = |available| StockLevel {
            item_id: "mug".into(),
            available,
            updated_at: Timestamp(0),
        };
        assert!(level(1).in_stock());
        assert!(!level(0).in_stock());
        assert!(!level(-3).in_stock(), "oversold");
    }
}
