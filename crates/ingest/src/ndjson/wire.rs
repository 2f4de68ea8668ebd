//! The cartback NDJSON line as it arrives on the wire: serde types with strict field names
//! (unknown fields are refused, which catches typos) and visitors that explain the two
//! most common mistakes — prices as decimal floats, and times in the wrong shape.

use crate::timestamp::{excerpt, parse_rfc3339};
use cartback_core::{CouponOutcome, EventKind, Timestamp};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a cartback event object")]
pub(super) struct WireEvent {
    pub(super) id: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: EventKind,
    pub(super) timestamp: WireTimestamp,
    pub(super) user_id: Option<String>,
    pub(super) anonymous_id: Option<String>,
    pub(super) session_id: Option<String>,
    pub(super) cart_id: Option<String>,
    pub(super) order_id: Option<String>,
    #[serde(default)]
    pub(super) items: Vec<WireItem>,
    pub(super) currency: Option<String>,
    pub(super) total: Option<MinorUnits>,
    pub(super) email: Option<String>,
    pub(super) timezone: Option<String>,
    pub(super) channel: Option<String>,
    pub(super) device: Option<String>,
    pub(super) message_id: Option<String>,
    pub(super) coupon_code: Option<String>,
    pub(super) coupon_outcome: Option<CouponOutcome>,
    pub(super) referrer: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an item object")]
pub(super) struct WireItem {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) category: Option<String>,
    pub(super) brand: Option<String>,
    pub(super) price: Option<MinorUnits>,
    pub(super) quantity: Option<WholeNumber>,
}

/// `timestamp`: RFC 3339 text or integer epoch milliseconds.
pub(super) struct WireTimestamp(pub(super) Timestamp);

impl<'de> Deserialize<'de> for WireTimestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = WireTimestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time or integer epoch milliseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireTimestamp, E> {
                parse_rfc3339(v).map(WireTimestamp).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireTimestamp, E> {
                Ok(WireTimestamp(Timestamp(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireTimestamp, E> {
                Ok(WireTimestamp(Timestamp(
                    i64::try_from(v).unwrap_or(i64::MAX),
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireTimestamp, E> {
                Err(E::custom(format!(
                    "expected an RFC 3339 time or integer epoch milliseconds, got {v:?}"
                )))
            }
        }
        d.deserialize_any(TimestampVisitor)
    }
}

/// A money amount in integer minor units (`1999` for 19.99 USD). Floats are refused with
/// a hint, because a float price is almost always major units.
pub(super) struct MinorUnits(pub(super) i64);

impl<'de> Deserialize<'de> for MinorUnits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MinorUnitsVisitor;
        impl Visitor<'_> for MinorUnitsVisitor {
            type Value = MinorUnits;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("integer minor units (e.g. 1999 for 19.99)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MinorUnits, E> {
                Ok(MinorUnits(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MinorUnits, E> {
                Ok(MinorUnits(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<MinorUnits, E> {
                Err(E::custom(format!(
                    "expected integer minor units (e.g. 1999 for 19.99), got {v:?}"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MinorUnits, E> {
                Err(E::custom(format!(
                    "expected integer minor units (e.g. 1999 for 19.99), got the string \"{}\"",
                    excerpt(v)
                )))
            }
        }
        d.deserialize_any(MinorUnitsVisitor)
    }
}

/// A whole number (quantity); floats and strings are refused.
pub(super) struct WholeNumber(pub(super) i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct WholeNumberVisitor;
        impl Visitor<'_> for WholeNumberVisitor {
            type Value = WholeNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WholeNumber, E> {
                Ok(WholeNumber(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WholeNumber, E> {
                Ok(WholeNumber(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WholeNumber, E> {
                Err(E::custom(format!("expected a whole number, got {v:?}")))
            }
        }
        d.deserialize_any(WholeNumberVisitor)
    }
}
