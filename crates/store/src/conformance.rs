//! The backend-independent test suite every [`Store`] implementation must pass.
//!
//! Written once, run against SQLite and PostgreSQL (see `src/tests.rs`). A check either takes
//! a fresh, empty store (`&mut dyn Store`) or, when it needs to reopen or tamper with the
//! database, a [`Harness`] that opens handles on one database. Available to other crates
//! with the `test-suite` feature. Checks panic (they are test bodies).

use crate::migrate::LATEST_VERSION;
use crate::{
    Backend, Decision, ErasureReport, InsertReport, MessageStatus, OutboxMessage, PurgeReport,
    StockReport, Store, StoreError,
};
use cartback_core::{
    Cart, CartLine, CartState, CouponOutcome, Currency, Event, EventId, EventKind, Item,
    StockLevel, Timestamp,
};

/// Opens handles on one test database (a file, a schema) that the harness owns.
pub trait Harness: Sync {
    /// The database the harness opens (for SQL that differs between backends).
    fn backend(&self) -> Backend;
    /// A new handle on the harness's database, migrated.
    fn open(&self) -> Result<Box<dyn Store>, StoreError>;
    /// Runs SQL on the database directly, outside any store.
    fn execute_sql(&self, sql: &str);
    /// Number of rows in `table`, read directly, outside any store.
    fn count_rows(&self, table: &str) -> u64;
    /// Creates the database as cartback made it before the engine records were migration 2:
    /// migration 1 applied and recorded, and the `engine_*` tables that the server created
    /// itself with `CREATE TABLE IF NOT EXISTS` (SQLite, PostgreSQL with `TEXT` JSON).
    fn create_legacy_database(&self);
    /// Creates the database as a build whose newest migration was `version` left it: the
    /// backend's migrations 1..=`version` applied and recorded, nothing later.
    fn create_database_at(&self, version: u32);
}

/// A check that takes a fresh, empty store.
pub type StoreCheck = fn(&mut dyn Store);
/// A check that opens handles itself.
pub type HarnessCheck = fn(&dyn Harness);

/// Checks that take an empty store, by name.
pub const STORE_CHECKS: &[(&str, StoreCheck)] = &[
    (
        "inserts_and_counts_duplicates",
        inserts_and_counts_duplicates,
    ),
    ("empty_insert_does_nothing", empty_insert_does_nothing),
    (
        "insert_flags_the_stored_events",
        insert_flags_the_stored_events,
    ),
    ("first_stored_version_wins", first_stored_version_wins),
    ("scan_orders_by_time_then_id", scan_orders_by_time_then_id),
    ("scan_streams_many_events", scan_streams_many_events),
    ("payload_round_trips_exactly", payload_round_trips_exactly),
    ("every_event_kind_round_trips", every_event_kind_round_trips),
    ("time_bounds_follow_the_log", time_bounds_follow_the_log),
    ("carts_upsert_and_read_back", carts_upsert_and_read_back),
    (
        "replace_carts_drops_the_old_table",
        replace_carts_drops_the_old_table,
    ),
    (
        "carts_of_user_are_the_users_own_in_order",
        carts_of_user_are_the_users_own_in_order,
    ),
    (
        "cart_counts_cover_every_state",
        cart_counts_cover_every_state,
    ),
    (
        "a_cart_scan_visits_every_cart",
        a_cart_scan_visits_every_cart,
    ),
    (
        "erasure_removes_exactly_one_user",
        erasure_removes_exactly_one_user,
    ),
    ("schema_is_current", schema_is_current),
    (
        "nul_characters_are_refused_whole",
        nul_characters_are_refused_whole,
    ),
    (
        "a_decision_and_its_message_are_written_together",
        a_decision_and_its_message_are_written_together,
    ),
    (
        "a_second_decision_for_one_abandonment_is_ignored",
        a_second_decision_for_one_abandonment_is_ignored,
    ),
    (
        "messages_follow_their_lifecycle",
        messages_follow_their_lifecycle,
    ),
    (
        "due_messages_include_crashed_sends",
        due_messages_include_crashed_sends,
    ),
    (
        "attribution_picks_the_last_sent_message_in_the_window",
        attribution_picks_the_last_sent_message_in_the_window,
    ),
    ("consent_round_trips", consent_round_trips),
    ("tracking_and_counts_add_up", tracking_and_counts_add_up),
    ("decision_log_pages_in_order", decision_log_pages_in_order),
    (
        "message_log_and_tracking_totals_cover_every_message",
        message_log_and_tracking_totals_cover_every_message,
    ),
    (
        "erasure_removes_every_trace_of_one_user",
        erasure_removes_every_trace_of_one_user,
    ),
    (
        "engine_text_with_nul_is_refused_or_replaced",
        engine_text_with_nul_is_refused_or_replaced,
    ),
    (
        "steps_of_one_abandonment_are_kept_apart",
        steps_of_one_abandonment_are_kept_apart,
    ),
    (
        "the_decision_state_round_trips",
        the_decision_state_round_trips,
    ),
    (
        "message_times_and_discounts_feed_the_guardrails",
        message_times_and_discounts_feed_the_guardrails,
    ),
    (
        "erasure_finds_a_users_events_at_any_time",
        erasure_finds_a_users_events_at_any_time,
    ),
    (
        "a_purge_removes_the_events_before_its_cutoff",
        a_purge_removes_the_events_before_its_cutoff,
    ),
    (
        "a_purge_removes_closed_carts_and_their_records_and_keeps_consent",
        a_purge_removes_closed_carts_and_their_records_and_keeps_consent,
    ),
    (
        "settings_are_set_once_and_survive_erasure_and_purges",
        settings_are_set_once_and_survive_erasure_and_purges,
    ),
    (
        "user_ids_of_two_kinds_never_mix",
        user_ids_of_two_kinds_never_mix,
    ),
    (
        "stock_levels_upsert_and_read_back",
        stock_levels_upsert_and_read_back,
    ),
    (
        "a_stale_stock_level_is_ignored",
        a_stale_stock_level_is_ignored,
    ),
    (
        "stock_survives_erasure_and_purges",
        stock_survives_erasure_and_purges,
    ),
    (
        "stock_with_nul_is_refused_whole",
        stock_with_nul_is_refused_whole,
    ),
];

/// Checks that open and reopen the harness's database, by name.
pub const HARNESS_CHECKS: &[(&str, HarnessCheck)] = &[
    (
        "reopening_keeps_data_and_migrates_once",
        reopening_keeps_data_and_migrates_once,
    ),
    (
        "schema_from_the_future_is_refused",
        schema_from_the_future_is_refused,
    ),
    (
        "foreign_migration_history_is_refused",
        foreign_migration_history_is_refused,
    ),
    (
        "concurrent_opens_migrate_once",
        concurrent_opens_migrate_once,
    ),
    ("corrupt_rows_are_reported", corrupt_rows_are_reported),
    (
        "legacy_engine_tables_are_adopted",
        legacy_engine_tables_are_adopted,
    ),
    (
        "corrupt_engine_rows_are_reported",
        corrupt_engine_rows_are_reported,
    ),
    (
        "single_step_decisions_migrate_to_steps",
        single_step_decisions_migrate_to_steps,
    ),
    (
        "events_survive_the_split_event_ids_migration",
        events_survive_the_split_event_ids_migration,
    ),
    (
        "a_purge_keeps_every_handles_dedupe_exact",
        a_purge_keeps_every_handles_dedupe_exact,
    ),
    (
        "a_store_before_stock_levels_gains_them",
        a_store_before_stock_levels_gains_them,
    ),
];

/// 2019-10-01T00:00:00Z, the start of the REES46 sample.
pub const BASE_MILLIS: i64 = 1_569_888_000_000;

/// A plain event: `n` makes the id, `user` and `millis` (after [`BASE_MILLIS`]) the content.
pub fn event(n: u32, user: &str, millis: i64) -> Event {
    Event {
        id: EventId::derive("conformance", &n.to_be_bytes()),
        kind: EventKind::ProductAdded,
        timestamp: Timestamp(BASE_MILLIS + millis),
        user_id: user.to_string(),
        anonymous_id: None,
        session_id: Some(format!("{user}-s1")),
        cart_id: None,
        order_id: None,
        items: vec![Item {
            id: format!("p{n}"),
            name: None,
            category: None,
            brand: None,
            price: Some(1_000 + i64::from(n)),
            quantity: 1,
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

/// An event with every optional field set, including text that needs escaping.
pub fn full_event() -> Event {
    Event {
        id: EventId([0xab; 16]),
        kind: EventKind::OrderCompleted,
        timestamp: Timestamp(BASE_MILLIS + 123_456_789),
        user_id: "user \"quoted\" ünïcødé 🛒".into(),
        anonymous_id: Some("anon-42".into()),
        session_id: Some("session\\with\\backslashes".into()),
        cart_id: Some("cart-7".into()),
        order_id: Some("order-9\nline".into()),
        items: vec![
            Item {
                id: "sku-1".into(),
                name: Some("Trail shoe".into()),
                category: Some("apparel.shoes".into()),
                brand: Some("Brand'Co".into()),
                price: Some(12_999),
                quantity: 2,
            },
            Item {
                id: "sku-2".into(),
                name: Some("Sock".into()),
                category: Some("apparel.socks".into()),
                brand: Some("Brand".into()),
                price: Some(99_999_999_999_999),
                quantity: 4_000_000_000,
            },
        ],
        currency: Some(Currency::EUR),
        total: Some(26_997),
        email: Some("shopper@example.com".into()),
        timezone: Some("Europe/Berlin".into()),
        channel: Some("web".into()),
        device: Some("mobile".into()),
        message_id: Some("msg-3".into()),
        coupon_code: Some("SAVE \"10\" ü".into()),
        coupon_outcome: Some(CouponOutcome::Applied),
        referrer: Some("https://www.retailmenot.com/view/shop.example?q=\"ü\"&x=1".into()),
    }
}

/// A cart with every optional field set.
pub fn cart(id: &str, user: &str, state: CartState, created_millis: i64) -> Cart {
    Cart {
        id: id.to_string(),
        user_id: user.to_string(),
        state,
        lines: vec![CartLine {
            item_id: "sku-1".into(),
            name: Some("Trail shoe ✓".into()),
            category: Some("apparel.shoes".into()),
            unit_price: Some(12_999),
            quantity: 2,
        }],
        currency: Some(Currency::USD),
        value: 25_998,
        adds: 3,
        removes: 1,
        views: 5,
        checkout_started: true,
        coupons_entered: 2,
        created_at: Timestamp(BASE_MILLIS + created_millis),
        last_activity: Timestamp(BASE_MILLIS + created_millis + 60_000),
        abandoned_at: Some(Timestamp(BASE_MILLIS + created_millis + 1_860_000)),
        abandonments: 1,
        closed_at: Some(Timestamp(BASE_MILLIS + created_millis + 7_200_000)),
        order_id: Some("order-1".into()),
        order_value: Some(25_998),
        order_coupon: Some("SAVE10".into()),
        email: Some("shopper@example.com".into()),
        timezone: Some("America/New_York".into()),
        direct_purchase: true,
        order_cancelled: true,
        referrers: vec!["retailmenot.com".into(), "newsletter".into()],
        session_at_abandonment: Some(cartback_core::SessionSnapshot {
            events: 9,
            views: 4,
            products_viewed: 3,
            length_millis: 610_000,
            dwell_millis: 600_000,
            past_sessions: 2,
            channel: Some("app".into()),
            device: Some("ios".into()),
        }),
    }
}

/// Every event in scan order.
pub fn scan_all(store: &mut dyn Store) -> Vec<Event> {
    let mut events = Vec::new();
    let visited = store
        .scan_events(&mut |event| events.push(event))
        .expect("scan");
    assert_eq!(visited, events.len() as u64);
    events
}

pub fn inserts_and_counts_duplicates(store: &mut dyn Store) {
    let first: Vec<Event> = (0..5)
        .map(|n| event(n, "u1", i64::from(n) * 1_000))
        .collect();
    assert_eq!(
        store.insert_events(&first).unwrap(),
        InsertReport {
            inserted: 5,
            duplicates: 0
        }
    );
    // Re-inserting the same events stores nothing.
    assert_eq!(
        store.insert_events(&first).unwrap(),
        InsertReport {
            inserted: 0,
            duplicates: 5
        }
    );
    // A slice mixing stored events, new events and a repeat inside the slice.
    let mixed = vec![
        first[1].clone(),
        event(10, "u2", 500),
        event(11, "u2", 600),
        event(10, "u2", 500),
        first[4].clone(),
    ];
    assert_eq!(
        store.insert_events(&mixed).unwrap(),
        InsertReport {
            inserted: 2,
            duplicates: 3
        }
    );
    assert_eq!(store.event_count().unwrap(), 7);
    assert_eq!(scan_all(store).len(), 7);
}

pub fn insert_flags_the_stored_events(store: &mut dyn Store) {
    let first: Vec<Event> = (0..3).map(|n| event(n, "u1", i64::from(n))).collect();
    let mut stored = vec![false; 9];
    let report = store.insert_events_flagged(&first, &mut stored).unwrap();
    assert_eq!((report.inserted, report.duplicates), (3, 0));
    assert_eq!(stored, [true, true, true]);
    // Stored before, new, repeated inside the slice (only the first one counts), new.
    let mixed = vec![
        first[2].clone(),
        event(20, "u2", 5),
        event(20, "u2", 5),
        event(21, "u2", 6),
        first[0].clone(),
    ];
    let report = store.insert_events_flagged(&mixed, &mut stored).unwrap();
    assert_eq!((report.inserted, report.duplicates), (2, 3));
    assert_eq!(stored, [false, true, false, true, false]);
    let report = store.insert_events_flagged(&[], &mut stored).unwrap();
    assert_eq!(report, InsertReport::default());
    assert!(stored.is_empty());
    assert_eq!(store.event_count().unwrap(), 5);
}

pub fn empty_insert_does_nothing(store: &mut dyn Store) {
    assert_eq!(store.insert_events(&[]).unwrap(), InsertReport::default());
    assert_eq!(store.event_count().unwrap(), 0);
    assert!(scan_all(store).is_empty());
}

pub fn first_stored_version_wins(store: &mut dyn Store) {
    let original = event(1, "u1", 0);
    let mut altered = original.clone();
    altered.user_id = "someone-else".into();
    altered.items[0].quantity = 9;
    // Within one slice and across calls, the first version stays.
    let report = store
        .insert_events(&[original.clone(), altered.clone()])
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (1, 1));
    assert_eq!(store.insert_events(&[altered]).unwrap().inserted, 0);
    assert_eq!(scan_all(store), vec![original]);
}

pub fn scan_orders_by_time_then_id(store: &mut dyn Store) {
    // Several events share a timestamp; insert them out of order over two calls.
    let mut events: Vec<Event> = (0..40u32)
        .map(|n| event(n, &format!("u{}", n % 3), i64::from(n % 4) * 1_000 - 2_000))
        .collect();
    events.reverse();
    let (late, early) = events.split_at(17);
    store.insert_events(late).unwrap();
    store.insert_events(early).unwrap();
    let mut expected = events.clone();
    expected.sort_by_key(|e| (e.timestamp, e.id));
    let scanned = scan_all(store);
    assert_eq!(
        scanned
            .iter()
            .map(|e| (e.timestamp, e.id))
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|e| (e.timestamp, e.id))
            .collect::<Vec<_>>()
    );
    assert_eq!(scanned, expected);
}

pub fn scan_streams_many_events(store: &mut dyn Store) {
    // More than one page of a PostgreSQL cursor, in batches of uneven size.
    let total = 12_345u32;
    let events: Vec<Event> = (0..total)
        .map(|n| event(n, &format!("u{}", n % 97), i64::from(total - n) * 10))
        .collect();
    let mut report = InsertReport::default();
    for chunk in events.chunks(5_000) {
        report += store.insert_events(chunk).unwrap();
    }
    assert_eq!(report.inserted, u64::from(total));
    let mut previous: Option<(Timestamp, EventId)> = None;
    let mut count = 0u64;
    let visited = store
        .scan_events(&mut |event| {
            let key = (event.timestamp, event.id);
            assert!(
                previous.is_none_or(|p| p < key),
                "{key:?} after {previous:?}"
            );
            previous = Some(key);
            count += 1;
        })
        .unwrap();
    assert_eq!((visited, count), (u64::from(total), u64::from(total)));
    assert_eq!(store.event_count().unwrap(), u64::from(total));
}

pub fn payload_round_trips_exactly(store: &mut dyn Store) {
    let full = full_event();
    let mut bare = event(2, "u-bare", -5);
    bare.session_id = None;
    bare.items.clear();
    bare.currency = None;
    bare.kind = EventKind::Unsubscribed;
    store.insert_events(&[full.clone(), bare.clone()]).unwrap();
    assert_eq!(scan_all(store), vec![bare, full]);
}

/// One event of every kind — `coupon_entered` once per outcome — reads back as written,
/// kind (stored as its text) included, and the tracker's coupon count survives in a cart.
pub fn every_event_kind_round_trips(store: &mut dyn Store) {
    let mut events = Vec::new();
    for (n, kind) in (0u32..).zip(EventKind::ALL) {
        let mut e = event(n, "u-kinds", i64::from(n));
        e.kind = kind;
        events.push(e);
    }
    for (n, outcome) in (100u32..).zip(CouponOutcome::ALL) {
        let mut e = event(n, "u-kinds", i64::from(n));
        e.kind = EventKind::CouponEntered;
        e.items.clear();
        e.currency = None;
        e.cart_id = Some("cart-c".into());
        e.coupon_code = Some(format!("CODE-{outcome}"));
        e.coupon_outcome = Some(outcome);
        events.push(e);
    }
    let report = store.insert_events(&events).unwrap();
    assert_eq!(report.inserted, events.len() as u64);
    assert_eq!(scan_all(store), events);
    let coupons: Vec<_> = scan_all(store)
        .into_iter()
        .filter(|e| e.kind == EventKind::CouponEntered)
        .map(|e| (e.coupon_code.unwrap_or_default(), e.coupon_outcome))
        .collect();
    assert_eq!(
        coupons,
        [
            ("".to_string(), None),
            ("CODE-entered".into(), Some(CouponOutcome::Entered)),
            ("CODE-applied".into(), Some(CouponOutcome::Applied)),
            ("CODE-denied".into(), Some(CouponOutcome::Denied)),
        ]
    );
    let mut with_coupons = cart("cart-c", "u-kinds", CartState::Abandoned, 0);
    with_coupons.coupons_entered = 3;
    store
        .upsert_carts(std::slice::from_ref(&with_coupons))
        .unwrap();
    assert_eq!(store.cart("cart-c").unwrap(), Some(with_coupons));
}

pub fn time_bounds_follow_the_log(store: &mut dyn Store) {
    assert_eq!(store.time_bounds().unwrap(), None);
    store
        .insert_events(&[
            event(1, "u1", 5_000),
            event(2, "u1", -3_000),
            event(3, "u2", 0),
        ])
        .unwrap();
    assert_eq!(
        store.time_bounds().unwrap(),
        Some((
            Timestamp(BASE_MILLIS - 3_000),
            Timestamp(BASE_MILLIS + 5_000)
        ))
    );
}

pub fn carts_upsert_and_read_back(store: &mut dyn Store) {
    assert_eq!(store.cart("c1").unwrap(), None);
    let c1 = cart("c1", "u1", CartState::Active, 0);
    let mut c2 = cart("c2", "u2", CartState::Idle, 10);
    c2.currency = None;
    c2.abandoned_at = None;
    c2.closed_at = None;
    c2.order_id = None;
    c2.order_value = None;
    c2.email = None;
    c2.timezone = None;
    c2.lines.clear();
    store.upsert_carts(&[c1.clone(), c2.clone()]).unwrap();
    assert_eq!(store.cart("c1").unwrap(), Some(c1.clone()));
    assert_eq!(store.cart("c2").unwrap(), Some(c2.clone()));

    // Updating moves the cart to its new state; a repeated id in one call: the last wins.
    let mut abandoned = c1.clone();
    abandoned.state = CartState::Abandoned;
    let mut recovered = c1.clone();
    recovered.state = CartState::Recovered;
    recovered.value = 1;
    store.upsert_carts(&[abandoned, recovered.clone()]).unwrap();
    assert_eq!(store.cart("c1").unwrap(), Some(recovered));
    assert_eq!(store.cart("c2").unwrap(), Some(c2));
    assert_eq!(store.cart_counts().unwrap()[&CartState::Recovered], 1);
    assert_eq!(store.cart_counts().unwrap()[&CartState::Abandoned], 0);
    store.upsert_carts(&[]).unwrap();
    assert_eq!(store.cart_counts().unwrap().values().sum::<u64>(), 2);
}

pub fn replace_carts_drops_the_old_table(store: &mut dyn Store) {
    store
        .upsert_carts(&[
            cart("old-1", "u1", CartState::Active, 0),
            cart("keep", "u1", CartState::Active, 1),
        ])
        .unwrap();
    let kept = cart("keep", "u1", CartState::Purchased, 1);
    let fresh = cart("new-1", "u2", CartState::Expired, 2);
    store.replace_carts(&[kept.clone(), fresh.clone()]).unwrap();
    assert_eq!(store.cart("old-1").unwrap(), None);
    assert_eq!(store.cart("keep").unwrap(), Some(kept));
    assert_eq!(store.cart("new-1").unwrap(), Some(fresh));
    store.replace_carts(&[]).unwrap();
    assert_eq!(store.cart_counts().unwrap().values().sum::<u64>(), 0);
}

pub fn carts_of_user_are_the_users_own_in_order(store: &mut dyn Store) {
    let b_late = cart("B", "u1", CartState::Active, 500);
    let a_early = cart("a", "u1", CartState::Purchased, 100);
    let c_same_time_as_b = cart("C", "u1", CartState::Expired, 500);
    let other = cart("x", "u2", CartState::Active, 0);
    store
        .upsert_carts(&[
            b_late.clone(),
            other.clone(),
            c_same_time_as_b.clone(),
            a_early.clone(),
        ])
        .unwrap();
    // Oldest first; equal creation times by id in byte order ("B" < "C").
    assert_eq!(
        store.carts_of_user("u1").unwrap(),
        vec![a_early, b_late, c_same_time_as_b]
    );
    assert_eq!(store.carts_of_user("u2").unwrap(), vec![other]);
    assert!(store.carts_of_user("nobody").unwrap().is_empty());
}

pub fn a_cart_scan_visits_every_cart(store: &mut dyn Store) {
    let mut seen = Vec::new();
    assert_eq!(store.scan_carts(&mut |cart| seen.push(cart)).unwrap(), 0);
    let carts: Vec<Cart> = (0..1_200)
        .map(|n| {
            cart(
                &format!("c{n:05}"),
                &format!("u{}", n % 7),
                CartState::Active,
                n,
            )
        })
        .collect();
    // Stored out of order: the scan returns them by id.
    let (evens, odds): (Vec<Cart>, Vec<Cart>) =
        carts.iter().cloned().partition(|c| c.created_at.0 % 2 == 0);
    store.upsert_carts(&odds).unwrap();
    store.upsert_carts(&evens).unwrap();
    let mut purchased = carts[3].clone();
    purchased.state = CartState::Purchased;
    store
        .upsert_carts(std::slice::from_ref(&purchased))
        .unwrap();
    let visited = store.scan_carts(&mut |cart| seen.push(cart)).unwrap();
    assert_eq!(visited, 1_200);
    let mut expected = carts;
    expected[3] = purchased;
    assert_eq!(seen, expected);
}

pub fn cart_counts_cover_every_state(store: &mut dyn Store) {
    let empty = store.cart_counts().unwrap();
    assert_eq!(empty.len(), CartState::ALL.len());
    assert!(empty.values().all(|&count| count == 0));
    let states = [
        CartState::Abandoned,
        CartState::Abandoned,
        CartState::Abandoned,
        CartState::Purchased,
        CartState::Recovered,
        CartState::Active,
    ];
    let carts: Vec<Cart> = states
        .iter()
        .enumerate()
        .map(|(n, &state)| cart(&format!("c{n}"), &format!("u{n}"), state, n as i64))
        .collect();
    store.replace_carts(&carts).unwrap();
    let counts = store.cart_counts().unwrap();
    assert_eq!(counts.len(), CartState::ALL.len());
    assert_eq!(counts[&CartState::Abandoned], 3);
    assert_eq!(counts[&CartState::Purchased], 1);
    assert_eq!(counts[&CartState::Recovered], 1);
    assert_eq!(counts[&CartState::Active], 1);
    assert_eq!(counts[&CartState::Idle], 0);
    assert_eq!(counts[&CartState::Expired], 0);
}

pub fn erasure_removes_exactly_one_user(store: &mut dyn Store) {
    let events = vec![
        event(1, "alice", 0),
        event(2, "bob", 1),
        event(3, "alice", 2),
        event(4, "alicia", 3),
        event(5, "alice", 4),
    ];
    store.insert_events(&events).unwrap();
    store
        .upsert_carts(&[
            cart("a1", "alice", CartState::Abandoned, 0),
            cart("a2", "alice", CartState::Purchased, 1),
            cart("b1", "bob", CartState::Active, 2),
        ])
        .unwrap();
    assert_eq!(
        store.erase_user("alice").unwrap(),
        ErasureReport {
            events: 3,
            carts: 2,
            ..ErasureReport::default()
        }
    );
    let left: Vec<String> = scan_all(store).into_iter().map(|e| e.user_id).collect();
    assert_eq!(left, ["bob", "alicia"]);
    assert!(store.carts_of_user("alice").unwrap().is_empty());
    assert_eq!(
        store.cart("b1").unwrap().map(|c| c.user_id),
        Some("bob".into())
    );
    // Erasing again, or a user never seen, removes nothing.
    assert_eq!(store.erase_user("alice").unwrap(), ErasureReport::default());
    assert_eq!(store.erase_user("nobody").unwrap().total(), 0);
    // The erased user's events can be imported again (nothing is remembered about them).
    assert_eq!(store.insert_events(&events).unwrap().inserted, 3);
}

/// [`event`] at `millis` since the Unix epoch (not after [`BASE_MILLIS`]).
fn event_at_epoch_millis(n: u32, user: &str, millis: i64) -> Event {
    Event {
        timestamp: Timestamp(millis),
        ..event(n, user, 0)
    }
}

/// Erasure finds every event of a user wherever its time falls: both sides of the epoch, on
/// hour boundaries, and at the ends of the timestamp range, next to another user's events
/// at the same times.
pub fn erasure_finds_a_users_events_at_any_time(store: &mut dyn Store) {
    let times = [
        i64::MIN,
        -3_600_001,
        -3_600_000,
        -1,
        0,
        1,
        3_599_999,
        3_600_000,
        BASE_MILLIS,
        i64::MAX,
    ];
    let mut events = Vec::new();
    for (n, &millis) in (0u32..).zip(&times) {
        events.push(event_at_epoch_millis(n, "alice", millis));
        events.push(event_at_epoch_millis(100 + n, "bob", millis));
    }
    assert_eq!(store.insert_events(&events).unwrap().inserted, 20);
    assert_eq!(
        store.time_bounds().unwrap(),
        Some((Timestamp(i64::MIN), Timestamp(i64::MAX)))
    );
    assert_eq!(store.erase_user("alice").unwrap().events, 10);
    let left = scan_all(store);
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(|e| e.user_id == "bob"), "{left:?}");
    let bob_times: Vec<i64> = left.iter().map(|e| e.timestamp.0).collect();
    assert_eq!(bob_times, times);
    assert_eq!(store.erase_user("alice").unwrap().events, 0);
    // Erased ids are forgotten: the same events are stored again.
    assert_eq!(store.insert_events(&events).unwrap().inserted, 10);
    assert_eq!(store.erase_user("bob").unwrap().events, 10);
    assert_eq!(store.event_count().unwrap(), 10);
}

pub fn nul_characters_are_refused_whole(store: &mut dyn Store) {
    let good = event(1, "u1", 0);
    let mut bad = event(2, "u1", 1);
    bad.items[0].brand = Some("nul\0brand".into());
    match store.insert_events(&[good.clone(), bad.clone()]) {
        Err(StoreError::Unstorable { what, key, field }) => {
            assert_eq!(
                (what, key, field.as_str()),
                ("event", bad.id.to_string(), "items[].brand")
            );
        }
        other => panic!("expected Unstorable, got {other:?}"),
    }
    // The call was one transaction: the good event was not stored either.
    assert_eq!(store.event_count().unwrap(), 0);
    let mut bad_cart = cart("c\0-1", "u1", CartState::Active, 0);
    match store.upsert_carts(&[cart("c2", "u1", CartState::Active, 0), bad_cart.clone()]) {
        Err(StoreError::Unstorable { what, field, .. }) => {
            assert_eq!((what, field.as_str()), ("cart", "id"))
        }
        other => panic!("expected Unstorable, got {other:?}"),
    }
    bad_cart.id = "c1".into();
    bad_cart.email = Some("a\0@b".into());
    assert!(matches!(
        store.replace_carts(&[bad_cart]),
        Err(StoreError::Unstorable { .. })
    ));
    assert_eq!(store.cart("c2").unwrap(), None);
    let mut bad_referrer = event(3, "u1", 2);
    bad_referrer.referrer = Some("https://nul\0.example".into());
    match store.insert_events(&[bad_referrer]) {
        Err(StoreError::Unstorable { field, .. }) => assert_eq!(field, "referrer"),
        other => panic!("expected Unstorable, got {other:?}"),
    }
    assert_eq!(store.insert_events(&[good]).unwrap().inserted, 1);
}

pub fn schema_is_current(store: &mut dyn Store) {
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
}

pub fn reopening_keeps_data_and_migrates_once(harness: &dyn Harness) {
    let events = [event(1, "u1", 0), full_event()];
    let stored_cart = cart("c1", "u1", CartState::Abandoned, 0);
    {
        let mut store = harness.open().expect("first open");
        store.insert_events(&events).unwrap();
        store
            .upsert_carts(std::slice::from_ref(&stored_cart))
            .unwrap();
    }
    for _ in 0..2 {
        let mut store = harness.open().expect("reopen");
        assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
        assert_eq!(store.event_count().unwrap(), 2);
        assert_eq!(
            scan_all(&mut *store),
            vec![events[0].clone(), events[1].clone()]
        );
        assert_eq!(store.cart("c1").unwrap(), Some(stored_cart.clone()));
        assert_eq!(store.insert_events(&events).unwrap().inserted, 0);
    }
    // Each migration is recorded exactly once however often the database is opened.
    assert_eq!(
        harness.count_rows("schema_migrations"),
        u64::from(LATEST_VERSION)
    );
}

pub fn schema_from_the_future_is_refused(harness: &dyn Harness) {
    drop(harness.open().expect("first open"));
    let future = LATEST_VERSION + 1;
    harness.execute_sql(&format!(
        "INSERT INTO schema_migrations (version, name) VALUES ({future}, 'from_the_future')"
    ));
    match harness.open() {
        Err(error @ StoreError::SchemaTooNew { .. }) => {
            let StoreError::SchemaTooNew { found, supported } = error else {
                unreachable!()
            };
            assert_eq!((found, supported), (future, LATEST_VERSION));
            assert!(error.to_string().contains("newer"), "{error}");
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a database from the future was opened"),
    }
}

pub fn foreign_migration_history_is_refused(harness: &dyn Harness) {
    drop(harness.open().expect("first open"));
    harness.execute_sql("UPDATE schema_migrations SET name = 'someone_elses' WHERE version = 1");
    match harness.open() {
        Err(StoreError::MigrationMismatch {
            version, recorded, ..
        }) => assert_eq!((version, recorded.as_str()), (1, "someone_elses")),
        Err(other) => panic!("expected MigrationMismatch, got {other}"),
        Ok(_) => panic!("a database with another migration history was opened"),
    }
}

pub fn concurrent_opens_migrate_once(harness: &dyn Harness) {
    let stores: Vec<Box<dyn Store>> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..4).map(|_| scope.spawn(|| harness.open())).collect();
        opening
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .expect("open thread")
                    .expect("concurrent open")
            })
            .collect()
    });
    assert_eq!(
        harness.count_rows("schema_migrations"),
        u64::from(LATEST_VERSION)
    );
    // Every handle writes, every handle sees all writes.
    let mut stores = stores;
    for (n, store) in stores.iter_mut().enumerate() {
        let n = n as u32;
        let report = store
            .insert_events(&[event(n, "u1", i64::from(n)), event(100, "u1", 100)])
            .unwrap();
        assert_eq!(report.inserted, if n == 0 { 2 } else { 1 });
    }
    for store in &mut stores {
        assert_eq!(store.event_count().unwrap(), 5);
    }
}

pub fn corrupt_rows_are_reported(harness: &dyn Harness) {
    let mut store = harness.open().expect("open");
    store.insert_events(&[event(1, "u1", 0)]).unwrap();
    store
        .upsert_carts(&[cart("c1", "u1", CartState::Active, 0)])
        .unwrap();
    let expected_key = event(1, "u1", 0).id.to_string();
    if harness.backend() == Backend::Sqlite {
        // SQLite keeps events in blocks (`event_blocks`), named by block id; the reason names
        // the event whose record is damaged.
        let expect_corrupt_block =
            |store: &mut dyn Store, words: &[&str]| match store.scan_events(&mut |_| {}) {
                Err(StoreError::CorruptRow { table, key, reason }) => {
                    assert_eq!((table, key.as_str()), ("event_blocks", "1"));
                    for word in words {
                        assert!(reason.contains(word), "{reason}");
                    }
                }
                other => panic!("expected a corrupt event block, got {other:?}"),
            };
        harness.execute_sql(
            "UPDATE event_blocks SET data = CAST(substr(data, 1, length(data) - 2) AS BLOB)",
        );
        expect_corrupt_block(&mut *store, &[&expected_key, "cut short"]);
        harness
            .execute_sql("UPDATE event_blocks SET data = CAST(X'07' || substr(data, 2) AS BLOB)");
        expect_corrupt_block(&mut *store, &["unknown compression 7"]);
        harness.execute_sql("UPDATE event_blocks SET data = X'01FFFFFF7F00'");
        expect_corrupt_block(&mut *store, &["LZ4 claims an impossible length"]);
    } else {
        let expect_corrupt_event =
            |store: &mut dyn Store, column: &str| match store.scan_events(&mut |_| {}) {
                Err(StoreError::CorruptRow { table, key, reason }) => {
                    assert_eq!((table, key.as_str()), ("events", expected_key.as_str()));
                    assert!(reason.contains(column), "{reason}");
                }
                other => panic!("expected a corrupt events row, got {other:?}"),
            };
        harness.execute_sql("UPDATE events SET kind = 'bought_a_boat'");
        expect_corrupt_event(&mut *store, "kind");
        harness
            .execute_sql(r#"UPDATE events SET kind = 'product_added', payload = '{"items": 5}'"#);
        expect_corrupt_event(&mut *store, "payload");
    }
    harness.execute_sql(r#"UPDATE carts SET payload = '{"not": "a cart"}'"#);
    match store.cart("c1") {
        Err(StoreError::CorruptRow { table, key, .. }) => {
            assert_eq!((table, key.as_str()), ("carts", "c1"));
        }
        other => panic!("expected a corrupt carts row, got {other:?}"),
    }
}

/// [`BASE_MILLIS`] + `millis`.
pub fn at(millis: i64) -> Timestamp {
    Timestamp(BASE_MILLIS + millis)
}

/// An e-mail reminder decided at `millis` about the first abandonment of `cart_id`.
pub fn decision(cart_id: &str, user: &str, millis: i64) -> Decision {
    Decision {
        id: 0,
        cart_id: cart_id.to_string(),
        user_id: user.to_string(),
        abandonment: 1,
        decided_at: at(millis),
        action: "reminder_email".into(),
        channel: Some("email".into()),
        send_at: Some(at(millis + 60_000)),
        propensity: 0.8125,
        scores: serde_json::json!({"reminder_email": 0.8125, "none": 0.1875, "note": "ünï \"q\""}),
        reasons: vec!["policy: fixed_flow".into(), "guardrail ✓ passed".into()],
        guardrail: "passed".into(),
        holdout: false,
        step: 0,
        discount_minor: 0,
        state: None,
    }
}

/// The outbox message of [`decision`]`(cart_id, user, _)`, due at `due_millis`.
pub fn outbox_message(cart_id: &str, user: &str, due_millis: i64) -> OutboxMessage {
    OutboxMessage {
        id: 0,
        idempotency_key: format!("{cart_id}/1/reminder_email"),
        decision_id: 0,
        cart_id: cart_id.to_string(),
        user_id: user.to_string(),
        channel: "email".into(),
        payload: serde_json::json!({
            "email": format!("{user}@example.com"),
            "lines": [{"item_id": "sku-1", "quantity": 2, "unit_price": "12.99 USD"}],
            "coupon": null,
        }),
        status: MessageStatus::Pending,
        due_at: at(due_millis),
        attempts: 0,
        last_error: None,
        sent_at: None,
        cancel_reason: None,
        attributed_order: None,
    }
}

/// Records [`decision`] with its [`outbox_message`]; returns (decision id, message id).
pub fn record_with_message(
    store: &mut dyn Store,
    cart_id: &str,
    user: &str,
    due_millis: i64,
) -> (i64, i64) {
    let decision_id = store
        .record_decision(
            &decision(cart_id, user, 0),
            Some(&outbox_message(cart_id, user, due_millis)),
        )
        .expect("record a decision")
        .expect("a new decision");
    let message = store.messages_of_cart(cart_id).unwrap().pop().unwrap();
    assert_eq!(message.decision_id, decision_id);
    (decision_id, message.id)
}

/// The stored message with this id (it must exist).
fn stored(store: &mut dyn Store, id: i64) -> OutboxMessage {
    store.message(id).unwrap().expect("stored message")
}

fn ids(messages: &[OutboxMessage]) -> Vec<i64> {
    messages.iter().map(|m| m.id).collect()
}

fn named(counts: &[(&str, u64)]) -> Vec<(String, u64)> {
    counts.iter().map(|&(n, c)| (n.to_string(), c)).collect()
}

pub fn a_decision_and_its_message_are_written_together(store: &mut dyn Store) {
    let written = decision("c1", "u1", 0);
    let message = outbox_message("c1", "u1", 60_000);
    let id = store
        .record_decision(&written, Some(&message))
        .unwrap()
        .expect("a new decision");
    assert_eq!(
        store.decisions_of_cart("c1").unwrap(),
        vec![Decision {
            id,
            ..written.clone()
        }]
    );
    let messages = store.messages_of_cart("c1").unwrap();
    assert_eq!(messages.len(), 1);
    let expected = OutboxMessage {
        id: messages[0].id,
        decision_id: id,
        ..message.clone()
    };
    assert_eq!(messages[0], expected);
    assert_eq!(store.message(expected.id).unwrap(), Some(expected.clone()));
    assert_eq!(store.message(expected.id + 1_000).unwrap(), None);

    // A decision without a message (the holdout).
    let held = Decision {
        action: "none".into(),
        channel: None,
        send_at: None,
        guardrail: "holdout".into(),
        holdout: true,
        ..decision("c2", "u2", 0)
    };
    let held_id = store.record_decision(&held, None).unwrap().unwrap();
    assert_ne!(held_id, id);
    assert!(store.decisions_of_cart("c2").unwrap()[0].holdout);
    assert!(store.messages_of_cart("c2").unwrap().is_empty());

    // One transaction: a message that cannot be written (its idempotency key is taken)
    // leaves no decision behind, and the store stays usable.
    let clash = OutboxMessage {
        idempotency_key: message.idempotency_key.clone(),
        ..outbox_message("c3", "u3", 0)
    };
    assert!(
        store
            .record_decision(&decision("c3", "u3", 0), Some(&clash))
            .is_err()
    );
    assert!(store.decisions_of_cart("c3").unwrap().is_empty());
    assert!(store.messages_of_cart("c3").unwrap().is_empty());
    record_with_message(store, "c3", "u3", 0);
}

pub fn a_second_decision_for_one_abandonment_is_ignored(store: &mut dyn Store) {
    let (first, message_id) = record_with_message(store, "c1", "u1", 1_000);
    let replay = Decision {
        action: "reminder_log".into(),
        ..decision("c1", "u1", 5_000)
    };
    let replay_message = OutboxMessage {
        idempotency_key: "c1/1/reminder_log".into(),
        ..outbox_message("c1", "u1", 5_000)
    };
    assert_eq!(
        store
            .record_decision(&replay, Some(&replay_message))
            .unwrap(),
        None
    );
    assert_eq!(store.record_decision(&replay, None).unwrap(), None);
    let decisions = store.decisions_of_cart("c1").unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(
        (decisions[0].id, decisions[0].action.as_str()),
        (first, "reminder_email")
    );
    assert_eq!(ids(&store.messages_of_cart("c1").unwrap()), [message_id]);
    // The cart's next abandonment gets a decision of its own.
    let second = Decision {
        abandonment: 2,
        ..decision("c1", "u1", 9_000)
    };
    let second_id = store.record_decision(&second, None).unwrap().unwrap();
    assert!(second_id > first);
    assert_eq!(store.decisions_of_cart("c1").unwrap().len(), 2);
}

pub fn messages_follow_their_lifecycle(store: &mut dyn Store) {
    // pending → sending → pending (retry) → sending → sent
    let (_, id) = record_with_message(store, "c1", "u1", 1_000);
    assert!(store.claim(id).unwrap());
    let claimed = stored(store, id);
    assert_eq!(
        (claimed.status, claimed.attempts),
        (MessageStatus::Sending, 1)
    );
    store.mark_retry(id, at(5_000), "timeout").unwrap();
    let retried = stored(store, id);
    assert_eq!(
        (retried.status, retried.due_at, retried.attempts),
        (MessageStatus::Pending, at(5_000), 1)
    );
    assert_eq!(retried.last_error.as_deref(), Some("timeout"));
    assert!(store.claim(id).unwrap());
    store.mark_sent(id, at(6_000)).unwrap();
    let sent = stored(store, id);
    assert_eq!(
        (
            sent.status,
            sent.sent_at,
            sent.attempts,
            sent.last_error.clone()
        ),
        (MessageStatus::Sent, Some(at(6_000)), 2, None)
    );
    assert!(!store.claim(id).unwrap(), "a sent message is never claimed");
    assert!(!store.cancel(id, "purchased").unwrap());
    store.mark_retry(id, at(9_000), "late").unwrap();
    assert_eq!(
        stored(store, id),
        sent,
        "a retry only applies to a sending message"
    );

    // pending → cancelled: never claimed afterwards; the first reason stays.
    let (_, cancelled) = record_with_message(store, "c2", "u2", 1_000);
    assert!(store.cancel(cancelled, "purchased").unwrap());
    assert!(!store.claim(cancelled).unwrap(), "claim after cancel");
    assert!(!store.cancel(cancelled, "again").unwrap());
    let message = stored(store, cancelled);
    assert_eq!(
        (
            message.status,
            message.attempts,
            message.cancel_reason.as_deref()
        ),
        (MessageStatus::Cancelled, 0, Some("purchased"))
    );

    // sending → failed
    let (_, failed) = record_with_message(store, "c3", "u3", 1_000);
    assert!(store.claim(failed).unwrap());
    store.mark_failed(failed, "550 no such user").unwrap();
    let message = stored(store, failed);
    assert_eq!(message.status, MessageStatus::Failed);
    assert_eq!(message.last_error.as_deref(), Some("550 no such user"));
    assert!(!store.claim(failed).unwrap());

    // A cart's pending messages are cancelled together, once; a claimed one is left to the
    // send-time check.
    let (_, pending) = record_with_message(store, "c4", "u4", 1_000);
    assert_eq!(store.cancel_cart("c4", "purchased").unwrap(), 1);
    assert_eq!(store.cancel_cart("c4", "purchased").unwrap(), 0);
    assert_eq!(stored(store, pending).status, MessageStatus::Cancelled);
    let (_, sending) = record_with_message(store, "c5", "u5", 1_000);
    assert!(store.claim(sending).unwrap());
    assert_eq!(store.cancel_cart("c5", "purchased").unwrap(), 0);
    assert_eq!(stored(store, sending).status, MessageStatus::Sending);
    assert!(store.cancel(sending, "purchased").unwrap());

    assert!(!store.claim(999_999).unwrap(), "an unknown message");
}

pub fn due_messages_include_crashed_sends(store: &mut dyn Store) {
    let (_, late) = record_with_message(store, "c-late", "u1", 3_000);
    let (_, early) = record_with_message(store, "c-early", "u2", 1_000);
    let (_, middle) = record_with_message(store, "c-middle", "u3", 2_000);
    assert!(store.due_messages(at(999), 10).unwrap().is_empty());
    assert_eq!(
        ids(&store.due_messages(at(2_000), 10).unwrap()),
        [early, middle]
    );
    assert_eq!(ids(&store.due_messages(at(2_000), 1).unwrap()), [early]);
    // Claimed, then the process died before the bookkeeping: still due, still `sending`.
    assert!(store.claim(early).unwrap());
    let due = store.due_messages(at(2_000), 10).unwrap();
    assert_eq!(ids(&due), [early, middle]);
    assert_eq!(due[0].status, MessageStatus::Sending);
    store.mark_sent(middle, at(2_000)).unwrap();
    assert_eq!(
        ids(&store.due_messages(at(5_000), 10).unwrap()),
        [early, late]
    );
    store.cancel(late, "purchased").unwrap();
    store.mark_failed(early, "gave up").unwrap();
    assert!(store.due_messages(at(9_000), 10).unwrap().is_empty());
}

pub fn attribution_picks_the_last_sent_message_in_the_window(store: &mut dyn Store) {
    let send = |store: &mut dyn Store, cart: &str, user: &str, sent_millis: i64| {
        let (_, id) = record_with_message(store, cart, user, 0);
        assert!(store.claim(id).unwrap());
        store.mark_sent(id, at(sent_millis)).unwrap();
        id
    };
    let old = send(store, "c1", "u1", 1_000);
    let last = send(store, "c2", "u1", 3_000);
    let other_user = send(store, "c3", "u2", 4_000);
    let (_, unsent) = record_with_message(store, "c4", "u1", 3_500);
    // Sent after the order (a replay meets the order later): not its last touch.
    let after_order = send(store, "c6", "u1", 5_000);
    assert_eq!(
        store
            .attribute("u1", "order-1", at(2_000), at(4_000))
            .unwrap(),
        Some(last)
    );
    assert_eq!(
        stored(store, last).attributed_order.as_deref(),
        Some("order-1")
    );
    for untouched in [old, other_user, unsent, after_order] {
        assert_eq!(stored(store, untouched).attributed_order, None);
    }
    // Nothing sent inside the window.
    assert_eq!(
        store
            .attribute("u1", "order-2", at(3_001), at(4_999))
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .attribute("nobody", "order-3", at(0), at(9_000))
            .unwrap(),
        None
    );
    // The window's start is inclusive; equal send times go to the later message.
    let tie = send(store, "c5", "u1", 3_000);
    assert_eq!(
        store
            .attribute("u1", "order-4", at(3_000), at(3_000))
            .unwrap(),
        Some(tie)
    );
    assert_eq!(stored(store, old).attributed_order, None);
}

pub fn consent_round_trips(store: &mut dyn Store) {
    assert_eq!(store.consent("u1", "email").unwrap(), None);
    store.set_consent("u1", "email", false, at(1)).unwrap();
    assert_eq!(store.consent("u1", "email").unwrap(), Some(false));
    assert_eq!(store.consent("u1", "webhook").unwrap(), None);
    assert_eq!(store.consent("u2", "email").unwrap(), None);
    store.set_consent("u1", "email", true, at(2)).unwrap();
    store.set_consent("u1", "webhook", false, at(2)).unwrap();
    assert_eq!(store.consent("u1", "email").unwrap(), Some(true));
    assert_eq!(store.consent("u1", "webhook").unwrap(), Some(false));
}

pub fn tracking_and_counts_add_up(store: &mut dyn Store) {
    assert!(store.decision_counts().unwrap().is_empty());
    assert!(store.message_counts().unwrap().is_empty());
    let (_, first) = record_with_message(store, "c1", "u1", 0);
    let (_, second) = record_with_message(store, "c3", "u3", 0);
    let held = Decision {
        action: "none".into(),
        ..decision("c2", "u2", 0)
    };
    store.record_decision(&held, None).unwrap();
    assert_eq!(
        store.decision_counts().unwrap(),
        named(&[("none", 1), ("reminder_email", 2)])
    );
    store.claim(first).unwrap();
    store.mark_sent(first, at(10)).unwrap();
    assert_eq!(
        store.message_counts().unwrap(),
        named(&[("pending", 1), ("sent", 1)])
    );
    for kind in ["open", "click", "open"] {
        store.record_tracking(first, kind, at(20)).unwrap();
    }
    assert_eq!(
        store.tracking_counts(first).unwrap(),
        named(&[("click", 1), ("open", 2)])
    );
    assert!(store.tracking_counts(second).unwrap().is_empty());
}

pub fn decision_log_pages_in_order(store: &mut dyn Store) {
    assert!(store.decision_log(0, 10).unwrap().is_empty());
    for n in 0..5 {
        store
            .record_decision(&decision(&format!("c{n}"), "u1", n), None)
            .unwrap();
    }
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = store.decision_log(after, 2).unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        pages.push(page.iter().map(|d| d.cart_id.clone()).collect::<Vec<_>>());
    }
    assert_eq!(pages, [vec!["c0", "c1"], vec!["c2", "c3"], vec!["c4"]]);
    let all = store.decision_log(0, 10).unwrap();
    assert_eq!(all[4], store.decisions_of_cart("c4").unwrap()[0]);
}

pub fn message_log_and_tracking_totals_cover_every_message(store: &mut dyn Store) {
    assert!(store.message_log(0, 10).unwrap().is_empty());
    assert!(store.tracking_totals().unwrap().is_empty());
    let ids: Vec<i64> = (0..5)
        .map(|n| record_with_message(store, &format!("c{n}"), "u1", n).1)
        .collect();
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = store.message_log(after, 2).unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        pages.push(page.iter().map(|m| m.cart_id.clone()).collect::<Vec<_>>());
    }
    assert_eq!(pages, [vec!["c0", "c1"], vec!["c2", "c3"], vec!["c4"]]);
    assert_eq!(store.message_log(0, 10).unwrap()[2], stored(store, ids[2]));
    for (id, kind) in [
        (ids[3], "open"),
        (ids[1], "click"),
        (ids[1], "open"),
        (ids[3], "open"),
        (ids[1], "unsubscribe"),
    ] {
        store.record_tracking(id, kind, at(50)).unwrap();
    }
    assert_eq!(
        store.tracking_totals().unwrap(),
        vec![
            (ids[1], "click".to_owned(), 1),
            (ids[1], "open".to_owned(), 1),
            (ids[1], "unsubscribe".to_owned(), 1),
            (ids[3], "open".to_owned(), 2),
        ]
    );
}

pub fn erasure_removes_every_trace_of_one_user(store: &mut dyn Store) {
    store
        .insert_events(&[
            event(1, "alice", 0),
            event(2, "bob", 1),
            event(3, "alice", 2),
        ])
        .unwrap();
    store
        .upsert_carts(&[
            cart("a1", "alice", CartState::Abandoned, 0),
            cart("a2", "alice", CartState::Abandoned, 1),
            cart("b1", "bob", CartState::Abandoned, 2),
        ])
        .unwrap();
    let (_, a1) = record_with_message(store, "a1", "alice", 0);
    record_with_message(store, "a2", "alice", 0);
    let (_, b1) = record_with_message(store, "b1", "bob", 0);
    for (message, kind) in [(a1, "open"), (a1, "click"), (b1, "open")] {
        store.record_tracking(message, kind, at(5)).unwrap();
    }
    for (user, channel) in [("alice", "email"), ("alice", "webhook"), ("bob", "email")] {
        store.set_consent(user, channel, false, at(5)).unwrap();
    }
    assert_eq!(
        store.erase_user("alice").unwrap(),
        ErasureReport {
            events: 2,
            carts: 2,
            decisions: 2,
            messages: 2,
            consents: 2,
            tracking_events: 2,
        }
    );
    for cart_id in ["a1", "a2"] {
        assert!(store.decisions_of_cart(cart_id).unwrap().is_empty());
        assert!(store.messages_of_cart(cart_id).unwrap().is_empty());
    }
    assert_eq!(store.message(a1).unwrap(), None);
    assert!(store.tracking_counts(a1).unwrap().is_empty());
    assert_eq!(store.consent("alice", "email").unwrap(), None);
    // Bob keeps everything.
    assert_eq!(store.decisions_of_cart("b1").unwrap().len(), 1);
    assert_eq!(ids(&store.messages_of_cart("b1").unwrap()), [b1]);
    assert_eq!(store.tracking_counts(b1).unwrap(), named(&[("open", 1)]));
    assert_eq!(store.consent("bob", "email").unwrap(), Some(false));
    assert_eq!(store.event_count().unwrap(), 1);
    assert_eq!(store.erase_user("alice").unwrap().total(), 0);
    // Nothing is remembered: the same abandonment can be decided again.
    record_with_message(store, "a1", "alice", 0);
}

pub fn engine_text_with_nul_is_refused_or_replaced(store: &mut dyn Store) {
    let mut bad = decision("c1", "u1", 0);
    bad.reasons.push("nul\0reason".into());
    match store.record_decision(&bad, Some(&outbox_message("c1", "u1", 0))) {
        Err(StoreError::Unstorable { what, key, field }) => {
            assert_eq!(
                (what, key.as_str(), field.as_str()),
                ("decision", "c1/1", "reasons")
            );
        }
        other => panic!("expected Unstorable, got {other:?}"),
    }
    let mut bad_message = outbox_message("c1", "u1", 0);
    bad_message.payload["lines"][0]["item_id"] = serde_json::json!("sku\0");
    assert!(matches!(
        store.record_decision(&decision("c1", "u1", 0), Some(&bad_message)),
        Err(StoreError::Unstorable { what: "message", ref field, .. }) if field == "payload"
    ));
    assert!(store.decisions_of_cart("c1").unwrap().is_empty());
    assert!(matches!(
        store.set_consent("u\0x", "email", false, at(0)),
        Err(StoreError::Unstorable { what: "consent", ref field, .. }) if field == "user_id"
    ));
    // A provider's error text is bookkeeping, not input: stored with U+FFFD instead.
    let (_, id) = record_with_message(store, "c1", "u1", 0);
    store.claim(id).unwrap();
    store.mark_failed(id, "bad\0byte").unwrap();
    assert_eq!(
        stored(store, id).last_error.as_deref(),
        Some("bad\u{FFFD}byte")
    );
}

/// Rows as the server wrote them before migration 2 (portable SQL).
const LEGACY_ROWS: &str = r#"
INSERT INTO engine_decisions (cart_id, user_id, abandonment, decided_at, action, channel,
    send_at, propensity, scores, reasons, guardrail, holdout)
VALUES ('legacy-cart', 'legacy-user', 1, 1000, 'reminder_email', 'email', 2000, 1.0,
    '{"reminder_email":1.0}', '["policy: fixed_flow"]', 'passed', false);
INSERT INTO engine_outbox (idempotency_key, decision_id, cart_id, user_id, channel, payload,
    status, due_at, attempts, sent_at)
SELECT 'legacy-cart/1/reminder_email', id, 'legacy-cart', 'legacy-user', 'email',
    '{"email":"old@example.com"}', 'sent', 2000, 1, 2500 FROM engine_decisions;
INSERT INTO engine_consent (user_id, channel, granted, updated_at)
VALUES ('legacy-user', 'email', false, 3000);
INSERT INTO engine_tracking (message_id, kind, at) SELECT id, 'open', 2600 FROM engine_outbox;
"#;

pub fn legacy_engine_tables_are_adopted(harness: &dyn Harness) {
    harness.create_legacy_database();
    harness.execute_sql(LEGACY_ROWS);
    assert_eq!(harness.count_rows("schema_migrations"), 1);
    let mut store = harness.open().expect("a legacy database opens");
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
    let decisions = store.decisions_of_cart("legacy-cart").unwrap();
    assert_eq!(decisions.len(), 1);
    let legacy = &decisions[0];
    assert_eq!(legacy.scores, serde_json::json!({"reminder_email": 1.0}));
    assert_eq!(legacy.reasons, ["policy: fixed_flow"]);
    assert_eq!(
        (legacy.send_at, legacy.holdout),
        (Some(Timestamp(2000)), false)
    );
    let messages = store.messages_of_cart("legacy-cart").unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(
        (message.decision_id, message.status, message.attempts),
        (legacy.id, MessageStatus::Sent, 1)
    );
    assert_eq!(message.payload["email"], "old@example.com");
    assert_eq!(store.consent("legacy-user", "email").unwrap(), Some(false));
    assert_eq!(
        store.tracking_counts(message.id).unwrap(),
        named(&[("open", 1)])
    );
    // The adopted tables keep their constraints and keys.
    assert_eq!(
        store
            .record_decision(&decision("legacy-cart", "legacy-user", 0), None)
            .unwrap(),
        None
    );
    let (fresh, _) = record_with_message(&mut *store, "new-cart", "legacy-user", 0);
    assert!(fresh > legacy.id);
    assert_eq!(
        store.erase_user("legacy-user").unwrap(),
        ErasureReport {
            decisions: 2,
            messages: 2,
            consents: 1,
            tracking_events: 1,
            ..ErasureReport::default()
        }
    );
    drop(store);
    drop(harness.open().expect("reopen"));
    assert_eq!(
        harness.count_rows("schema_migrations"),
        u64::from(LATEST_VERSION)
    );
}

pub fn corrupt_engine_rows_are_reported(harness: &dyn Harness) {
    let mut store = harness.open().expect("open");
    let (decision_id, message_id) = record_with_message(&mut *store, "c1", "u1", 0);
    harness.execute_sql("UPDATE engine_outbox SET status = 'lost'");
    match store.messages_of_cart("c1") {
        Err(StoreError::CorruptRow { table, key, reason }) => {
            assert_eq!((table, key), ("engine_outbox", message_id.to_string()));
            assert!(
                reason.contains("status") && reason.contains("lost"),
                "{reason}"
            );
        }
        other => panic!("expected a corrupt engine_outbox row, got {other:?}"),
    }
    harness.execute_sql(r#"UPDATE engine_decisions SET reasons = '{"not": "a list"}'"#);
    match store.decisions_of_cart("c1") {
        Err(StoreError::CorruptRow { table, key, reason }) => {
            assert_eq!((table, key), ("engine_decisions", decision_id.to_string()));
            assert!(reason.contains("reasons"), "{reason}");
        }
        other => panic!("expected a corrupt engine_decisions row, got {other:?}"),
    }
    harness.execute_sql("UPDATE engine_decisions SET reasons = '[]', abandonment = -1");
    match store.decision_log(0, 10) {
        Err(StoreError::CorruptRow { reason, .. }) => {
            assert!(reason.contains("abandonment"), "{reason}")
        }
        other => panic!("expected a corrupt engine_decisions row, got {other:?}"),
    }
}

/// Step `step` of the first abandonment of `cart_id`, with its message (key `…/{step}`).
fn step_with_message(
    store: &mut dyn Store,
    cart_id: &str,
    step: u32,
    due_millis: i64,
) -> Option<i64> {
    let decision = Decision {
        step,
        ..decision(cart_id, "u1", due_millis - 60_000)
    };
    let message = OutboxMessage {
        idempotency_key: format!("{cart_id}/1/{step}/reminder_email"),
        ..outbox_message(cart_id, "u1", due_millis)
    };
    store.record_decision(&decision, Some(&message)).unwrap()
}

/// The policy's recorded state (migration 5) reads back exactly, numbers to the last bit,
/// through both reads; a decision without one reads back as `None`; U+0000 is refused.
pub fn the_decision_state_round_trips(store: &mut dyn Store) {
    let state = serde_json::json!({
        "observed": {
            "features": {"cart_value_minor": 12_345, "predicted_propensity": 0.1 + 0.2,
                         "tiny": 1.0e-300, "third": 1.0 / 3.0, "mobile": true},
            "step": 0, "send_at": 1_780_003_600_000_i64, "note": "ünï \"q\""
        },
        "executed": {"do_nothing": "do_nothing", "discount_10": "discount_5"}
    });
    let with_state = Decision {
        state: Some(state.clone()),
        ..decision("c1", "u1", 0)
    };
    let without = decision("c2", "u2", 10);
    assert_eq!(without.state, None);
    let first = store.record_decision(&with_state, None).unwrap().unwrap();
    let second = store.record_decision(&without, None).unwrap().unwrap();
    let read = store.decisions_of_cart("c1").unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].state.as_ref(), Some(&state));
    let third = &read[0].state.as_ref().unwrap()["observed"]["features"]["third"];
    assert_eq!(third.as_f64().unwrap().to_bits(), (1.0f64 / 3.0).to_bits());
    assert_eq!(
        store.decision_log(0, 10).unwrap(),
        vec![
            Decision {
                id: first,
                ..with_state
            },
            Decision {
                id: second,
                ..without
            },
        ]
    );
    let bad = Decision {
        state: Some(serde_json::json!({"observed": {"note": "a\u{0}b"}})),
        ..decision("c3", "u3", 20)
    };
    match store.record_decision(&bad, None) {
        Err(StoreError::Unstorable { field, .. }) => assert_eq!(field, "state"),
        other => panic!("expected Unstorable, got {other:?}"),
    }
    assert!(store.decisions_of_cart("c3").unwrap().is_empty());
}

pub fn steps_of_one_abandonment_are_kept_apart(store: &mut dyn Store) {
    let first = step_with_message(store, "c1", 0, 60_000).expect("step 0");
    let second =
        step_with_message(store, "c1", 1, 3_600_000).expect("step 1 of the same abandonment");
    assert!(second > first);
    assert_eq!(
        step_with_message(store, "c1", 1, 7_200_000),
        None,
        "a step is decided once"
    );
    let decisions = store.decisions_of_cart("c1").unwrap();
    let steps: Vec<(u32, u32)> = decisions.iter().map(|d| (d.abandonment, d.step)).collect();
    assert_eq!(steps, [(1, 0), (1, 1)]);
    let messages = store.messages_of_cart("c1").unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].decision_id, second);
    assert_eq!(store.decision_log(0, 10).unwrap()[1].step, 1);
}

pub fn message_times_and_discounts_feed_the_guardrails(store: &mut dyn Store) {
    step_with_message(store, "c1", 0, 60_000);
    step_with_message(store, "c1", 1, 3_600_000);
    step_with_message(store, "c2", 0, 7_200_000);
    let cancelled = store.messages_of_cart("c2").unwrap()[0].id;
    assert!(store.cancel(cancelled, "purchased").unwrap());
    let sent = store.messages_of_cart("c1").unwrap()[0].id;
    store.claim(sent).unwrap();
    store.mark_sent(sent, at(90_000)).unwrap();
    // Sent at 90 s (not due 60 s), pending at 1 h; the cancelled one does not count.
    assert_eq!(
        store.message_times_of_user("u1", at(0)).unwrap(),
        [at(90_000), at(3_600_000)]
    );
    assert_eq!(
        store.message_times_of_user("u1", at(100_000)).unwrap(),
        [at(3_600_000)]
    );
    assert!(store.message_times_of_user("u2", at(0)).unwrap().is_empty());

    assert_eq!(store.discount_committed_since(at(0)).unwrap(), 0);
    let coupon = |cart: &str, millis: i64, minor: i64| Decision {
        action: "discount_10".into(),
        discount_minor: minor,
        ..decision(cart, "u2", millis)
    };
    store
        .record_decision(&coupon("c3", 1_000, 1_250), None)
        .unwrap();
    store
        .record_decision(&coupon("c4", 5_000, 990), None)
        .unwrap();
    assert_eq!(store.discount_committed_since(at(0)).unwrap(), 2_240);
    assert_eq!(store.discount_committed_since(at(2_000)).unwrap(), 990);
    assert_eq!(
        store.decisions_of_cart("c3").unwrap()[0].discount_minor,
        1_250
    );
}

pub fn single_step_decisions_migrate_to_steps(harness: &dyn Harness) {
    harness.create_database_at(2);
    harness.execute_sql(LEGACY_ROWS);
    assert_eq!(harness.count_rows("schema_migrations"), 2);
    let mut store = harness.open().expect("a version-2 database opens");
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
    let decisions = store.decisions_of_cart("legacy-cart").unwrap();
    assert_eq!(decisions.len(), 1);
    let old = &decisions[0];
    assert_eq!((old.step, old.discount_minor), (0, 0));
    assert_eq!(old.reasons, ["policy: fixed_flow"]);
    let messages = store.messages_of_cart("legacy-cart").unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].decision_id, old.id, "ids survive the migration");
    assert_eq!(
        store.tracking_counts(messages[0].id).unwrap(),
        named(&[("open", 1)])
    );
    // The old decision is step 0 of its abandonment: a replay of it is still ignored, and
    // the next step gets its own row and message (the outbox still references decisions).
    let replay = Decision {
        step: 0,
        ..decision("legacy-cart", "legacy-user", 0)
    };
    assert_eq!(store.record_decision(&replay, None).unwrap(), None);
    let next = Decision {
        step: 1,
        ..decision("legacy-cart", "legacy-user", 86_400_000)
    };
    let message = OutboxMessage {
        idempotency_key: "legacy-cart/1/1/reminder_email".into(),
        ..outbox_message("legacy-cart", "legacy-user", 86_400_000)
    };
    let id = store
        .record_decision(&next, Some(&message))
        .unwrap()
        .expect("step 1 is new");
    assert!(id > old.id);
    assert_eq!(
        store.messages_of_cart("legacy-cart").unwrap()[1].decision_id,
        id
    );
    assert_eq!(
        store
            .message_times_of_user("legacy-user", Timestamp(0))
            .unwrap(),
        [Timestamp(2500), at(86_400_000)]
    );
    assert_eq!(
        store.erase_user("legacy-user").unwrap(),
        ErasureReport {
            decisions: 2,
            messages: 2,
            consents: 1,
            tracking_events: 1,
            ..ErasureReport::default()
        }
    );
    drop(store);
    drop(harness.open().expect("reopen"));
    assert_eq!(
        harness.count_rows("schema_migrations"),
        u64::from(LATEST_VERSION)
    );
}

/// An `INSERT` of event rows written directly into `events`, as every migration so far
/// shares its columns (for databases built at an older version).
fn raw_event_rows(backend: Backend, events: &[Event]) -> String {
    let text = |value: &str| format!("'{}'", value.replace('\'', "''"));
    let optional = |value: Option<&str>| value.map_or_else(|| "NULL".to_string(), text);
    let rows: Vec<String> = events
        .iter()
        .map(|event| {
            let (columns, details) = crate::codec::split_event(event);
            let hex: String = columns.id.iter().map(|b| format!("{b:02x}")).collect();
            let id = match backend {
                Backend::Sqlite => format!("X'{hex}'"),
                Backend::Postgres => format!("decode('{hex}', 'hex')"),
            };
            let payload = serde_json::to_string(&details).expect("event details as JSON");
            format!(
                "({id}, {}, {}, {}, {}, {}, {}, {})",
                columns.ts,
                text(columns.kind),
                text(columns.user_id),
                optional(columns.session_id),
                optional(columns.cart_id),
                optional(columns.order_id),
                text(&payload),
            )
        })
        .collect();
    format!(
        "INSERT INTO events (id, ts, kind, user_id, session_id, cart_id, order_id, payload) \
         VALUES {};",
        rows.join(", ")
    )
}

/// A version-3 database holding events (migration 4 rebuilds the SQLite event log) opens
/// with every event intact: the same scan, count and bounds, the stored ids still dedupe,
/// and erasure still finds every event of a user, the migrated and the new.
pub fn events_survive_the_split_event_ids_migration(harness: &dyn Harness) {
    harness.create_database_at(3);
    let mut old = vec![
        full_event(),
        event(1, "alice", 0),
        event(2, "bob", 0),
        event(3, "alice", 3_599_999),
        event(4, "alice", 3_600_000),
        event(5, "bob", 86_400_000 * 40),
        event(6, "alice", 86_400_000 * 40),
        event_at_epoch_millis(7, "alice", -3_600_001),
        event_at_epoch_millis(8, "alice", -1),
        event_at_epoch_millis(9, "alice", 0),
        event_at_epoch_millis(10, "carol", 1),
    ];
    harness.execute_sql(&raw_event_rows(harness.backend(), &old));
    let mut store = harness
        .open()
        .expect("a version-3 database with events opens");
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
    old.sort_by_key(|e| (e.timestamp, e.id.0));
    assert_eq!(
        scan_all(&mut *store),
        old,
        "every event scans back identically"
    );
    assert_eq!(store.event_count().unwrap(), old.len() as u64);
    assert_eq!(
        store.time_bounds().unwrap(),
        Some((Timestamp(-3_600_001), at(86_400_000 * 40)))
    );
    // The migrated ids still dedupe: the first stored version wins over a changed copy.
    let mut changed = old[3].clone();
    changed.user_id = "mallory".into();
    let fresh = event(100, "alice", 7_200_000);
    let mut flags = Vec::new();
    let report = store
        .insert_events_flagged(
            &[changed, fresh.clone(), old[0].clone(), fresh.clone()],
            &mut flags,
        )
        .unwrap();
    assert_eq!(
        report,
        InsertReport {
            inserted: 1,
            duplicates: 3
        }
    );
    assert_eq!(flags, [false, true, false, false]);
    assert_eq!(
        store.insert_events(&old).unwrap(),
        InsertReport {
            inserted: 0,
            duplicates: old.len() as u64
        }
    );
    // Erasure finds the migrated events (on both sides of the epoch) and the new one.
    let alice = old.iter().filter(|e| e.user_id == "alice").count() as u64 + 1;
    assert_eq!(store.erase_user("alice").unwrap().events, alice);
    let left: Vec<Event> = old
        .iter()
        .filter(|e| e.user_id != "alice")
        .cloned()
        .collect();
    assert_eq!(scan_all(&mut *store), left);
    // Erased ids are forgotten; the others are still known.
    let report = store.insert_events(&old).unwrap();
    assert_eq!(
        report,
        InsertReport {
            inserted: alice - 1,
            duplicates: left.len() as u64
        }
    );
    drop(store);
    let mut store = harness.open().expect("reopen");
    assert_eq!(scan_all(&mut *store), old);
    assert_eq!(
        harness.count_rows("schema_migrations"),
        u64::from(LATEST_VERSION)
    );
}

/// Milliseconds in an hour.
const HOUR: i64 = 3_600_000;

/// Retention removes exactly the events before the cutoff: whole hours before it, and the
/// events before it of one batch that spans the cutoff's hour (on SQLite, one block that is
/// rewritten), an event at the cutoff itself staying. Purging again removes nothing, and the
/// purged events are forgotten: inserting them again stores them again.
pub fn a_purge_removes_the_events_before_its_cutoff(store: &mut dyn Store) {
    let cutoff = at(2 * HOUR + 30 * 60_000);
    let early: Vec<Event> = (0..6u32)
        .map(|n| event(n, &format!("u{}", n % 2), i64::from(n) * 10 * 60_000))
        .collect();
    // One batch, all in the cutoff's hour: 2:00, 2:10, 2:20, cutoff - 1 ms | cutoff, cutoff + 1
    // ms, 2:40, 2:50 (two users).
    let offsets = [
        -30 * 60_000,
        -20 * 60_000,
        -10 * 60_000,
        -1,
        0,
        1,
        600_000,
        1_200_000,
    ];
    let straddling: Vec<Event> = (100u32..)
        .zip(offsets)
        .map(|(n, offset)| {
            event(
                n,
                ["s1", "s2"][n as usize % 2],
                cutoff.0 - BASE_MILLIS + offset,
            )
        })
        .collect();
    let late: Vec<Event> = (200..3u32 + 200)
        .map(|n| event(n, "u1", 5 * HOUR + i64::from(n)))
        .collect();
    for batch in [&early, &straddling, &late] {
        assert_eq!(
            store.insert_events(batch).unwrap().inserted,
            batch.len() as u64
        );
    }
    let (purged, kept): (Vec<Event>, Vec<Event>) = early
        .iter()
        .chain(&straddling)
        .chain(&late)
        .cloned()
        .partition(|e| e.timestamp < cutoff);
    assert_eq!((purged.len(), kept.len()), (10, 7));
    assert_eq!(
        store.purge_before(cutoff).unwrap(),
        PurgeReport {
            events: 10,
            ..PurgeReport::default()
        }
    );
    let mut expected = kept.clone();
    expected.sort_by_key(|e| (e.timestamp, e.id.0));
    assert!(
        scan_all(store) == expected,
        "the events left are not the kept ones"
    );
    assert_eq!(store.event_count().unwrap(), 7);
    assert_eq!(
        store.time_bounds().unwrap(),
        Some((cutoff, late[2].timestamp))
    );
    assert_eq!(store.purge_before(cutoff).unwrap(), PurgeReport::default());
    // Every event again: the purged ones are new, the kept ones duplicates.
    let all: Vec<Event> = purged.iter().chain(&kept).cloned().collect();
    let again = store.insert_events(&all).unwrap();
    assert_eq!((again.inserted, again.duplicates), (10, 7));
    assert_eq!(store.event_count().unwrap(), 17);
    // A cutoff after everything empties the log.
    assert_eq!(store.purge_before(at(6 * HOUR)).unwrap().events, 17);
    assert_eq!(store.time_bounds().unwrap(), None);
}

/// [`cart`], open (no `closed_at`) when its state is not terminal.
fn cart_in(id: &str, user: &str, state: CartState, created_millis: i64) -> Cart {
    let mut cart = cart(id, user, state, created_millis);
    if !state.is_terminal() {
        cart.closed_at = None;
    }
    cart
}

/// Retention removes the carts closed before the cutoff with their decisions, messages and
/// tracking, whoever owns them, and nothing else: open carts of any age, carts closed after
/// the cutoff and every consent record stay.
pub fn a_purge_removes_closed_carts_and_their_records_and_keeps_consent(store: &mut dyn Store) {
    // [`cart`] closes a cart 2 hours after creating it.
    let cutoff = at(10 * 24 * HOUR);
    let mut legacy = cart_in("x-legacy", "carol", CartState::Expired, 0);
    legacy.closed_at = None;
    let carts = [
        cart_in("r-old", "alice", CartState::Recovered, 0),
        cart_in("p-old", "alice", CartState::Purchased, 0),
        cart_in("e-old", "bob", CartState::Expired, 0),
        // A closed cart without `closed_at`: its last activity stands in.
        legacy,
        // Closed one millisecond after the cutoff.
        cart_in(
            "p-new",
            "bob",
            CartState::Purchased,
            cutoff.0 - BASE_MILLIS - 2 * HOUR + 1,
        ),
        cart_in("a-open", "alice", CartState::Abandoned, 0),
        cart_in("i-open", "bob", CartState::Idle, 0),
        cart_in("c-open", "carol", CartState::Active, 0),
    ];
    store.upsert_carts(&carts).unwrap();
    let (_, purged_message) = record_with_message(store, "p-old", "alice", 0);
    let (_, open_message) = record_with_message(store, "a-open", "alice", 0);
    let (_, new_message) = record_with_message(store, "p-new", "bob", 0);
    store
        .record_decision(&decision("e-old", "bob", 0), None)
        .unwrap()
        .expect("a new decision");
    for (message, kind) in [
        (purged_message, "open"),
        (purged_message, "click"),
        (open_message, "open"),
        (new_message, "unsubscribe"),
    ] {
        store.record_tracking(message, kind, at(5)).unwrap();
    }
    store.set_consent("alice", "email", false, at(5)).unwrap();
    store.set_consent("bob", "email", true, at(5)).unwrap();
    assert_eq!(
        store.purge_before(cutoff).unwrap(),
        PurgeReport {
            events: 0,
            carts: 4,
            decisions: 2,
            messages: 1,
            tracking_events: 2,
        }
    );
    for gone in ["r-old", "p-old", "e-old", "x-legacy"] {
        assert_eq!(store.cart(gone).unwrap(), None, "{gone}");
        assert!(store.decisions_of_cart(gone).unwrap().is_empty(), "{gone}");
        assert!(store.messages_of_cart(gone).unwrap().is_empty(), "{gone}");
    }
    assert_eq!(store.message(purged_message).unwrap(), None);
    assert!(store.tracking_counts(purged_message).unwrap().is_empty());
    // Alice's open cart and Bob's recent one keep everything.
    for (kept, message, kind) in [
        ("a-open", open_message, "open"),
        ("p-new", new_message, "unsubscribe"),
    ] {
        assert_eq!(store.decisions_of_cart(kept).unwrap().len(), 1, "{kept}");
        assert_eq!(ids(&store.messages_of_cart(kept).unwrap()), [message]);
        assert_eq!(store.tracking_counts(message).unwrap(), named(&[(kind, 1)]));
    }
    let mut left = Vec::new();
    store.scan_carts(&mut |cart| left.push(cart.id)).unwrap();
    left.sort_unstable();
    assert_eq!(left, ["a-open", "c-open", "i-open", "p-new"]);
    assert_eq!(store.consent("alice", "email").unwrap(), Some(false));
    assert_eq!(store.consent("bob", "email").unwrap(), Some(true));
    assert_eq!(store.purge_before(cutoff).unwrap(), PurgeReport::default());
    // The open carts stay whatever the cutoff.
    assert_eq!(store.purge_before(at(1_000 * 24 * HOUR)).unwrap().carts, 1);
    assert_eq!(store.cart_counts().unwrap().values().sum::<u64>(), 3);
}

/// Every handle deduplicates exactly across a purge by another one: a handle that had loaded
/// the stored ids before the purge stores a purged event again, once, and still refuses the
/// kept ones, and the purging handle then refuses it too.
pub fn a_purge_keeps_every_handles_dedupe_exact(harness: &dyn Harness) {
    let mut purging = harness.open().expect("open the purging handle");
    let mut other = harness.open().expect("open the other handle");
    let old = [event(1, "u1", 0), event(2, "u2", 1_000)];
    let new = event(3, "u1", 2 * HOUR);
    let all = [old[0].clone(), old[1].clone(), new.clone()];
    assert_eq!(other.insert_events(&all).unwrap().inserted, 3);
    // Both handles know every id before the purge.
    assert_eq!(purging.insert_events(&all).unwrap().duplicates, 3);
    assert_eq!(purging.purge_before(at(HOUR)).unwrap().events, 2);
    let again = other.insert_events(&[old[0].clone(), new.clone()]).unwrap();
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    let again = purging.insert_events(&old).unwrap();
    assert_eq!((again.inserted, again.duplicates), (1, 1));
    let again = other.insert_events(&all).unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 3));
    let mut reader = harness.open().expect("open a reader");
    assert_eq!(reader.event_count().unwrap(), 3);
    let mut expected = all.to_vec();
    expected.sort_by_key(|e| (e.timestamp, e.id.0));
    assert!(scan_all(&mut *reader) == expected, "not every event once");
}

/// A setting is claimed once: the first value stays, a second claim returns it; erasure and
/// purges leave settings alone.
pub fn settings_are_set_once_and_survive_erasure_and_purges(store: &mut dyn Store) {
    assert_eq!(store.setting("user_ids").unwrap(), None);
    assert_eq!(
        store
            .claim_setting("user_ids", "pseudonymised:aaaa")
            .unwrap(),
        "pseudonymised:aaaa"
    );
    assert_eq!(
        store
            .claim_setting("user_ids", "pseudonymised:bbbb")
            .unwrap(),
        "pseudonymised:aaaa",
        "the first claim wins"
    );
    assert_eq!(store.setting("other").unwrap(), None);
    store.insert_events(&[event(1, "alice", 0)]).unwrap();
    store.erase_user("alice").unwrap();
    store.purge_before(Timestamp(i64::MAX)).unwrap();
    assert_eq!(
        store.setting("user_ids").unwrap().as_deref(),
        Some("pseudonymised:aaaa")
    );
}

/// [`crate::ensure_user_ids`]: an empty store takes the first key; the same key is let in, another
/// key or none is refused; a store with the shop's own ids refuses pseudonymisation.
pub fn user_ids_of_two_kinds_never_mix(store: &mut dyn Store) {
    use crate::{UserIds, UserIdsError, ensure_user_ids};
    let key = |fingerprint| UserIds::Pseudonymised { fingerprint };
    // A store with the shop's ids: fine as issued, refused for pseudonyms.
    store.insert_events(&[event(1, "alice", 0)]).unwrap();
    ensure_user_ids(store, UserIds::AsIssued).unwrap();
    match ensure_user_ids(store, key("00ff00ff00ff00ff")) {
        Err(UserIdsError::HoldsIssuedIds {
            events: 1,
            carts: 0,
        }) => {}
        other => panic!("expected HoldsIssuedIds, got {other:?}"),
    }
    assert_eq!(store.setting(crate::USER_IDS_SETTING).unwrap(), None);
    // Emptied (erasure), it takes the first key, and keeps it.
    store.erase_user("alice").unwrap();
    ensure_user_ids(store, key("00ff00ff00ff00ff")).unwrap();
    ensure_user_ids(store, key("00ff00ff00ff00ff")).unwrap();
    store.insert_events(&[event(2, "ps_x", 0)]).unwrap();
    match ensure_user_ids(store, key("1111111111111111")) {
        Err(UserIdsError::KeyMismatch { stored, configured }) => {
            assert_eq!(
                (stored.as_str(), configured.as_str()),
                ("00ff00ff00ff00ff", "1111111111111111")
            );
        }
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
    match ensure_user_ids(store, UserIds::AsIssued) {
        Err(error @ UserIdsError::KeyMissing { .. }) => {
            assert!(error.to_string().contains("00ff00ff00ff00ff"), "{error}");
        }
        other => panic!("expected KeyMissing, got {other:?}"),
    }
}

/// A stock level of `item`: `available` units counted at [`BASE_MILLIS`] + `millis`.
pub fn stock(item: &str, available: i64, millis: i64) -> StockLevel {
    StockLevel {
        item_id: item.into(),
        available,
        updated_at: at(millis),
    }
}

fn stock_ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

/// Levels are written and read back exactly (zero and oversold counts too); items never
/// reported are absent from a read, and a read names each item once, in id order.
pub fn stock_levels_upsert_and_read_back(store: &mut dyn Store) {
    assert!(store.stock_levels(&stock_ids(&["mug"])).unwrap().is_empty());
    let levels = [
        stock("mug", 12, 0),
        stock("cup", 0, 10),
        stock("tee", -3, 20),
    ];
    assert_eq!(
        store.upsert_stock(&levels).unwrap(),
        StockReport {
            applied: 3,
            stale: 0
        }
    );
    let read = store
        .stock_levels(&stock_ids(&["tee", "unknown", "mug", "cup", "mug"]))
        .unwrap();
    assert_eq!(
        read,
        vec![levels[1].clone(), levels[0].clone(), levels[2].clone()]
    );
    assert_eq!(
        read.iter().map(StockLevel::in_stock).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert!(store.stock_levels(&[]).unwrap().is_empty());
    assert!(
        store
            .stock_levels(&stock_ids(&["unknown", "other"]))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.upsert_stock(&[]).unwrap(),
        StockReport::default(),
        "an empty batch does nothing"
    );
    // Ids are compared exactly: no case folding, no trimming.
    store.upsert_stock(&[stock("Mug ", 1, 0)]).unwrap();
    assert_eq!(
        store.stock_levels(&stock_ids(&["mug"])).unwrap(),
        vec![levels[0].clone()]
    );
}

/// A level older than the one kept is ignored and counted stale (webhooks arrive out of
/// order); an equally old one overwrites; inside one batch the newest of an item wins.
pub fn a_stale_stock_level_is_ignored(store: &mut dyn Store) {
    let read = |store: &mut dyn Store| store.stock_levels(&stock_ids(&["mug"])).unwrap();
    store.upsert_stock(&[stock("mug", 5, 1_000)]).unwrap();
    let report = store
        .upsert_stock(&[stock("mug", 0, 500), stock("cup", 2, 500)])
        .unwrap();
    assert_eq!(
        report,
        StockReport {
            applied: 1,
            stale: 1
        },
        "the older mug is stale, the new cup applied"
    );
    assert_eq!(read(store), vec![stock("mug", 5, 1_000)]);
    let report = store.upsert_stock(&[stock("mug", 4, 1_000)]).unwrap();
    assert_eq!(
        (report.applied, report.stale),
        (1, 0),
        "as new: overwritten"
    );
    assert_eq!(read(store), vec![stock("mug", 4, 1_000)]);
    let report = store
        .upsert_stock(&[
            stock("mug", 1, 2_000),
            stock("mug", 0, 3_000),
            stock("mug", 7, 2_500),
            stock("mug", 9, 900),
        ])
        .unwrap();
    assert_eq!(
        report,
        StockReport {
            applied: 1,
            stale: 3
        }
    );
    assert_eq!(read(store), vec![stock("mug", 0, 3_000)]);
    // A later restock applies.
    store.upsert_stock(&[stock("mug", 8, 4_000)]).unwrap();
    assert_eq!(read(store), vec![stock("mug", 8, 4_000)]);
}

/// Stock is not personal data: erasing a user and purging everything leave it.
pub fn stock_survives_erasure_and_purges(store: &mut dyn Store) {
    store
        .upsert_stock(&[stock("mug", 3, 0), stock("cup", 0, 0)])
        .unwrap();
    store.insert_events(&[event(1, "alice", 0)]).unwrap();
    let erased = store.erase_user("alice").unwrap();
    assert_eq!(erased.events, 1);
    store.purge_before(Timestamp(i64::MAX)).unwrap();
    assert_eq!(
        store.stock_levels(&stock_ids(&["cup", "mug"])).unwrap(),
        vec![stock("cup", 0, 0), stock("mug", 3, 0)]
    );
}

/// An item id PostgreSQL cannot store refuses the whole batch, on every backend.
pub fn stock_with_nul_is_refused_whole(store: &mut dyn Store) {
    match store.upsert_stock(&[stock("mug", 3, 0), stock("c\0up", 1, 0)]) {
        Err(StoreError::Unstorable { field, .. }) => assert_eq!(field, "item_id"),
        other => panic!("expected Unstorable, got {other:?}"),
    }
    assert!(store.stock_levels(&stock_ids(&["mug"])).unwrap().is_empty());
}

/// A database migrated by a build before stock levels (version 7) gains the table on open.
pub fn a_store_before_stock_levels_gains_them(harness: &dyn Harness) {
    harness.create_database_at(7);
    let mut store = harness.open().expect("open a version-7 database");
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
    assert_eq!(
        store.upsert_stock(&[stock("mug", 1, 0)]).unwrap().applied,
        1
    );
    assert_eq!(harness.count_rows("item_stock"), 1);
}
