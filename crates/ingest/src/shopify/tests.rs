use super::*;
use crate::test_support::options;
use cartback_core::{Currency, Event, EventKind, Timestamp};

const CHECKOUT: &str = r#"{"id":123456,"token":"tok-1","cart_token":"cart-1","email":"ann@example.com","created_at":"2024-05-01T10:00:00-04:00","updated_at":"2024-05-01T10:05:00-04:00","currency":"USD","total_price":"39.98","line_items":[{"product_id":111,"variant_id":222,"sku":"SKU1","title":"Shoe","vendor":"acme","price":"19.99","quantity":2}],"customer":{"id":999,"email":"ann@example.com"}}"#;

const ORDER: &str = r#"{"id":777,"checkout_token":"tok-1","cart_token":null,"email":"ann@example.com","created_at":"2024-05-01T11:00:00Z","processed_at":"2024-05-01T11:00:01Z","updated_at":"2024-05-01T11:30:00Z","currency":"EUR","total_price":"19.99","source_name":"web","line_items":[{"product_id":null,"variant_id":222,"title":"Shoe","price":"19.99","quantity":1}],"customer":{"id":999}}"#;

fn parse(topic: &str, body: &str) -> Event {
    parse_shopify(topic, body.as_bytes(), &options())
        .unwrap()
        .unwrap()
}

fn reject(topic: &str, body: &[u8]) -> String {
    parse_shopify(topic, body, &options())
        .unwrap_err()
        .to_string()
}

#[test]
fn maps_a_checkout() {
    let event = parse("checkouts/create", CHECKOUT);
    assert_eq!(event.kind, EventKind::CheckoutStarted);
    assert_eq!(event.user_id, "999");
    assert_eq!(event.anonymous_id, None);
    assert_eq!(event.cart_id.as_deref(), Some("cart-1"));
    assert_eq!(event.order_id, None);
    assert_eq!(
        event.timestamp,
        Timestamp(1_714_572_000_000),
        "created_at, offset applied"
    );
    assert_eq!(event.currency, Some(Currency::USD));
    assert_eq!(event.total, Some(3_998));
    assert_eq!(event.email.as_deref(), Some("ann@example.com"));
    let item = &event.items[0];
    assert_eq!(
        (item.id.as_str(), item.price, item.quantity),
        ("111", Some(1_999), 2)
    );
    assert_eq!(item.name.as_deref(), Some("Shoe"));
    assert_eq!(item.brand.as_deref(), Some("acme"));
}

#[test]
fn checkout_versions_are_distinct_events_and_repeats_dedupe() {
    let create = parse("checkouts/create", CHECKOUT);
    let update = parse("checkouts/update", CHECKOUT);
    assert_eq!(
        update.timestamp,
        Timestamp(1_714_572_300_000),
        "updated_at for updates"
    );
    assert_eq!(create.id, update.id, "same checkout version, same id");
    let later = parse(
        "checkouts/update",
        &CHECKOUT.replace("10:05:00", "10:09:00"),
    );
    assert_ne!(later.id, update.id);
    assert_eq!(parse("checkouts/update", CHECKOUT).id, update.id);
}

#[test]
fn maps_orders_and_dedupes_create_with_paid() {
    let created = parse("orders/create", ORDER);
    assert_eq!(created.kind, EventKind::OrderCompleted);
    assert_eq!(created.order_id.as_deref(), Some("777"));
    assert_eq!(
        created.cart_id.as_deref(),
        Some("tok-1"),
        "checkout_token when cart_token is null"
    );
    assert_eq!(
        created.timestamp,
        Timestamp(1_714_561_201_000),
        "processed_at"
    );
    assert_eq!(
        created.items[0].id, "222",
        "variant_id when product_id is null"
    );
    assert_eq!(created.currency, Some(Currency::EUR));
    assert_eq!(created.channel.as_deref(), Some("web"));
    let paid = parse("orders/paid", ORDER);
    assert_eq!(paid.id, created.id, "one purchase, one event");
    let cancelled = parse(
        "orders/cancelled",
        &ORDER.replace(
            r#""id":777,"#,
            r#""id":777,"cancelled_at":"2024-05-02T09:00:00Z","#,
        ),
    );
    assert_eq!(cancelled.kind, EventKind::OrderCancelled);
    assert_ne!(cancelled.id, created.id);
}

#[test]
fn anonymous_checkouts_use_the_token() {
    let body = CHECKOUT.replace(r#","customer":{"id":999,"email":"ann@example.com"}"#, "");
    let event = parse("checkouts/update", &body);
    assert_eq!(event.user_id, "tok-1");
    assert_eq!(event.anonymous_id.as_deref(), Some("tok-1"));
}

#[test]
fn ignores_other_topics() {
    assert_eq!(
        parse_shopify("products/update", b"not even json", &options()),
        Ok(None)
    );
}

#[test]
fn rejects_bad_bodies_naming_the_field() {
    assert_eq!(
        reject(
            "checkouts/create",
            CHECKOUT
                .replace(r#""price":"19.99""#, r#""price":"19.999""#)
                .as_bytes()
        ),
        "line 1: line_items[0].price: 19.999 has more decimal places than USD allows (2)"
    );
    assert_eq!(
        reject(
            "checkouts/create",
            CHECKOUT
                .replace(r#""quantity":2"#, r#""quantity":-2"#)
                .as_bytes()
        ),
        "line 1: line_items[0].quantity: must be between 1 and 10000, got -2"
    );
    assert_eq!(
        reject(
            "orders/create",
            ORDER.replace(r#""id":777,"#, "").as_bytes()
        ),
        "line 1: id: is required"
    );
    assert_eq!(
        reject(
            "orders/create",
            ORDER.replace(r#""currency":"EUR","#, "").as_bytes()
        ),
        "line 1: currency: is required because line_items[0].price is given"
    );
    assert_eq!(
        reject(
            "checkouts/create",
            CHECKOUT
                .replace(r#""total_price":"39.98""#, r#""total_price":"1e9""#)
                .as_bytes()
        ),
        "line 1: total_price: `1e9` is not a decimal amount"
    );
    assert_eq!(
        reject("orders/paid", b"[1]"),
        "line 1: expected a Shopify order object, got an array"
    );
    assert_eq!(
        reject("orders/paid", b"{\"id\":\xff}"),
        "line 1: invalid UTF-8 at byte 7"
    );
    assert!(reject("orders/paid", b"{\"id\":").starts_with("line 1: malformed JSON at column 6"));
    assert_eq!(
        reject(
            "orders/paid",
            ORDER
                .replace("2024-05-01T11:00:01Z", "1999-01-01T00:00:00Z")
                .as_bytes()
        ),
        "line 1: processed_at: 1999-01-01T00:00:00.000Z is before 2000-01-01T00:00:00.000Z; is it in seconds instead of milliseconds?"
    );
}

#[test]
fn an_order_keeps_its_first_discount_code() {
    let with_code = ORDER.replace(
        r#""customer":{"id":999}"#,
        r#""customer":{"id":999},"discount_codes":[{"code":"SAVE10","amount":"2.00","type":"fixed_amount"},{"code":"FREESHIP"}]"#,
    );
    assert_eq!(
        parse("orders/create", &with_code).coupon_code.as_deref(),
        Some("SAVE10")
    );
    assert_eq!(parse("orders/create", ORDER).coupon_code, None);
    let empty = ORDER.replace(
        r#""customer":{"id":999}"#,
        r#""customer":{"id":999},"discount_codes":[]"#,
    );
    assert_eq!(parse("orders/create", &empty).coupon_code, None);
    let malformed = ORDER.replace(
        r#""customer":{"id":999}"#,
        r#""customer":{"id":999},"discount_codes":["SAVE10"]"#,
    );
    let error = parse_shopify("orders/create", malformed.as_bytes(), &options()).unwrap_err();
    assert!(error.to_string().contains("discount_codes[0]"), "{error}");
}

#[test]
fn the_referrer_is_the_referring_site_else_the_landing_pages_utm_source() {
    let with = |body: &str, fields: &str| body.replacen('{', &format!("{{{fields},"), 1);
    for (topic, body, referrer) in [
        (
            "checkouts/create",
            with(
                CHECKOUT,
                r#""referring_site":"https://www.retailmenot.com/view/shop.example","landing_site":"/?utm_source=newsletter""#,
            ),
            Some("https://www.retailmenot.com/view/shop.example"),
        ),
        (
            "orders/create",
            with(
                ORDER,
                r#""referring_site":"","landing_site":"/products/shoe?utm_medium=affiliate&utm_source=Rakuten%20Rewards&x=1""#,
            ),
            Some("Rakuten Rewards"),
        ),
        (
            "orders/paid",
            with(
                ORDER,
                r#""referring_site":null,"landing_site":"https://shop.example/?utm_source=slickdeals+net#top""#,
            ),
            Some("slickdeals net"),
        ),
        (
            "checkouts/update",
            with(CHECKOUT, r#""landing_site":"/products/shoe?ref=abc""#),
            None,
        ),
        ("orders/create", ORDER.to_string(), None),
    ] {
        assert_eq!(parse(topic, &body).referrer.as_deref(), referrer, "{body}");
    }
    assert_eq!(
        reject(
            "orders/create",
            with(ORDER, r#""referring_site":42"#).as_bytes()
        ),
        "line 1: referring_site: expected a string, got 42"
    );
    let long = format!(r#""landing_site":"/?utm_source={}""#, "a".repeat(1_025));
    assert_eq!(
        reject("checkouts/create", with(CHECKOUT, &long).as_bytes()),
        "line 1: landing_site: is 1025 bytes long; the limit is 1024"
    );
}
