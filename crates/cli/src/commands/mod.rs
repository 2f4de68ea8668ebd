//! One module per `cartback` subcommand: its clap arguments and its `run` function.

pub mod compact;
pub mod decisions;
pub mod episodes;
pub mod gen_events;
pub mod import;
pub mod ope;
pub mod policy;
pub mod predict;
pub mod pseudonym;
pub mod purge;
pub mod recommend;
pub mod report;
pub mod serve;
pub mod simulate;
pub mod tracking;
pub mod train;
pub mod uplift;
