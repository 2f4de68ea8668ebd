//! Segment e-commerce spec v2 `track` calls, single or batched, one JSON document per line.
//!
//! `spec.rs` knows the spec's event names and conventions; `parser.rs` converts messages.
//! Calls that are not `track` (identify, page, …) and `track` events that are not about
//! carts are counted as skipped, never rejected. In a batch, a bad message rejects only
//! itself, with a path such as `batch[3].properties.price`.

mod parser;
mod spec;

#[cfg(test)]
mod tests;

pub(crate) use parser::{parse_line, parse_value};
