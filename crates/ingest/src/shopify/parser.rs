//! Converts one Shopify checkout or order webhook body into a canonical event.

use super::topic::ShopifyTopic;
use crate::json::{Object, describe, parse_document};
use crate::limits::ParseOptions;
use crate::rejection::{FieldError, Rejection};
use crate::timestamp::parse_rfc3339;
use crate::validate;
use cartback_core::{Currency, Event, EventId, EventKind, Item, Timestamp};
use serde_json::Value;

/// Id namespace of Shopify webhooks.
const NAMESPACE: &str = "shopify";

/// Parses a Shopify webhook body for `topic` (the `X-Shopify-Topic` header).
///
/// Returns `Ok(None)` for topics cartback does not use, `Ok(Some(event))` for a valid
/// checkout or order, and a [`Rejection`] (line 1) naming the field otherwise. HMAC
/// verification is the caller's job and must happen before this.
pub fn parse_shopify(
    topic: &str,
    body: &[u8],
    options: &ParseOptions,
) -> Result<Option<Event>, Rejection> {
    let Some(topic) = ShopifyTopic::from_header(topic) else {
        return Ok(None);
    };
    options
        .validate()
        .map_err(|e| FieldError::whole(e.to_string()).at_line(1))?;
    convert_body(topic, body, options)
        .map(Some)
        .map_err(|e| e.at_line(1))
}

fn convert_body(
    topic: ShopifyTopic,
    body: &[u8],
    options: &ParseOptions,
) -> Result<Event, FieldError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| FieldError::whole(format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1)))?;
    let value = parse_document(text)?;
    let Value::Object(map) = &value else {
        return Err(FieldError::whole(format!(
            "expected a Shopify {} object, got {}",
            if topic.is_checkout() {
                "checkout"
            } else {
                "order"
            },
            describe(&value)
        )));
    };
    let body = Object::new(map, "");
    let shop_id = body
        .id("id")?
        .ok_or_else(|| FieldError::new("id", "is required"))?;

    let currency = body
        .str("currency")?
        .map(|code| Currency::parse(code).map_err(|e| FieldError::new("currency", e.to_string())))
        .transpose()?;
    let money_currency = |field: &str| {
        currency.ok_or_else(|| {
            FieldError::new("currency", format!("is required because {field} is given"))
        })
    };

    let mut items = Vec::new();
    if let Some(lines) = body.array("line_items")? {
        for (index, line) in lines.iter().enumerate() {
            let path = format!("line_items[{index}]");
            let Value::Object(line_map) = line else {
                return Err(FieldError::new(
                    path,
                    format!("expected a line item object, got {}", describe(line)),
                ));
            };
            let line = Object::new(line_map, &path);
            items.push(line_item(line, &money_currency)?);
        }
    }
    let total = match body.get("total_price") {
        None => None,
        Some(_) => body.major_amount("total_price", money_currency("total_price")?)?,
    };

    let empty = serde_json::Map::new();
    let customer = Object::new(body.object("customer")?.unwrap_or(&empty), "customer");
    let email = match body.str("email")? {
        Some(email) => Some(("email".to_string(), email)),
        None => customer.str("email")?.map(|e| (customer.field("email"), e)),
    }
    .map(|(field, e)| validate::email(e.to_string()).map_err(|m| FieldError::new(field, m)))
    .transpose()?;

    let token = body.id("token")?;
    let cart_token = body.id("cart_token")?;
    let cart_id = if topic.is_checkout() {
        cart_token.clone().or_else(|| token.clone())
    } else {
        match cart_token.clone() {
            Some(cart) => Some(cart),
            None => body.id("checkout_token")?,
        }
    };
    // A shopper without a customer account is known by the checkout's tokens only.
    let anonymous_id = match customer.id("id")? {
        Some(_) => None,
        None => token.or(cart_token).or_else(|| cart_id.clone()),
    };
    let user_id = match (customer.id("id")?, &anonymous_id) {
        (Some(customer_id), _) => customer_id,
        (None, Some(anonymous)) => anonymous.clone(),
        (None, None) => {
            return Err(FieldError::new(
                "customer.id",
                "is required (or a token / cart_token identifying the shopper)",
            ));
        }
    };

    let referrer = referrer(&body)?;
    let (time_field, timestamp) = event_time(body, topic)?;
    let has_money = total.is_some() || items.iter().any(|i: &Item| i.price.is_some());
    let event = Event {
        id: EventId([0; 16]),
        kind: topic.kind(),
        timestamp,
        user_id,
        anonymous_id,
        session_id: None,
        cart_id,
        order_id: if topic.is_checkout() {
            None
        } else {
            Some(shop_id.clone())
        },
        items,
        currency: if has_money { currency } else { None },
        total,
        email,
        timezone: None,
        channel: body.text("source_name")?,
        device: None,
        message_id: None,
        coupon_code: if topic.kind() == EventKind::OrderCompleted {
            first_discount_code(&body)?
        } else {
            None
        },
        coupon_outcome: None,
        referrer,
    };
    let mut event = validate::event(event, options, "line_items").map_err(|e| {
        if e.field.as_deref() == Some("timestamp") {
            FieldError {
                field: Some(time_field.to_string()),
                ..e
            }
        } else {
            e
        }
    })?;
    // A checkout changes over time: each update is its own event. An order is one
    // purchase however many webhooks announce it, so `orders/create` and `orders/paid`
    // share one id and the second is counted as a duplicate.
    let identity = match topic {
        ShopifyTopic::CheckoutCreate | ShopifyTopic::CheckoutUpdate => {
            // The checkout's version: `updated_at` as sent, else the event time.
            match body.str("updated_at")? {
                Some(updated_at) => format!("checkout:{shop_id}:{updated_at}"),
                None => format!("checkout:{shop_id}:{}", event.timestamp.as_millis()),
            }
        }
        ShopifyTopic::OrderCreate | ShopifyTopic::OrderPaid => format!("order:{shop_id}"),
        ShopifyTopic::OrderCancelled => format!("order-cancelled:{shop_id}"),
    };
    event.id = EventId::derive(NAMESPACE, identity.as_bytes());
    Ok(event)
}

/// The event time from the topic's time fields, first present wins.
fn event_time(
    body: Object<'_>,
    topic: ShopifyTopic,
) -> Result<(&'static str, Timestamp), FieldError> {
    for &field in topic.time_fields() {
        if let Some(text) = body.str(field)? {
            return parse_rfc3339(text)
                .map(|at| (field, at))
                .map_err(|m| FieldError::new(field, m));
        }
    }
    Err(FieldError::new(topic.time_fields()[0], "is required"))
}

/// The first of an order's `discount_codes` (`[{"code": "SAVE10", …}]`): the code the order
/// was placed with, if any.
fn first_discount_code(body: &Object<'_>) -> Result<Option<String>, FieldError> {
    let Some(codes) = body.array("discount_codes")? else {
        return Ok(None);
    };
    match codes.first() {
        None => Ok(None),
        Some(Value::Object(first)) => Object::new(first, "discount_codes[0]").id("code"),
        Some(other) => Err(FieldError::new(
            "discount_codes[0]",
            format!("expected a discount code object, got {}", describe(other)),
        )),
    }
}

/// Where the shopper came from, from the Order and Abandoned checkout resources' fields
/// (shopify.dev Admin REST `Order` / `Abandoned checkouts`): `referring_site` (the site
/// the customer clicked a link on), else the `utm_source` query parameter of
/// `landing_site` (the URL or path, with its query, of the first page of the visit).
/// Empty strings count as absent.
fn referrer(body: &Object<'_>) -> Result<Option<String>, FieldError> {
    if let Some(site) = body.str("referring_site")? {
        return validate::referrer(site.to_string())
            .map_err(|m| FieldError::new("referring_site", m));
    }
    let Some(landing) = body.str("landing_site")? else {
        return Ok(None);
    };
    match query_parameter(landing, "utm_source") {
        None => Ok(None),
        Some(source) => validate::referrer(source).map_err(|m| FieldError::new("landing_site", m)),
    }
}

/// The first value of `name` in the query of `url` (`/?utm_source=x&…`, `https://…?…`),
/// decoded as a form (`+` is a space, `%XX` a byte; malformed escapes stay as they are,
/// invalid UTF-8 becomes U+FFFD: `form_urlencoded`, the `url` crate's decoder); `None` when
/// absent or empty.
fn query_parameter(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
}

/// One `line_items` element: product id (else variant id, else SKU), title, vendor,
/// price as decimal text in the order's currency, quantity.
fn line_item(
    line: Object<'_>,
    money_currency: &dyn Fn(&str) -> Result<Currency, FieldError>,
) -> Result<Item, FieldError> {
    let id = match line.id("product_id")? {
        Some(id) => id,
        None => match line.id("variant_id")? {
            Some(id) => id,
            None => line.id("sku")?.ok_or_else(|| {
                FieldError::new(
                    line.field("product_id"),
                    "is required (or variant_id / sku)",
                )
            })?,
        },
    };
    let price = match line.get("price") {
        None => None,
        Some(_) => line.major_amount("price", money_currency(&line.field("price"))?)?,
    };
    let quantity = match line.integer("quantity")? {
        None => 1,
        Some(units) => {
            validate::quantity(units).map_err(|m| FieldError::new(line.field("quantity"), m))?
        }
    };
    Ok(Item {
        id,
        name: line.text("title")?,
        category: line.text("product_type")?,
        brand: line.text("vendor")?,
        price,
        quantity,
    })
}
