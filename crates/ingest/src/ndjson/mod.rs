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

/// Both parsers of one NDJSON line, for differential fuzzing (`fuzz/fuzz_targets/ndjson.rs`):
/// the fast path's event (`None` when it defers) and the reference parser's verdict (the
/// rejection message on error). Whenever the fast path accepts a line, the reference parser
/// must accept it too and give an identical event.
pub fn parse_line_both_ways(
    text: &str,
    options: &crate::ParseOptions,
) -> (
    Option<cartback_core::Event>,
    Result<cartback_core::Event, String>,
) {
    (
        fast::parse(text, options),
        parser::parse_line_reference(text, options).map_err(|error| error.message),
    )
}
