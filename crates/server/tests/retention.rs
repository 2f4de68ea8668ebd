//! Data retention end to end on a clock the test sets: with `[privacy] retention = "30d"`,
//! the daily purge removes the events and the closed carts (with their decisions and
//! messages) of long ago and keeps consent and recent carts; the engine's memory follows the
//! store; a returning shopper's kept cart keeps its id through the purge and a restart; and
//! the purge at start-up runs before the engine serves.

mod support;

use cartback_core::{Duration, Timestamp};
use serde_json::json;
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);
/// 2026-06-10T10:00:00Z.
const T0: Timestamp = Timestamp(1_781_085_600_000);

fn cart_path(cart_id: &str) -> String {
    format!("/v1/carts/{}", cart_id.replace('#', "%23"))
}

async fn cart_ids_of(server: &cartback_server::RunningServer, user: &str) -> Vec<String> {
    let (status, carts) = get_json(server, READ, &format!("/v1/users/{user}/carts")).await;
    assert_eq!(status, 200, "{carts}");
    carts
        .as_array()
        .unwrap()
        .iter()
        .map(|cart| cart["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_daily_purge_removes_what_is_older_than_the_retention_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    one_reminder_at_abandonment(&mut config);
    config.privacy.retention = Some(Duration::days(30));
    let db = config.db.clone();
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config.clone(), clock.clone()).await;

    // Long ago: Alice abandons a cart, is reminded and buys it after all; Carol buys at once.
    let first = json!([
        add_to_cart_at("alice", "mug", 1999, T0, "UTC"),
        add_to_cart_at("carol", "pen", 500, T0, "UTC"),
    ]);
    assert_eq!(post_events(&server, INGEST, &first).await.status(), 200);
    clock.set(T0 + Duration::minutes(10));
    let carol_order = json!([order_at("carol", "pen", T0 + Duration::minutes(10))]);
    assert_eq!(
        post_events(&server, INGEST, &carol_order).await.status(),
        200
    );
    clock.set(T0 + Duration::minutes(31));
    eventually("Alice's reminder sent", WAIT, || async {
        let sent = first_message_status(&decisions(&server, "alice%231").await);
        (sent.as_deref() == Some("sent")).then_some(())
    })
    .await;
    clock.set(T0 + Duration::hours(2));
    let alice_order = json!([order_at("alice", "mug", T0 + Duration::hours(2))]);
    assert_eq!(
        post_events(&server, INGEST, &alice_order).await.status(),
        200
    );
    assert_eq!(
        set_consent(&server, "alice", json!({"email": false})).await,
        200
    );
    let (_, cart) = get_json(&server, READ, &cart_path("alice#1")).await;
    assert_eq!(cart["state"], json!("recovered"), "{cart}");

    // Carol comes back 20 days later: her second cart (it expires a week after she leaves
    // it, 27.5 days after the start).
    clock.set(T0 + Duration::days(20));
    let back = json!([add_to_cart_at(
        "carol",
        "ink",
        300,
        T0 + Duration::days(20),
        "UTC"
    )]);
    assert_eq!(post_events(&server, INGEST, &back).await.status(), 200);
    assert_eq!(cart_ids_of(&server, "carol").await, ["carol#1", "carol#2"]);

    // 35 days after the start the daily purge takes everything before day 5; Dave's cart
    // of today stays.
    clock.set(T0 + Duration::days(35));
    let recent = json!([add_to_cart_at(
        "dave",
        "cup",
        700,
        T0 + Duration::days(35),
        "UTC"
    )]);
    assert_eq!(post_events(&server, INGEST, &recent).await.status(), 200);
    eventually("the purge of the carts of long ago", WAIT, || async {
        let (status, _) = get_json(&server, READ, &cart_path("alice#1")).await;
        (status == 404).then_some(())
    })
    .await;
    let (status, _) = get_json(&server, READ, &cart_path("carol#1")).await;
    assert_eq!(status, 404);
    assert!(decisions(&server, "alice%231").await.is_empty());
    // Carol's kept cart keeps its id: the engine's rebuild numbered on from it.
    assert_eq!(cart_ids_of(&server, "carol").await, ["carol#2"]);
    let (status, dave) = get_json(&server, READ, &cart_path("dave#1")).await;
    assert_eq!((status, dave["state"].clone()), (200, json!("active")));
    let (_, consent) = get_json(&server, READ, "/v1/users/alice/consent").await;
    assert_eq!(consent["email"], json!(false));
    server.shutdown().await.unwrap();

    let mut store = cartback_store::open(&db).unwrap();
    let mut times = Vec::new();
    store
        .scan_events(&mut |event| times.push(event.timestamp))
        .unwrap();
    assert_eq!(
        times,
        [T0 + Duration::days(20), T0 + Duration::days(35)],
        "only the events of day 20 and day 35 are left"
    );
    let mut carts = Vec::new();
    store.scan_carts(&mut |cart| carts.push(cart.id)).unwrap();
    assert_eq!(carts, ["carol#2", "dave#1"]);
    assert!(store.decision_log(0, 100).unwrap().is_empty());
    assert!(store.message_log(0, 100).unwrap().is_empty());
    assert_eq!(store.consent("alice", "email").unwrap(), Some(false));
    drop(store);

    // A restart replays the purged log: Carol's cart keeps its id there too.
    clock.set(T0 + Duration::days(36));
    let server = start_with_clock(config.clone(), clock.clone()).await;
    assert_eq!(cart_ids_of(&server, "carol").await, ["carol#2"]);
    let (status, _) = get_json(&server, READ, &cart_path("carol#2")).await;
    assert_eq!(status, 200);
    server.shutdown().await.unwrap();

    // 60 days after the start the purge at start-up has taken Carol's second cart (closed on
    // day 27) and its event before the server answers.
    clock.set(T0 + Duration::days(60));
    let server = start_with_clock(config, clock.clone()).await;
    assert!(cart_ids_of(&server, "carol").await.is_empty());
    let (status, _) = get_json(&server, READ, &cart_path("carol#2")).await;
    assert_eq!(status, 404);
    assert_eq!(cart_ids_of(&server, "dave").await, ["dave#1"]);
    server.shutdown().await.unwrap();
    let mut store = cartback_store::open(&db).unwrap();
    assert_eq!(store.event_count().unwrap(), 1);
}
