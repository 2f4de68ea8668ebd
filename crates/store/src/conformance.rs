//! The backend-independent test suite every [`Store`] implementation must pass.
//!
//! Written once, run against SQLite and PostgreSQL (see `src/tests.rs`). A check either takes
//! a fresh, empty store (`&mut dyn Store`) or, when it needs to reopen or tamper with the
//! database, a [`Harness`] that opens handles on one database. Available to other crates
//! with the `test-suite` feature. Checks panic (they are test bodies).

use crate::migrate::LATEST_VERSION;
use crate::{ErasureReport, InsertReport, Store, StoreError};
use cartback_core::{
    Cart, CartLine, CartState, Currency, Event, EventId, EventKind, Item, Timestamp,
};

/// Opens handles on one test database (a file, a schema) that the harness owns.
pub trait Harness: Sync {
    /// A new handle on the harness's database, migrated.
    fn open(&self) -> Result<Box<dyn Store>, StoreError>;
    /// Runs SQL on the database directly, outside any store.
    fn execute_sql(&self, sql: &str);
    /// Number of rows in `table`, read directly, outside any store.
    fn count_rows(&self, table: &str) -> u64;
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
    ("first_stored_version_wins", first_stored_version_wins),
    ("scan_orders_by_time_then_id", scan_orders_by_time_then_id),
    ("scan_streams_many_events", scan_streams_many_events),
    ("payload_round_trips_exactly", payload_round_trips_exactly),
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
        "erasure_removes_exactly_one_user",
        erasure_removes_exactly_one_user,
    ),
    ("schema_is_current", schema_is_current),
    (
        "nul_characters_are_refused_whole",
        nul_characters_are_refused_whole,
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
        created_at: Timestamp(BASE_MILLIS + created_millis),
        last_activity: Timestamp(BASE_MILLIS + created_millis + 60_000),
        abandoned_at: Some(Timestamp(BASE_MILLIS + created_millis + 1_860_000)),
        abandonments: 1,
        closed_at: Some(Timestamp(BASE_MILLIS + created_millis + 7_200_000)),
        order_id: Some("order-1".into()),
        order_value: Some(25_998),
        email: Some("shopper@example.com".into()),
        timezone: Some("America/New_York".into()),
        direct_purchase: true,
        order_cancelled: true,
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
            carts: 2
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
    harness.execute_sql(r#"UPDATE events SET kind = 'product_added', payload = '{"items": 5}'"#);
    expect_corrupt_event(&mut *store, "payload");
    harness.execute_sql(r#"UPDATE carts SET payload = '{"not": "a cart"}'"#);
    match store.cart("c1") {
        Err(StoreError::CorruptRow { table, key, .. }) => {
            assert_eq!((table, key.as_str()), ("carts", "c1"));
        }
        other => panic!("expected a corrupt carts row, got {other:?}"),
    }
}
