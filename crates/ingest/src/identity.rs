//! Event id derivation shared by the parsers: the content id of an event, computed exactly
//! as [`Event::content_id`] does but without cloning the event and with a reused buffer
//! (it runs once per id-less NDJSON line, so it is on the import hot path).

use cartback_core::{Event, EventId};
use std::cell::RefCell;

thread_local! {
    static SERIALISED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
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
        };
        let expected = event.content_id("ndjson");
        assign_content_id(&mut event, "ndjson");
        assert_eq!(event.id, expected);
        assign_content_id(&mut event, "segment");
        assert_eq!(event.id, event.content_id("segment"));
        assert_ne!(event.id, expected);
    }
}
