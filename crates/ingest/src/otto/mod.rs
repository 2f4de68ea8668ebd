//! The OTTO RecSys JSONL format: one shopping session per line with its `clicks`, `carts`
//! and `orders` (article ids and epoch-millisecond times, no prices).
//!
//! `wire.rs` holds the serde types, `parser.rs` converts a session. The session number is
//! both the user id and the session id; the orders of one timestamp in a session are one
//! order (`order_id` = `<session>-<ts>`) with one item per article.

mod parser;
mod wire;

#[cfg(test)]
mod tests;

pub(crate) use parser::parse_line;
