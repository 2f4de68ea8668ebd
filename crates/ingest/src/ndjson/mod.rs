//! cartback's own NDJSON format: one canonical event per line, field names as in
//! `docs/events.md`. The JSON serialisation of [`cartback_core::Event`] is valid input, so
//! the generator's and the store's output reads back unchanged.
//!
//! `wire.rs` holds the serde types of a line, `parser.rs` turns them into a validated event.

mod parser;
mod wire;

#[cfg(test)]
mod tests;

pub(crate) use parser::{parse_line, parse_value};
