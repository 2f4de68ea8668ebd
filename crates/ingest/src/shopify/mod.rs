//! Shopify-style checkout and order webhooks (`checkouts/create`, `checkouts/update`,
//! `orders/create`, `orders/paid`, `orders/cancelled`), one JSON body at a time, and the
//! product webhooks that carry stock levels (`products/create`, `products/update`,
//! `products/delete`).
//!
//! `topic.rs` says what each cart topic means; `parser.rs` converts a checkout or order body
//! into an event; `stock.rs` a product body into stock levels (never an event). HMAC
//! verification of the webhook belongs to the server, before parsing.

mod parser;
mod stock;
mod topic;

#[cfg(test)]
mod tests;

pub use parser::parse_shopify;
pub use stock::{ShopifyStockTopic, parse_shopify_stock};
pub use topic::ShopifyTopic;
