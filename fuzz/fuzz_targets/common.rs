//! Shared driver and oracle for the ingest fuzz targets: feed bytes through the public
//! API, then check that every accepted event obeys the canonical invariants and reads
//! back unchanged through the NDJSON parser (the store and generator rely on that).

// Each target uses a subset of these helpers.
#![allow(dead_code)]

use cartback_core::{Event, EventKind, Timestamp};
use cartback_ingest::{EventReader, Format, ParseOptions, parse_json_payload};

/// A fixed clock so runs are reproducible: 2024-06-01T00:00:00Z.
pub const NOW: Timestamp = Timestamp(1_717_200_000_000);

/// Options chosen by the first input byte: a tiny line limit exercises the too-long path.
pub fn options_for(data: &[u8]) -> ParseOptions {
    let mut options = ParseOptions::at(NOW);
    if data.first().is_some_and(|b| b & 1 == 1) {
        options.max_line_bytes = 64;
    }
    options
}

/// Reads `data` as a stream and, for the JSON formats, as one HTTP payload too.
pub fn drive(format: Format, data: &[u8]) {
    let options = options_for(data);
    let reader = EventReader::new(format, data, options.clone()).expect("options are valid");
    let mut last_line = 0;
    for parsed in reader {
        let Ok(parsed) = parsed else { break };
        assert!(parsed.line > last_line, "line numbers increase");
        last_line = parsed.line;
        for rejection in &parsed.rejections {
            assert_eq!(rejection.line, parsed.line);
            assert!(!rejection.message.is_empty());
        }
        for event in &parsed.events {
            check_event(event, &options);
        }
    }
    if let Ok(batch) = parse_json_payload(format, data, &options) {
        for event in &batch.events {
            check_event(event, &options);
        }
    }
}

/// Canonical invariants of an accepted event, and the NDJSON round trip.
pub fn check_event(event: &Event, options: &ParseOptions) {
    assert!(!event.user_id.is_empty());
    assert!(event.items.len() <= 1_000);
    for item in &event.items {
        assert!(!item.id.is_empty());
        assert!((1..=10_000).contains(&item.quantity));
        if let Some(price) = item.price {
            assert!((0..=10_000_000_000).contains(&price));
            assert!(event.currency.is_some());
        }
    }
    // The coupon fields belong to coupon events, which always carry both; an order may
    // name the code it used.
    let coupon = event.kind == EventKind::CouponEntered;
    if event.kind != EventKind::OrderCompleted {
        assert_eq!(event.coupon_code.is_some(), coupon);
    }
    assert_eq!(event.coupon_outcome.is_some(), coupon);
    // A referrer is never blank (blank means none), bounded, and storable (no NUL).
    if let Some(referrer) = &event.referrer {
        assert!(!referrer.trim().is_empty() && referrer.len() <= 1_024);
        assert!(!referrer.contains('\0'));
    }
    assert!(event.timestamp >= Timestamp(946_684_800_000));
    assert!(event.timestamp <= options.latest_accepted());
    let json = serde_json::to_string(event).expect("events serialise");
    let round = parse_json_payload(Format::Ndjson, json.as_bytes(), options)
        .expect("ndjson payloads never fail");
    assert!(
        round.rejections.is_empty(),
        "{json} was rejected: {:?}",
        round.rejections
    );
    assert_eq!(round.events.len(), 1);
    assert_eq!(&round.events[0], event, "round trip of {json}");
}
