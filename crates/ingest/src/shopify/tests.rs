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

/// A `products/update` body as Shopify sends it (the Admin REST Product resource; fields
/// abridged): four variants, one sold whatever its count (`continue`), one tracked and sold
/// out, one tracked and oversold in the 2024-07 shape (no `inventory_management`), one not
/// tracked (`inventory_management: null`, an older API version).
const PRODUCT: &str = r#"{"id":632910392,"title":"IPod Nano - 8GB","body_html":"<p>It's the small iPod with a big idea: Video.</p>","vendor":"Apple","product_type":"Cult Products","created_at":"2024-05-01T06:00:00-04:00","handle":"ipod-nano","updated_at":"2024-05-30T15:31:02-04:00","published_at":"2024-05-01T06:00:00-04:00","template_suffix":null,"published_scope":"global","tags":"Emotive, Flash Memory, MP3, Music","status":"active","admin_graphql_api_id":"gid://shopify/Product/632910392","variants":[{"id":808950810,"product_id":632910392,"title":"Pink","price":"199.00","sku":"IPOD2008PINK","position":1,"inventory_policy":"continue","compare_at_price":null,"fulfillment_service":"manual","inventory_management":"shopify","option1":"Pink","option2":null,"option3":null,"created_at":"2024-05-01T06:00:00-04:00","updated_at":"2024-05-30T15:31:02-04:00","taxable":true,"barcode":"1234_pink","grams":567,"weight":0.2,"weight_unit":"kg","inventory_item_id":808950810,"inventory_quantity":10,"old_inventory_quantity":10,"requires_shipping":true,"admin_graphql_api_id":"gid://shopify/ProductVariant/808950810"},{"id":49148385,"product_id":632910392,"title":"Red","price":"199.00","sku":"IPOD2008RED","position":2,"inventory_policy":"deny","compare_at_price":null,"fulfillment_service":"manual","inventory_management":"shopify","option1":"Red","created_at":"2024-05-01T06:00:00-04:00","updated_at":"2024-05-30T15:31:02-04:00","inventory_item_id":49148385,"inventory_quantity":0,"old_inventory_quantity":1,"admin_graphql_api_id":"gid://shopify/ProductVariant/49148385"},{"id":39072856,"product_id":632910392,"title":"Green","price":"199.00","sku":"IPOD2008GREEN","position":3,"inventory_policy":"deny","compare_at_price":null,"option1":"Green","created_at":"2024-05-01T06:00:00-04:00","updated_at":"2024-05-30T15:31:02-04:00","taxable":true,"barcode":"1234_green","inventory_item_id":39072856,"inventory_quantity":-2,"old_inventory_quantity":-2,"requires_shipping":true,"admin_graphql_api_id":"gid://shopify/ProductVariant/39072856","image_id":null},{"id":457924702,"product_id":632910392,"title":"Black","price":"199.00","sku":"IPOD2008BLACK","position":4,"inventory_policy":"deny","fulfillment_service":"manual","inventory_management":null,"option1":"Black","inventory_item_id":457924702,"inventory_quantity":0,"old_inventory_quantity":0,"admin_graphql_api_id":"gid://shopify/ProductVariant/457924702"}],"options":[{"id":594680422,"product_id":632910392,"name":"Color","position":1,"values":["Pink","Red","Green","Black"]}],"images":[],"image":null}"#;

fn stock(topic: &str, body: &str) -> Vec<(String, i64, Timestamp)> {
    parse_shopify_stock(topic, body.as_bytes(), &options())
        .unwrap()
        .expect("a stock topic")
        .into_iter()
        .map(|l| (l.item_id, l.available, l.updated_at))
        .collect()
}

#[test]
fn a_product_update_gives_every_variants_level_and_the_products() {
    let updated = Timestamp(1_717_097_462_000); // 2024-05-30T15:31:02-04:00
    let level = |id: &str, n: i64| (id.to_string(), n, updated);
    let expected = vec![
        level("808950810", 10),
        level("49148385", 0),
        level("39072856", -2),
        level("457924702", 1),
        level("632910392", 11),
    ];
    assert_eq!(stock("products/update", PRODUCT), expected);
    assert_eq!(stock("products/create", PRODUCT), expected);
    // The same ids as cart lines: a checkout's line is its product id, else its variant id.
    let checkout = parse("checkouts/create", CHECKOUT);
    assert_eq!(checkout.items[0].id, "111");
    assert_eq!(parse("orders/create", ORDER).items[0].id, "222");
    // Stock topics are not cart events, and cart topics carry no stock.
    assert_eq!(
        parse_shopify("products/update", PRODUCT.as_bytes(), &options()),
        Ok(None)
    );
    assert_eq!(
        parse_shopify_stock("checkouts/update", CHECKOUT.as_bytes(), &options()),
        Ok(None)
    );
    assert_eq!(
        parse_shopify_stock("inventory_levels/update", b"{}", &options()),
        Ok(None)
    );
}

#[test]
fn a_product_is_out_of_stock_when_no_variant_can_be_sold() {
    let sold_out = PRODUCT
        .replace(
            r#""inventory_policy":"continue""#,
            r#""inventory_policy":"deny""#,
        )
        .replace(r#""inventory_quantity":10"#, r#""inventory_quantity":0"#)
        .replace(
            r#""inventory_management":null"#,
            r#""inventory_management":"shopify""#,
        );
    let levels = stock("products/update", &sold_out);
    assert_eq!(
        levels.last().map(|l| (l.0.as_str(), l.1)),
        Some(("632910392", 0))
    );
    assert!(levels.iter().all(|l| l.1 <= 0), "{levels:?}");
    let archived = PRODUCT.replace(r#""status":"active""#, r#""status":"archived""#);
    assert!(
        stock("products/update", &archived).iter().all(|l| l.1 == 0),
        "an archived product cannot be bought"
    );
    // Variants without a count give no level, and then the product has none either.
    let uncounted = r#"{"id":1,"updated_at":"2024-05-30T10:00:00Z","variants":[{"id":2,"inventory_policy":"deny"}]}"#;
    assert_eq!(stock("products/update", uncounted), vec![]);
    assert_eq!(
        stock(
            "products/update",
            r#"{"id":1,"created_at":"2024-05-30T10:00:00Z"}"#
        ),
        vec![]
    );
}

#[test]
fn a_deleted_product_is_out_of_stock_from_now_on() {
    assert_eq!(
        stock("products/delete", r#"{"id":632910392}"#),
        vec![("632910392".to_string(), 0, crate::test_support::NOW)]
    );
}

#[test]
fn malformed_product_bodies_name_the_field() {
    let reject_stock = |topic: &str, body: &str| {
        parse_shopify_stock(topic, body.as_bytes(), &options())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        reject_stock(
            "products/update",
            &PRODUCT.replace(
                r#""inventory_quantity":-2"#,
                r#""inventory_quantity":"lots""#
            )
        ),
        "line 1: variants[2].inventory_quantity: expected a whole number, got the string \"lots\""
    );
    assert_eq!(
        reject_stock(
            "products/update",
            r#"{"updated_at":"2024-05-30T10:00:00Z"}"#
        ),
        "line 1: id: is required"
    );
    assert_eq!(
        reject_stock("products/update", r#"{"id":1}"#),
        "line 1: updated_at: is required"
    );
    assert_eq!(
        reject_stock(
            "products/update",
            r#"{"id":1,"updated_at":"2024-05-30T10:00:00Z","variants":[{"inventory_quantity":3}]}"#
        ),
        "line 1: variants[0].id: is required"
    );
    assert!(reject_stock("products/delete", "[1]").contains("expected a Shopify product object"));
}
