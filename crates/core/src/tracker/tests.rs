//! Tests of the cart tracker: each transition at its exact time, identity, folding rules,
//! orders, the reorder buffer and order independence within the lateness.

use super::test_support::*;
use super::*;
use crate::cart::CartState::*;
use crate::event::EventKind;
use crate::money::Currency;
use crate::time::Duration;

const MS: Duration = Duration::millis(1);

fn tracker() -> CartTracker {
    CartTracker::new(TrackerConfig::default()).unwrap()
}

/// Folds sorted events directly and returns the transitions.
fn fold_all(tracker: &mut CartTracker, events: &[Event]) -> Vec<CartTransition> {
    let mut out = Vec::new();
    for e in events {
        tracker.fold(e, &mut out);
    }
    out
}

fn moves(transitions: &[CartTransition]) -> Vec<(Option<CartState>, CartState, Timestamp)> {
    transitions.iter().map(|t| (t.from, t.to, t.at)).collect()
}

#[test]
fn every_timeout_fires_at_its_exact_due_time() {
    let mut tr = tracker();
    let mut out = Vec::new();
    tr.fold(&add("u", at_min(0), "a1", 500, 1), &mut out);
    assert_eq!(moves(&out), vec![(None, Active, at_min(0))]);
    out.clear();

    tr.advance_to(at_min(5) - MS, &mut out);
    assert!(out.is_empty());
    tr.advance_to(at_min(5), &mut out);
    assert_eq!(moves(&out), vec![(Some(Active), Idle, at_min(5))]);
    out.clear();

    tr.advance_to(at_min(30) - MS, &mut out);
    assert!(out.is_empty());
    tr.advance_to(at_min(30), &mut out);
    assert_eq!(moves(&out), vec![(Some(Idle), Abandoned, at_min(30))]);
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.abandoned_at, Some(at_min(30)));
    assert_eq!(cart.abandonments, 1);
    out.clear();

    let expiry = at_min(30) + Duration::days(7);
    tr.advance_to(expiry - MS, &mut out);
    assert!(out.is_empty());
    tr.advance_to(expiry, &mut out);
    assert_eq!(moves(&out), vec![(Some(Abandoned), Expired, expiry)]);
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.closed_at, Some(expiry));
    let stats = tr.stats();
    assert_eq!((stats.abandoned, stats.expired, stats.active), (1, 1, 0));
}

#[test]
fn one_long_jump_reports_every_transition_at_its_own_time() {
    let mut tr = tracker();
    let mut out = Vec::new();
    tr.fold(&add("u", at_min(0), "a1", 500, 1), &mut out);
    tr.fold(&add("v", at_min(2), "b1", 700, 1), &mut out);
    out.clear();
    tr.advance_to(at_min(0) + Duration::days(30), &mut out);
    let got: Vec<_> = out
        .iter()
        .map(|t| (t.cart_id.as_str(), t.to, t.at))
        .collect();
    assert_eq!(
        got,
        vec![
            ("u#1", Idle, at_min(5)),
            ("v#1", Idle, at_min(7)),
            ("u#1", Abandoned, at_min(30)),
            ("v#1", Abandoned, at_min(32)),
            ("u#1", Expired, at_min(30) + Duration::days(7)),
            ("v#1", Expired, at_min(32) + Duration::days(7)),
        ]
    );
}

#[test]
fn an_event_at_the_due_instant_sees_the_transition_first() {
    // State at t is a function of events before t: the abandonment due at 30 min fires,
    // then the add at exactly 30 min brings the cart back.
    let mut tr = tracker();
    let out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            add("u", at_min(30), "a2", 300, 1),
        ],
    );
    assert_eq!(
        moves(&out),
        vec![
            (None, Active, at_min(0)),
            (Some(Active), Idle, at_min(5)),
            (Some(Idle), Abandoned, at_min(30)),
            (Some(Abandoned), Active, at_min(30)),
        ]
    );
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.abandoned_at, Some(at_min(30)));
    assert_eq!(cart.value, 800);
    assert_eq!(cart.units(), 2);
}

#[test]
fn activity_just_before_the_due_time_postpones_it() {
    let mut tr = tracker();
    let mut out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            event(EventKind::CartViewed, "u", at_min(5) - MS, vec![]),
        ],
    );
    out.clear();
    tr.advance_to(at_min(10) - MS - MS, &mut out);
    assert!(out.is_empty());
    tr.advance_to(at_min(10) - MS, &mut out);
    assert_eq!(moves(&out), vec![(Some(Active), Idle, at_min(10) - MS)]);
    assert_eq!(tr.cart("u#1").unwrap().views, 1);
}

#[test]
fn an_order_inside_the_window_is_a_recovery() {
    let mut tr = tracker();
    let abandoned = at_min(30);
    let just_inside = abandoned + Duration::days(7) - MS;
    let out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 2),
            order("u", just_inside, "o1", vec![item("a1", 500, 2)]),
        ],
    );
    let last = out.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.at),
        (Some(Abandoned), Recovered, just_inside)
    );
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.order_value, Some(1_000));
    assert_eq!(cart.order_id.as_deref(), Some("o1"));
    let stats = tr.stats();
    assert_eq!(
        (stats.recovered, stats.abandoned, stats.orders, stats.carts),
        (1, 0, 1, 1)
    );
}

#[test]
fn an_order_when_the_window_closes_finds_the_cart_expired() {
    let mut tr = tracker();
    let window_end = at_min(30) + Duration::days(7);
    let out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 2),
            order("u", window_end, "o1", vec![item("a1", 500, 2)]),
        ],
    );
    let got: Vec<_> = out
        .iter()
        .map(|t| (t.cart_id.as_str(), t.from, t.to))
        .collect();
    assert_eq!(
        &got[3..],
        &[("u#1", Some(Abandoned), Expired), ("u#2", None, Purchased),]
    );
    assert!(tr.cart("u#2").unwrap().direct_purchase);
    let stats = tr.stats();
    assert_eq!(
        (
            stats.expired,
            stats.abandoned,
            stats.direct_purchases,
            stats.recovered
        ),
        (1, 1, 1, 0)
    );
}

#[test]
fn coming_back_keeps_abandoned_at_and_leaving_again_counts_again() {
    let mut tr = tracker();
    let mut out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            add("u", at_min(60), "a2", 200, 1),
        ],
    );
    out.clear();
    tr.advance_to(at_min(90), &mut out);
    assert_eq!(
        moves(&out),
        vec![
            (Some(Active), Idle, at_min(65)),
            (Some(Idle), Abandoned, at_min(90)),
        ]
    );
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(
        (cart.abandoned_at, cart.abandonments),
        (Some(at_min(30)), 2)
    );
    // Still attributed to the first abandonment: an order 6 days later recovers it.
    out.clear();
    tr.fold(
        &order("u", at_min(0) + Duration::days(6), "o1", vec![]),
        &mut out,
    );
    assert_eq!(out[0].to, Recovered);
    assert_eq!(tr.cart("u#1").unwrap().order_value, Some(700));
}

#[test]
fn window_counts_from_the_first_abandonment() {
    let mut tr = tracker();
    let window_end = at_min(30) + Duration::days(7);
    // Back just before the window closes, active across its end, then gone.
    let mut events = vec![add("u", at_min(0), "a1", 500, 1)];
    let mut t = window_end - Duration::minutes(1);
    while t < window_end + Duration::minutes(10) {
        events.push(event(EventKind::CartViewed, "u", t, vec![]));
        t = t + Duration::minutes(4);
    }
    let last_activity = t - Duration::minutes(4);
    let mut out = fold_all(&mut tr, &events);
    out.clear();
    tr.advance_to(last_activity + Duration::days(1), &mut out);
    let left = last_activity + Duration::minutes(30);
    // The second abandonment falls after the window: it expires at that same instant.
    assert_eq!(
        moves(&out),
        vec![
            (Some(Active), Idle, last_activity + Duration::minutes(5)),
            (Some(Idle), Abandoned, left),
            (Some(Abandoned), Expired, left),
        ]
    );
}

#[test]
fn an_order_while_active_after_the_window_is_a_purchase_not_a_recovery() {
    let mut tr = tracker();
    let window_end = at_min(30) + Duration::days(7);
    let out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            add("u", window_end - Duration::minutes(1), "a2", 100, 1),
            order("u", window_end + Duration::minutes(2), "o1", vec![]),
        ],
    );
    assert_eq!(
        out.last().map(|t| (t.from, t.to)),
        Some((Some(Active), Purchased))
    );
    let stats = tr.stats();
    assert_eq!((stats.purchased, stats.recovered, stats.carts), (1, 0, 1));
}

#[test]
fn an_emptied_cart_expires_without_being_abandoned() {
    let mut tr = tracker();
    let mut out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 2),
            remove("u", at_min(1), "a1", 1),
            remove("u", at_min(2), "a1", 1),
        ],
    );
    let cart = tr.cart("u#1").unwrap();
    assert!(cart.lines.is_empty());
    assert_eq!((cart.value, cart.adds, cart.removes), (0, 1, 2));
    out.clear();
    tr.advance_to(at_min(100), &mut out);
    assert_eq!(
        moves(&out),
        vec![
            (Some(Active), Idle, at_min(7)),
            (Some(Idle), Expired, at_min(32)),
        ]
    );
    let cart = tr.cart("u#1").unwrap();
    assert_eq!((cart.abandonments, cart.abandoned_at), (0, None));
    let stats = tr.stats();
    assert_eq!((stats.abandoned, stats.expired), (0, 1));
}

#[test]
fn removals_of_unknown_items_or_without_a_cart_are_counted_and_harmless() {
    let mut tr = tracker();
    fold_all(
        &mut tr,
        &[
            remove("u", at_min(0), "zz", 1),
            add("u", at_min(1), "a1", 500, 1),
            remove("u", at_min(2), "b7", 3),
            remove("u", at_min(3), "a1", 5),
        ],
    );
    assert_eq!(tr.stats().unmatched_removals, 2);
    assert_eq!(tr.stats().carts, 1);
    let cart = tr.cart("u#1").unwrap();
    assert!(cart.lines.is_empty());
    assert_eq!(cart.removes, 2);
}

#[test]
fn product_views_neither_create_carts_nor_keep_them_alive() {
    let mut tr = tracker();
    let mut out = fold_all(&mut tr, &[view("u", at_min(0), "a1")]);
    assert!(out.is_empty());
    assert_eq!(tr.stats().carts, 0);
    assert_eq!(tr.stats().users, 1);
    fold_all(
        &mut tr,
        &[
            add("u", at_min(1), "a1", 500, 1),
            view("u", at_min(5), "a2"),
        ],
    );
    out.clear();
    tr.advance_to(at_min(6), &mut out);
    assert_eq!(moves(&out), vec![(Some(Active), Idle, at_min(6))]);
}

#[test]
fn quantities_add_up_per_line_and_prices_follow_the_latest() {
    let mut tr = tracker();
    fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            add("u", at_min(1), "a1", 450, 2),
            add("u", at_min(2), "b2", 1_000, 1),
        ],
    );
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.lines.len(), 2);
    assert_eq!(
        (cart.lines[0].quantity, cart.lines[0].unit_price),
        (3, Some(450))
    );
    assert_eq!((cart.value, cart.adds), (2_350, 3));
    assert_eq!(cart.currency, Some(Currency::USD));
}

#[test]
fn checkout_with_items_sets_the_contents() {
    let mut tr = tracker();
    let mut checkout = event(
        EventKind::CheckoutStarted,
        "u",
        at_min(3),
        vec![item("b1", 900, 1), item("c1", 100, 4)],
    );
    checkout.email = Some("u@example.com".into());
    fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            event(EventKind::CartViewed, "u", at_min(1), vec![]),
            rehash(checkout),
        ],
    );
    let cart = tr.cart("u#1").unwrap();
    let ids: Vec<_> = cart.lines.iter().map(|l| l.item_id.as_str()).collect();
    assert_eq!(ids, vec!["b1", "c1"]);
    assert_eq!(
        (cart.value, cart.views, cart.checkout_started, cart.adds),
        (1_300, 1, true, 1)
    );
    assert_eq!(cart.email.as_deref(), Some("u@example.com"));
}

#[test]
fn cart_views_and_checkouts_without_items_need_an_open_cart() {
    let mut tr = tracker();
    fold_all(
        &mut tr,
        &[
            event(EventKind::CartViewed, "u", at_min(0), vec![]),
            event(EventKind::CheckoutStarted, "u", at_min(1), vec![]),
        ],
    );
    assert_eq!(tr.stats().carts, 0);
}

/// A `coupon_entered` event of `user` at `ts`, with an order id (Segment's coupon events
/// often carry the pending order's).
fn coupon(user: &str, ts: Timestamp, code: &str) -> Event {
    let mut e = event(EventKind::CouponEntered, user, ts, vec![]);
    e.currency = None;
    e.order_id = Some("o-pending".into());
    e.coupon_code = Some(code.into());
    e.coupon_outcome = Some(crate::event::CouponOutcome::Denied);
    rehash(e)
}

#[test]
fn a_coupon_event_is_checkout_activity_on_the_open_cart_never_an_order() {
    let mut tr = tracker();
    // Without an open cart it is ignored: it creates no cart.
    let mut out = fold_all(&mut tr, &[coupon("u", at_min(0), "EARLY")]);
    assert!(out.is_empty());
    assert_eq!(tr.stats().carts, 0);

    fold_all(&mut tr, &[add("u", at_min(1), "a1", 500, 1)]);
    out.clear();
    tr.advance_to(at_min(31), &mut out);
    assert_eq!(
        moves(&out),
        vec![
            (Some(Active), Idle, at_min(6)),
            (Some(Idle), Abandoned, at_min(31))
        ]
    );
    // The shopper comes back and types a code: the cart is active again, not ordered.
    out.clear();
    tr.fold(&coupon("u", at_min(40), "SAVE10"), &mut out);
    assert_eq!(moves(&out), vec![(Some(Abandoned), Active, at_min(40))]);
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.coupons_entered, 1);
    assert!(cart.reached_checkout() && !cart.checkout_started);
    assert_eq!(
        (cart.last_activity, cart.order_id.as_deref()),
        (at_min(40), None)
    );
    assert_eq!(
        cart.abandoned_at,
        Some(at_min(31)),
        "kept, as on any comeback"
    );
    tr.fold(&coupon("u", at_min(41), "SAVE20"), &mut out);
    assert_eq!(tr.cart("u#1").unwrap().coupons_entered, 2);
    assert_eq!((tr.stats().orders, tr.stats().purchased), (0, 0));
    // The idle timer restarted at the coupon event.
    out.clear();
    tr.advance_to(at_min(46) - MS, &mut out);
    assert!(out.is_empty());
    tr.advance_to(at_min(46), &mut out);
    assert_eq!(moves(&out), vec![(Some(Active), Idle, at_min(46))]);
}

#[test]
fn rees46_style_order_rows_fold_into_one_purchased_cart() {
    let mut tr = tracker();
    let t = at_min(10);
    let out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            add("u", at_min(1), "b2", 300, 1),
            order("u", t, "sess-1", vec![item("a1", 500, 1)]),
            order("u", t, "sess-1", vec![item("b2", 300, 1)]),
            order(
                "u",
                t + Duration::seconds(1),
                "sess-1",
                vec![item("c3", 50, 2)],
            ),
        ],
    );
    assert_eq!(out.iter().filter(|t| t.to == Purchased).count(), 1);
    let stats = tr.stats();
    assert_eq!((stats.carts, stats.purchased, stats.orders), (1, 1, 1));
    assert_eq!((stats.order_rows_merged, stats.direct_purchases), (2, 0));
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.order_value, Some(900));
    assert_eq!(cart.lines.len(), 2, "the cart keeps what was in it");
}

#[test]
fn an_order_without_a_cart_is_a_direct_purchase() {
    let mut tr = tracker();
    let t = at_min(10);
    let out = fold_all(
        &mut tr,
        &[
            view("u", at_min(0), "a1"),
            order("u", t, "o9", vec![item("a1", 500, 1)]),
            order("u", t, "o9", vec![item("b1", 250, 2)]),
            add("u", at_min(20), "c1", 100, 1),
        ],
    );
    let created: Vec<_> = out
        .iter()
        .filter(|t| t.from.is_none())
        .map(|t| (t.cart_id.as_str(), t.to))
        .collect();
    assert_eq!(created, vec![("u#1", Purchased), ("u#2", Active)]);
    let cart = tr.cart("u#1").unwrap();
    assert!(cart.direct_purchase);
    assert_eq!(
        (cart.value, cart.order_value, cart.lines.len()),
        (1_000, Some(1_000), 2)
    );
    let stats = tr.stats();
    assert_eq!(
        (
            stats.direct_purchases,
            stats.purchased,
            stats.orders,
            stats.active
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn a_terminal_cart_is_never_reopened() {
    let mut tr = tracker();
    let mut shop_add = add("u", at_min(0), "a1", 500, 1);
    shop_add.cart_id = Some("c-77".into());
    let mut shop_order = order("u", at_min(1), "o1", vec![]);
    shop_order.cart_id = Some("c-77".into());
    let mut again = add("u", at_min(2), "b1", 100, 1);
    again.cart_id = Some("c-77".into());
    fold_all(
        &mut tr,
        &[
            rehash(shop_add),
            rehash(shop_order),
            rehash(again),
            add("w", at_min(3), "x1", 1, 1),
        ],
    );
    assert_eq!(tr.cart("c-77").unwrap().state, Purchased);
    let reused = tr.cart("c-77#2").unwrap();
    assert_eq!((reused.state, reused.value), (Active, 100));
    assert_eq!(tr.open_cart_of("u").map(|c| c.id.as_str()), Some("c-77#2"));
    assert_eq!(tr.cart("w#1").unwrap().user_id, "w");
}

/// A replay of a log whose beginning was purged goes on numbering where the purged carts
/// left off, for the user's own carts and for a reused shop cart id; a continuation never
/// lowers what the tracker has already counted.
#[test]
fn cart_numbers_continue_where_a_purged_log_left_off() {
    let mut tr = tracker();
    tr.continue_user_cart_numbers("u", 4);
    tr.continue_shop_cart_numbers("c-77", 2);
    tr.continue_shop_cart_numbers("c-0", 0);
    let mut shop_add = add("w", at_min(0), "a1", 500, 1);
    shop_add.cart_id = Some("c-77".into());
    let mut fresh_shop_add = add("v", at_min(0), "a1", 500, 1);
    fresh_shop_add.cart_id = Some("c-0".into());
    let out = fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            rehash(shop_add),
            rehash(fresh_shop_add),
            order("u", at_min(1), "o1", vec![]),
            add("u", at_min(2), "b1", 100, 1),
        ],
    );
    let created: Vec<&str> = out
        .iter()
        .filter(|t| t.from.is_none())
        .map(|t| t.cart_id.as_str())
        .collect();
    assert_eq!(created, ["u#5", "c-77#3", "c-0", "u#6"]);
    assert_eq!(tr.open_cart_of("w").map(|c| c.id.as_str()), Some("c-77#3"));
    tr.continue_user_cart_numbers("u", 1);
    tr.continue_shop_cart_numbers("c-77", 1);
    let mut shop_again = order("w", at_min(3), "o2", vec![]);
    shop_again.cart_id = Some("c-77".into());
    let out = fold_all(
        &mut tr,
        &[rehash(shop_again), add("u", at_min(40), "c1", 1, 1)],
    );
    assert_eq!(tr.cart("c-77#3").unwrap().state, Purchased);
    let created: Vec<&str> = out
        .iter()
        .filter(|t| t.from.is_none())
        .map(|t| t.cart_id.as_str())
        .collect();
    // u#6 was abandoned at 0:32 but is still open: the add at 0:40 joins it.
    assert!(created.is_empty(), "{created:?}");
    assert_eq!(tr.cart("u#6").unwrap().lines.len(), 2);
}

#[test]
fn an_order_closes_the_users_cart_when_the_order_has_no_cart_id() {
    let mut tr = tracker();
    let mut shop_add = add("u", at_min(0), "a1", 500, 1);
    shop_add.cart_id = Some("c-1".into());
    fold_all(
        &mut tr,
        &[rehash(shop_add), order("u", at_min(2), "o1", vec![])],
    );
    let cart = tr.cart("c-1").unwrap();
    assert_eq!((cart.state, cart.order_value), (Purchased, Some(500)));
    assert_eq!(tr.stats().direct_purchases, 0);
}

#[test]
fn cancellations_are_recorded_and_the_state_stays() {
    let mut tr = tracker();
    let mut cancel = event(EventKind::OrderCancelled, "u", at_min(5), vec![]);
    cancel.order_id = Some("o1".into());
    let mut unknown = event(EventKind::OrderCancelled, "u", at_min(6), vec![]);
    unknown.order_id = Some("nope".into());
    fold_all(
        &mut tr,
        &[
            add("u", at_min(0), "a1", 500, 1),
            order("u", at_min(1), "o1", vec![]),
            rehash(cancel),
            rehash(unknown),
        ],
    );
    let cart = tr.cart("u#1").unwrap();
    assert!(cart.order_cancelled);
    assert_eq!(cart.state, Purchased);
    assert_eq!(tr.stats().unmatched_cancellations, 1);
}

#[test]
fn prices_in_another_currency_are_dropped_and_counted() {
    let mut tr = tracker();
    let mut euro = add("u", at_min(1), "b1", 800, 1);
    euro.currency = Some(Currency::EUR);
    fold_all(&mut tr, &[add("u", at_min(0), "a1", 500, 1), rehash(euro)]);
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(
        (cart.value, cart.units(), cart.lines[1].unit_price),
        (500, 2, None)
    );
    assert_eq!(tr.stats().currency_conflicts, 1);
}

#[test]
fn observe_holds_events_until_the_watermark_passes_them() {
    let mut tr = tracker();
    let mut out = Vec::new();
    tr.observe(add("u", at_min(0), "a1", 500, 1), &mut out);
    assert!(out.is_empty(), "held within the lateness");
    assert_eq!(tr.buffered(), 1);
    tr.observe(view("v", at_min(5), "a1"), &mut out);
    assert!(out.is_empty(), "at exactly the lateness it is still held");
    tr.observe(view("v", at_min(5) + MS, "a1"), &mut out);
    assert_eq!(moves(&out), vec![(None, Active, at_min(0))]);
    assert_eq!(tr.now(), Some(at_min(0) + MS));
    out.clear();
    // The clock follows the watermark: the idle timeout fires without a flush.
    tr.observe(view("v", at_min(10) + MS, "a2"), &mut out);
    assert_eq!(moves(&out), vec![(Some(Active), Idle, at_min(5))]);
    out.clear();
    tr.flush(at_min(60), &mut out);
    assert_eq!(moves(&out), vec![(Some(Idle), Abandoned, at_min(30))]);
    assert_eq!(tr.buffered(), 0);
    assert_eq!(tr.stats().events, 4);
}

#[test]
fn events_behind_the_watermark_are_still_folded_and_counted_late() {
    let mut tr = tracker();
    let mut out = Vec::new();
    tr.observe(add("u", at_min(0), "a1", 500, 1), &mut out);
    tr.observe(view("v", at_min(20), "zz"), &mut out);
    // Watermark is now 15 min: an add stamped 10 min is late, folded at the clock (15 min).
    tr.observe(add("u", at_min(10), "b1", 300, 1), &mut out);
    let stats = tr.stats();
    assert_eq!(
        (stats.late, stats.events, tr.buffered()),
        (1, 2, 1),
        "the 20-min view waits"
    );
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(
        (cart.value, cart.last_activity, cart.state),
        (800, at_min(15), Active)
    );
    out.clear();
    tr.flush(at_min(100), &mut out);
    assert_eq!(
        moves(&out),
        vec![
            (Some(Active), Idle, at_min(20)),
            (Some(Idle), Abandoned, at_min(45)),
        ]
    );
}

#[test]
fn the_same_event_twice_in_the_buffer_is_folded_once() {
    let mut tr = tracker();
    let mut out = Vec::new();
    let e = add("u", at_min(0), "a1", 500, 1);
    tr.observe(e.clone(), &mut out);
    tr.observe(e, &mut out);
    tr.flush(at_min(1), &mut out);
    let stats = tr.stats();
    assert_eq!((stats.events, stats.duplicates), (1, 1));
    assert_eq!(tr.cart("u#1").unwrap().units(), 1);
}

#[test]
fn shuffled_events_within_the_lateness_give_the_sorted_result() {
    let events = synthetic_stream(7, 40, 6);
    let end = events.last().unwrap().timestamp + Duration::days(30);
    let (sorted_carts, sorted_stats, mut sorted_moves) = run_observed(&events, end);
    assert!(sorted_stats.abandoned > 0 && sorted_stats.purchased > 0 && sorted_stats.recovered > 0);
    for seed in 1..=5 {
        let shuffled = shuffle_within(&events, TrackerConfig::default().lateness, seed);
        assert_ne!(shuffled, events, "the shuffle must change the order");
        let (carts, stats, mut moves) = run_observed(&shuffled, end);
        assert_eq!(carts, sorted_carts, "seed {seed}");
        assert_eq!(stats, sorted_stats, "seed {seed}");
        // Batches differ with arrival; the transitions themselves do not.
        sorted_moves.sort_by(|a, b| (a.at, &a.cart_id).cmp(&(b.at, &b.cart_id)));
        moves.sort_by(|a, b| (a.at, &a.cart_id).cmp(&(b.at, &b.cart_id)));
        assert_eq!(moves, sorted_moves, "seed {seed}");
        assert_eq!(stats.late, 0);
    }
}

#[test]
fn observing_sorted_events_equals_folding_them_directly() {
    let events = synthetic_stream(11, 30, 5);
    let end = events.last().unwrap().timestamp + Duration::days(30);
    let (observed, observed_stats, _) = run_observed(&events, end);
    let mut direct = tracker();
    let mut out = Vec::new();
    for e in &events {
        direct.fold(e, &mut out);
    }
    direct.advance_to(end, &mut out);
    assert_eq!(direct.carts().cloned().collect::<Vec<_>>(), observed);
    assert_eq!(direct.stats(), observed_stats);
}

fn run_observed(
    events: &[Event],
    end: Timestamp,
) -> (Vec<Cart>, TrackerStats, Vec<CartTransition>) {
    let mut tr = tracker();
    let mut out = Vec::new();
    for e in events {
        tr.observe(e.clone(), &mut out);
    }
    tr.flush(end, &mut out);
    (tr.carts().cloned().collect(), tr.stats(), out)
}

#[test]
fn stats_count_states_consistently() {
    let events = synthetic_stream(3, 50, 6);
    let mut tr = tracker();
    let mut out = Vec::new();
    for e in &events {
        tr.observe(e.clone(), &mut out);
    }
    tr.flush(
        events.last().unwrap().timestamp + Duration::days(8),
        &mut out,
    );
    let s = tr.stats();
    let by_state = |state: CartState| tr.carts().filter(|c| c.state == state).count() as u64;
    assert_eq!(s.carts, tr.carts().len() as u64);
    assert_eq!(s.purchased, by_state(Purchased));
    assert_eq!(s.recovered, by_state(Recovered));
    assert_eq!(s.expired, by_state(Expired));
    assert_eq!(
        (s.active, s.idle),
        (0, 0),
        "8 days after the end every cart is closed"
    );
    let abandoned = tr
        .carts()
        .filter(|c| matches!(c.state, Abandoned | Expired) && c.abandonments > 0)
        .count();
    assert_eq!(s.abandoned, abandoned as u64);
    assert_eq!(s.orders, s.purchased + s.recovered);
    assert_eq!(s.events, events.len() as u64);
    // Every recovered cart was abandoned and ordered inside the window.
    for c in tr.carts().filter(|c| c.state == Recovered) {
        let (abandoned_at, closed_at) = (c.abandoned_at.unwrap(), c.closed_at.unwrap());
        assert!(closed_at >= abandoned_at && closed_at < abandoned_at + Duration::days(7));
    }
}

#[test]
fn config_validation_names_the_field() {
    let ok = TrackerConfig::default();
    assert_eq!(ok.validate(), Ok(()));
    let bad = TrackerConfig {
        idle_after: Duration::minutes(30),
        ..ok
    };
    assert!(matches!(
        bad.validate(),
        Err(TrackerConfigError::IdleAfterNotBeforeTimeout { .. })
    ));
    let bad = TrackerConfig {
        attribution_window: Duration::ZERO,
        ..ok
    };
    assert_eq!(
        bad.validate(),
        Err(TrackerConfigError::NotPositive {
            field: "attribution_window",
            millis: 0
        })
    );
    let bad = TrackerConfig {
        lateness: Duration::millis(-1),
        ..ok
    };
    assert!(bad.validate().unwrap_err().to_string().contains("lateness"));
    let bad = TrackerConfig {
        attribution_window: Duration::days(500),
        ..ok
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("attribution_window")
    );
    assert!(
        CartTracker::new(TrackerConfig {
            idle_timeout: Duration::minutes(1),
            ..ok
        })
        .is_err()
    );
    let zero_lateness = TrackerConfig {
        lateness: Duration::ZERO,
        ..ok
    };
    assert_eq!(zero_lateness.validate(), Ok(()));
}

#[test]
fn config_reads_durations_as_text_or_milliseconds_with_defaults() {
    let c: TrackerConfig = serde_json::from_str(
        r#"{"idle_timeout": "45m", "attribution_window": "3d", "lateness": 1500}"#,
    )
    .unwrap();
    assert_eq!(c.idle_timeout, Duration::minutes(45));
    assert_eq!(c.attribution_window, Duration::days(3));
    assert_eq!(c.lateness, Duration::millis(1_500));
    assert_eq!(c.idle_after, Duration::minutes(5));
    let err = serde_json::from_str::<TrackerConfig>(r#"{"idle_timout": "45m"}"#).unwrap_err();
    assert!(err.to_string().contains("idle_timout"));
    let err = serde_json::from_str::<TrackerConfig>(r#"{"lateness": "5 weeks"}"#).unwrap_err();
    assert!(err.to_string().contains("5 weeks"));
    let text = serde_json::to_string(&TrackerConfig::default()).unwrap();
    assert_eq!(
        text,
        r#"{"idle_after":"5m","idle_timeout":"30m","attribution_window":"7d","lateness":"5m"}"#
    );
    assert_eq!(
        serde_json::from_str::<TrackerConfig>(&text).unwrap(),
        TrackerConfig::default()
    );
}

#[test]
fn duration_text_parses_compound_units() {
    use duration_text::{format, parse};
    assert_eq!(parse("1h30m"), Ok(Duration::minutes(90)));
    assert_eq!(parse("250ms"), Ok(Duration::millis(250)));
    assert_eq!(parse(" 90s "), Ok(Duration::seconds(90)));
    assert!(parse("").is_err());
    assert!(parse("m5").is_err());
    assert!(parse("5y").unwrap_err().contains("`y`"));
    assert!(parse("99999999999999999d").is_err());
    assert_eq!(format(Duration::minutes(90)), "90m");
    assert_eq!(format(Duration::millis(1_500)), "1500ms");
    assert_eq!(format(Duration::ZERO), "0s");
}

#[test]
fn the_reorder_buffer_releases_by_time_then_funnel_kind_then_id() {
    let mut buffer = ReorderBuffer::new(Duration::minutes(5));
    let purchase = order("u", at_min(1), "o1", vec![item("a1", 100, 1)]);
    let same_second_add = add("u", at_min(1), "a1", 100, 1);
    let earlier_view = view("u", at_min(0), "a1");
    for e in [
        purchase.clone(),
        same_second_add.clone(),
        earlier_view.clone(),
    ] {
        assert!(matches!(buffer.push(e), Admission::Buffered));
    }
    assert_eq!(buffer.watermark(), Some(at_min(1) - Duration::minutes(5)));
    assert!(
        buffer.pop_ready().is_none(),
        "nothing is behind the watermark yet"
    );
    assert!(matches!(
        buffer.push(view("v", at_min(6) + MS, "b1")),
        Admission::Buffered
    ));
    let released: Vec<_> = std::iter::from_fn(|| buffer.pop_ready()).collect();
    assert_eq!(released, vec![earlier_view, same_second_add, purchase]);
    assert_eq!(buffer.len(), 1);
    // Behind the watermark (1 min + 1 ms): handed straight back.
    match buffer.push(view("w", at_min(1), "c1")) {
        Admission::Late(e) => assert_eq!(e.user_id, "w"),
        Admission::Buffered => panic!("an event behind the watermark must be late"),
    }
    assert_eq!(buffer.pop_any().map(|e| e.user_id), Some("v".to_string()));
    assert!(buffer.is_empty());
}

#[test]
fn the_reorder_buffer_releases_any_arrival_order_sorted() {
    // Mostly in order with stretches backwards (the sorted run and the heap both hold
    // events), shared instants and kinds, and repeats of the same event.
    let mut rng = SplitMix(11);
    let base = synthetic_stream(5, 20, 3);
    for round in 0..20 {
        let mut events = shuffle_within(&base, Duration::minutes(30), round);
        for _ in 0..10 {
            let copy = events[rng.below(events.len() as u64) as usize].clone();
            let at = rng.below(events.len() as u64) as usize;
            events.insert(at, copy);
        }
        if round % 2 == 1 {
            events.reverse();
        }
        let mut buffer = ReorderBuffer::new(Duration::days(3650));
        for event in &events {
            assert!(matches!(buffer.push(event.clone()), Admission::Buffered));
        }
        assert_eq!(buffer.len(), events.len());
        let released: Vec<Event> = std::iter::from_fn(|| buffer.pop_any()).collect();
        let mut expected = events.clone();
        expected.sort_by_key(release_key);
        expected.dedup_by_key(|e| (e.timestamp, e.id));
        let keys = |list: &[Event]| list.iter().map(release_key).collect::<Vec<_>>();
        assert_eq!(keys(&released), keys(&expected), "round {round}");
        assert_eq!(buffer.duplicates(), (events.len() - expected.len()) as u64);
        assert!(buffer.is_empty());
    }
}

#[test]
fn an_order_keeps_the_discount_code_it_was_placed_with() {
    let mut tr = tracker();
    let mut with_code = order("u", at_min(5), "o1", vec![item("a1", 500, 1)]);
    with_code.coupon_code = Some("SAVE10".into());
    fold_all(&mut tr, &[add("u", at_min(1), "a1", 500, 1), with_code]);
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.state, Purchased);
    assert_eq!(cart.order_coupon.as_deref(), Some("SAVE10"));
    // A direct purchase (no cart before it) keeps its code too; an order without one has none.
    let mut direct = order("v", at_min(2), "o2", vec![item("b1", 900, 1)]);
    direct.coupon_code = Some("WELCOME".into());
    fold_all(
        &mut tr,
        &[
            direct,
            order("w", at_min(3), "o3", vec![item("c1", 900, 1)]),
        ],
    );
    assert_eq!(
        tr.cart("v#1").unwrap().order_coupon.as_deref(),
        Some("WELCOME")
    );
    assert_eq!(tr.cart("w#1").unwrap().order_coupon, None);
}

/// `e` with a referrer and a session id (the id re-derived).
fn referred(mut e: Event, referrer: &str, session: &str) -> Event {
    e.referrer = Some(referrer.into());
    e.session_id = Some(session.into());
    rehash(e)
}

fn in_session(mut e: Event, session: &str) -> Event {
    e.session_id = Some(session.into());
    rehash(e)
}

#[test]
fn a_cart_keeps_the_distinct_hosts_its_sessions_came_from() {
    let mut tr = tracker();
    // The session lands from a coupon site on a product page, then fills a cart.
    let mut events = vec![
        referred(
            view("u", at_min(0), "a1"),
            "https://WWW.RetailMeNot.com/view/shop.example",
            "s1",
        ),
        in_session(add("u", at_min(1), "a1", 500, 1), "s1"),
        // Same host again, a campaign source, and a host with a port: deduplicated keys.
        referred(
            add("u", at_min(2), "b1", 300, 1),
            "https://retailmenot.com/x",
            "s1",
        ),
        referred(
            event(EventKind::CartViewed, "u", at_min(3), vec![]),
            " Newsletter ",
            "s1",
        ),
    ];
    // More distinct sources than the cap.
    for n in 0..10 {
        events.push(referred(
            event(EventKind::CartViewed, "u", at_min(4 + n), vec![]),
            &format!("https://site{n}.example:8443/p"),
            "s1",
        ));
    }
    fold_all(&mut tr, &events);
    let cart = tr.cart("u#1").unwrap();
    assert_eq!(cart.referrers.len(), crate::referrer::MAX_CART_REFERRERS);
    assert_eq!(
        cart.referrers[..4],
        [
            "retailmenot.com",
            "newsletter",
            "site0.example",
            "site1.example"
        ]
    );
    // Kept through the purchase, and the order's own referrer is folded too (under the cap
    // nothing is added any more).
    let mut tr = tracker();
    fold_all(
        &mut tr,
        &[
            referred(
                view("v", at_min(0), "a1"),
                "https://slickdeals.net/f/1",
                "s1",
            ),
            in_session(add("v", at_min(1), "a1", 500, 1), "s1"),
            referred(
                order("v", at_min(3), "o1", vec![item("a1", 500, 1)]),
                "https://www.google.com/",
                "s1",
            ),
        ],
    );
    let cart = tr.cart("v#1").unwrap();
    assert_eq!(cart.state, Purchased);
    assert_eq!(cart.referrers, ["slickdeals.net", "google.com"]);
    // A direct purchase keeps its referrer, and so do later rows of the same order.
    fold_all(
        &mut tr,
        &[
            referred(
                order("w", at_min(5), "o2", vec![item("b1", 900, 1)]),
                "https://www.topcashback.co.uk/shop",
                "s9",
            ),
            referred(
                order("w", at_min(5), "o2", vec![item("c1", 100, 1)]),
                "quidco",
                "s9",
            ),
        ],
    );
    let direct = tr.cart("w#1").unwrap();
    assert!(direct.direct_purchase);
    assert_eq!(direct.referrers, ["topcashback.co.uk", "quidco"]);
}

#[test]
fn a_referrer_before_the_cart_belongs_to_its_session_only() {
    let mut tr = tracker();
    fold_all(
        &mut tr,
        &[
            // Session s1 arrives from Google, views, and leaves without a cart.
            referred(view("u", at_min(0), "a1"), "https://google.com", "s1"),
            // Session s2 (another id) fills a cart: s1's referrer is not its.
            in_session(add("u", at_min(10), "a1", 500, 1), "s2"),
        ],
    );
    assert!(tr.cart("u#1").unwrap().referrers.is_empty());
    // Without session ids the referrer holds for idle_timeout (30 min) only.
    let mut tr = tracker();
    let plain = |mut e: Event, referrer: Option<&str>| {
        e.referrer = referrer.map(str::to_owned);
        rehash(e)
    };
    fold_all(
        &mut tr,
        &[
            plain(view("v", at_min(0), "a1"), Some("https://bing.com")),
            plain(view("w", at_min(0), "a1"), Some("https://bing.com")),
            plain(add("v", at_min(30), "a1", 500, 1), None),
            plain(add("w", at_min(31), "a1", 500, 1), None),
        ],
    );
    assert_eq!(tr.cart("v#1").unwrap().referrers, ["bing.com"]);
    assert!(tr.cart("w#1").unwrap().referrers.is_empty());
    // A view with a referrer while a cart is open goes on that cart; a message click's
    // referrer is not a shop session and is not kept.
    let mut click = event(EventKind::MessageClicked, "v", at_min(32), vec![]);
    click.referrer = Some("https://mail.example".into());
    fold_all(
        &mut tr,
        &[
            plain(
                view("v", at_min(31), "b1"),
                Some("https://dealabs.com/bons-plans"),
            ),
            rehash(click),
        ],
    );
    assert_eq!(
        tr.cart("v#1").unwrap().referrers,
        ["bing.com", "dealabs.com"]
    );
}

#[test]
fn stored_carts_without_referrers_still_load() {
    let mut tr = tracker();
    fold_all(&mut tr, &[add("u", at_min(0), "a1", 500, 1)]);
    let json = serde_json::to_string(tr.cart("u#1").unwrap()).unwrap();
    assert!(!json.contains("referrers"), "{json}");
    let back: crate::cart::Cart = serde_json::from_str(&json).unwrap();
    assert!(back.referrers.is_empty());
}

#[test]
fn a_pending_referrer_expires_with_the_attribution_window_and_is_pruned() {
    // A session that arrived from a coupon site and only looked: eight days later the same
    // session id fills a cart, too late to count as the same visit.
    let mut tr = tracker();
    fold_all(
        &mut tr,
        &[
            referred(view("u", at_min(0), "a1"), "https://retailmenot.com/", "s1"),
            in_session(add("u", at_min(8 * 24 * 60), "a1", 500, 1), "s1"),
        ],
    );
    assert!(tr.cart("u#1").unwrap().referrers.is_empty());

    // Browsers who never fill a cart, one a minute for 30 days: the stale ones are dropped,
    // so the map holds about a window's worth (7 days = 10,080 minutes), not all of them.
    let mut tr = tracker();
    let minutes = 30 * 24 * 60;
    let events: Vec<Event> = (0..minutes)
        .map(|m| {
            referred(
                view(&format!("b{m}"), at_min(m), "a1"),
                "https://google.com/",
                &format!("s{m}"),
            )
        })
        .collect();
    fold_all(&mut tr, &events);
    let held = tr.pending_referrers.len();
    assert!(
        held < 3 * 7 * 24 * 60,
        "{held} of {minutes} pending referrers held"
    );
    assert!(held >= 7 * 24 * 60, "{held}: a fresh one was pruned");
}

#[test]
fn the_session_at_abandonment_names_the_users_latest_channel_and_device() {
    let mut tr = tracker().with_session_features();
    let on = |mut e: Event, channel: Option<&str>, device: Option<&str>| {
        e.channel = channel.map(Into::into);
        e.device = device.map(Into::into);
        rehash(e)
    };
    fold_all(
        &mut tr,
        &[
            on(
                add("u", at_min(0), "a1", 500, 1),
                Some("web"),
                Some("desktop"),
            ),
            // No device on this one: the known one stays.
            on(add("u", at_min(1), "b1", 300, 1), None, None),
            // Any event of the user counts, as in the episodes: the latest wins.
            on(view("u", at_min(2), "a1"), Some("app"), Some("tablet")),
        ],
    );
    assert_eq!(tr.cart("u#1").unwrap().session_at_abandonment, None);
    let mut out = Vec::new();
    tr.advance_to(at_min(40), &mut out);
    let session = tr
        .cart("u#1")
        .unwrap()
        .session_at_abandonment
        .clone()
        .unwrap();
    assert_eq!(
        (session.channel.as_deref(), session.device.as_deref()),
        (Some("app"), Some("tablet"))
    );
}
