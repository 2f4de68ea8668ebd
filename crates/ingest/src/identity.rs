//! Event id derivation shared by the parsers: the content id of an event, computed exactly
//! as [`Event::content_id`] does but without cloning the event and with a reused buffer
//! (it runs once per id-less NDJSON line, so it is on the import hot path), and source ids
//! read as [`EventId::from_source`] does, with a table-driven fast path for the common case
//! of 32 hex digits.

use cartback_core::{Event, EventId};
use std::cell::RefCell;

thread_local! {
    static SERIALISED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `EventId::from_source(namespace, given)`, decoding 32 hex digits without the generic
/// hex decoder (one table look-up per digit).
pub(crate) fn source_id(namespace: &str, given: &str) -> EventId {
    match hex_id(given.as_bytes()) {
        Some(id) => id,
        None => EventId::from_source(namespace, given),
    }
}

/// The value of each byte as a hex digit, or 0xff.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xff_u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Exactly 32 hex digits (either case) as an id, like `EventId::from_str`.
fn hex_id(text: &[u8]) -> Option<EventId> {
    let digits: &[u8; 32] = text.try_into().ok()?;
    let mut out = [0u8; 16];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        invalid |= (high | low) & 0xf0;
        *byte = (high << 4) | (low & 0x0f);
    }
    (invalid == 0).then_some(EventId(out))
}

/// Replaces `event.id` with its content id in `namespace`; equal to
/// `event.content_id(namespace)`.
pub(crate) fn assign_content_id(event: &mut Event, namespace: &str) {
    event.id = EventId([0; 16]);
    event.id = SERIALISED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            match serde_json::to_writer(&mut *buffer, &*event) {
                Ok(()) => EventId::derive(namespace, &buffer),
                Err(_) => event.content_id(namespace),
            }
        }
        Err(_) => event.content_id(namespace),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::{EventKind, Timestamp};

    #[test]
    fn equals_the_core_content_id() {
        let mut event = Event {
            id: EventId([9; 16]),
            kind: EventKind::CartViewed,
            timestamp: Timestamp(1_714_557_600_000),
            user_id: "u1".into(),
            anonymous_id: None,
            session_id: Some("s".into()),
            cart_id: None,
            order_id: None,
            items: Vec::new(),
            currency: None,
            total: None,
            email: None,
            timezone: None,
            channel: None,
            device: None,
            message_id: None,
            coupon_code: None,
            coupon_outcome: None,
            referrer: None,
        };
        let expected = event.content_id("ndjson");
        assign_content_id(&mut event, "ndjson");
        assert_eq!(event.id, expected);
        assign_content_id(&mut event, "segment");
        assert_eq!(event.id, event.content_id("segment"));
        assert_ne!(event.id, expected);
    }

    #[test]
    fn source_ids_equal_the_core_decoding() {
        let hex = "0123456789abcdefABCDEF0123456789";
        for given in [
            hex,
            "0123456789abcdefABCDEF012345678",
            "0123456789abcdefABCDEF01234567890",
            "0123456789abcdefABCDEF012345678g",
            "g123456789abcdefABCDEF0123456789",
            "0123456789abcdef:BCDEF0123456789",
            "0123456789abcdef@BCDEF0123456789",
            "évt-1",
            "",
            "msg-1",
        ] {
            assert_eq!(
                source_id("ndjson", given),
                EventId::from_source("ndjson", given),
                "{given}"
            );
        }
        assert_eq!(source_id("ndjson", hex).to_string(), hex.to_lowercase());
        // Every byte value in every position: only hex digits decode.
        for position in [0, 17, 31] {
            for byte in 0..=255u8 {
                let mut text = hex.as_bytes().to_vec();
                text[position] = byte;
                let expected = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| t.parse::<EventId>().ok());
                assert_eq!(hex_id(&text), expected, "byte {byte} at {position}");
            }
        }
    }
}
