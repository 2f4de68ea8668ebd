//! Every event any parser produces is valid cartback NDJSON: serialising it and reading it
//! back gives the same event. The store and the generator rely on this.

use cartback_core::Event;
use cartback_ingest::{EventReader, Format, ParseOptions};
use std::path::PathBuf;

fn read_all(format: Format, bytes: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    for parsed in EventReader::new(format, bytes, ParseOptions::default()).unwrap() {
        let parsed = parsed.unwrap();
        assert!(parsed.rejections.is_empty(), "{:?}", parsed.rejections);
        events.extend(parsed.events);
    }
    events
}

fn assert_round_trips(events: &[Event]) {
    let mut ndjson = Vec::new();
    for event in events {
        serde_json::to_writer(&mut ndjson, event).unwrap();
        ndjson.push(b'\n');
    }
    let back = read_all(Format::Ndjson, &ndjson);
    assert_eq!(back.len(), events.len());
    for (original, reread) in events.iter().zip(&back) {
        assert_eq!(original, reread);
    }
}

fn testdata(file: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(file);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            eprintln!("skipped: {} is absent", path.display());
            None
        }
    }
}

#[test]
fn rees46_events_read_back_through_ndjson() {
    if let Some(bytes) = testdata("rees46-2019-Oct-head.csv") {
        let events = read_all(Format::Rees46, &bytes);
        assert_eq!(events.len(), 17_434);
        assert_round_trips(&events);
    }
}

#[test]
fn otto_events_read_back_through_ndjson() {
    if let Some(bytes) = testdata("otto-train-fixture.jsonl") {
        let events = read_all(Format::Otto, &bytes);
        assert_eq!(events.len(), 857);
        assert_round_trips(&events);
    }
}

#[test]
fn segment_events_read_back_through_ndjson() {
    let input = concat!(
        r#"{"batch":[{"type":"track","event":"Product Added","anonymousId":"a1","messageId":"m1","timestamp":"2024-05-01T10:00:00Z","properties":{"product_id":"p1","name":"Shoe","price":19.99,"quantity":3,"currency":"JPY"},"context":{"timezone":"Asia/Tokyo"}},"#,
        r#"{"type":"track","event":"Order Completed","userId":7,"timestamp":"2024-05-01T10:05:00Z","properties":{"order_id":"o1","revenue":"12.5","products":[{"sku":"s1","price":12.5}]},"context":{"traits":{"email":"x@y.example"}}}]}"#,
        "\n"
    );
    let outcome: Vec<_> =
        EventReader::new(Format::Segment, input.as_bytes(), ParseOptions::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
    // 19.99 JPY has decimals JPY does not have: that call is rejected, the order is not.
    assert_eq!(outcome[0].rejections.len(), 1);
    assert_eq!(
        outcome[0].rejections[0].field.as_deref(),
        Some("batch[0].properties.price")
    );
    assert_eq!(outcome[0].events.len(), 1);
    assert_round_trips(&outcome[0].events);
}
