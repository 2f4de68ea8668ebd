//! Fuzzes the Shopify webhook parser: the first byte picks the topic, the rest is the body.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

const TOPICS: [&str; 6] = [
    "checkouts/create",
    "checkouts/update",
    "orders/create",
    "orders/paid",
    "orders/cancelled",
    "products/update",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let topic = TOPICS[usize::from(selector) % TOPICS.len()];
    let options = common::options_for(data);
    if let Ok(Some(event)) = cartback_ingest::parse_shopify(topic, body, &options) {
        common::check_event(&event, &options);
    }
});
