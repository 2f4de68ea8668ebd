use crate::test_support::{NOW, only_rejection, options, read, read_with};
use crate::{EventReader, Format, ParseOptions};
use cartback_core::{CouponOutcome, Currency, Event, EventId, EventKind, Item, Timestamp};
use std::io::Read;

const ADD: &str = r#"{"type":"product_added","timestamp":"2024-05-01T10:00:00Z","user_id":"u1","items":[{"id":"p1","price":1999}],"currency":"USD"}"#;

fn full_event() -> Event {
    Event {
        id: EventId::derive("test", b"full"),
        kind: EventKind::OrderCompleted,
        timestamp: Timestamp(1_714_557_600_123),
        user_id: "u1".into(),
        anonymous_id: Some("anon-9".into()),
        session_id: Some("s1".into()),
        cart_id: Some("c1".into()),
        order_id: Some("o1".into()),
        items: vec![
            Item {
                id: "p1".into(),
                name: Some("Trail shoe".into()),
                category: Some("shoes".into()),
                brand: Some("acme".into()),
                price: Some(1_999),
                quantity: 2,
            },
            Item {
                id: "p2".into(),
                name: None,
                category: None,
                brand: None,
                price: None,
                quantity: 1,
            },
        ],
        currency: Some(Currency::EUR),
        total: Some(3_998),
        email: Some("ann@example.com".into()),
        timezone: Some("Europe/Berlin".into()),
        channel: Some("web".into()),
        device: Some("mobile".into()),
        message_id: Some("m1".into()),
        coupon_code: None,
        coupon_outcome: None,
        referrer: Some("https://www.google.com/".into()),
    }
}

const COUPON: &str = r#"{"type":"coupon_entered","timestamp":"2024-05-01T10:00:00Z","user_id":"u1","cart_id":"c1","coupon_code":"SAVE10","coupon_outcome":"denied"}"#;

#[test]
fn reads_every_field_of_the_schema() {
    let line = r#"{"id":"evt-1","type":"order_completed","timestamp":"2024-05-01T10:00:00.123Z","user_id":"u1","anonymous_id":"a1","session_id":"s1","cart_id":"c1","order_id":"o1","items":[{"id":"p1","name":"Shoe","category":"shoes","brand":"acme","price":1999,"quantity":2}],"currency":"usd","total":3998,"email":"ann@example.com","timezone":"Europe/Berlin","channel":"email","device":"desktop","message_id":"m1"}"#;
    let outcome = read(Format::Ndjson, line);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    let event = &outcome.events[0];
    assert_eq!(event.id, EventId::from_source("ndjson", "evt-1"));
    assert_eq!(event.kind, EventKind::OrderCompleted);
    assert_eq!(event.timestamp, Timestamp(1_714_557_600_123));
    assert_eq!(event.user_id, "u1");
    assert_eq!(event.anonymous_id.as_deref(), Some("a1"));
    assert_eq!(event.order_id.as_deref(), Some("o1"));
    assert_eq!(event.items[0].price, Some(1_999));
    assert_eq!(event.items[0].quantity, 2);
    assert_eq!(event.currency, Some(Currency::USD));
    assert_eq!(event.total, Some(3_998));
    assert_eq!(event.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(event.message_id.as_deref(), Some("m1"));
}

#[test]
fn derives_ids_from_content_when_absent() {
    let reordered = r#"{ "currency":"USD", "items":[{"price":1999,"id":"p1"}], "user_id":"u1", "timestamp":1714557600000, "type":"product_added" }"#;
    let outcome = read(Format::Ndjson, &format!("{ADD}\n{reordered}\n"));
    assert_eq!(outcome.events.len(), 2);
    let first = &outcome.events[0];
    assert_eq!(first.id, first.content_id("ndjson"));
    // Key order, spacing and time notation do not change the id: same content, same event.
    assert_eq!(outcome.events[1].id, first.id);
    assert_eq!(first.items[0].quantity, 1, "quantity defaults to 1");
    let other = read(Format::Ndjson, &ADD.replace("1999", "2999"));
    assert_ne!(other.events[0].id, first.id);
}

#[test]
fn anonymous_shoppers_are_tracked_by_their_anonymous_id() {
    let line =
        r#"{"type":"cart_viewed","timestamp":"2024-05-01T10:00:00Z","anonymous_id":"anon-7"}"#;
    let outcome = read(Format::Ndjson, line);
    assert_eq!(outcome.events[0].user_id, "anon-7");
    assert_eq!(outcome.events[0].anonymous_id.as_deref(), Some("anon-7"));
}

#[test]
fn the_core_event_serialisation_round_trips() {
    let mut minimal = full_event();
    minimal.kind = EventKind::CartViewed;
    minimal.items.clear();
    minimal.currency = None;
    minimal.total = None;
    minimal.anonymous_id = None;
    minimal.email = None;
    let mut coupon = minimal.clone();
    coupon.kind = EventKind::CouponEntered;
    coupon.coupon_code = Some("SAVE10".into());
    coupon.coupon_outcome = Some(CouponOutcome::Applied);
    for event in [full_event(), minimal, coupon] {
        let json = serde_json::to_string(&event).unwrap();
        let outcome = read(Format::Ndjson, &json);
        assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
        assert_eq!(outcome.events, vec![event]);
    }
}

#[test]
fn crlf_blank_lines_and_empty_input() {
    let input = format!("\r\n{ADD}\r\n\r\n   \n{ADD}\r\n");
    let outcome = read(Format::Ndjson, &input);
    assert_eq!(outcome.events.len(), 2);
    assert!(outcome.rejections.is_empty());
    assert_eq!(outcome.lines, 2, "blank lines yield nothing");
    let empty = read(Format::Ndjson, "");
    assert_eq!(
        (empty.events.len(), empty.rejections.len(), empty.lines),
        (0, 0, 0)
    );
}

#[test]
fn line_numbers_count_blank_lines() {
    let input = format!("{ADD}\n\n{}\n", ADD.replace("1999", "19.99"));
    let outcome = read(Format::Ndjson, &input);
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(
        outcome.rejections[0].to_string(),
        "line 3: items[0].price: expected integer minor units (e.g. 1999 for 19.99), got 19.99"
    );
}

fn reject(line: &str) -> String {
    only_rejection(Format::Ndjson, line)
}

#[test]
fn rejects_malformed_json_with_the_column() {
    let message = reject(r#"{"type":"product_added","timestamp":}"#);
    assert!(
        message.starts_with("line 1: malformed JSON at column 37"),
        "{message}"
    );
    let message = reject(&format!("{ADD} trailing"));
    assert!(message.contains("malformed JSON at column"), "{message}");
    let message = reject("[1, 2]");
    assert!(
        message.contains("expected a cartback event object"),
        "{message}"
    );
}

#[test]
fn rejects_unknown_missing_and_mistyped_fields() {
    let message = reject(&ADD.replace("\"user_id\"", "\"usr_id\""));
    assert!(
        message.starts_with("line 1: usr_id: unknown field (a typo?"),
        "{message}"
    );
    assert!(message.contains("`user_id`"), "{message}");
    let message = reject(&ADD.replace(r#""price":1999"#, r#""price":1999,"colour":"red""#));
    assert!(
        message.starts_with("line 1: items[0].colour: unknown field"),
        "{message}"
    );
    assert_eq!(
        reject(r#"{"timestamp":"2024-05-01T10:00:00Z","user_id":"u1"}"#),
        "line 1: type: is required"
    );
    assert_eq!(
        reject(r#"{"type":"cart_viewed","user_id":"u1"}"#),
        "line 1: timestamp: is required"
    );
    assert_eq!(
        reject(r#"{"type":"cart_viewed","timestamp":"2024-05-01T10:00:00Z"}"#),
        "line 1: user_id: is required (or give anonymous_id for a shopper who is not logged in)"
    );
    assert_eq!(
        reject(&ADD.replace(r#"{"id":"p1","#, "{")),
        "line 1: items[0].id: is required"
    );
    let message = reject(&ADD.replace(r#""user_id":"u1""#, r#""user_id":5"#));
    assert!(
        message.starts_with("line 1: user_id: invalid type: integer `5`, expected a string"),
        "{message}"
    );
    let message = reject(&ADD.replace("product_added", "purchase"));
    assert!(
        message.starts_with("line 1: type: unknown variant `purchase`"),
        "{message}"
    );
    let message = reject(&ADD.replace(r#""2024-05-01T10:00:00Z""#, "1714557600000.5"));
    assert!(message.contains("timestamp: expected an RFC 3339 time or integer epoch milliseconds, got 1714557600000.5"), "{message}");
    let message = reject(&ADD.replace("2024-05-01T10:00:00Z", "yesterday"));
    assert!(
        message.starts_with("line 1: timestamp: `yesterday` is not an RFC 3339 time"),
        "{message}"
    );
    assert_eq!(
        reject(r#"{"type":"product_added","timestamp":"2024-05-01T10:00:00Z","user_id":"u1"}"#),
        "line 1: items: a product_added event needs the product it is about"
    );
}

#[test]
fn reads_a_coupon_event_both_ways() {
    for (line, outcome) in [
        (COUPON.to_string(), CouponOutcome::Denied),
        (COUPON.replace("denied", "applied"), CouponOutcome::Applied),
        // Without an outcome (or with null) the code was typed in, its fate not reported.
        (
            COUPON.replace(r#","coupon_outcome":"denied""#, ""),
            CouponOutcome::Entered,
        ),
        (
            COUPON.replace(r#""denied""#, "null"),
            CouponOutcome::Entered,
        ),
    ] {
        assert!(assert_fast_path_agrees(&line), "fast path declined {line}");
        let outcome_read = read(Format::Ndjson, &line);
        assert!(
            outcome_read.rejections.is_empty(),
            "{:?}",
            outcome_read.rejections
        );
        let event = &outcome_read.events[0];
        assert_eq!(event.kind, EventKind::CouponEntered);
        assert_eq!(event.coupon_code.as_deref(), Some("SAVE10"));
        assert_eq!(event.coupon_outcome, Some(outcome), "{line}");
        assert_eq!(event.cart_id.as_deref(), Some("c1"));
        assert_eq!(event.id, event.content_id("ndjson"));
    }
    // An explicit `entered` and a missing outcome are the same event (same content id).
    let explicit = read(Format::Ndjson, &COUPON.replace("denied", "entered"));
    let implicit = read(
        Format::Ndjson,
        &COUPON.replace(r#","coupon_outcome":"denied""#, ""),
    );
    assert_eq!(explicit.events, implicit.events);
}

#[test]
fn rejects_a_bad_coupon_event_naming_the_field() {
    assert_eq!(
        reject(&COUPON.replace(r#""coupon_code":"SAVE10","#, "")),
        "line 1: coupon_code: is required on a coupon_entered event (the code typed into the coupon field)"
    );
    assert_eq!(
        reject(&COUPON.replace(r#""SAVE10""#, r#""  ""#)),
        "line 1: coupon_code: must not be empty"
    );
    let message = reject(&COUPON.replace("denied", "expired"));
    assert!(
        message.starts_with("line 1: coupon_outcome: unknown variant `expired`"),
        "{message}"
    );
    assert!(message.contains("`applied`"), "{message}");
    let message = reject(&COUPON.replace(r#""SAVE10""#, "10"));
    assert!(
        message.starts_with("line 1: coupon_code: invalid type: integer `10`"),
        "{message}"
    );
    assert_eq!(
        reject(&COUPON.replace("coupon_entered", "checkout_started")),
        "line 1: coupon_code: belongs to coupon_entered and order_completed events only, not to a checkout_started event"
    );
    assert_eq!(
        reject(&ADD.replace(r#""currency""#, r#""coupon_outcome":"applied","currency""#)),
        "line 1: coupon_outcome: belongs to coupon_entered events only, not to a product_added event"
    );
    // The fast path leaves every one of them to the reference parser.
    for line in [
        COUPON.replace(r#""coupon_code":"SAVE10","#, ""),
        COUPON.replace("denied", "expired"),
        COUPON.replace("coupon_entered", "checkout_started"),
    ] {
        assert!(!assert_fast_path_agrees(&line), "{line}");
    }
}

#[test]
fn rejects_bad_prices_and_quantities() {
    assert_eq!(
        reject(&ADD.replace("1999", "\"19.99\"")),
        "line 1: items[0].price: expected integer minor units (e.g. 1999 for 19.99), got the string \"19.99\""
    );
    assert_eq!(
        reject(&ADD.replace("1999", "-1")),
        "line 1: items[0].price: must not be negative, got -1"
    );
    assert_eq!(
        reject(&ADD.replace("1999", "10000000001")),
        "line 1: items[0].price: 10000000001 minor units is larger than any real price (limit 10000000000)"
    );
    let with_quantity = |q: &str| {
        ADD.replace(
            "\"price\":1999",
            &format!("\"price\":1999,\"quantity\":{q}"),
        )
    };
    assert_eq!(
        reject(&with_quantity("0")),
        "line 1: items[0].quantity: must be between 1 and 10000, got 0"
    );
    assert_eq!(
        reject(&with_quantity("10001")),
        "line 1: items[0].quantity: must be between 1 and 10000, got 10001"
    );
    assert_eq!(
        reject(&with_quantity("1.5")),
        "line 1: items[0].quantity: expected a whole number, got 1.5"
    );
    assert_eq!(
        reject(&ADD.replace(r#","currency":"USD""#, r#","currency":"USD","total":-5"#)),
        "line 1: total: must not be negative, got -5"
    );
}

#[test]
fn rejects_unknown_or_missing_currency() {
    assert_eq!(
        reject(&ADD.replace("USD", "XYZ")),
        "line 1: currency: `XYZ` is not an ISO 4217 currency code"
    );
    assert_eq!(
        reject(&ADD.replace(r#","currency":"USD""#, "")),
        "line 1: currency: is required when a price or total is given (ISO 4217 code such as USD)"
    );
}

#[test]
fn rejects_timestamps_out_of_range() {
    let message = reject(&ADD.replace("2024-05-01T10:00:00Z", "1999-12-31T23:59:59Z"));
    assert!(
        message.starts_with("line 1: timestamp: 1999-12-31T23:59:59.000Z is before 2000-01-01"),
        "{message}"
    );
    let message = reject(&ADD.replace("\"2024-05-01T10:00:00Z\"", "1714557600"));
    assert!(
        message.contains("is it in seconds instead of milliseconds?"),
        "{message}"
    );
    let two_days_later = NOW.as_millis() + 2 * 86_400_000;
    let message = reject(&ADD.replace("\"2024-05-01T10:00:00Z\"", &two_days_later.to_string()));
    assert_eq!(
        message,
        "line 1: timestamp: 2024-06-03T00:00:00.000Z is more than 24 hours after now (2024-06-01T00:00:00.000Z)"
    );
    // Within the allowed skew is fine.
    let soon = NOW.as_millis() + 3_600_000;
    assert_eq!(
        read(
            Format::Ndjson,
            &ADD.replace("\"2024-05-01T10:00:00Z\"", &soon.to_string())
        )
        .events
        .len(),
        1
    );
}

#[test]
fn rejects_empty_ids_long_strings_and_too_many_items() {
    assert_eq!(
        reject(&ADD.replace("\"u1\"", "\"\"")),
        "line 1: user_id: must not be empty"
    );
    assert_eq!(
        reject(&ADD.replace("\"p1\"", "\"\"")),
        "line 1: items[0].id: must not be empty"
    );
    assert_eq!(
        reject(&ADD.replace("\"type\"", "\"id\":\"\",\"type\"")),
        "line 1: id: must not be empty"
    );
    let long_name = "n".repeat(1_025);
    assert_eq!(
        reject(&ADD.replace(
            r#""id":"p1""#,
            &format!(r#""id":"p1","name":"{long_name}""#)
        )),
        "line 1: items[0].name: is 1025 bytes long; the limit is 1024"
    );
    let items: Vec<String> = (0..1_001).map(|i| format!(r#"{{"id":"p{i}"}}"#)).collect();
    let many = ADD.replace(
        r#"[{"id":"p1","price":1999}]"#,
        &format!("[{}]", items.join(",")),
    );
    assert_eq!(
        reject(&many),
        "line 1: items: 1001 items; the limit is 1000"
    );
    assert_eq!(
        reject(&ADD.replace("\"u1\"", "\"u1\",\"email\":\"not-an-address\"")),
        "line 1: email: `not-an-address` is not an e-mail address"
    );
    assert_eq!(
        reject(&ADD.replace("\"u1\"", "\"u1\",\"timezone\":\"+02:00\"")),
        "line 1: timezone: `+02:00` is not an IANA time zone name such as Europe/Berlin"
    );
}

#[test]
fn rejects_invalid_utf8_and_keeps_reading() {
    let mut input = b"{\"type\":\"cart_viewed\",\"user_id\":\"\xff\xfe\"}\n".to_vec();
    input.extend_from_slice(ADD.as_bytes());
    let outcome = read_with(Format::Ndjson, &input, options());
    assert_eq!(outcome.events.len(), 1);
    assert_eq!(
        outcome.rejections[0].to_string(),
        "line 1: invalid UTF-8 at byte 34"
    );
}

#[test]
fn a_ten_megabyte_line_is_rejected_without_buffering_it() {
    // The long line is generated on the fly, never held in memory by the test either.
    let long_line = std::io::repeat(b'x').take(10 * 1024 * 1024);
    let rest = format!("\n{ADD}\n");
    let input = std::io::BufReader::new(long_line.chain(rest.as_bytes()));
    let mut events = 0;
    let mut rejections = Vec::new();
    for parsed in EventReader::new(Format::Ndjson, input, options()).unwrap() {
        let parsed = parsed.unwrap();
        events += parsed.events.len();
        rejections.extend(parsed.rejections);
    }
    assert_eq!(events, 1);
    assert_eq!(
        rejections[0].to_string(),
        "line 1: line is 10485760 bytes long; the limit is 1048576 (max_line_bytes)"
    );
}

#[test]
fn options_are_validated_before_reading() {
    let options = ParseOptions {
        max_line_bytes: 0,
        ..ParseOptions::default()
    };
    let err = EventReader::new(Format::Ndjson, ADD.as_bytes(), options)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("max_line_bytes must be at least 1"),
        "{err}"
    );
}

/// Lines the fast path must take itself (valid, no escapes), in several shapes.
fn fast_path_lines() -> Vec<String> {
    let mut lines = vec![
        ADD.to_string(),
        r#"{"id":"evt-1","type":"order_completed","timestamp":"2024-05-01T10:00:00.123Z","user_id":"u1","anonymous_id":"a1","session_id":"s1","cart_id":"c1","order_id":"o1","items":[{"id":"p1","name":"Shoe","category":"shoes","brand":"acme","price":1999,"quantity":2}],"currency":"usd","total":3998,"email":"ann@example.com","timezone":"Europe/Berlin","channel":"email","device":"desktop","message_id":"m1"}"#.to_string(),
        r#" { "currency" : "USD" , "items" : [ { "price" : 1999 , "id" : "p1" } , {"id":"p2","quantity":3,"price":null} ] , "user_id":"u1", "timestamp":1714557600000, "type":"product_added", "email":null } "#.to_string(),
        r#"{"type":"cart_viewed","timestamp":"2024-05-01T10:00:00Z","anonymous_id":"anon-7","items":[]}"#.to_string(),
        r#"{"id":"0123456789abcdef0123456789ABCDEF","type":"checkout_started","timestamp":1714557600000,"user_id":"Ünïcødé ✓","items":[{"id":"p1","name":"Größe 42 — 👟"}]}"#.to_string(),
        r#"{"type":"unsubscribed","timestamp":1714557600001,"user_id":"u1","message_id":"m1"}"#.to_string(),
        COUPON.to_string(),
        r#"{"type":"coupon_entered","timestamp":1714557600002,"anonymous_id":"a1","coupon_code":"WELCOME","coupon_outcome":null,"order_id":"o1"}"#.to_string(),
        r#"{"type":"product_viewed","timestamp":1714557600003,"user_id":"u1","session_id":"s1","referrer":"https://www.retailmenot.com/view/shop.example","items":[{"id":"p1"}]}"#.to_string(),
    ];
    let mut minimal = full_event();
    minimal.kind = EventKind::CartViewed;
    minimal.items.clear();
    minimal.currency = None;
    minimal.total = None;
    lines.push(serde_json::to_string(&minimal).unwrap());
    lines
}

/// splitmix64, so the mutations are the same on every run.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One to three random edits with bytes that matter to JSON and to the schema.
    fn mutate(&mut self, line: &str) -> Vec<u8> {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            "\\",
            "\\n",
            "\\u0041",
            " ",
            "\t",
            "0",
            "1",
            "9",
            "-",
            ".",
            "e",
            "E",
            "+",
            "null",
            "true",
            "1e3",
            "0.5",
            "-0",
            "01",
            "99999999999999999999",
            "\"id\"",
            "\"type\"",
            "\"items\"",
            "\"price\"",
            "\"quantity\"",
            "\"total\"",
            "\"user_id\"",
            "\"anonymous_id\"",
            "\"currency\"",
            "\"email\"",
            "\"timezone\"",
            "\"x\"",
            "\"\"",
            "\u{0}",
            "\u{1}",
            "é",
            "\u{feff}",
            "\"USD\"",
            "\"usd\"",
            "\"XYZ\"",
            "\"a@b\"",
            "/",
            "@",
            "\"2024-05-01T10:00:00Z\"",
            "\"product_removed\"",
            "\"coupon_entered\"",
            "\"coupon_code\"",
            "\"coupon_outcome\"",
            "\"referrer\"",
            "\"applied\"",
            "\"entered\"",
            "[]",
            "{}",
            "10001",
            "10000000001",
        ];
        let mut bytes = line.as_bytes().to_vec();
        for _ in 0..1 + self.below(3) {
            let at = self.below(bytes.len() + 1);
            match self.below(5) {
                0 => {
                    let end = (at + 1 + self.below(8)).min(bytes.len());
                    bytes.drain(at.min(end)..end);
                }
                1 | 2 => {
                    let piece = PIECES[self.below(PIECES.len())];
                    bytes.splice(at..at, piece.bytes());
                }
                3 => {
                    let end = (at + 1 + self.below(4)).min(bytes.len());
                    let piece = PIECES[self.below(PIECES.len())];
                    bytes.splice(at.min(end)..end, piece.bytes());
                }
                _ => {
                    let end = (at + 1 + self.below(24)).min(bytes.len());
                    let copy = bytes[at.min(end)..end].to_vec();
                    let to = self.below(bytes.len() + 1);
                    bytes.splice(to..to, copy);
                }
            }
        }
        bytes
    }
}

/// Whatever the fast path accepts, the reference parser accepts as the very same event.
fn assert_fast_path_agrees(line: &str) -> bool {
    let options = options();
    match super::fast::parse(line, &options) {
        Some(fast) => {
            assert_eq!(
                super::parser::parse_line_reference(line, &options),
                Ok(fast),
                "the fast path disagrees on {line:?}"
            );
            true
        }
        None => false,
    }
}

#[test]
fn the_fast_path_takes_plain_lines_and_agrees_with_the_reference_parser() {
    for line in fast_path_lines() {
        assert!(assert_fast_path_agrees(&line), "fast path declined {line}");
    }
    // Lines it must leave to the reference parser (escapes, floats, unknown keys, …).
    for line in [
        ADD.replace("\"u1\"", "\"u\\u0031\""),
        ADD.replace("1999", "19.99"),
        ADD.replace("1999", "1999e0"),
        ADD.replace("\"user_id\"", "\"usr_id\""),
        ADD.replace("\"u1\"", "\"u1\",\"user_id\":\"u2\""),
        ADD.replace("\"USD\"", "null").replace("1999", "-1"),
        format!("{ADD},"),
        format!("[{ADD}]"),
        ADD.replace("[{", "[{\"id\":\"p0\"},{"),
    ] {
        let reference = super::parser::parse_line_reference(&line, &options());
        let fast = super::fast::parse(&line, &options());
        assert!(
            fast.is_none() || reference == Ok(fast.clone().unwrap()),
            "{line}"
        );
        if reference.is_err() {
            assert!(
                fast.is_none(),
                "fast path accepted a line the reference refuses: {line}"
            );
        }
    }
}

#[test]
fn the_fast_path_agrees_with_the_reference_parser_on_mutated_lines() {
    let mut mutator = Mutator(7);
    let (mut tried, mut fast) = (0, 0);
    for seed in fast_path_lines() {
        for _ in 0..4_000 {
            let bytes = mutator.mutate(&seed);
            let Ok(line) = std::str::from_utf8(&bytes) else {
                continue;
            };
            tried += 1;
            fast += usize::from(assert_fast_path_agrees(line));
        }
    }
    // The mutations must exercise both outcomes, or the test proves nothing.
    assert!(tried > 20_000, "{tried}");
    assert!(fast > tried / 50 && fast < tried / 2, "{fast} of {tried}");
}

#[test]
fn an_order_may_name_the_discount_code_it_used() {
    let order = r#"{"type":"order_completed","timestamp":"2024-05-01T10:05:00Z","user_id":"u1","order_id":"o1","coupon_code":"SAVE10","items":[{"id":"p1","price":1799}],"currency":"USD"}"#;
    assert!(assert_fast_path_agrees(order), "fast path declined {order}");
    let read_back = read(Format::Ndjson, order);
    assert!(
        read_back.rejections.is_empty(),
        "{:?}",
        read_back.rejections
    );
    let event = &read_back.events[0];
    assert_eq!(event.kind, EventKind::OrderCompleted);
    assert_eq!(event.coupon_code.as_deref(), Some("SAVE10"));
    assert_eq!(event.coupon_outcome, None);
    // The outcome stays a coupon event's; a cancellation names no code.
    let rejected = read(
        Format::Ndjson,
        &order.replace(
            r#""coupon_code":"SAVE10","#,
            r#""coupon_code":"SAVE10","coupon_outcome":"applied","#,
        ),
    );
    assert_eq!(
        rejected.rejections[0].to_string(),
        "line 1: coupon_outcome: belongs to coupon_entered events only, not to a order_completed event"
    );
    let cancelled = read(
        Format::Ndjson,
        &order.replace("order_completed", "order_cancelled"),
    );
    assert!(
        cancelled.rejections[0]
            .to_string()
            .contains("coupon_code: belongs to coupon_entered and order_completed events only"),
        "{:?}",
        cancelled.rejections
    );
}

#[test]
fn any_event_may_carry_the_sessions_referrer() {
    for (line, referrer) in [
        (
            ADD.replace(
                r#""user_id":"u1","#,
                r#""user_id":"u1","referrer":"https://www.retailmenot.com/view/shop.example","#,
            ),
            Some("https://www.retailmenot.com/view/shop.example"),
        ),
        (
            COUPON.replace(
                r#""cart_id":"c1","#,
                r#""cart_id":"c1","referrer":"newsletter","#,
            ),
            Some("newsletter"),
        ),
        // Blank or null: a direct visit, no referrer.
        (
            ADD.replace(r#""user_id":"u1","#, r#""user_id":"u1","referrer":"","#),
            None,
        ),
        (
            ADD.replace(r#""user_id":"u1","#, r#""user_id":"u1","referrer":null,"#),
            None,
        ),
    ] {
        assert!(assert_fast_path_agrees(&line), "fast path declined {line}");
        let read_back = read(Format::Ndjson, &line);
        assert!(
            read_back.rejections.is_empty(),
            "{:?}",
            read_back.rejections
        );
        assert_eq!(read_back.events[0].referrer.as_deref(), referrer, "{line}");
    }
    // A blank referrer is the same event as none (same content id).
    let blank = read(
        Format::Ndjson,
        &ADD.replace(r#""user_id":"u1","#, r#""user_id":"u1","referrer":" ","#),
    );
    assert_eq!(blank.events, read(Format::Ndjson, ADD).events);
    // An escaped referrer goes to the reference parser, which reads it.
    let escaped = ADD.replace(
        r#""user_id":"u1","#,
        r#""user_id":"u1","referrer":"https:\/\/slickdeals.net\/f\/1","#,
    );
    assert!(!assert_fast_path_agrees(&escaped));
    assert_eq!(
        read(Format::Ndjson, &escaped).events[0].referrer.as_deref(),
        Some("https://slickdeals.net/f/1")
    );
}

#[test]
fn rejects_a_bad_referrer_naming_the_field() {
    let with = |value: &str| {
        ADD.replace(
            r#""user_id":"u1","#,
            &format!(r#""user_id":"u1","referrer":{value},"#),
        )
    };
    let message = reject(&with("42"));
    assert!(
        message.starts_with("line 1: referrer: invalid type: integer `42`"),
        "{message}"
    );
    let message = reject(&with(r#"{"url":"https://x.example"}"#));
    assert!(
        message.starts_with("line 1: referrer: invalid type: map"),
        "{message}"
    );
    assert_eq!(
        reject(&with(&format!(
            "\"https://x.example/{}\"",
            "a".repeat(1_100)
        ))),
        "line 1: referrer: is 1118 bytes long; the limit is 1024"
    );
    assert_eq!(
        reject(&with(r#""https://x.example/\u0000""#)),
        "line 1: referrer: contains a NUL character (U+0000)"
    );
    for line in [with("42"), with(&format!("\"{}\"", "a".repeat(1_100)))] {
        assert!(!assert_fast_path_agrees(&line), "{line}");
    }
}
