use crate::test_support::{options, read};
use crate::{Format, parse_json_payload};
use cartback_core::{CouponOutcome, Currency, EventId, EventKind, Timestamp};

const PRODUCT_ADDED: &str = r#"{"type":"track","event":"Product Added","userId":"u1","anonymousId":"a1","messageId":"msg-1","timestamp":"2024-05-01T10:00:00Z","properties":{"cart_id":"c1","product_id":"p1","sku":"S1","name":"Shoe","category":"shoes","brand":"acme","price":19.99,"quantity":2,"currency":"EUR"},"context":{"timezone":"Europe/Berlin","device":{"type":"mobile"},"traits":{"email":"ann@example.com"}},"channel":"browser"}"#;

#[test]
fn maps_a_product_added_call() {
    let outcome = read(Format::Segment, PRODUCT_ADDED);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    let event = &outcome.events[0];
    assert_eq!(event.id, EventId::from_source("segment", "msg-1"));
    assert_eq!(event.kind, EventKind::ProductAdded);
    assert_eq!(event.timestamp, Timestamp(1_714_557_600_000));
    assert_eq!(event.user_id, "u1");
    assert_eq!(event.anonymous_id.as_deref(), Some("a1"));
    assert_eq!(event.cart_id.as_deref(), Some("c1"));
    let item = &event.items[0];
    assert_eq!(item.id, "p1", "product_id wins over sku");
    assert_eq!(item.name.as_deref(), Some("Shoe"));
    assert_eq!(item.brand.as_deref(), Some("acme"));
    assert_eq!(item.price, Some(1_999));
    assert_eq!(item.quantity, 2);
    assert_eq!(event.currency, Some(Currency::EUR));
    assert_eq!(event.total, None);
    assert_eq!(event.email.as_deref(), Some("ann@example.com"));
    assert_eq!(event.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(event.device.as_deref(), Some("mobile"));
    assert_eq!(event.channel.as_deref(), Some("web"));
}

#[test]
fn maps_an_order_with_products_and_the_default_currency() {
    let line = r#"{"type":"track","event":"Order Completed","anonymousId":"a9","originalTimestamp":"2024-05-01T12:00:00+02:00","properties":{"checkout_id":"chk-1","order_id":"o-50","total":27.5,"revenue":25,"email":"bo@example.com","products":[{"product_id":501,"price":7.5,"quantity":1},{"sku":"SKU-9","price":"10","quantity":2}]}}"#;
    let outcome = read(Format::Segment, line);
    assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
    let event = &outcome.events[0];
    assert_eq!(event.kind, EventKind::OrderCompleted);
    assert_eq!(
        event.user_id, "a9",
        "anonymousId stands in for a missing userId"
    );
    assert_eq!(
        event.timestamp,
        Timestamp(1_714_557_600_000),
        "originalTimestamp fallback"
    );
    assert_eq!(event.order_id.as_deref(), Some("o-50"));
    assert_eq!(
        event.cart_id.as_deref(),
        Some("chk-1"),
        "checkout_id stands in for cart_id"
    );
    assert_eq!(
        event.currency,
        Some(Currency::USD),
        "the spec's default currency"
    );
    assert_eq!(event.total, Some(2_750), "total wins over revenue");
    assert_eq!(event.items.len(), 2);
    assert_eq!(event.items[0].id, "501");
    assert_eq!(event.items[1].id, "SKU-9");
    assert_eq!(event.items[1].price, Some(1_000));
    assert_eq!(event.email.as_deref(), Some("bo@example.com"));
    assert_eq!(
        event.id,
        event.content_id("segment"),
        "no messageId: content id"
    );
}

#[test]
fn maps_every_spec_event_name() {
    let cases = [
        ("Product Viewed", EventKind::ProductViewed),
        ("Product Clicked", EventKind::ProductViewed),
        ("product added", EventKind::ProductAdded),
        ("Product Removed", EventKind::ProductRemoved),
        ("Cart Viewed", EventKind::CartViewed),
        ("Checkout Started", EventKind::CheckoutStarted),
        ("Checkout Step Viewed", EventKind::CheckoutStarted),
        ("Checkout Step Completed", EventKind::CheckoutStarted),
        ("Order Completed", EventKind::OrderCompleted),
        ("Order Cancelled", EventKind::OrderCancelled),
        ("Order Refunded", EventKind::OrderCancelled),
        ("Email Opened", EventKind::MessageOpened),
        ("Email Link Clicked", EventKind::MessageClicked),
        ("Unsubscribed", EventKind::Unsubscribed),
    ];
    for (name, kind) in cases {
        let line = format!(
            r#"{{"type":"track","event":"{name}","userId":"u1","timestamp":"2024-05-01T10:00:00Z","properties":{{"product_id":"p1","email_id":"mail-3"}}}}"#
        );
        let outcome = read(Format::Segment, &line);
        assert!(
            outcome.rejections.is_empty(),
            "{name}: {:?}",
            outcome.rejections
        );
        assert_eq!(outcome.events[0].kind, kind, "{name}");
        if kind == EventKind::MessageOpened {
            assert_eq!(outcome.events[0].message_id.as_deref(), Some("mail-3"));
        }
    }
}

/// A Segment coupon call of the e-commerce spec v2 (`cart_id`, `order_id`, `coupon_id`,
/// `coupon_name`, `discount` / `reason`).
fn coupon_call(name: &str, properties: &str) -> String {
    format!(
        r#"{{"type":"track","event":"{name}","userId":"u1","messageId":"cpn-1","timestamp":"2024-05-01T10:05:00Z","properties":{{{properties}}}}}"#
    )
}

#[test]
fn maps_the_coupon_calls_and_skips_coupon_removed() {
    let cases = [
        (
            "Coupon Entered",
            r#""order_id":"o-1","cart_id":"c1","coupon_id":"may_deals_2016""#,
            CouponOutcome::Entered,
            "may_deals_2016",
        ),
        (
            "Coupon Applied",
            r#""order_id":"o-1","cart_id":"c1","coupon_id":"may_deals_2016","coupon_name":"May Deals 2016","discount":23.32"#,
            CouponOutcome::Applied,
            "may_deals_2016",
        ),
        (
            "coupon denied",
            r#""order_id":"o-1","cart_id":"c1","coupon_name":"summer_sale","reason":"Coupon expired""#,
            CouponOutcome::Denied,
            "summer_sale",
        ),
    ];
    for (name, properties, outcome, code) in cases {
        let read_back = read(Format::Segment, &coupon_call(name, properties));
        assert!(
            read_back.rejections.is_empty(),
            "{name}: {:?}",
            read_back.rejections
        );
        let event = &read_back.events[0];
        assert_eq!(event.kind, EventKind::CouponEntered, "{name}");
        assert_eq!(event.coupon_outcome, Some(outcome), "{name}");
        assert_eq!(event.coupon_code.as_deref(), Some(code), "{name}");
        assert_eq!(event.cart_id.as_deref(), Some("c1"));
        assert_eq!(event.order_id.as_deref(), Some("o-1"));
        assert!(event.items.is_empty() && event.total.is_none());
        assert_eq!(event.currency, None, "the discount is not kept");
    }
    let removed = read(
        Format::Segment,
        &coupon_call("Coupon Removed", r#""cart_id":"c1","coupon_id":"x""#),
    );
    assert_eq!((removed.events.len(), removed.skipped), (0, 1));
    assert!(removed.rejections.is_empty());
}

#[test]
fn a_coupon_call_without_a_code_is_rejected_naming_coupon_id() {
    for (properties, message) in [
        (
            r#""cart_id":"c1""#,
            "line 1: properties.coupon_id: is required on Coupon Applied (or coupon_name)",
        ),
        (
            r#""cart_id":"c1","coupon_id":"  ","coupon_name":"""#,
            "line 1: properties.coupon_id: is required on Coupon Applied (or coupon_name)",
        ),
        (
            r#""cart_id":"c1","coupon_id":{"code":"X"}"#,
            "line 1: properties.coupon_id: expected a string or integer id, got an object",
        ),
    ] {
        let outcome = read(Format::Segment, &coupon_call("Coupon Applied", properties));
        assert!(outcome.events.is_empty(), "{:?}", outcome.events);
        assert_eq!(outcome.rejections[0].to_string(), message);
    }
}

#[test]
fn a_batch_rejects_only_its_bad_element_and_skips_the_rest() {
    let line = r#"{"batch":[
        {"type":"identify","userId":"u1","traits":{"email":"a@b.example"}},
        {"type":"track","event":"Product Viewed","userId":"u1","timestamp":"2024-05-01T10:00:00Z","properties":{"product_id":"p1","price":5}},
        {"type":"page","userId":"u1","name":"Home"},
        {"type":"track","event":"Product Added","userId":"u1","timestamp":"2024-05-01T10:01:00Z","properties":{"product_id":"p1","price":"five"}},
        {"type":"track","event":"Signed Up","userId":"u1","timestamp":"2024-05-01T10:01:00Z"},
        {"type":"track","event":"Cart Viewed","userId":"u1","timestamp":"2024-05-01T10:02:00Z","properties":{"products":[{"product_id":"p1","price":5}]}}
    ]}"#
    .replace('\n', "");
    let outcome = read(Format::Segment, &line);
    assert_eq!(outcome.events.len(), 2);
    assert_eq!(
        outcome.skipped, 3,
        "identify, page and a non-cart event are skipped"
    );
    assert_eq!(
        outcome.rejections[0].to_string(),
        "line 1: batch[3].properties.price: `five` is not a decimal amount"
    );
}

#[test]
fn names_the_field_of_every_bad_call() {
    let reject = |line: &str| {
        let outcome = read(Format::Segment, line);
        assert!(outcome.events.is_empty(), "{:?}", outcome.events);
        outcome.rejections[0].to_string()
    };
    assert_eq!(
        reject(&PRODUCT_ADDED.replace(r#""userId":"u1","anonymousId":"a1","#, "")),
        "line 1: userId: is required (or anonymousId)"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace("19.99", "19.999")),
        "line 1: properties.price: 19.999 has more decimal places than EUR allows (2)"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace("19.99", "-3")),
        "line 1: properties.price: amount -3 is negative"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace(r#""quantity":2"#, r#""quantity":0"#)),
        "line 1: properties.quantity: must be between 1 and 10000, got 0"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace(r#""product_id":"p1","sku":"S1","#, "")),
        "line 1: properties.product_id: is required (or sku)"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace(r#""currency":"EUR""#, r#""currency":"EURO""#)),
        "line 1: properties.currency: `EURO` is not an ISO 4217 currency code"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace(r#""timestamp":"2024-05-01T10:00:00Z","#, "")),
        "line 1: timestamp: is required (or originalTimestamp / sentAt)"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace("2024-05-01T10:00:00Z", "2031-05-01T10:00:00Z")),
        "line 1: timestamp: 2031-05-01T10:00:00.000Z is more than 24 hours after now (2024-06-01T00:00:00.000Z)"
    );
    assert_eq!(
        reject(&PRODUCT_ADDED.replace(r#""properties":{"#, r#""properties":7,"x":{"#)),
        "line 1: properties: expected an object, got 7"
    );
    let message = reject(r#"{"type":"track","event":"#);
    assert!(
        message.starts_with("line 1: malformed JSON at column 24"),
        "{message}"
    );
    assert_eq!(
        reject(r#"{"type":"track","userId":"u1"}"#),
        "line 1: event: is required for a track call"
    );
}

#[test]
fn payloads_may_be_one_call_an_array_or_lines() {
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<serde_json::Value>(PRODUCT_ADDED).unwrap(),
    )
    .unwrap();
    let single = parse_json_payload(Format::Segment, pretty.as_bytes(), &options()).unwrap();
    assert_eq!(single.events.len(), 1);
    let array = format!(
        "[{PRODUCT_ADDED},{{\"type\":\"page\"}},{}]",
        PRODUCT_ADDED.replace("19.99", "\"x\"")
    );
    let batch = parse_json_payload(Format::Segment, array.as_bytes(), &options()).unwrap();
    assert_eq!((batch.events.len(), batch.skipped), (1, 1));
    assert_eq!(
        batch.rejections[0].to_string(),
        "line 1: [2].properties.price: `x` is not a decimal amount"
    );
    let lines = format!("{PRODUCT_ADDED}\n{{oops\n{PRODUCT_ADDED}");
    let batch = parse_json_payload(Format::Segment, lines.as_bytes(), &options()).unwrap();
    assert_eq!(batch.events.len(), 2);
    assert_eq!(batch.rejections.len(), 1);
    assert_eq!(batch.rejections[0].line, 2);
}

#[test]
fn an_order_completed_keeps_its_coupon() {
    let line = r#"{"type":"track","event":"Order Completed","userId":"u1","messageId":"ord-1","timestamp":"2024-05-01T10:05:00Z","properties":{"order_id":"o-1","coupon":"hasbros","total":27.5,"currency":"USD"}}"#;
    let read_back = read(Format::Segment, line);
    assert!(
        read_back.rejections.is_empty(),
        "{:?}",
        read_back.rejections
    );
    assert_eq!(read_back.events[0].coupon_code.as_deref(), Some("hasbros"));
    let without = read(Format::Segment, &line.replace(r#""coupon":"hasbros","#, ""));
    assert_eq!(without.events[0].coupon_code, None);
    let wrong = read(Format::Segment, &line.replace(r#""hasbros""#, "[1]"));
    assert!(
        wrong.rejections[0]
            .to_string()
            .contains("properties.coupon"),
        "{:?}",
        wrong.rejections
    );
}

#[test]
fn the_referrer_comes_from_the_page_the_referrer_object_or_the_campaign() {
    let with_context = |context: &str| {
        PRODUCT_ADDED.replace(
            r#""context":{"timezone":"Europe/Berlin","#,
            &format!(r#""context":{{{context},"timezone":"Europe/Berlin","#),
        )
    };
    for (context, referrer) in [
        (
            r#""page":{"path":"/p/1","referrer":"https://www.retailmenot.com/view/shop.example","url":"https://shop.example/p/1"},"campaign":{"source":"newsletter"}"#,
            Some("https://www.retailmenot.com/view/shop.example"),
        ),
        (
            r#""page":{"referrer":""},"referrer":{"type":"dataxu","url":"https://slickdeals.net/f/1"},"campaign":{"source":"x"}"#,
            Some("https://slickdeals.net/f/1"),
        ),
        (
            r#""referrer":{"link":"https://www.dealabs.com/bons-plans"}"#,
            Some("https://www.dealabs.com/bons-plans"),
        ),
        // No referring page (a direct visit or a stripped referrer): the utm_source.
        (
            r#""page":{"path":"/"},"campaign":{"name":"Spring","source":"RetailMeNot","medium":"affiliate"}"#,
            Some("RetailMeNot"),
        ),
        (r#""page":{"referrer":null}"#, None),
    ] {
        let read_back = read(Format::Segment, &with_context(context));
        assert!(
            read_back.rejections.is_empty(),
            "{:?}",
            read_back.rejections
        );
        assert_eq!(
            read_back.events[0].referrer.as_deref(),
            referrer,
            "{context}"
        );
    }
    assert_eq!(
        read(Format::Segment, PRODUCT_ADDED).events[0].referrer,
        None
    );
    // Bad shapes are refused naming the field.
    for (context, message) in [
        (
            r#""page":{"referrer":5}"#,
            "line 1: context.page.referrer: expected a string, got 5",
        ),
        (
            r#""campaign":"newsletter""#,
            "line 1: context.campaign: expected an object, got the string \"newsletter\"",
        ),
        (
            r#""referrer":{"url":["x"]}"#,
            "line 1: context.referrer.url: expected a string, got an array",
        ),
    ] {
        let outcome = read(Format::Segment, &with_context(context));
        assert_eq!(outcome.rejections[0].to_string(), message);
    }
    let long = format!(r#""campaign":{{"source":"{}"}}"#, "a".repeat(1_025));
    assert_eq!(
        read(Format::Segment, &with_context(&long)).rejections[0].to_string(),
        "line 1: context.campaign.source: is 1025 bytes long; the limit is 1024"
    );
}
