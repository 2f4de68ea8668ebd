//! Converts a decoded [`WireEvent`] into a validated canonical [`Event`].

use super::wire::{WireEvent, WireItem};
use crate::json::{error_message, typed_error};
use crate::limits::ParseOptions;
use crate::rejection::FieldError;
use crate::validate;
use cartback_core::{Currency, Event, EventId, Item};
use serde::Deserializer;
use serde::de::IgnoredAny;
use serde_json::Value;

/// Id namespace of the cartback NDJSON format.
pub(crate) const NAMESPACE: &str = "ndjson";

/// Parses one NDJSON line: the fast path (`fast.rs`) when it can, else the reference parser
/// below, which alone decides about anything unusual and words every rejection.
pub(crate) fn parse_line(text: &str, options: &ParseOptions) -> Result<Event, FieldError> {
    match super::fast::parse(text, options) {
        Some(event) => Ok(event),
        None => parse_line_reference(text, options),
    }
}

/// The reference parser of one NDJSON line: serde into the wire types, then [`convert`].
pub(crate) fn parse_line_reference(
    text: &str,
    options: &ParseOptions,
) -> Result<Event, FieldError> {
    // serde would read a JSON array positionally into the struct; refuse it up front.
    if !text.trim_start().starts_with('{') && serde_json::from_str::<IgnoredAny>(text).is_ok() {
        return Err(not_an_object());
    }
    // Fast path without path tracking; only a failing line is decoded again to learn
    // which field failed.
    match serde_json::from_str::<WireEvent>(text) {
        Ok(wire) => convert(wire, options),
        Err(plain) => {
            let mut de = serde_json::Deserializer::from_str(text);
            let tracked = decode(&mut de).and_then(|wire| {
                de.end()
                    .map(|()| wire)
                    .map_err(|e| FieldError::whole(error_message(&e)))
            });
            match tracked {
                Err(error) => Err(error),
                // Unreachable in practice (both decoders agree); keep the plain error.
                Ok(_) => Err(FieldError::whole(error_message(&plain))),
            }
        }
    }
}

/// Parses one already-decoded JSON value (an element of a JSON array payload).
pub(crate) fn parse_value(value: Value, options: &ParseOptions) -> Result<Event, FieldError> {
    if !value.is_object() {
        return Err(not_an_object());
    }
    convert(decode(value)?, options)
}

fn not_an_object() -> FieldError {
    FieldError::whole("expected a cartback event object (one JSON object per line)")
}

fn decode<'de, D>(de: D) -> Result<WireEvent, FieldError>
where
    D: Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(de).map_err(typed_error)
}

fn field<T>(name: &str, checked: Result<T, String>) -> Result<T, FieldError> {
    checked.map_err(|m| FieldError::new(name, m))
}

fn optional(
    name: &str,
    value: Option<String>,
    check: fn(String) -> Result<String, String>,
) -> Result<Option<String>, FieldError> {
    value.map(|v| field(name, check(v))).transpose()
}

fn convert(wire: WireEvent, options: &ParseOptions) -> Result<Event, FieldError> {
    let anonymous_id = optional("anonymous_id", wire.anonymous_id, validate::id)?;
    let user_id = match (wire.user_id, &anonymous_id) {
        (Some(user), _) => field("user_id", validate::id(user))?,
        (None, Some(anonymous)) => anonymous.clone(),
        (None, None) => {
            return Err(FieldError::new(
                "user_id",
                "is required (or give anonymous_id for a shopper who is not logged in)",
            ));
        }
    };
    let currency = wire
        .currency
        .map(|code| Currency::parse(&code).map_err(|e| FieldError::new("currency", e.to_string())))
        .transpose()?;
    let total = wire
        .total
        .map(|t| field("total", validate::amount(t.0)))
        .transpose()?;
    let items = wire
        .items
        .into_iter()
        .enumerate()
        .map(|(index, item)| convert_item(index, item))
        .collect::<Result<Vec<_>, _>>()?;
    let event = Event {
        id: EventId([0; 16]),
        kind: wire.kind,
        timestamp: wire.timestamp.0,
        user_id,
        anonymous_id,
        session_id: optional("session_id", wire.session_id, validate::id)?,
        cart_id: optional("cart_id", wire.cart_id, validate::id)?,
        order_id: optional("order_id", wire.order_id, validate::id)?,
        items,
        currency,
        total,
        email: optional("email", wire.email, validate::email)?,
        timezone: optional("timezone", wire.timezone, validate::timezone)?,
        channel: optional("channel", wire.channel, validate::text)?,
        device: optional("device", wire.device, validate::text)?,
        message_id: optional("message_id", wire.message_id, validate::id)?,
        coupon_code: optional("coupon_code", wire.coupon_code, validate::id)?,
        coupon_outcome: validate::coupon_outcome(wire.kind, wire.coupon_outcome),
        referrer: wire
            .referrer
            .map(|r| field("referrer", validate::referrer(r)))
            .transpose()?
            .flatten(),
    };
    let mut event = validate::event(event, options, "items")?;
    match wire.id {
        Some(given) => {
            event.id = crate::identity::source_id(NAMESPACE, &field("id", validate::id(given))?)
        }
        None => crate::identity::assign_content_id(&mut event, NAMESPACE),
    }
    Ok(event)
}

fn convert_item(index: usize, item: WireItem) -> Result<Item, FieldError> {
    let at = |name: &str| format!("items[{index}].{name}");
    let check = |name: &str, value: Option<String>| {
        value
            .map(|v| validate::text(v).map_err(|m| FieldError::new(at(name), m)))
            .transpose()
    };
    Ok(Item {
        id: validate::id(item.id).map_err(|m| FieldError::new(at("id"), m))?,
        name: check("name", item.name)?,
        category: check("category", item.category)?,
        brand: check("brand", item.brand)?,
        price: item
            .price
            .map(|p| validate::amount(p.0).map_err(|m| FieldError::new(at("price"), m)))
            .transpose()?,
        quantity: match item.quantity {
            None => 1,
            Some(q) => validate::quantity(q.0).map_err(|m| FieldError::new(at("quantity"), m))?,
        },
    })
}
