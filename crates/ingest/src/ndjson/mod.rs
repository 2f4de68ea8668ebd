//! cartback's own NDJSON format: one canonical event per line, field names as in
//! `docs/events.md`. The JSON serialisation of [`cartback_core::Event`] is valid input, so
//! the generator's and the store's output reads back unchanged.
//!
//! `wire.rs` holds the serde types of a line, `parser.rs` turns them into a validated event
//! (the reference parser), and `fast.rs` parses the common line in one pass, deferring to the
//! reference parser for anything else.

mod fast;
mod parser;
mod wire;

#[cfg(test)]
mod tests;

pub(crate) use parser::{parse_line, parse_value};
