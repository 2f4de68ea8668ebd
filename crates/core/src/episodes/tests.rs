//! Tests of episode extraction: decision points, labels, censoring, every feature's
//! definition, and that nothing at or after the decision point leaks into the features.

use super::*;
use crate::event::EventKind;
use crate::money::Currency;
use crate::time::Duration;
use crate::tracker::test_support::*;

fn build(events: Vec<Event>, end: Timestamp) -> Vec<Episode> {
    let mut builder = EpisodeBuilder::new(TrackerConfig::default()).unwrap();
    for e in events {
        builder.push(e);
    }
    builder.finish(end).episodes
}

fn in_session(mut e: Event, session: &str) -> Event {
    e.session_id = Some(session.into());
    rehash(e)
}

fn only(episodes: &[Episode]) -> &Episode {
    assert_eq!(episodes.len(), 1, "{episodes:#?}");
    &episodes[0]
}

#[test]
fn an_abandoned_and_recovered_cart_is_one_positive_episode_at_its_first_abandonment() {
    let order_at = at_min(0) + Duration::days(2);
    let episodes = build(
        vec![
            in_session(view("u", at_min(0), "a1"), "s1"),
            in_session(add("u", at_min(1), "a1", 1_999, 2), "s1"),
            in_session(add("u", at_min(3), "b1", 500, 1), "s1"),
            in_session(remove("u", at_min(4), "b1", 1), "s1"),
            in_session(event(EventKind::CartViewed, "u", at_min(6), vec![]), "s1"),
            // Back later (a second abandonment), then the order: one episode only.
            in_session(add("u", at_min(300), "c1", 100, 1), "s2"),
            in_session(order("u", order_at, "o1", vec![]), "s3"),
        ],
        order_at + Duration::days(30),
    );
    let e = only(&episodes);
    assert_eq!(e.decision, DecisionKind::Abandonment);
    assert_eq!(e.decision_time, at_min(36));
    assert_eq!(
        (e.outcome, e.label, e.censored),
        (Outcome::Recovered, 1, false)
    );
    assert_eq!(e.outcome_time, Some(order_at));
    assert_eq!(e.order_value, Some(3_998 + 100));
    assert_eq!((e.cart_id.as_str(), e.user_id.as_str()), ("u#1", "u"));
    let f = &e.features;
    assert_eq!(
        (f.cart_value, f.cart_units, f.cart_lines, f.cart_categories),
        (3_998, 2, 1, 1)
    );
    assert_eq!((f.max_item_price, f.mean_item_price), (1_999, 1_999));
    assert_eq!(
        (f.adds, f.removes, f.cart_views, f.checkout_started),
        (2, 1, 1, false)
    );
    assert_eq!(f.seconds_since_cart_created, 35.0 * 60.0);
    assert_eq!(
        (f.session_events, f.session_views, f.session_products_viewed),
        (5, 1, 1)
    );
    assert_eq!(
        (f.session_length_seconds, f.session_dwell_seconds),
        (360.0, 360.0)
    );
    assert_eq!((f.hour_utc, f.weekday_utc), (0, 1));
    assert_eq!(
        (f.returning_user, f.past_sessions, f.past_orders),
        (false, 0, 0)
    );
    assert_eq!(
        (
            f.past_abandonments,
            f.past_recoveries,
            f.days_since_last_order
        ),
        (0, 0, None)
    );
}

#[test]
fn nothing_after_the_abandonment_leaks_into_its_features() {
    let base = vec![
        in_session(add("u", at_min(0), "a1", 1_000, 1), "s1"),
        in_session(view("u", at_min(2), "z9"), "s1"),
    ];
    // The same history, plus events at and after the decision point (30 min after the add):
    // a new item, views, an e-mail, a channel, a cart view, and an order by another cart.
    let mut leaky = base.clone();
    let mut at_decision = in_session(add("u", at_min(30), "b1", 9_000, 3), "s1");
    at_decision.email = Some("u@example.com".into());
    at_decision.channel = Some("app".into());
    leaky.push(rehash(at_decision));
    leaky.push(in_session(view("u", at_min(33), "y1"), "s1"));
    leaky.push(in_session(
        event(EventKind::CartViewed, "u", at_min(34), vec![]),
        "s1",
    ));
    let end = at_min(0) + Duration::days(1);
    let clean = build(base, end);
    let with_later = build(leaky, end);
    let (a, b) = (only(&clean), only(&with_later));
    // A product view does not keep the cart alive: abandoned 30 min after the add.
    assert_eq!(a.decision_time, at_min(30));
    assert_eq!(
        b.decision_time,
        at_min(30),
        "the add at the due instant comes after the abandonment"
    );
    assert_eq!(a.features, b.features);
    assert_eq!(b.features.cart_value, 1_000);
    assert!(!b.features.has_email);
    assert_eq!(b.features.channel, None);
    assert_eq!(b.features.session_views, 1);
    // Only the outcome differs: the cart came back and is still open 1 day later.
    assert_eq!(
        (a.outcome, b.outcome),
        (Outcome::AbandonedOpen, Outcome::AbandonedOpen)
    );
}

#[test]
fn nothing_at_the_order_instant_leaks_into_a_purchase_episode() {
    let t = at_min(10);
    let history = vec![
        in_session(add("u", at_min(0), "a1", 1_000, 1), "s1"),
        in_session(view("u", at_min(5), "a1"), "s1"),
    ];
    let mut same_instant = history.clone();
    // Rows at the order's own timestamp (REES46 logs in whole seconds): they are folded
    // before the order but are not strictly before it.
    same_instant.push(in_session(remove("u", t, "a1", 1), "s1"));
    same_instant.push(in_session(
        event(EventKind::CartViewed, "u", t, vec![]),
        "s1",
    ));
    same_instant.push(in_session(view("u", t, "q1"), "s1"));
    same_instant.push(in_session(
        order("u", t, "o1", vec![item("a1", 1_000, 1)]),
        "s1",
    ));
    let mut plain = history;
    plain.push(in_session(
        order("u", t, "o1", vec![item("a1", 1_000, 1)]),
        "s1",
    ));
    let end = t + Duration::days(10);
    let (a, b) = (build(plain, end), build(same_instant, end));
    let (a, b) = (only(&a), only(&b));
    assert_eq!(
        (b.decision, b.decision_time, b.label),
        (DecisionKind::Order, t, 1)
    );
    assert_eq!(b.outcome, Outcome::Purchased);
    assert_eq!(a.features, b.features);
    assert_eq!(
        (b.features.cart_value, b.features.session_events),
        (1_000, 2)
    );
    assert_eq!(b.features.session_length_seconds, 300.0);
}

#[test]
fn history_features_count_only_earlier_sessions_and_orders() {
    let first_order = at_min(0) + Duration::minutes(10);
    let events = vec![
        // Session 1: bought.
        in_session(add("u", at_min(0), "a1", 1_000, 1), "s1"),
        in_session(order("u", first_order, "o1", vec![]), "s1"),
        // Session 2, 2 days later: abandons cart 2, which expires.
        in_session(add("u", at_min(0) + Duration::days(2), "b1", 700, 1), "s2"),
        // Session 3, 12 days later: abandons cart 3 (episode under test).
        in_session(add("u", at_min(0) + Duration::days(12), "c1", 300, 1), "s3"),
    ];
    let episodes = build(events, at_min(0) + Duration::days(12) + Duration::hours(1));
    assert_eq!(episodes.len(), 3);
    let (purchase, expired, open) = (&episodes[0], &episodes[1], &episodes[2]);
    assert_eq!(
        (purchase.decision, purchase.label, purchase.outcome),
        (DecisionKind::Order, 1, Outcome::Purchased)
    );
    assert_eq!(
        (expired.outcome, expired.label, expired.censored),
        (Outcome::Expired, 0, false)
    );
    assert_eq!(expired.features.past_orders, 1);
    assert_eq!(expired.features.past_sessions, 1);
    assert!(expired.features.returning_user);
    assert_eq!(
        (open.outcome, open.label, open.censored),
        (Outcome::AbandonedOpen, 0, true)
    );
    let f = &open.features;
    assert_eq!(
        (
            f.past_sessions,
            f.past_orders,
            f.past_abandonments,
            f.past_recoveries
        ),
        (2, 1, 1, 0)
    );
    let decision = at_min(0) + Duration::days(12) + Duration::minutes(30);
    let days = (decision - first_order).as_millis() as f64 / 86_400_000.0;
    assert_eq!(f.days_since_last_order, Some(days));
    assert_eq!(
        (
            f.session_events,
            f.session_length_seconds,
            f.session_dwell_seconds
        ),
        (1, 0.0, 0.0)
    );
    assert_eq!(
        episodes.iter().map(|e| e.episode_id).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

#[test]
fn abandonments_at_the_same_instant_do_not_see_each_other() {
    let mut cart_a = add("u", at_min(0), "a1", 100, 1);
    cart_a.cart_id = Some("A".into());
    let mut cart_b = add("u", at_min(0), "b1", 100, 1);
    cart_b.cart_id = Some("B".into());
    let episodes = build(vec![rehash(cart_a), rehash(cart_b)], at_min(60));
    assert_eq!(episodes.len(), 2);
    assert!(episodes.iter().all(|e| e.features.past_abandonments == 0));
    assert!(episodes.iter().all(|e| e.decision_time == at_min(30)));
}

#[test]
fn direct_purchases_and_carts_born_with_their_order_have_no_episode() {
    let t = at_min(10);
    let episodes = build(
        vec![
            view("u", at_min(0), "a1"),
            order("u", t, "o1", vec![item("a1", 1_000, 1)]),
            add("v", t, "b1", 500, 1),
            order("v", t, "o2", vec![item("b1", 500, 1)]),
        ],
        t + Duration::days(10),
    );
    assert!(episodes.is_empty(), "{episodes:#?}");
}

#[test]
fn an_order_after_the_window_closes_an_abandonment_episode_with_label_zero() {
    let window_end = at_min(30) + Duration::days(7);
    let episodes = build(
        vec![
            add("u", at_min(0), "a1", 500, 1),
            add("u", window_end - Duration::minutes(1), "a2", 100, 1),
            order("u", window_end + Duration::minutes(2), "o1", vec![]),
        ],
        window_end + Duration::days(1),
    );
    let e = only(&episodes);
    assert_eq!(
        (e.decision, e.outcome, e.label),
        (DecisionKind::Abandonment, Outcome::Purchased, 0)
    );
    assert_eq!(e.order_value, Some(600));
}

#[test]
fn censoring_depends_on_the_end_of_data() {
    let events = vec![add("u", at_min(0), "a1", 500, 1)];
    let window_end = at_min(30) + Duration::days(7);
    let open = build(events.clone(), window_end - Duration::millis(1));
    assert_eq!(
        (only(&open).outcome, only(&open).censored),
        (Outcome::AbandonedOpen, true)
    );
    let closed = build(events.clone(), window_end);
    assert_eq!(
        (only(&closed).outcome, only(&closed).censored),
        (Outcome::Expired, false)
    );
    assert!(
        build(events, at_min(29)).is_empty(),
        "no decision point yet"
    );
}

#[test]
fn multi_row_orders_give_one_episode_with_the_whole_value() {
    let t = at_min(10);
    let episodes = build(
        vec![
            add("u", at_min(0), "a1", 1_000, 1),
            add("u", at_min(1), "b1", 250, 2),
            order("u", t, "sess", vec![item("a1", 1_000, 1)]),
            order("u", t, "sess", vec![item("b1", 250, 2)]),
        ],
        t + Duration::days(1),
    );
    let e = only(&episodes);
    assert_eq!(
        (e.order_value, e.currency),
        (Some(1_500), Some(Currency::USD))
    );
    assert_eq!(e.features.cart_value, 1_500);
}

#[test]
fn shuffled_input_within_the_lateness_gives_identical_episodes() {
    let events = synthetic_stream(5, 60, 6);
    let end = events.last().unwrap().timestamp + Duration::days(3);
    let sorted = build(events.clone(), end);
    assert!(sorted.len() > 20);
    assert!(sorted.iter().any(|e| e.label == 1) && sorted.iter().any(|e| e.label == 0));
    assert!(sorted.iter().any(|e| e.outcome == Outcome::Recovered));
    assert!(sorted.iter().any(|e| e.censored));
    for seed in [1, 2, 3] {
        let shuffled = shuffle_within(&events, TrackerConfig::default().lateness, seed);
        assert_eq!(build(shuffled, end), sorted, "seed {seed}");
    }
}

#[test]
fn every_episode_obeys_the_definitions() {
    let events = synthetic_stream(9, 80, 6);
    let end = events.last().unwrap().timestamp + Duration::days(2);
    let mut builder = EpisodeBuilder::new(TrackerConfig::default()).unwrap();
    for e in events {
        builder.push(e);
    }
    let set = builder.finish(end);
    let window = Duration::days(7);
    let abandoned_carts = set
        .episodes
        .iter()
        .filter(|e| e.decision == DecisionKind::Abandonment)
        .count();
    assert!(abandoned_carts > 0);
    for e in &set.episodes {
        assert_eq!(
            e.label == 1,
            matches!(
                (e.decision, e.outcome),
                (_, Outcome::Recovered) | (DecisionKind::Order, _)
            )
        );
        assert!(
            !e.censored || (e.outcome == Outcome::AbandonedOpen && e.decision_time + window > end)
        );
        if let Some(done) = e.outcome_time {
            assert!(done >= e.decision_time);
        }
        let f = &e.features;
        if e.decision == DecisionKind::Abandonment {
            assert!(
                f.cart_units >= 1,
                "abandonment needs units in the cart: {e:#?}"
            );
        }
        assert!(f.cart_lines <= f.cart_units && f.cart_categories <= f.cart_lines);
        assert!(f.session_dwell_seconds <= f.session_length_seconds);
        assert!(f.session_products_viewed <= f.session_views);
        assert!(f.seconds_since_cart_created >= 0.0);
        assert_eq!(e.values().len(), Episode::COLUMNS.len());
    }
    assert!(set.tracker.recovered + set.tracker.purchased > 0);
    let summary = set.summary();
    assert_eq!(summary.episodes, set.episodes.len() as u64);
    assert_eq!(summary.at_abandonment, abandoned_carts as u64);
    assert_eq!(summary.at_abandonment + summary.at_order, summary.episodes);
    assert_eq!(
        summary.recovered + summary.purchased + summary.expired + summary.abandoned_open,
        summary.episodes
    );
    assert_eq!(summary.positive, summary.recovered + summary.at_order);
    // Every abandoned cart the tracker reports as abandoned or recovered has an episode.
    assert!(summary.at_abandonment >= set.tracker.abandoned + set.tracker.recovered);
}

#[test]
fn the_end_of_data_defaults_to_the_last_event() {
    let events = synthetic_stream(21, 20, 4);
    let last = events.iter().map(|e| e.timestamp).max().unwrap();
    let explicit = build(events.clone(), last);
    let mut builder = EpisodeBuilder::new(TrackerConfig::default()).unwrap();
    for e in events {
        builder.push(e);
    }
    let implicit = builder.finish_at_last_event();
    assert_eq!(implicit.episodes, explicit);
    assert!(implicit.episodes.iter().all(|e| e.decision_time <= last));
}

#[test]
fn rows_have_one_value_per_column_in_exact_text() {
    let mut checkout = event(
        EventKind::CheckoutStarted,
        "u",
        at_min(2),
        vec![item("a1", 1_999, 3)],
    );
    checkout.email = Some("u@example.com".into());
    checkout.device = Some("mobile".into());
    let episodes = build(
        vec![add("u", at_min(0), "a1", 1_999, 1), rehash(checkout)],
        at_min(60),
    );
    let e = only(&episodes);
    let row: std::collections::HashMap<&str, String> =
        Episode::COLUMNS.iter().copied().zip(e.values()).collect();
    assert_eq!(row.len(), Episode::COLUMNS.len(), "column names are unique");
    assert_eq!(row["decision_time"], "2019-10-01T00:32:00.000Z");
    assert_eq!(
        row["decision_time_ms"],
        (at_min(32).as_millis()).to_string()
    );
    assert_eq!(row["cart_value"], "59.97");
    assert_eq!(row["mean_item_price"], "19.99");
    assert_eq!(row["currency"], "USD");
    assert_eq!(row["checkout_started"], "1");
    assert_eq!(row["has_email"], "1");
    assert_eq!(row["device"], "mobile");
    assert_eq!(row["channel"], "");
    assert_eq!(row["days_since_last_order"], "-1");
    assert_eq!(row["order_value"], "");
    assert_eq!(row["outcome"], "abandoned_open");
    assert_eq!(row["censored"], "1");
    assert_eq!(row["label"], "0");
}

#[test]
fn rfc3339_formats_utc_instants() {
    assert_eq!(rfc3339_utc(Timestamp(0)), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339_utc(BASE), "2019-10-01T00:00:00.000Z");
    assert_eq!(
        rfc3339_utc(Timestamp(1_582_934_400_123)),
        "2020-02-29T00:00:00.123Z"
    );
    assert_eq!(
        rfc3339_utc(Timestamp(951_868_799_999)),
        "2000-02-29T23:59:59.999Z"
    );
    assert_eq!(rfc3339_utc(Timestamp(-1)), "1969-12-31T23:59:59.999Z");
    assert_eq!(
        rfc3339_utc(Timestamp(253_402_300_799_000)),
        "9999-12-31T23:59:59.000Z"
    );
}

#[test]
fn without_session_ids_a_gap_longer_than_the_idle_timeout_starts_a_session() {
    let episodes = build(
        vec![
            view("u", at_min(0), "a1"),
            view("u", at_min(10), "a2"),
            add("u", at_min(50), "a3", 300, 1),
            view("u", at_min(52), "a3"),
        ],
        at_min(200),
    );
    let e = only(&episodes);
    assert_eq!(e.decision_time, at_min(80));
    let f = &e.features;
    assert_eq!(
        (f.session_events, f.session_views, f.past_sessions),
        (2, 1, 1)
    );
    assert!(f.returning_user);
    assert_eq!(
        (f.session_length_seconds, f.session_dwell_seconds),
        (120.0, 120.0)
    );
}

#[test]
fn dwell_caps_each_gap_at_the_idle_timeout_within_a_session() {
    let episodes = build(
        vec![
            in_session(view("u", at_min(0), "a1"), "s1"),
            in_session(view("u", at_min(100), "a1"), "s1"),
            in_session(add("u", at_min(101), "a1", 300, 1), "s1"),
        ],
        at_min(300),
    );
    let f = &only(&episodes).features;
    assert_eq!((f.session_events, f.past_sessions), (3, 0));
    assert_eq!(f.session_length_seconds, 101.0 * 60.0);
    assert_eq!(f.session_dwell_seconds, 31.0 * 60.0);
    assert_eq!((f.session_views, f.session_products_viewed), (2, 1));
}

#[test]
fn a_cart_view_listing_products_creates_the_cart_segment_style() {
    let listing = event(
        EventKind::CartViewed,
        "u",
        at_min(0),
        vec![item("a1", 250, 2), item("b1", 100, 1)],
    );
    let episodes = build(vec![listing], at_min(60));
    let f = &only(&episodes).features;
    assert_eq!(
        (
            f.cart_value,
            f.cart_units,
            f.cart_lines,
            f.adds,
            f.cart_views
        ),
        (600, 3, 2, 0, 1)
    );
    assert_eq!(
        (f.cart_categories, f.max_item_price, f.mean_item_price),
        (2, 250, 200)
    );
}

fn on_device(mut e: Event, channel: &str, device: &str) -> Event {
    e.channel = Some(channel.into());
    e.device = Some(device.into());
    rehash(e)
}

/// The live engine's session columns come from the tracker (`with_session_features`), the
/// training rows' from the episode builder: on the same events they must agree, or the
/// model sees live what it never saw in training.
#[test]
fn the_trackers_session_snapshot_at_abandonment_equals_the_episodes_session_columns() {
    let day = Duration::days(1);
    let events = vec![
        // u1: one session with views before and after the last cart activity.
        in_session(view("u1", at_min(0), "p1"), "s1"),
        in_session(view("u1", at_min(2), "p2"), "s1"),
        in_session(add("u1", at_min(3), "p2", 1_000, 1), "s1"),
        in_session(
            on_device(view("u1", at_min(5), "p1"), "app", "mobile"),
            "s1",
        ),
        in_session(view("u1", at_min(9), "p3"), "s1"),
        // u2: no session ids: a 40-minute gap starts a new session, which fills the cart.
        view("u2", at_min(0), "p1"),
        view("u2", at_min(1), "p1"),
        view("u2", at_min(41), "p4"),
        on_device(view("u2", at_min(42), "p4"), "web", "desktop"),
        add("u2", at_min(43), "p5", 700, 1),
        view("u2", at_min(50), "p7"),
        // u3: buys in one session, comes back the next day in another and leaves a cart.
        in_session(add("u3", at_min(0), "p1", 900, 1), "a"),
        in_session(order("u3", at_min(5), "o3", vec![item("p1", 900, 1)]), "a"),
        in_session(view("u3", at_min(0) + day, "p6"), "b"),
        in_session(add("u3", at_min(2) + day, "p6", 1_200, 1), "b"),
        // Someone else's events in between change nothing for them.
        in_session(view("u4", at_min(10), "p9"), "z"),
    ];
    let end = at_min(0) + Duration::days(3);
    let episodes = build(events.clone(), end);
    let mut tracker = CartTracker::new(TrackerConfig::default())
        .unwrap()
        .with_session_features();
    let mut transitions = Vec::new();
    for e in events {
        tracker.observe(e, &mut transitions);
    }
    tracker.flush(end, &mut transitions);
    let abandonment_rows: Vec<&Episode> = episodes
        .iter()
        .filter(|e| e.decision == DecisionKind::Abandonment)
        .collect();
    assert_eq!(abandonment_rows.len(), 3, "{episodes:#?}");
    for row in abandonment_rows {
        let cart = tracker.cart(&row.cart_id).unwrap();
        assert_eq!(cart.abandonments, 1, "{}", row.cart_id);
        let session = cart.session_at_abandonment.clone().expect("a snapshot");
        let f = &row.features;
        assert_eq!(
            (
                session.events,
                session.views,
                session.products_viewed,
                session.past_sessions
            ),
            (
                f.session_events,
                f.session_views,
                f.session_products_viewed,
                f.past_sessions
            ),
            "{}",
            row.cart_id
        );
        assert_eq!(
            session.length_millis as f64 / 1000.0,
            f.session_length_seconds
        );
        assert_eq!(
            session.dwell_millis as f64 / 1000.0,
            f.session_dwell_seconds
        );
        assert_eq!(
            (&session.channel, &session.device),
            (&f.channel, &f.device),
            "{}",
            row.cart_id
        );
    }
    // The snapshots are not trivial: u1's session had 5 events, 4 views of 3 products.
    let u1 = tracker
        .cart("u1#1")
        .unwrap()
        .session_at_abandonment
        .clone()
        .unwrap();
    assert_eq!((u1.events, u1.views, u1.products_viewed), (5, 4, 3));
    assert_eq!(u1.device.as_deref(), Some("mobile"));
    let u2 = tracker
        .cart("u2#1")
        .unwrap()
        .session_at_abandonment
        .clone()
        .unwrap();
    assert_eq!((u2.events, u2.past_sessions), (4, 1));
    let u3 = tracker
        .cart("u3#2")
        .unwrap()
        .session_at_abandonment
        .clone()
        .unwrap();
    assert_eq!(u3.past_sessions, 1);
    // Without the option the tracker keeps no session.
    let mut plain = CartTracker::new(TrackerConfig::default()).unwrap();
    plain.fold(&add("u", at_min(0), "p", 100, 1), &mut transitions);
    plain.advance_to(at_min(60), &mut transitions);
    assert_eq!(plain.cart("u#1").unwrap().session_at_abandonment, None);
}
