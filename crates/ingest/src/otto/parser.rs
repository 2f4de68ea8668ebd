//! Converts one OTTO session line into its events: clicks become product views, carts
//! product adds, and the orders of one timestamp one order with an item per article.

use super::wire::{WireKind, WireSession};
use crate::json::typed_error;
use crate::limits::ParseOptions;
use crate::rejection::FieldError;
use crate::stream::ParsedLine;
use crate::timestamp::check_range;
use crate::validate;
use cartback_core::{Event, EventId, EventKind, Item, Timestamp};

/// Id namespace of OTTO events.
const NAMESPACE: &str = "otto";

/// Times below this are taken as epoch SECONDS (some OTTO conversions use seconds); in
/// milliseconds they would fall in 1973, long before any accepted event.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// Parses one session line into `out`. A bad event rejects itself only.
pub(crate) fn parse_line(text: &str, options: &ParseOptions, out: &mut ParsedLine) {
    let mut de = serde_json::Deserializer::from_str(text);
    let session: WireSession = match serde_path_to_error::deserialize(&mut de) {
        Ok(session) => session,
        Err(err) => return out.reject(typed_error(err)),
    };
    if let Err(err) = de.end() {
        return out.reject(FieldError::whole(crate::json::error_message(&err)));
    }
    let session_id = session.session.to_string();
    // Events in input order; orders are merged per timestamp into the first order event.
    let mut events: Vec<(usize, Event)> = Vec::with_capacity(session.events.len());
    for (index, wire) in session.events.into_iter().enumerate() {
        let millis = if wire.ts.abs() < SECONDS_BELOW {
            wire.ts.saturating_mul(1_000)
        } else {
            wire.ts
        };
        let timestamp = match check_range(Timestamp(millis), options) {
            Ok(at) => at,
            Err(message) => {
                out.reject(FieldError::new(format!("events[{index}].ts"), message));
                continue;
            }
        };
        let article = wire.aid.to_string();
        if wire.kind == WireKind::Orders {
            let existing = events
                .iter_mut()
                .find(|(_, e)| e.kind == EventKind::OrderCompleted && e.timestamp == timestamp);
            if let Some((_, order)) = existing {
                match order.items.iter_mut().find(|item| item.id == article) {
                    Some(item) => item.quantity = item.quantity.saturating_add(1),
                    None => order.items.push(article_item(article)),
                }
                continue;
            }
        }
        let (kind, identity) = match wire.kind {
            WireKind::Clicks | WireKind::Carts => {
                let kind = if wire.kind == WireKind::Clicks {
                    EventKind::ProductViewed
                } else {
                    EventKind::ProductAdded
                };
                (
                    kind,
                    format!("{session_id}:{}:{article}:{}", wire.kind.name(), wire.ts),
                )
            }
            WireKind::Orders => (
                EventKind::OrderCompleted,
                format!("{session_id}:orders:{}", wire.ts),
            ),
        };
        let order_id =
            (kind == EventKind::OrderCompleted).then(|| format!("{session_id}-{}", wire.ts));
        events.push((
            index,
            Event {
                id: EventId::derive(NAMESPACE, identity.as_bytes()),
                kind,
                timestamp,
                user_id: session_id.clone(),
                anonymous_id: None,
                session_id: Some(session_id.clone()),
                cart_id: None,
                order_id,
                items: vec![article_item(article)],
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
            },
        ));
    }
    for (index, event) in events {
        out.push(
            validate::event(event, options, "aid")
                .map_err(|e| e.within(&format!("events[{index}]"))),
        );
    }
}

fn article_item(aid: String) -> Item {
    Item {
        id: aid,
        name: None,
        category: None,
        brand: None,
        price: None,
        quantity: 1,
    }
}
