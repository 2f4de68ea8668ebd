//! Tabular data for the propensity models: CSV loading into typed columns ([`table`]), the
//! feature schema that encodes them ([`schema`]) and train/test splits ([`split`]).

pub mod schema;
pub mod split;
pub mod table;

pub use schema::{ColumnEncoding, ColumnSpec, FeatureMatrix, FeatureSchema};
pub use split::{
    Split, seeded_rng, stratified_fold_ids, stratified_holdout, stratified_k_fold, time_holdout,
};
pub use table::{CsvTable, RawColumn};
