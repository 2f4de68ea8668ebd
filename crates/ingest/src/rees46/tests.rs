use super::HEADER;
use crate::test_support::{options, read, read_with};
use crate::{EventReader, Format, IngestError, ParseOptions};
use cartback_core::{Currency, EventKind, Timestamp};
use std::collections::HashSet;
use std::path::PathBuf;

const SAMPLE: &str = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\r
2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\r
2019-10-01 00:00:05 UTC,cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\r
\r
2019-10-01 00:00:09 UTC,remove_from_cart,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\r
2019-10-01 00:01:00 UTC,purchase,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\r
2019-10-01 00:01:00 UTC,purchase,1307067,2053013558920217191,computers.notebook,,1081.98,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\r
";

#[test]
fn maps_each_event_type() {
    let outcome = read(Format::Rees46, SAMPLE);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    let kinds: Vec<EventKind> = outcome.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ProductViewed,
            EventKind::ProductAdded,
            EventKind::ProductRemoved,
            EventKind::OrderCompleted,
            EventKind::OrderCompleted
        ]
    );
    let view = &outcome.events[0];
    assert_eq!(view.timestamp, Timestamp(1_569_888_000_000));
    assert_eq!(view.user_id, "541312140");
    assert_eq!(
        view.session_id.as_deref(),
        Some("72d76fde-8bb3-4e00-8c23-a032dfed738c")
    );
    assert_eq!(view.order_id, None);
    assert_eq!(view.currency, Some(Currency::USD));
    let item = &view.items[0];
    assert_eq!(item.id, "44600062");
    assert_eq!(
        item.category.as_deref(),
        Some("2103807459595387724"),
        "category_id when no code"
    );
    assert_eq!(item.brand.as_deref(), Some("shiseido"));
    assert_eq!(item.price, Some(3_579));
    let added = &outcome.events[1];
    assert_eq!(
        added.items[0].category.as_deref(),
        Some("appliances.environment.water_heater")
    );
    // Both purchase rows of the session are one order, keyed by the session.
    let orders: HashSet<_> = outcome.events[3..]
        .iter()
        .map(|e| e.order_id.clone())
        .collect();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        outcome.events[4].order_id.as_deref(),
        Some("72d76fde-8bb3-4e00-8c23-a032dfed738c")
    );
    assert_eq!(outcome.events[4].items[0].price, Some(108_198));
    assert_eq!(outcome.events[4].items[0].brand, None);
}

#[test]
fn identical_lines_share_an_id() {
    let row = SAMPLE.lines().nth(1).unwrap().trim_end();
    let outcome = read(Format::Rees46, &format!("{HEADER}\n{row}\n{row}  \n"));
    assert_eq!(outcome.events.len(), 2);
    assert_eq!(outcome.events[0].id, outcome.events[1].id);
    let other = SAMPLE.lines().nth(2).unwrap().trim_end();
    let outcome = read(Format::Rees46, &format!("{HEADER}\n{row}\n{other}\n"));
    assert_ne!(outcome.events[0].id, outcome.events[1].id);
}

#[test]
fn a_wrong_or_missing_header_stops_reading() {
    let wrong = "time,type,product\n2019-10-01 00:00:00 UTC,view,1\n";
    let mut reader = EventReader::new(Format::Rees46, wrong.as_bytes(), options()).unwrap();
    let err = reader.next().unwrap().unwrap_err();
    assert!(matches!(err, IngestError::Rees46Header { line: 1, .. }));
    assert!(
        err.to_string()
            .contains("expected the header `event_time,event_type"),
        "{err}"
    );
    assert!(reader.next().is_none(), "reading stops after a fatal error");
    let headerless = SAMPLE.lines().nth(1).unwrap();
    let mut reader = EventReader::new(Format::Rees46, headerless.as_bytes(), options()).unwrap();
    assert!(matches!(
        reader.next(),
        Some(Err(IngestError::Rees46Header { .. }))
    ));
    // An empty file has no header to check and yields nothing.
    assert!(
        EventReader::new(Format::Rees46, &b""[..], options())
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn a_repeated_header_is_skipped() {
    let outcome = read(Format::Rees46, &format!("{SAMPLE}{HEADER}\n"));
    assert_eq!(outcome.events.len(), 5);
    assert_eq!(outcome.skipped, 1);
}

#[test]
fn rejects_bad_rows_naming_the_column() {
    let reject = |row: &str| {
        let outcome = read(Format::Rees46, &format!("{HEADER}\n{row}\n"));
        assert!(outcome.events.is_empty(), "{row}: {:?}", outcome.events);
        outcome.rejections[0].to_string()
    };
    let good =
        "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,s1";
    assert_eq!(
        reject(&good.replace("35.79", "-35.79")),
        "line 2: price: amount -35.79 is negative"
    );
    assert_eq!(
        reject(&good.replace("35.79", "35.7x")),
        "line 2: price: `35.7x` is not a decimal amount"
    );
    assert_eq!(
        reject(&good.replace("35.79", "200000000")),
        "line 2: price: 20000000000 minor units is larger than any real price (limit 10000000000)"
    );
    assert_eq!(
        reject(&good.replace(",view,", ",wishlist,")),
        "line 2: event_type: unknown event type `wishlist` (expected view, cart, remove_from_cart or purchase)"
    );
    assert_eq!(
        reject(&good.replace("2019-10-01 00:00:00 UTC", "2019-10-01T00:00:00Z")),
        "line 2: event_time: `2019-10-01T00:00:00Z` is not a time like 2019-10-01 00:00:00 UTC"
    );
    assert_eq!(
        reject(&good.replace("541312140", "")),
        "line 2: user_id: must not be empty"
    );
    assert_eq!(
        reject(&good.replace(",44600062,", ",,")),
        "line 2: product_id: must not be empty"
    );
    assert_eq!(
        reject(&good.replace(",s1", "")),
        format!("line 2: expected 9 comma-separated columns ({HEADER}), got 8")
    );
    assert!(
        reject(&format!("{good},a,b,c")).contains("more than 9 columns"),
        "far too many columns"
    );
    assert!(
        reject(&format!("{good},extra")).ends_with("got 10"),
        "too many columns"
    );
    assert_eq!(
        reject(&good.replace("2019-10-01", "1999-10-01")),
        "line 2: event_time: 1999-10-01T00:00:00.000Z is before 2000-01-01T00:00:00.000Z; is it in seconds instead of milliseconds?"
    );
}

#[test]
fn quoted_fields_and_missing_sessions() {
    let row = r#"2019-10-01 00:00:00 UTC,purchase,1,2,,"smith, jones & ""co""",1.00,7,"#;
    let outcome = read(Format::Rees46, &format!("{HEADER}\n{row}\n"));
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    let event = &outcome.events[0];
    assert_eq!(
        event.items[0].brand.as_deref(),
        Some(r#"smith, jones & "co""#)
    );
    assert_eq!(event.session_id, None);
    assert_eq!(event.order_id, None, "no session, no order id");
}

/// The REES46 sample shipped in `testdata/` (or the shared data directory).
fn sample_path(file: &str, shared: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    [
        root.join("testdata").join(file),
        root.join("../shared/data").join(shared),
    ]
    .into_iter()
    .find(|p| p.exists())
}

#[test]
fn the_real_rees46_sample_parses_without_rejections() {
    let Some(path) = sample_path("rees46-2019-Oct-head.csv", "rees46/2019-Oct-head.csv") else {
        eprintln!("skipped: the REES46 sample is absent (testdata/rees46-2019-Oct-head.csv)");
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let outcome = read_with(Format::Rees46, &bytes, ParseOptions::default());
    assert!(
        outcome.rejections.is_empty(),
        "{:?}",
        &outcome.rejections[..outcome.rejections.len().min(5)]
    );
    assert_eq!(outcome.events.len(), 17_434);
    let count = |kind| outcome.events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(EventKind::ProductViewed), 17_055);
    assert_eq!(count(EventKind::ProductAdded), 165);
    assert_eq!(count(EventKind::OrderCompleted), 214);
    let ids: HashSet<_> = outcome.events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 17_429, "the file has 17,429 distinct lines");
    let orders: HashSet<_> = outcome
        .events
        .iter()
        .filter_map(|e| e.order_id.as_deref())
        .collect();
    assert_eq!(orders.len(), 200, "distinct sessions with a purchase");
}
