//! What the tracker reports: [`CartTransition`], one change of a cart's state at an exact
//! instant, which the live engine uses to schedule (or cancel) decisions.

use crate::cart::CartState;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A cart changed state at `at`. `from` is `None` when the cart was created by the event
/// (a direct purchase is reported as `None → Purchased`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartTransition {
    pub cart_id: String,
    pub user_id: String,
    pub from: Option<CartState>,
    pub to: CartState,
    pub at: Timestamp,
}
