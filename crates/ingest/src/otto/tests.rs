use crate::test_support::{read, read_with};
use crate::{Format, ParseOptions};
use cartback_core::{EventKind, Timestamp};
use std::collections::HashSet;
use std::path::PathBuf;

const SESSION: &str = r#"{"session":42,"events":[{"aid":1517085,"ts":1659304800025,"type":"clicks"},{"aid":1649869,"ts":1659369893840,"type":"carts"},{"aid":305831,"ts":1659370027105,"type":"orders"},{"aid":461689,"ts":1659370027105,"type":"orders"},{"aid":461689,"ts":1659370090000,"type":"orders"}]}"#;

#[test]
fn maps_clicks_carts_and_orders() {
    let outcome = read(Format::Otto, SESSION);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    let kinds: Vec<EventKind> = outcome.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ProductViewed,
            EventKind::ProductAdded,
            EventKind::OrderCompleted,
            EventKind::OrderCompleted
        ]
    );
    let click = &outcome.events[0];
    assert_eq!(click.user_id, "42");
    assert_eq!(click.session_id.as_deref(), Some("42"));
    assert_eq!(
        click.timestamp,
        Timestamp(1_659_304_800_025),
        "ts is in milliseconds"
    );
    assert_eq!(
        (click.items[0].id.as_str(), click.items[0].price),
        ("1517085", None)
    );
    assert_eq!(click.currency, None);
    // The two orders at the same time are one order with two items.
    let order = &outcome.events[2];
    assert_eq!(order.order_id.as_deref(), Some("42-1659370027105"));
    let articles: Vec<&str> = order.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(articles, ["305831", "461689"]);
    assert_eq!(
        outcome.events[3].order_id.as_deref(),
        Some("42-1659370090000")
    );
    let ids: HashSet<_> = outcome.events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        read(Format::Otto, SESSION).events[0].id,
        click.id,
        "ids are deterministic"
    );
}

#[test]
fn seconds_are_recognised() {
    let line = r#"{"session":1,"events":[{"aid":5,"ts":1659304800,"type":"clicks"}]}"#;
    let outcome = read(Format::Otto, line);
    assert_eq!(outcome.events[0].timestamp, Timestamp(1_659_304_800_000));
}

#[test]
fn a_bad_event_rejects_itself_only() {
    let line = r#"{"session":1,"events":[{"aid":5,"ts":1659304800000,"type":"clicks"},{"aid":6,"ts":5000000000000000,"type":"carts"}]}"#;
    let outcome = read_with(Format::Otto, line.as_bytes(), ParseOptions::default());
    assert_eq!(outcome.events.len(), 1);
    let message = outcome.rejections[0].to_string();
    assert!(message.starts_with("line 1: events[1].ts: +"), "{message}");
    assert!(
        message.ends_with("is absurdly far in the future; is it in micro- or nanoseconds?"),
        "{message}"
    );
}

#[test]
fn rejects_malformed_sessions() {
    let reject = |line: &str| {
        let outcome = read(Format::Otto, line);
        assert!(outcome.events.is_empty());
        outcome.rejections[0].to_string()
    };
    let message =
        reject(r#"{"session":1,"events":[{"aid":5,"ts":1659304800000,"type":"wishlist"}]}"#);
    assert!(
        message.starts_with("line 1: events[0].type: unknown variant `wishlist`"),
        "{message}"
    );
    assert_eq!(reject(r#"{"session":1}"#), "line 1: events: is required");
    let message = reject(r#"{"session":"one","events":[]}"#);
    assert!(
        message.starts_with("line 1: session: invalid type: string \"one\""),
        "{message}"
    );
    let message =
        reject(r#"{"session":1,"events":[{"aid":-5,"ts":1659304800000,"type":"clicks"}]}"#);
    assert!(
        message.starts_with("line 1: events[0].aid: invalid value: integer `-5`"),
        "{message}"
    );
    let message = reject(r#"{"session":1,"#);
    assert!(
        message.starts_with("line 1: malformed JSON at column 13: EOF"),
        "{message}"
    );
}

#[test]
fn the_real_otto_fixture_parses_fully() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(path) = [
        root.join("testdata/otto-train-fixture.jsonl"),
        root.join("../shared/data/otto/train_fixture.jsonl"),
    ]
    .into_iter()
    .find(|p| p.exists()) else {
        eprintln!("skipped: the OTTO fixture is absent (testdata/otto-train-fixture.jsonl)");
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let outcome = read_with(Format::Otto, &bytes, ParseOptions::default());
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    assert_eq!(outcome.lines, 20);
    let sessions: HashSet<_> = outcome.events.iter().map(|e| e.user_id.as_str()).collect();
    assert_eq!(sessions.len(), 20);
    let count = |kind| outcome.events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(EventKind::ProductViewed), 800);
    assert_eq!(count(EventKind::ProductAdded), 52);
    // 10 order rows at 5 distinct (session, ts) pairs: 5 orders holding 10 articles.
    assert_eq!(count(EventKind::OrderCompleted), 5);
    let ordered: u32 = outcome
        .events
        .iter()
        .filter(|e| e.kind == EventKind::OrderCompleted)
        .flat_map(|e| &e.items)
        .map(|i| i.quantity)
        .sum();
    assert_eq!(ordered, 10);
    assert_eq!(
        800 + 52 + ordered as usize,
        862,
        "every input event is accounted for"
    );
}
