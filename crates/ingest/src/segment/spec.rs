//! The Segment e-commerce spec v2 event names cartback imports and the canonical kind
//! each maps to. Names are matched ignoring ASCII case (`Product added` is common in the
//! wild); any other `track` event is skipped, not rejected.

use cartback_core::{CouponOutcome, EventKind};

const NAMES: [(&str, EventKind); 17] = [
    ("Product Viewed", EventKind::ProductViewed),
    ("Product Clicked", EventKind::ProductViewed),
    ("Product Added", EventKind::ProductAdded),
    ("Product Removed", EventKind::ProductRemoved),
    ("Cart Viewed", EventKind::CartViewed),
    ("Checkout Started", EventKind::CheckoutStarted),
    ("Checkout Step Viewed", EventKind::CheckoutStarted),
    ("Checkout Step Completed", EventKind::CheckoutStarted),
    // `Coupon Removed` is skipped: taking a code off says nothing new about the shopper.
    ("Coupon Entered", EventKind::CouponEntered),
    ("Coupon Applied", EventKind::CouponEntered),
    ("Coupon Denied", EventKind::CouponEntered),
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

/// The outcome of a coupon event by its Segment name (`Coupon Applied` → applied, …); only
/// called for names that map to [`EventKind::CouponEntered`].
pub(super) fn coupon_outcome(event_name: &str) -> CouponOutcome {
    let name = event_name.trim();
    if name.eq_ignore_ascii_case("Coupon Applied") {
        CouponOutcome::Applied
    } else if name.eq_ignore_ascii_case("Coupon Denied") {
        CouponOutcome::Denied
    } else {
        CouponOutcome::Entered
    }
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
