//! Stock levels from Shopify's product webhooks (`products/create`, `products/update`,
//! `products/delete`), under the ids cart lines get from Shopify line items (`product_id`,
//! else `variant_id`; see `parser.rs`): every variant's level under its variant id, and the
//! product's under the product id (the units of its variants that can be sold, so a product
//! is in stock while any variant is). These topics carry no shopper and are never events.
//!
//! A variant that Shopify sells whatever its count — `inventory_policy: "continue"`, or
//! `inventory_management: null` (not tracked; older API versions send the field, 2024-07 and
//! later leave it out) — counts as available: its count, at least 1. A product whose `status`
//! is `draft` or `archived` cannot be bought: all its levels are 0. A deleted product
//! (`products/delete`, only `{"id": …}`) is 0 as of the moment the webhook arrives.
//!
//! `inventory_levels/update` is not read: it names an `inventory_item_id` and a location,
//! which map to a variant only through the Admin API.

use crate::json::{Object, describe, parse_document};
use crate::limits::ParseOptions;
use crate::rejection::{FieldError, Rejection};
use crate::stock::stamp;
use cartback_core::{StockLevel, Timestamp};
use serde_json::Value;

/// A Shopify topic that carries stock levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShopifyStockTopic {
    /// `products/create` and `products/update`: the product with its variants.
    ProductChanged,
    /// `products/delete`: only the product id.
    ProductDeleted,
}

impl ShopifyStockTopic {
    /// The stock topic for a `X-Shopify-Topic` header value, `None` for any other topic.
    pub fn from_header(topic: &str) -> Option<Self> {
        match topic.trim() {
            "products/create" | "products/update" => Some(ShopifyStockTopic::ProductChanged),
            "products/delete" => Some(ShopifyStockTopic::ProductDeleted),
            _ => None,
        }
    }
}

/// Parses a Shopify product webhook body for `topic` into stock levels.
///
/// Returns `Ok(None)` for topics that carry no stock (checkouts and orders go to
/// [`parse_shopify`](super::parse_shopify)), `Ok(Some(levels))` otherwise (empty when the
/// product lists no variant with a count), and a [`Rejection`] (line 1) naming the field of
/// a malformed body. Levels are stamped with the product's `updated_at` (else `created_at`);
/// a deletion with `options.now`. HMAC verification is the caller's job, before this.
pub fn parse_shopify_stock(
    topic: &str,
    body: &[u8],
    options: &ParseOptions,
) -> Result<Option<Vec<StockLevel>>, Rejection> {
    let Some(topic) = ShopifyStockTopic::from_header(topic) else {
        return Ok(None);
    };
    options
        .validate()
        .map_err(|e| FieldError::whole(e.to_string()).at_line(1))?;
    convert(topic, body, options)
        .map(Some)
        .map_err(|e| e.at_line(1))
}

fn convert(
    topic: ShopifyStockTopic,
    body: &[u8],
    options: &ParseOptions,
) -> Result<Vec<StockLevel>, FieldError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| FieldError::whole(format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1)))?;
    let value = parse_document(text)?;
    let Value::Object(map) = &value else {
        return Err(FieldError::whole(format!(
            "expected a Shopify product object, got {}",
            describe(&value)
        )));
    };
    let product = Object::new(map, "");
    let product_id = product
        .id("id")?
        .ok_or_else(|| FieldError::new("id", "is required"))?;
    if topic == ShopifyStockTopic::ProductDeleted {
        let now = options
            .now
            .ok_or_else(|| FieldError::whole("a deletion needs the clock to be stamped"))?;
        return Ok(vec![StockLevel {
            item_id: product_id,
            available: 0,
            updated_at: now,
        }]);
    }
    let updated_at = product_time(&product, options)?;
    let sellable = !matches!(product.str("status")?, Some("draft" | "archived"));
    let mut levels = Vec::new();
    let mut product_units: Option<i64> = None;
    if let Some(variants) = product.array("variants")? {
        for (index, variant) in variants.iter().enumerate() {
            let path = format!("variants[{index}]");
            let Value::Object(variant_map) = variant else {
                return Err(FieldError::new(
                    path,
                    format!("expected a variant object, got {}", describe(variant)),
                ));
            };
            let variant = Object::new(variant_map, &path);
            let variant_id = variant
                .id("id")?
                .ok_or_else(|| FieldError::new(variant.field("id"), "is required"))?;
            let Some(units) = variant_units(&variant)? else {
                continue;
            };
            let available = if sellable { units } else { 0 };
            product_units = Some(product_units.unwrap_or(0).saturating_add(available.max(0)));
            levels.push(StockLevel {
                item_id: variant_id,
                available,
                updated_at,
            });
        }
    }
    if let Some(available) = product_units {
        levels.push(StockLevel {
            item_id: product_id,
            available,
            updated_at,
        });
    }
    Ok(levels)
}

/// The product's `updated_at`, else `created_at`.
fn product_time(product: &Object<'_>, options: &ParseOptions) -> Result<Timestamp, FieldError> {
    for field in ["updated_at", "created_at"] {
        if let Some(text) = product.str(field)? {
            return stamp(text, options).map_err(|m| FieldError::new(field, m));
        }
    }
    Err(FieldError::new("updated_at", "is required"))
}

/// The units of a variant that can be sold: `inventory_quantity`, at least 1 when Shopify
/// sells the variant whatever its count; `None` when the body does not say.
fn variant_units(variant: &Object<'_>) -> Result<Option<i64>, FieldError> {
    let quantity = variant.integer("inventory_quantity")?;
    let continues = variant.str("inventory_policy")? == Some("continue");
    // `null` (or empty) is "not tracked"; an absent field says nothing (API 2024-07 on).
    let untracked = variant.map.contains_key("inventory_management")
        && variant.str("inventory_management")?.is_none();
    Ok(if continues || untracked {
        Some(quantity.unwrap_or(0).max(1))
    } else {
        quantity
    })
}
