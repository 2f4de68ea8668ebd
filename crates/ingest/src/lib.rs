//! Parsers from every supported input format into canonical [`cartback_core::Event`]s,
//! with validation that names the line and field of every refused record.
//!
//! Formats (one module each): cartback's own [`Format::Ndjson`], Segment e-commerce spec
//! v2 calls ([`Format::Segment`]), REES46 CSV ([`Format::Rees46`]), OTTO JSONL
//! ([`Format::Otto`]) and Shopify checkout / order webhooks ([`parse_shopify`]).
//!
//! Entry points:
//! - [`EventReader`]: streams a file of any size in constant memory, one [`ParsedLine`]
//!   (events, rejections, skipped count) per input line — used by `cartback import`;
//! - [`parse_json_payload`]: one HTTP body → a [`ParsedBatch`] — used by the server;
//! - [`parse_shopify`]: one webhook body for its topic;
//! - [`parse_shopify_stock`] and [`parse_stock_levels`]: stock levels from a Shopify product
//!   webhook and from the body of the server's `PUT /v1/stock` (not events).
//!
//! [`Pseudonymiser`] then replaces the shopper identities of accepted events by pseudonyms,
//! when the shop configured a key (`pseudonym.rs`).
//!
//! Every event gets a deterministic id (from the source's id, or derived from its
//! content), so importing the same input twice yields the same ids and the store keeps
//! one copy. `docs/events.md` documents the schema and every mapping.

mod format;
mod identity;
mod json;
pub mod limits;
mod ndjson;
mod otto;
mod payload;
mod pseudonym;
mod reader;
mod rees46;
mod rejection;
mod segment;
mod shopify;
mod stock;
mod stream;
#[cfg(test)]
mod test_support;
pub mod timestamp;
mod validate;

pub use format::Format;
pub use limits::ParseOptions;
/// Differential-testing hook (the fuzz targets); not part of the stable API.
#[doc(hidden)]
pub use ndjson::parse_line_both_ways;
pub use payload::{ParsedBatch, parse_json_payload};
pub use pseudonym::{
    CachedPseudonymiser, MIN_SECRET_BYTES, PSEUDONYM_PREFIX, PseudonymError, Pseudonymiser,
};
pub use rejection::{IngestError, Rejection};
pub use shopify::{ShopifyStockTopic, ShopifyTopic, parse_shopify, parse_shopify_stock};
pub use stock::{MAX_STOCK_ITEMS, MAX_STOCK_REJECTIONS, parse_stock_levels};
pub use stream::{EventReader, ParsedLine};

/// The header line a REES46 CSV file must start with.
pub const REES46_HEADER: &str = rees46::HEADER;
