//! Shopify-style checkout and order webhooks (`checkouts/create`, `checkouts/update`,
//! `orders/create`, `orders/paid`, `orders/cancelled`), one JSON body at a time.
//!
//! `topic.rs` says what each topic means; `parser.rs` converts a body. HMAC verification
//! of the webhook belongs to the server, before parsing.

mod parser;
mod topic;

#[cfg(test)]
mod tests;

pub use parser::parse_shopify;
pub use topic::ShopifyTopic;
