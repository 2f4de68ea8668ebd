//! How events and carts become rows and back, identically in both backends.
//!
//! An event row is its indexed columns (`id`, `ts`, `kind`, `user_id`, `session_id`,
//! `cart_id`, `order_id`) plus `payload`: the event's own JSON without those fields
//! ([`EventDetails`]), so nothing is stored twice and a row decodes back into exactly the
//! event that was written. A cart row's `payload` is the whole cart as JSON (carts are few and
//! their shape still grows), next to columns copied for indexing.

use crate::StoreError;
use cartback_core::{
    Cart, CartState, CouponOutcome, Currency, Event, EventId, EventKind, Item, Timestamp,
};
use serde::{Deserialize, Serialize};

/// The columns of an event row (everything but the payload), borrowed from an [`Event`].
pub(crate) struct EventColumns<'a> {
    pub id: &'a [u8],
    pub ts: i64,
    pub kind: &'static str,
    pub user_id: &'a str,
    pub session_id: Option<&'a str>,
    pub cart_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
}

/// The fields of an [`Event`] that have no column, under the names the event JSON uses.
#[derive(Debug, Serialize)]
pub(crate) struct EventDetailsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    anonymous_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Item]>::is_empty")]
    items: &'a [Item],
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<Currency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon_outcome: Option<CouponOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    referrer: Option<&'a str>,
}

/// [`EventDetailsOut`], read back.
#[derive(Deserialize)]
pub(crate) struct EventDetails {
    #[serde(default)]
    anonymous_id: Option<String>,
    #[serde(default)]
    items: Vec<Item>,
    #[serde(default)]
    currency: Option<Currency>,
    #[serde(default)]
    total: Option<i64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    coupon_code: Option<String>,
    #[serde(default)]
    coupon_outcome: Option<CouponOutcome>,
    #[serde(default)]
    referrer: Option<String>,
}

/// Refuses an event holding text PostgreSQL cannot store (U+0000), naming the field. Both
/// backends check, so an event log can always move from SQLite to PostgreSQL.
pub(crate) fn check_storable_event(event: &Event) -> Result<(), StoreError> {
    let refuse = |field: &str| StoreError::Unstorable {
        what: "event",
        key: event.id.to_string(),
        field: field.to_string(),
    };
    if has_nul(&event.user_id) {
        return Err(refuse("user_id"));
    }
    for (field, value) in [
        ("anonymous_id", &event.anonymous_id),
        ("session_id", &event.session_id),
        ("cart_id", &event.cart_id),
        ("order_id", &event.order_id),
        ("email", &event.email),
        ("timezone", &event.timezone),
        ("channel", &event.channel),
        ("device", &event.device),
        ("message_id", &event.message_id),
        ("coupon_code", &event.coupon_code),
        ("referrer", &event.referrer),
    ] {
        if has_nul_opt(value) {
            return Err(refuse(field));
        }
    }
    for item in &event.items {
        if has_nul(&item.id) {
            return Err(refuse("items[].id"));
        }
        for (field, value) in [
            ("items[].name", &item.name),
            ("items[].category", &item.category),
            ("items[].brand", &item.brand),
        ] {
            if has_nul_opt(value) {
                return Err(refuse(field));
            }
        }
    }
    Ok(())
}

/// Like [`check_storable_event`], for a cart.
pub(crate) fn check_storable_cart(cart: &Cart) -> Result<(), StoreError> {
    let refuse = |field: &str| StoreError::Unstorable {
        what: "cart",
        key: cart.id.replace('\0', "\\0"),
        field: field.to_string(),
    };
    for (field, value) in [("id", &cart.id), ("user_id", &cart.user_id)] {
        if has_nul(value) {
            return Err(refuse(field));
        }
    }
    for (field, value) in [
        ("order_id", &cart.order_id),
        ("email", &cart.email),
        ("timezone", &cart.timezone),
    ] {
        if has_nul_opt(value) {
            return Err(refuse(field));
        }
    }
    if cart.referrers.iter().any(|r| has_nul(r)) {
        return Err(refuse("referrers[]"));
    }
    for line in &cart.lines {
        if has_nul(&line.item_id) {
            return Err(refuse("lines[].item_id"));
        }
        for (field, value) in [
            ("lines[].name", &line.name),
            ("lines[].category", &line.category),
        ] {
            if has_nul_opt(value) {
                return Err(refuse(field));
            }
        }
    }
    Ok(())
}

fn has_nul(text: &str) -> bool {
    text.as_bytes().contains(&0)
}

fn has_nul_opt(text: &Option<String>) -> bool {
    text.as_deref().is_some_and(has_nul)
}

/// Splits `event` into its columns and the details that go into the payload.
pub(crate) fn split_event(event: &Event) -> (EventColumns<'_>, EventDetailsOut<'_>) {
    // Destructured without `..`: a field added to `Event` fails to compile here until it is
    // given a column or a place in the payload, so no field is ever silently dropped.
    let Event {
        id,
        kind,
        timestamp,
        user_id,
        anonymous_id,
        session_id,
        cart_id,
        order_id,
        items,
        currency,
        total,
        email,
        timezone,
        channel,
        device,
        message_id,
        coupon_code,
        coupon_outcome,
        referrer,
    } = event;
    let details = EventDetailsOut {
        anonymous_id: anonymous_id.as_deref(),
        items,
        currency: *currency,
        total: *total,
        email: email.as_deref(),
        timezone: timezone.as_deref(),
        channel: channel.as_deref(),
        device: device.as_deref(),
        message_id: message_id.as_deref(),
        coupon_code: coupon_code.as_deref(),
        coupon_outcome: *coupon_outcome,
        referrer: referrer.as_deref(),
    };
    let columns = EventColumns {
        id: &id.0,
        ts: timestamp.0,
        kind: kind.as_str(),
        user_id,
        session_id: session_id.as_deref(),
        cart_id: cart_id.as_deref(),
        order_id: order_id.as_deref(),
    };
    (columns, details)
}

/// The owned columns of an event row, as read.
pub(crate) struct EventRow<'a> {
    pub id: &'a [u8],
    pub ts: i64,
    pub kind: &'a str,
    pub user_id: String,
    pub session_id: Option<String>,
    pub cart_id: Option<String>,
    pub order_id: Option<String>,
    pub payload: &'a [u8],
}

/// Puts an event back together from its row.
pub(crate) fn decode_event(row: EventRow<'_>) -> Result<Event, StoreError> {
    let corrupt = |reason: String| StoreError::CorruptRow {
        table: "events",
        key: describe_event_id(row.id),
        reason,
    };
    let id = <[u8; 16]>::try_from(row.id)
        .map(EventId)
        .map_err(|_| corrupt("the id is not 16 bytes".into()))?;
    let kind: EventKind = row
        .kind
        .parse()
        .map_err(|e| corrupt(format!("kind: {e}")))?;
    let details: EventDetails = serde_json::from_slice(row.payload)
        .map_err(|e| corrupt(format!("payload is not event details: {e}")))?;
    let EventDetails {
        anonymous_id,
        items,
        currency,
        total,
        email,
        timezone,
        channel,
        device,
        message_id,
        coupon_code,
        coupon_outcome,
        referrer,
    } = details;
    Ok(Event {
        id,
        kind,
        timestamp: Timestamp(row.ts),
        user_id: row.user_id,
        anonymous_id,
        session_id: row.session_id,
        cart_id: row.cart_id,
        order_id: row.order_id,
        items,
        currency,
        total,
        email,
        timezone,
        channel,
        device,
        message_id,
        coupon_code,
        coupon_outcome,
        referrer,
    })
}

/// Writes `cart` as JSON into `buffer` (cleared first).
pub(crate) fn encode_cart(cart: &Cart, buffer: &mut Vec<u8>) -> Result<(), StoreError> {
    check_storable_cart(cart)?;
    buffer.clear();
    serde_json::to_writer(&mut *buffer, cart).map_err(|source| StoreError::Encode {
        what: "cart",
        key: cart.id.clone(),
        source,
    })
}

/// Reads a cart payload; `id` is the row's key, for the error message.
pub(crate) fn decode_cart(id: &str, payload: &[u8]) -> Result<Cart, StoreError> {
    serde_json::from_slice(payload).map_err(|error| StoreError::CorruptRow {
        table: "carts",
        key: id.to_string(),
        reason: format!("payload is not a cart: {error}"),
    })
}

/// Reads a `carts.state` column.
pub(crate) fn decode_state(text: &str) -> Result<CartState, StoreError> {
    text.parse().map_err(|reason| StoreError::CorruptRow {
        table: "carts",
        key: format!("state {text:?}"),
        reason,
    })
}

/// An event id for messages: its hex form, or what is wrong with it.
pub(crate) fn describe_event_id(id: &[u8]) -> String {
    match <[u8; 16]>::try_from(id) {
        Ok(bytes) => EventId(bytes).to_string(),
        Err(_) => format!("{} bytes (not a 16-byte event id)", id.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::full_event;
    use serde_json::Value;

    #[test]
    fn payload_is_the_event_json_without_the_column_fields() {
        let event = full_event();
        check_storable_event(&event).unwrap();
        let (columns, details) = split_event(&event);
        let buffer = serde_json::to_vec(&details).unwrap();
        let payload: Value = serde_json::from_slice(&buffer).unwrap();
        let Value::Object(mut whole) = serde_json::to_value(&event).unwrap() else {
            panic!("an event is a JSON object");
        };
        for column in [
            "id",
            "type",
            "timestamp",
            "user_id",
            "session_id",
            "cart_id",
            "order_id",
        ] {
            assert!(whole.remove(column).is_some(), "{column}");
        }
        assert_eq!(payload, Value::Object(whole));
        assert_eq!(columns.kind, "order_completed");
        assert_eq!(columns.id, &[0xab; 16]);

        let back = decode_event(EventRow {
            id: columns.id,
            ts: columns.ts,
            kind: columns.kind,
            user_id: columns.user_id.to_string(),
            session_id: columns.session_id.map(str::to_string),
            cart_id: columns.cart_id.map(str::to_string),
            order_id: columns.order_id.map(str::to_string),
            payload: &buffer,
        })
        .unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn a_bare_event_has_an_empty_payload() {
        let mut event = crate::conformance::event(1, "u1", 0);
        event.items.clear();
        event.currency = None;
        let (_, details) = split_event(&event);
        assert_eq!(serde_json::to_vec(&details).unwrap(), b"{}");
    }
}
