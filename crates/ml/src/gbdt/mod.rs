//! Gradient-boosted decision trees: quantile binning ([`binning`]), trees with TreeSHAP
//! ([`tree`]), precomputed TreeSHAP tables for fast explanations ([`shap_table`]) and the
//! booster that grows them ([`booster`]).

pub mod binning;
pub mod booster;
pub mod shap_table;
pub mod tree;

pub use booster::{GbdtModel, GbdtParams};
pub use tree::{Node, PathElement, Tree};
