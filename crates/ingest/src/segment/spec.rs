//! The Segment e-commerce spec v2 event names cartback imports and the canonical kind
//! each maps to. Names are matched ignoring ASCII case (`Product added` is common in the
//! wild); any other `track` event is skipped, not rejected.

use cartback_core::EventKind;

const NAMES: [(&str, EventKind); 14] = [
    ("Product Viewed", EventKind::ProductViewed),
    ("Product Clicked", EventKind::ProductViewed),
    ("Product Added", EventKind::ProductAdded),
    ("Product Removed", EventKind::ProductRemoved),
    ("Cart Viewed", EventKind::CartViewed),
    ("Checkout Started", EventKind::CheckoutStarted),
    ("Checkout Step Viewed", EventKind::CheckoutStarted),
    ("Checkout Step Completed", EventKind::CheckoutStarted),
    ("Order Completed", EventKind::OrderCompleted),
    ("Order Cancelled", EventKind::OrderCancelled),
    ("Order Refunded", EventKind::OrderCancelled),
    ("Email Opened", EventKind::MessageOpened),
    ("Email Link Clicked", EventKind::MessageClicked),
    ("Unsubscribed", EventKind::Unsubscribed),
];

/// The canonical kind of a Segment `track` event name, or `None` when cartback has no use
/// for it.
pub(super) fn kind_for(event_name: &str) -> Option<EventKind> {
    let name = event_name.trim();
    NAMES
        .iter()
        .find(|(spec_name, _)| spec_name.eq_ignore_ascii_case(name))
        .map(|&(_, kind)| kind)
}

/// Whether the event's properties describe one product (rather than a `products` list).
pub(super) fn is_single_product(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::ProductViewed | EventKind::ProductAdded | EventKind::ProductRemoved
    )
}

/// Segment's `channel` (`browser`, `mobile`, `server`) in cartback's words.
pub(super) fn channel_name(segment_channel: &str) -> &str {
    match segment_channel {
        "browser" => "web",
        "mobile" => "app",
        other => other,
    }
}
