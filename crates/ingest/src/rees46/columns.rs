//! The REES46 CSV layout: the expected header and what each event type means.

use cartback_core::EventKind;

/// The header line every REES46 file starts with.
pub(crate) const HEADER: &str =
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session";

/// Column names in order, used to name fields in rejections.
pub(super) const COLUMNS: [&str; 9] = [
    "event_time",
    "event_type",
    "product_id",
    "category_id",
    "category_code",
    "brand",
    "price",
    "user_id",
    "user_session",
];

/// The canonical kind of an `event_type` value.
pub(super) fn kind_for(event_type: &str) -> Result<EventKind, String> {
    match event_type {
        "view" => Ok(EventKind::ProductViewed),
        "cart" => Ok(EventKind::ProductAdded),
        "remove_from_cart" => Ok(EventKind::ProductRemoved),
        "purchase" => Ok(EventKind::OrderCompleted),
        other => Err(format!(
            "unknown event type `{}` (expected view, cart, remove_from_cart or purchase)",
            crate::timestamp::excerpt(other)
        )),
    }
}
