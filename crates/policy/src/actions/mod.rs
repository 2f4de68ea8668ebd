//! The interventions cartback can make about an abandoned cart (`kind.rs`) and what each
//! costs (`costs.rs`): message cost, the discount given away, and the value lost when a
//! shopper unsubscribes.

mod costs;
mod kind;

pub use costs::{ActionCosts, CostError};
pub use kind::{Action, ActionKind, Channel};
