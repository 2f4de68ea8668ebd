//! Gradient-boosted decision trees: quantile binning ([`binning`]), trees with the
//! reference TreeSHAP ([`tree`]), the fast exact TreeSHAP used for explanations
//! ([`explainer`]) and the booster that grows them ([`booster`]).

pub mod binning;
pub mod booster;
pub mod explainer;
pub mod tree;

pub use booster::{GbdtModel, GbdtParams};
pub use explainer::{ShapExplainer, ShapScratch};
pub use tree::{Node, PathElement, Tree};
