//! One module per `cartback` subcommand: its clap arguments and its `run` function.

pub mod episodes;
pub mod gen_events;
pub mod import;
