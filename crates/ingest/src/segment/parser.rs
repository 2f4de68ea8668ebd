//! Turns Segment messages into canonical events: finds the messages of a document (a
//! single call or a `batch`), skips what is not a cart `track` event, and converts the
//! rest field by field.

use super::spec;
use crate::json::{Object, parse_document};
use crate::limits::ParseOptions;
use crate::rejection::{FieldError, join_path};
use crate::stream::ParsedLine;
use crate::timestamp::parse_rfc3339;
use crate::validate;
use cartback_core::{Currency, Event, EventId, EventKind, Item};
use serde_json::{Map, Value};

/// Id namespace of Segment messages.
pub(crate) const NAMESPACE: &str = "segment";

/// Parses one line holding one JSON document.
pub(crate) fn parse_line(text: &str, options: &ParseOptions, out: &mut ParsedLine) {
    match parse_document(text) {
        Ok(value) => parse_value(&value, "", options, out),
        Err(err) => out.reject(err),
    }
}

/// Parses one document: a single call or `{"batch": […]}`. `path` locates the document in
/// a larger payload (e.g. `[2]` in a JSON array body).
pub(crate) fn parse_value(value: &Value, path: &str, options: &ParseOptions, out: &mut ParsedLine) {
    let Value::Object(map) = value else {
        out.reject(
            FieldError::whole(format!(
                "expected a Segment call object or {{\"batch\": […]}}, got {}",
                crate::json::describe(value)
            ))
            .within(path),
        );
        return;
    };
    match map.get("batch") {
        Some(Value::Array(messages)) => {
            for (index, message) in messages.iter().enumerate() {
                let message_path = join_path(path, &format!("batch[{index}]"));
                parse_message(message, &message_path, options, out);
            }
        }
        Some(other) => out.reject(FieldError::new(
            join_path(path, "batch"),
            format!("expected an array, got {}", crate::json::describe(other)),
        )),
        None => parse_message(value, path, options, out),
    }
}

fn parse_message(value: &Value, path: &str, options: &ParseOptions, out: &mut ParsedLine) {
    let Value::Object(map) = value else {
        out.reject(
            FieldError::whole(format!(
                "expected a Segment call object, got {}",
                crate::json::describe(value)
            ))
            .within(path),
        );
        return;
    };
    let message = Object::new(map, path);
    let (call_type, event_name) = match (message.str("type"), message.str("event")) {
        (Ok(call_type), Ok(event_name)) => (call_type, event_name),
        (Err(err), _) | (_, Err(err)) => return out.reject(err),
    };
    match call_type {
        Some(t) if !t.eq_ignore_ascii_case("track") => {
            out.skipped += 1;
            return;
        }
        _ => {}
    }
    let Some(event_name) = event_name else {
        return out.reject(FieldError::new(
            message.field("event"),
            "is required for a track call",
        ));
    };
    match spec::kind_for(event_name) {
        Some(kind) => out.push(convert(message, event_name, kind, options)),
        None => out.skipped += 1,
    }
}

fn convert(
    message: Object<'_>,
    event_name: &str,
    kind: EventKind,
    options: &ParseOptions,
) -> Result<Event, FieldError> {
    let empty = Map::new();
    let properties_path = message.field("properties");
    let properties = Object::new(
        message.object("properties")?.unwrap_or(&empty),
        &properties_path,
    );
    let context_path = message.field("context");
    let context = Object::new(message.object("context")?.unwrap_or(&empty), &context_path);

    // The spec's default currency is USD.
    let currency = match properties.str("currency")? {
        Some(code) => Currency::parse(code)
            .map_err(|e| FieldError::new(properties.field("currency"), e.to_string()))?,
        None => Currency::USD,
    };

    let items = if spec::is_single_product(kind) {
        vec![item(properties, currency)?]
    } else {
        match properties.array("products")? {
            None => Vec::new(),
            Some(products) => {
                let products_path = properties.field("products");
                let mut items = Vec::with_capacity(products.len().min(crate::limits::MAX_ITEMS));
                for (index, product) in products.iter().enumerate() {
                    let product_path = format!("{products_path}[{index}]");
                    let Value::Object(product_map) = product else {
                        return Err(FieldError::new(
                            product_path,
                            format!(
                                "expected a product object, got {}",
                                crate::json::describe(product)
                            ),
                        ));
                    };
                    items.push(item(Object::new(product_map, &product_path), currency)?);
                }
                items
            }
        }
    };

    let total = if spec::is_single_product(kind) {
        None
    } else {
        match properties.major_amount("total", currency)? {
            Some(total) => Some(total),
            None => match properties.major_amount("revenue", currency)? {
                Some(revenue) => Some(revenue),
                None => properties.major_amount("value", currency)?,
            },
        }
    };
    let has_money = total.is_some() || items.iter().any(|i| i.price.is_some());

    let anonymous_id = message.id("anonymousId")?;
    let user_id = match (message.id("userId")?, &anonymous_id) {
        (Some(user), _) => user,
        (None, Some(anonymous)) => anonymous.clone(),
        (None, None) => {
            return Err(FieldError::new(
                message.field("userId"),
                "is required (or anonymousId)",
            ));
        }
    };

    let timestamp = timestamp(message)?;

    let traits_path = context.field("traits");
    let traits = Object::new(context.object("traits")?.unwrap_or(&empty), &traits_path);
    let email = match traits.str("email")? {
        Some(email) => Some((traits.field("email"), email)),
        None => properties
            .str("email")?
            .map(|e| (properties.field("email"), e)),
    };
    let email = email
        .map(|(field, e)| validate::email(e.to_string()).map_err(|m| FieldError::new(field, m)))
        .transpose()?;
    let timezone = context
        .str("timezone")?
        .map(|tz| {
            validate::timezone(tz.to_string())
                .map_err(|m| FieldError::new(context.field("timezone"), m))
        })
        .transpose()?;
    let device_path = context.field("device");
    let device =
        Object::new(context.object("device")?.unwrap_or(&empty), &device_path).text("type")?;
    let channel = message
        .str("channel")?
        .map(|c| {
            validate::text(spec::channel_name(c).to_string())
                .map_err(|m| FieldError::new(message.field("channel"), m))
        })
        .transpose()?;

    let referrer = referrer(context, &empty)?;

    let cart_id = match properties.id("cart_id")? {
        Some(cart) => Some(cart),
        None => properties.id("checkout_id")?,
    };
    let session_id = match properties.id("session_id")? {
        Some(session) => Some(session),
        None => context.id("session_id")?,
    };
    let message_id = match properties.id("message_id")? {
        Some(id) => Some(id),
        None => properties.id("email_id")?,
    };

    // The code typed into the coupon field: `coupon_id` (the spec's examples hold the code
    // there), else `coupon_name`. `discount` and `reason` are not kept.
    let (coupon_code, coupon_outcome) = if kind == EventKind::CouponEntered {
        let code = match properties.id("coupon_id")? {
            Some(code) => code,
            None => properties.id("coupon_name")?.ok_or_else(|| {
                FieldError::new(
                    properties.field("coupon_id"),
                    format!("is required on {} (or coupon_name)", event_name.trim()),
                )
            })?,
        };
        (Some(code), Some(spec::coupon_outcome(event_name)))
    } else if kind == EventKind::OrderCompleted {
        // The spec's `coupon`: the discount code the order was placed with.
        (properties.id("coupon")?, None)
    } else {
        (None, None)
    };

    let event = Event {
        id: EventId([0; 16]),
        kind,
        timestamp,
        user_id,
        anonymous_id,
        session_id,
        cart_id,
        order_id: properties.id("order_id")?,
        items,
        currency: has_money.then_some(currency),
        total,
        email,
        timezone,
        channel,
        device,
        message_id,
        coupon_code,
        coupon_outcome,
        referrer,
    };
    let items_field = if spec::is_single_product(kind) {
        properties.field("product_id")
    } else {
        properties.field("products")
    };
    let mut event =
        validate::event(event, options, &items_field).map_err(|e| match e.field.as_deref() {
            Some("timestamp") => FieldError {
                field: Some(message.field("timestamp")),
                ..e
            },
            Some("currency") => FieldError {
                field: Some(properties.field("currency")),
                ..e
            },
            _ => e,
        })?;
    match message.id("messageId")? {
        Some(given) => event.id = EventId::from_source(NAMESPACE, &given),
        None => crate::identity::assign_content_id(&mut event, NAMESPACE),
    }
    Ok(event)
}

/// Where the session came from, from the spec's common context fields
/// (<https://segment.com/docs/connections/spec/common/#context>): `context.page.referrer`
/// (the page's `document.referrer`, set by Analytics.js), else `context.referrer.url` /
/// `.link` (the `referrer` object: type, name, url, link), else `context.campaign.source`
/// (the `utm_source` of the landing URL). Empty strings count as absent.
fn referrer(context: Object<'_>, empty: &Map<String, Value>) -> Result<Option<String>, FieldError> {
    let page_path = context.field("page");
    let page = Object::new(context.object("page")?.unwrap_or(empty), &page_path);
    let referrer_path = context.field("referrer");
    let referrer = Object::new(context.object("referrer")?.unwrap_or(empty), &referrer_path);
    let campaign_path = context.field("campaign");
    let campaign = Object::new(context.object("campaign")?.unwrap_or(empty), &campaign_path);
    let found = [
        (page, "referrer"),
        (referrer, "url"),
        (referrer, "link"),
        (campaign, "source"),
    ];
    for (object, key) in found {
        if let Some(text) = object.str(key)? {
            return validate::referrer(text.to_string())
                .map_err(|m| FieldError::new(object.field(key), m));
        }
    }
    Ok(None)
}

/// `timestamp`, falling back to `originalTimestamp`, `sentAt` and `receivedAt`.
fn timestamp(message: Object<'_>) -> Result<cartback_core::Timestamp, FieldError> {
    for key in ["timestamp", "originalTimestamp", "sentAt", "receivedAt"] {
        if let Some(text) = message.str(key)? {
            return parse_rfc3339(text).map_err(|m| FieldError::new(message.field(key), m));
        }
    }
    Err(FieldError::new(
        message.field("timestamp"),
        "is required (or originalTimestamp / sentAt)",
    ))
}

/// One product: the event's properties (Product Added, …) or an element of `products`.
fn item(product: Object<'_>, currency: Currency) -> Result<Item, FieldError> {
    let id = match product.id("product_id")? {
        Some(id) => id,
        None => match product.id("sku")? {
            Some(sku) => sku,
            None => product.id("id")?.ok_or_else(|| {
                FieldError::new(product.field("product_id"), "is required (or sku)")
            })?,
        },
    };
    let quantity = match product.integer("quantity")? {
        None => 1,
        Some(units) => {
            validate::quantity(units).map_err(|m| FieldError::new(product.field("quantity"), m))?
        }
    };
    Ok(Item {
        id,
        name: product.text("name")?,
        category: product.text("category")?,
        brand: product.text("brand")?,
        price: product.major_amount("price", currency)?,
        quantity,
    })
}
