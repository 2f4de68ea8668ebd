//! Field checks shared by every format: ids, text length, prices, quantities, e-mail and
//! time-zone shape, and the whole-event rules applied last (item count, currency present
//! whenever money is, product events carry a product, time in range).
//!
//! Value checks return the message only; callers attach the field path (built only when
//! a check fails, so the happy path allocates nothing for it).

use crate::limits::{
    MAX_ITEMS, MAX_PRICE_MINOR_UNITS, MAX_QUANTITY, MAX_STRING_BYTES, ParseOptions,
};
use crate::rejection::FieldError;
use crate::timestamp::{check_range, excerpt};
use cartback_core::{CouponOutcome, Event, EventKind};

/// Text of bounded length without NUL characters (names, categories, e-mail, …). NUL is
/// refused here, at the input, because PostgreSQL cannot store it: an event accepted by a
/// parser must be storable by every backend.
pub(crate) fn text(value: String) -> Result<String, String> {
    check_text(&value).map(|()| value)
}

/// [`text`] without taking ownership: the checks only.
pub(crate) fn check_text(value: &str) -> Result<(), String> {
    if memchr::memchr(0, value.as_bytes()).is_some() {
        return Err("contains a NUL character (U+0000)".into());
    }
    if value.len() > MAX_STRING_BYTES {
        return Err(format!(
            "is {} bytes long; the limit is {MAX_STRING_BYTES}",
            value.len()
        ));
    }
    Ok(())
}

/// An identifier: non-empty text of bounded length.
pub(crate) fn id(value: String) -> Result<String, String> {
    check_id(&value).map(|()| value)
}

/// [`id`] without taking ownership: the checks only.
pub(crate) fn check_id(value: &str) -> Result<(), String> {
    if is_blank(value) {
        return Err("must not be empty".into());
    }
    check_text(value)
}

/// Empty or only white space (the test [`id`] applies).
pub(crate) fn is_blank(value: &str) -> bool {
    // Most ids start with a visible character: no need to trim the whole string.
    match value.as_bytes().first() {
        None => true,
        Some(first) if first.is_ascii_graphic() => false,
        Some(_) => value.trim().is_empty(),
    }
}

/// A unit price or total in minor units.
pub(crate) fn amount(minor: i64) -> Result<i64, String> {
    if minor < 0 {
        return Err(format!("must not be negative, got {minor}"));
    }
    if minor > MAX_PRICE_MINOR_UNITS {
        return Err(format!(
            "{minor} minor units is larger than any real price (limit {MAX_PRICE_MINOR_UNITS})"
        ));
    }
    Ok(minor)
}

/// A line quantity, 1 ..= 10,000.
pub(crate) fn quantity(units: i64) -> Result<u32, String> {
    if !(1..=MAX_QUANTITY).contains(&units) {
        return Err(format!("must be between 1 and {MAX_QUANTITY}, got {units}"));
    }
    Ok(units as u32)
}

/// An e-mail address: checked for shape only (`local@domain`).
pub(crate) fn email(value: String) -> Result<String, String> {
    check_email(&value).map(|()| value)
}

/// [`email`] without taking ownership: the checks only.
pub(crate) fn check_email(value: &str) -> Result<(), String> {
    check_text(value)?;
    if is_email_shaped(value) {
        Ok(())
    } else {
        Err(format!("`{}` is not an e-mail address", excerpt(value)))
    }
}

/// `local@domain` with one `@`, both sides non-empty, no white space (the shape [`email`]
/// accepts, length and NUL aside).
pub(crate) fn is_email_shaped(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// An IANA time-zone name, checked for shape only: `UTC`, `Europe/Berlin`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+5`. Offsets such as `+02:00` are refused,
/// because quiet hours need the zone's daylight-saving rules.
pub(crate) fn timezone(value: String) -> Result<String, String> {
    check_timezone(&value).map(|()| value)
}

/// [`timezone`] without taking ownership: the checks only.
pub(crate) fn check_timezone(value: &str) -> Result<(), String> {
    // One pass over the bytes: every part between slashes starts with a letter and holds
    // only letters, digits, `_`, `-` and `+`.
    let mut part_start = true;
    let mut well_formed = value.len() <= 64;
    for &b in value.as_bytes() {
        if !well_formed {
            break;
        }
        if b == b'/' {
            well_formed = !part_start;
            part_start = true;
        } else if part_start {
            well_formed = b.is_ascii_alphabetic();
            part_start = false;
        } else {
            well_formed = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+');
        }
    }
    if well_formed && !part_start {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an IANA time zone name such as Europe/Berlin",
            excerpt(value)
        ))
    }
}

/// Where a session came from (a referring URL or a campaign source): bounded text without
/// NUL. Blank text counts as absent: an empty `document.referrer` is a direct visit.
pub(crate) fn referrer(value: String) -> Result<Option<String>, String> {
    if is_blank(&value) {
        return Ok(None);
    }
    check_text(&value).map(|()| Some(value))
}

/// The outcome a `coupon_entered` event carries: the given one, else `entered` (a code typed
/// in, its fate not reported). Other kinds keep what was given, for [`check_event`] to refuse.
pub(crate) fn coupon_outcome(
    kind: EventKind,
    given: Option<CouponOutcome>,
) -> Option<CouponOutcome> {
    match kind {
        EventKind::CouponEntered => Some(given.unwrap_or(CouponOutcome::Entered)),
        _ => given,
    }
}

/// Whole-event rules, checked once every field is converted. Field names are those of
/// the canonical schema; `items_field` names the items list in the source format.
pub(crate) fn event(
    event: Event,
    options: &ParseOptions,
    items_field: &str,
) -> Result<Event, FieldError> {
    check_event(&event, options, items_field).map(|()| event)
}

/// [`event`] without moving the event: the checks only.
pub(crate) fn check_event(
    event: &Event,
    options: &ParseOptions,
    items_field: &str,
) -> Result<(), FieldError> {
    if event.items.len() > MAX_ITEMS {
        return Err(FieldError::new(
            items_field,
            format!("{} items; the limit is {MAX_ITEMS}", event.items.len()),
        ));
    }
    if let Some(index) = event
        .items
        .iter()
        .position(|item| item.quantity == 0 || i64::from(item.quantity) > MAX_QUANTITY)
    {
        return Err(FieldError::new(
            format!("{items_field}[{index}].quantity"),
            format!(
                "must be between 1 and {MAX_QUANTITY}, got {}",
                event.items[index].quantity
            ),
        ));
    }
    let product_event = matches!(
        event.kind,
        EventKind::ProductViewed | EventKind::ProductAdded | EventKind::ProductRemoved
    );
    if product_event && event.items.is_empty() {
        return Err(FieldError::new(
            items_field,
            format!("a {} event needs the product it is about", event.kind),
        ));
    }
    if event.kind == EventKind::CouponEntered {
        if event.coupon_code.is_none() {
            return Err(FieldError::new(
                "coupon_code",
                "is required on a coupon_entered event (the code typed into the coupon field)",
            ));
        }
    } else {
        // An order may name the discount code it was placed with.
        if event.coupon_code.is_some() && event.kind != EventKind::OrderCompleted {
            return Err(FieldError::new(
                "coupon_code",
                format!(
                    "belongs to coupon_entered and order_completed events only, not to a {} event",
                    event.kind
                ),
            ));
        }
        if event.coupon_outcome.is_some() {
            return Err(FieldError::new(
                "coupon_outcome",
                format!(
                    "belongs to coupon_entered events only, not to a {} event",
                    event.kind
                ),
            ));
        }
    }
    let has_money = event.total.is_some() || event.items.iter().any(|i| i.price.is_some());
    if has_money && event.currency.is_none() {
        return Err(FieldError::new(
            "currency",
            "is required when a price or total is given (ISO 4217 code such as USD)",
        ));
    }
    check_range(event.timestamp, options).map_err(|m| FieldError::new("timestamp", m))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_text_ids_and_amounts() {
        assert!(id(String::new()).unwrap_err().contains("empty"));
        assert!(id("  ".into()).is_err());
        assert!(text("x".repeat(1_025)).unwrap_err().contains("1025 bytes"));
        assert!(text("x".repeat(1_024)).is_ok());
        assert!(text("a\0b".into()).unwrap_err().contains("NUL"));
        assert!(id("\0".into()).unwrap_err().contains("NUL"));
        assert_eq!(amount(0), Ok(0));
        assert!(amount(-1).unwrap_err().contains("negative"));
        assert!(
            amount(MAX_PRICE_MINOR_UNITS + 1)
                .unwrap_err()
                .contains("larger than any")
        );
        assert_eq!(quantity(10_000), Ok(10_000));
        assert_eq!(referrer("  ".into()), Ok(None));
        assert_eq!(referrer("newsletter".into()), Ok(Some("newsletter".into())));
        assert!(
            referrer("x".repeat(1_025))
                .unwrap_err()
                .contains("1025 bytes")
        );
        assert!(referrer("a\0b".into()).unwrap_err().contains("NUL"));
        assert!(quantity(0).is_err());
        assert!(quantity(10_001).is_err());
    }

    #[test]
    fn checks_email_and_timezone_shape() {
        assert!(email("a@b.example".into()).is_ok());
        assert!(email("no-at-sign".into()).is_err());
        assert!(email("a@b@c".into()).is_err());
        assert!(email("a b@c".into()).is_err());
        for good in [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "EST5EDT",
        ] {
            assert!(timezone(good.into()).is_ok(), "{good}");
        }
        for bad in [
            "+02:00",
            "Europe//Berlin",
            "",
            "Europe/",
            "Europe Berlin",
            "/UTC",
        ] {
            assert!(timezone(bad.into()).is_err(), "{bad}");
        }
    }
}
