//! The JSON payloads both backends store: an event or cart as cartback's own serde JSON, so a
//! stored row always decodes back into exactly the value that was written.

use crate::StoreError;
use cartback_core::{Cart, CartState, Event, EventId};

/// Writes `event` as JSON into `buffer` (cleared first).
pub(crate) fn encode_event(event: &Event, buffer: &mut Vec<u8>) -> Result<(), StoreError> {
    buffer.clear();
    serde_json::to_writer(&mut *buffer, event).map_err(|source| StoreError::Encode {
        what: "event",
        key: event.id.to_string(),
        source,
    })
}

/// Writes `cart` as JSON into `buffer` (cleared first).
pub(crate) fn encode_cart(cart: &Cart, buffer: &mut Vec<u8>) -> Result<(), StoreError> {
    buffer.clear();
    serde_json::to_writer(&mut *buffer, cart).map_err(|source| StoreError::Encode {
        what: "cart",
        key: cart.id.clone(),
        source,
    })
}

/// Reads an event payload; `id` is the row's key, for the error message.
pub(crate) fn decode_event(id: &[u8], payload: &[u8]) -> Result<Event, StoreError> {
    serde_json::from_slice(payload).map_err(|error| StoreError::CorruptRow {
        table: "events",
        key: describe_event_id(id),
        reason: format!("payload is not an event: {error}"),
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

fn describe_event_id(id: &[u8]) -> String {
    match <[u8; 16]>::try_from(id) {
        Ok(bytes) => EventId(bytes).to_string(),
        Err(_) => format!("{} bytes (not a 16-byte event id)", id.len()),
    }
}
