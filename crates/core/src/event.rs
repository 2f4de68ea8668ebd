//! The canonical cart event every source is translated into.
//!
//! Owns [`Event`], its [`EventKind`]s, line [`Item`]s and [`EventId`]: a 128-bit id that is
//! either taken from the source (hashed when it is not already one of ours) or derived
//! deterministically from the event's content, so importing the same input twice stores
//! nothing twice. Validation of inputs happens in `cartback-ingest`; an `Event` that exists
//! has already been checked.

use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A 128-bit event id, shown as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    /// Hashes arbitrary bytes into an id (xxh3-128). `namespace` separates sources so that
    /// the same text in two formats never collides.
    pub fn derive(namespace: &str, content: &[u8]) -> Self {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(namespace.as_bytes());
        hasher.update(&[0xff]);
        hasher.update(content);
        EventId(hasher.digest128().to_be_bytes())
    }

    /// Uses a source-given id: 32 hex digits are taken as they are, anything else
    /// (a UUID with dashes, a Segment `messageId`, a shop's numeric id) is hashed.
    pub fn from_source(namespace: &str, given: &str) -> Self {
        given
            .parse()
            .unwrap_or_else(|_| EventId::derive(namespace, given.as_bytes()))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl FromStr for EventId {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out)?;
        Ok(EventId(out))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("event id must be 32 hex digits"))
    }
}

/// What happened. Names follow cartback's NDJSON schema (`snake_case`); the Segment
/// e-commerce names map onto them (see `docs/events.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ProductViewed,
    ProductAdded,
    ProductRemoved,
    CartViewed,
    CheckoutStarted,
    /// A code typed into the checkout's coupon field (Segment `Coupon Entered` / `Applied` /
    /// `Denied`), with [`Event::coupon_code`] and [`Event::coupon_outcome`]. Checkout
    /// activity on the cart, never an order. Declared before the orders:
    /// at equal timestamps it is folded first (events are released in (time, kind, id) order).
    CouponEntered,
    OrderCompleted,
    OrderCancelled,
    MessageOpened,
    MessageClicked,
    Unsubscribed,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::ProductViewed,
        EventKind::ProductAdded,
        EventKind::ProductRemoved,
        EventKind::CartViewed,
        EventKind::CheckoutStarted,
        EventKind::CouponEntered,
        EventKind::OrderCompleted,
        EventKind::OrderCancelled,
        EventKind::MessageOpened,
        EventKind::MessageClicked,
        EventKind::Unsubscribed,
    ];

    /// The schema name, e.g. `product_added`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ProductViewed => "product_viewed",
            EventKind::ProductAdded => "product_added",
            EventKind::ProductRemoved => "product_removed",
            EventKind::CartViewed => "cart_viewed",
            EventKind::CheckoutStarted => "checkout_started",
            EventKind::CouponEntered => "coupon_entered",
            EventKind::OrderCompleted => "order_completed",
            EventKind::OrderCancelled => "order_cancelled",
            EventKind::MessageOpened => "message_opened",
            EventKind::MessageClicked => "message_clicked",
            EventKind::Unsubscribed => "unsubscribed",
        }
    }

    /// Whether this event is shopper activity on a cart (keeps a cart alive).
    pub fn is_cart_activity(self) -> bool {
        matches!(
            self,
            EventKind::ProductAdded
                | EventKind::ProductRemoved
                | EventKind::CartViewed
                | EventKind::CheckoutStarted
                | EventKind::CouponEntered
        )
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown event type `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a code typed into the coupon field (`coupon_entered`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponOutcome {
    /// Typed in; the shop did not report whether it was accepted (Segment `Coupon Entered`).
    Entered,
    /// Accepted: the discount was applied (Segment `Coupon Applied`).
    Applied,
    /// Refused: unknown, expired, not applicable, … (Segment `Coupon Denied`).
    Denied,
}

impl CouponOutcome {
    pub const ALL: [CouponOutcome; 3] = [
        CouponOutcome::Entered,
        CouponOutcome::Applied,
        CouponOutcome::Denied,
    ];

    /// The schema name, e.g. `applied`.
    pub fn as_str(self) -> &'static str {
        match self {
            CouponOutcome::Entered => "entered",
            CouponOutcome::Applied => "applied",
            CouponOutcome::Denied => "denied",
        }
    }
}

impl fmt::Display for CouponOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One product line in an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The shop's product (or SKU) id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Unit price in minor units of the event's currency; `None` when the source has no
    /// price (OTTO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// Units (≥ 1).
    pub quantity: u32,
}

impl Item {
    /// Price × quantity in minor units (0 when the price is unknown).
    pub fn line_value(&self) -> i64 {
        self.price
            .unwrap_or(0)
            .saturating_mul(i64::from(self.quantity))
    }
}

/// A validated cart event in cartback's canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When it happened (UTC).
    pub timestamp: Timestamp,
    /// The identity carts are tracked by: the shop's user id, or the anonymous id when the
    /// shopper is not logged in.
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The shop's cart id; when absent, the user's current cart is meant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_id: Option<String>,
    /// Order id on `order_completed` / `order_cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
    /// Currency of every price in the event; present whenever a price is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Order total in minor units, when the source gives one (else the sum of the lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// IANA time zone of the shopper, e.g. `Europe/Berlin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Where it happened: `web`, `app`, `email`, `sms`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `desktop`, `mobile`, `tablet`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The cartback message an open / click / unsubscribe refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The code typed into the coupon field; on `coupon_entered` (required there) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_code: Option<String>,
    /// What became of it; on `coupon_entered` (always set there) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_outcome: Option<CouponOutcome>,
    /// Where the shopper's session came from: the referring URL (`https://www.google.com/`),
    /// or the campaign source (`utm_source`, e.g. `newsletter`) when that is all the source
    /// gives. Any event kind may carry it (a property of the session, not of the event);
    /// the tracker keeps the hosts on the cart ([`crate::referrer`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

impl Event {
    /// Sum of the item lines in minor units.
    pub fn items_value(&self) -> i64 {
        self.items
            .iter()
            .map(Item::line_value)
            .fold(0, i64::saturating_add)
    }

    /// Derives the content id of this event: a hash of everything but the id itself.
    pub fn content_id(&self, namespace: &str) -> EventId {
        let mut copy = self.clone();
        copy.id = EventId([0; 16]);
        let bytes = serde_json::to_vec(&copy).expect("events always serialise");
        EventId::derive(namespace, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            id: EventId([0; 16]),
            kind: EventKind::ProductAdded,
            timestamp: Timestamp(1_569_888_000_000),
            user_id: "u1".into(),
            anonymous_id: None,
            session_id: Some("s1".into()),
            cart_id: None,
            order_id: None,
            items: vec![Item {
                id: "p1".into(),
                name: None,
                category: Some("shoes".into()),
                brand: None,
                price: Some(1_999),
                quantity: 2,
            }],
            currency: Some(Currency::USD),
            total: None,
            email: None,
            timezone: None,
            channel: None,
            device: None,
            message_id: None,
            coupon_code: None,
            coupon_outcome: None,
            referrer: None,
        }
    }

    #[test]
    fn ids_are_hex_and_stable() {
        let id = EventId::derive("test", b"hello");
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<EventId>().unwrap(), id);
        assert_eq!(EventId::derive("test", b"hello"), id);
        assert_ne!(EventId::derive("other", b"hello"), id);
        assert_eq!(EventId::from_source("segment", &text), id);
        assert_ne!(
            EventId::from_source("segment", "msg-1"),
            EventId::from_source("shopify", "msg-1")
        );
    }

    #[test]
    fn content_id_ignores_the_id_and_sees_every_field() {
        let a = sample();
        let mut b = sample();
        b.id = EventId([7; 16]);
        assert_eq!(a.content_id("ndjson"), b.content_id("ndjson"));
        b.items[0].quantity = 3;
        assert_ne!(a.content_id("ndjson"), b.content_id("ndjson"));
    }

    #[test]
    fn round_trips_through_json() {
        let e = sample();
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"type\":\"product_added\""));
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.items_value(), 3_998);
    }

    #[test]
    fn a_coupon_event_round_trips_through_json() {
        let mut e = sample();
        e.kind = EventKind::CouponEntered;
        e.items.clear();
        e.currency = None;
        e.coupon_code = Some("SAVE10".into());
        e.coupon_outcome = Some(CouponOutcome::Denied);
        let json = serde_json::to_string(&e).unwrap();
        assert!(
            json.contains(r#""type":"coupon_entered","#)
                && json.contains(r#""coupon_code":"SAVE10","coupon_outcome":"denied""#),
            "{json}"
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert!(EventKind::CouponEntered.is_cart_activity());
        let mut other = e.clone();
        other.coupon_outcome = Some(CouponOutcome::Applied);
        assert_ne!(e.content_id("ndjson"), other.content_id("ndjson"));
        for outcome in CouponOutcome::ALL {
            let text = serde_json::to_string(&outcome).unwrap();
            assert_eq!(text, format!("\"{}\"", outcome.as_str()));
        }
    }

    #[test]
    fn a_referrer_round_trips_and_is_left_out_when_absent() {
        let plain = serde_json::to_string(&sample()).unwrap();
        assert!(!plain.contains("referrer"), "{plain}");
        let mut e = sample();
        e.referrer = Some("https://www.retailmenot.com/view/shop.example".into());
        let json = serde_json::to_string(&e).unwrap();
        assert!(
            json.contains(r#""referrer":"https://www.retailmenot.com/view/shop.example""#),
            "{json}"
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_ne!(e.content_id("ndjson"), sample().content_id("ndjson"));
    }

    #[test]
    fn kinds_parse_by_name() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>(), Ok(k));
        }
        assert!(
            "purchase"
                .parse::<EventKind>()
                .unwrap_err()
                .contains("product_added")
        );
    }
}
