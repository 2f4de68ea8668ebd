//! Stock levels end to end on a clock the test sets: `PUT /v1/stock` and Shopify product
//! webhooks record levels (stale ones ignored), a cart whose items are all sold out gets a
//! suppressed decision naming the stock guardrail (and recording it for every proposal),
//! a cart with one item in stock still gets its reminder, a restock lets the next
//! abandonment through, and a reminder whose items sold out before it was due is cancelled.

mod support;

use base64::Engine as _;
use cartback_core::{Duration, Timestamp};
use cartback_policy::actions::ActionKind;
use cartback_policy::ope::LoggedState;
use cartback_policy::policies::N_ACTIONS;
use cartback_server::RunningServer;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);
/// 2026-06-10T10:00:00Z, a Wednesday.
const T0: Timestamp = Timestamp(1_781_085_600_000);
/// The tracker's default idle timeout: a cart is abandoned 30 minutes after its last event.
const IDLE: Duration = Duration::minutes(30);
const SHOPIFY_SECRET: &str = "shpss_stock";

fn rfc3339(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .unwrap()
        .to_rfc3339()
}

/// `PUT /v1/stock` with `key`: the status and the answer.
async fn put_stock(server: &RunningServer, key: &str, body: &str) -> (u16, Value) {
    let response = client()
        .put(url(server, "/v1/stock"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Stock levels `(item, available, counted at)` through `PUT /v1/stock`; the answer.
async fn report_stock(server: &RunningServer, levels: &[(&str, i64, Timestamp)]) -> Value {
    let items: Vec<Value> = levels
        .iter()
        .map(|(item, available, at)| {
            json!({"item_id": item, "available": available, "updated_at": rfc3339(*at)})
        })
        .collect();
    let (status, answer) = put_stock(server, INGEST, &json!({ "items": items }).to_string()).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The decision of step 0 of the cart's `abandonment`, once taken.
async fn decision_of(server: &RunningServer, cart: &str, abandonment: u64) -> Value {
    eventually(
        &format!("the decision for {cart}/{abandonment}"),
        WAIT,
        || async {
            decisions(server, &cart.replace('#', "%23"))
                .await
                .into_iter()
                .find(|d| d["abandonment"] == json!(abandonment) && d["step"] == json!(0))
        },
    )
    .await
}

fn reasons(decision: &Value) -> String {
    decision["reasons"].to_string()
}

/// Manual clock at T0, one reminder at the abandonment on the log channel.
fn manual_config(dir: &tempfile::TempDir) -> cartback_server::ServerConfig {
    let mut config = base_config(dir);
    one_reminder_at_abandonment(&mut config);
    config.flow.channel = "log".into();
    config.shopify.webhook_secret = SHOPIFY_SECRET.into();
    config
}

#[tokio::test]
async fn sold_out_carts_get_no_reminder_and_a_restock_lets_the_next_abandonment_through() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let server = start_with_clock(manual_config(&dir), clock.clone()).await;
    let counted = T0 - Duration::hours(1);
    let answer = report_stock(
        &server,
        &[
            ("mug", 0, counted),
            ("cup", -1, counted),
            ("tee", 5, counted),
        ],
    )
    .await;
    assert_eq!(answer, json!({"applied": 3, "stale": 0}));

    // Ann's cart holds only sold-out items, Bob's one sold-out and one in stock, Cy's an
    // item the shop never reported (it counts as in stock).
    post(
        &server,
        json!([
            add_to_cart_at("ann", "mug", 1_999, T0, "UTC"),
            add_to_cart_at("ann", "cup", 999, T0, "UTC"),
            add_to_cart_at("bob", "mug", 1_999, T0, "UTC"),
            add_to_cart_at("bob", "tee", 2_499, T0, "UTC"),
            add_to_cart_at("cy", "lamp", 4_999, T0, "UTC"),
        ]),
    )
    .await;
    let (ann, bob, cy) = (
        cart_of(&server, "ann").await,
        cart_of(&server, "bob").await,
        cart_of(&server, "cy").await,
    );
    clock.set(T0 + IDLE + Duration::minutes(1));

    let suppressed = decision_of(&server, &ann, 1).await;
    assert_eq!(suppressed["action"], json!("do_nothing"), "{suppressed}");
    assert_eq!(suppressed["guardrail"], json!("out_of_stock"));
    assert_eq!(suppressed["messages"], json!([]), "nothing is sent");
    let why = reasons(&suppressed);
    assert!(
        why.contains("stock: 2 of 2 items out of stock (cup, mug)"),
        "{why}"
    );
    assert!(
        why.contains(
            "guardrail out_of_stock: reminder_email suppressed (every item in the cart is out of stock)"
        ),
        "{why}"
    );
    // The logged state says the stock guardrail would have stopped every contact.
    let state: LoggedState = serde_json::from_value(suppressed["state"].clone()).unwrap();
    assert_eq!(
        state.outcomes().unwrap(),
        [ActionKind::DoNothing; N_ACTIONS]
    );

    let reminded = decision_of(&server, &bob, 1).await;
    assert_eq!(
        (reminded["action"].as_str(), reminded["guardrail"].as_str()),
        (Some("reminder_email"), Some("passed")),
        "{reminded}"
    );
    assert!(
        reasons(&reminded).contains("stock: 1 of 2 items out of stock (mug)"),
        "{reminded}"
    );
    let state: LoggedState = serde_json::from_value(reminded["state"].clone()).unwrap();
    assert_eq!(
        state.outcomes().unwrap()[ActionKind::ReminderEmail.index()],
        ActionKind::ReminderEmail
    );
    let unknown = decision_of(&server, &cy, 1).await;
    assert_eq!(unknown["guardrail"], json!("passed"), "{unknown}");
    assert!(!reasons(&unknown).contains("stock:"), "{unknown}");

    // A restock; a late webhook with an older count is ignored.
    let restocked = T0 + Duration::minutes(40);
    assert_eq!(
        report_stock(&server, &[("mug", 3, restocked)]).await,
        json!({"applied": 1, "stale": 0})
    );
    assert_eq!(
        report_stock(&server, &[("mug", 0, restocked - Duration::minutes(5))]).await,
        json!({"applied": 0, "stale": 1})
    );
    let (status, mug) = get_json(&server, READ, "/v1/stock/mug").await;
    assert_eq!(status, 200);
    assert_eq!(
        mug,
        json!({"item_id": "mug", "available": 3, "in_stock": true,
               "updated_at": restocked.as_millis()})
    );
    let (status, missing) = get_json(&server, READ, "/v1/stock/lamp").await;
    assert_eq!((status, missing["field"].as_str()), (404, Some("item_id")));

    // Ann comes back and leaves again: the new abandonment's reminder goes out.
    let back = T0 + Duration::minutes(50);
    post(
        &server,
        json!(add_to_cart_at("ann", "mug", 1_999, back, "UTC")),
    )
    .await;
    clock.set(back + IDLE + Duration::minutes(1));
    let second = decision_of(&server, &ann, 2).await;
    assert_eq!(
        (second["action"].as_str(), second["guardrail"].as_str()),
        (Some("reminder_email"), Some("passed")),
        "{second}"
    );
    assert!(
        reasons(&second).contains("stock: 1 of 2 items out of stock (cup)"),
        "{second}"
    );
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("cartback_stock_levels_applied_total 4\n")
            && metrics.contains("cartback_stock_levels_stale_total 1\n"),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_reminder_whose_items_sold_out_before_it_was_due_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = manual_config(&dir);
    config.policy.step_delays = vec![Duration::hours(1)];
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;
    post(
        &server,
        json!([
            add_to_cart_at("dee", "mug", 1_999, T0, "UTC"),
            add_to_cart_at("eve", "mug", 1_999, T0, "UTC"),
            add_to_cart_at("eve", "tee", 2_499, T0, "UTC"),
        ]),
    )
    .await;
    let (dee, eve) = (cart_of(&server, "dee").await, cart_of(&server, "eve").await);
    clock.set(T0 + IDLE + Duration::minutes(1));
    for cart in [&dee, &eve] {
        let decision = decision_of(&server, cart, 1).await;
        assert_eq!(decision["action"], json!("reminder_email"), "{decision}");
        assert_eq!(decision["messages"][0]["status"], json!("pending"));
    }
    // The mug sells out before the reminders are due (an hour after the abandonment).
    report_stock(&server, &[("mug", 0, T0 + Duration::minutes(45))]).await;
    clock.set(T0 + IDLE + Duration::hours(1) + Duration::minutes(1));
    let cancelled = eventually("dee's reminder cancelled", WAIT, || async {
        let found = decisions(&server, &dee.replace('#', "%23")).await;
        (first_message_status(&found).as_deref() == Some("cancelled")).then_some(found)
    })
    .await;
    assert_eq!(
        cancelled[0]["messages"][0]["cancel_reason"],
        json!("out_of_stock")
    );
    // Eve's cart still has the tee: her reminder goes out.
    eventually("eve's reminder sent", WAIT, || async {
        let found = decisions(&server, &eve.replace('#', "%23")).await;
        (first_message_status(&found).as_deref() == Some("sent")).then_some(())
    })
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn recommendation_emails_never_recommend_what_is_sold_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = manual_config(&dir);
    config.policy.fixed_flow = vec!["recommendation_email".into()];
    config.flow.recommendations = 3;
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;
    // The shop's most ordered products, in order: p1 (5 orders) … p5 (1); no model, so
    // messages recommend the most ordered products.
    let mut orders = Vec::new();
    for (item, buyers) in [("p1", 5), ("p2", 4), ("p3", 3), ("p4", 2), ("p5", 1)] {
        for n in 0..buyers {
            orders.push(order_at(
                &format!("{item}-buyer{n}"),
                item,
                T0 - Duration::days(1),
            ));
        }
    }
    post(&server, json!(orders)).await;
    report_stock(&server, &[("p1", 0, T0), ("p2", -4, T0), ("p3", 7, T0)]).await;
    post(
        &server,
        json!(add_to_cart_at("fay", "mug", 1_999, T0, "UTC")),
    )
    .await;
    let cart = cart_of(&server, "fay").await;
    clock.set(T0 + IDLE + Duration::minutes(1));
    let decision = decision_of(&server, &cart, 1).await;
    assert_eq!(
        decision["action"],
        json!("recommendation_email"),
        "{decision}"
    );
    let recommended: Vec<&str> = decision["messages"][0]["payload"]["recommended"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(recommended, ["p3", "p4", "p5"], "{decision}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn put_stock_refuses_bad_bodies_whole_naming_the_field_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_clock(manual_config(&dir), ManualClock::at(T0)).await;
    let good = r#"{"items":[{"item_id":"mug","available":1}]}"#;
    assert_eq!(put_stock(&server, "wrong", good).await.0, 401);
    let (status, error) = put_stock(&server, READ, good).await;
    assert_eq!((status, error["error"].as_str()), (403, Some("forbidden")));

    let body = json!({"items": [
        {"item_id": "a", "available": 1},
        {"item_id": "b", "available": 2},
        {"item_id": "c", "available": 3},
        {"item_id": "d", "available": "many"},
        {"item_id": "", "available": 0},
    ]})
    .to_string();
    let (status, error) = put_stock(&server, INGEST, &body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"], json!("invalid_stock"));
    assert_eq!(error["field"], json!("items[3].available"));
    assert_eq!(
        error["message"],
        json!("items[3].available: expected an integer, got the string \"many\"")
    );
    let fields: Vec<&str> = error["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["items[3].available", "items[4].item_id"]);
    // Refused whole: not even the good items were stored.
    assert_eq!(get_json(&server, READ, "/v1/stock/a").await.0, 404);

    for (body, field) in [
        ("not json", "body"),
        ("[]", "body"),
        (r#"{"items":[]}"#, "items"),
        (
            r#"{"items":[{"item_id":"a","available":1,"colour":"red"}]}"#,
            "items[0].colour",
        ),
        (
            r#"{"items":[{"item_id":"a","available":1,"updated_at":"2026-06-20T00:00:00Z"}]}"#,
            "items[0].updated_at",
        ),
    ] {
        let (status, error) = put_stock(&server, INGEST, body).await;
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some(field)),
            "{body}: {error}"
        );
    }
    let too_many = json!({"items": (0..10_001)
        .map(|i| json!({"item_id": format!("i{i}"), "available": 1}))
        .collect::<Vec<_>>()})
    .to_string();
    let (status, error) = put_stock(&server, INGEST, &too_many).await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("items")),
        "{error}"
    );
    let huge = format!(
        r#"{{"items":[{{"item_id":"{}","available":1}}]}}"#,
        "x".repeat(2 << 20)
    );
    let (status, error) = put_stock(&server, INGEST, &huge).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (413, Some("body_too_large"))
    );

    let (status, answer) = put_stock(&server, INGEST, good).await;
    assert_eq!((status, answer), (200, json!({"applied": 1, "stale": 0})));
    server.shutdown().await.unwrap();
}

fn signature(body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SHOPIFY_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn shopify(server: &RunningServer, topic: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let response = client()
        .post(url(server, "/v1/webhooks/shopify"))
        .header("x-shopify-topic", topic)
        .header("x-shopify-hmac-sha256", signature(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A `products/update` body (Admin REST Product, fields abridged) whose two variants have
/// `quantities` units, counted at `at`.
fn product(at: Timestamp, quantities: [i64; 2]) -> Value {
    let variant = |id: u64, title: &str, units: i64| {
        json!({"id": id, "product_id": 632910392u64, "title": title, "price": "199.00",
            "sku": format!("IPOD2008{}", title.to_uppercase()), "position": 1,
            "inventory_policy": "deny", "compare_at_price": null,
            "inventory_item_id": id + 1, "inventory_quantity": units,
            "old_inventory_quantity": units, "requires_shipping": true,
            "admin_graphql_api_id": format!("gid://shopify/ProductVariant/{id}")})
    };
    json!({"id": 632910392u64, "title": "IPod Nano - 8GB", "vendor": "Apple",
        "product_type": "Cult Products", "handle": "ipod-nano", "status": "active",
        "created_at": "2026-01-05T10:00:00-05:00", "updated_at": rfc3339(at),
        "published_scope": "global", "tags": "Emotive, MP3",
        "admin_graphql_api_id": "gid://shopify/Product/632910392",
        "variants": [variant(808950810, "Pink", quantities[0]), variant(49148385, "Red", quantities[1])],
        "options": [{"id": 594680422u64, "product_id": 632910392u64, "name": "Color",
            "position": 1, "values": ["Pink", "Red"]}],
        "images": [], "image": null})
}

#[tokio::test]
async fn shopify_product_webhooks_set_the_stock_of_the_ids_cart_lines_carry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let server = start_with_clock(manual_config(&dir), clock.clone()).await;
    let counted = T0 - Duration::hours(2);
    let (status, answer) = shopify(&server, "products/update", &product(counted, [0, -1])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"stock": {"applied": 3, "stale": 0}}));
    for (item, available) in [("632910392", 0), ("808950810", 0), ("49148385", -1)] {
        let (status, level) = get_json(&server, READ, &format!("/v1/stock/{item}")).await;
        assert_eq!(
            (
                status,
                level["available"].as_i64(),
                level["in_stock"].as_bool()
            ),
            (200, Some(available), Some(false)),
            "{item}: {level}"
        );
    }
    // An older product webhook arriving late changes nothing.
    let (_, late) = shopify(
        &server,
        "products/update",
        &product(counted - Duration::minutes(1), [9, 9]),
    )
    .await;
    assert_eq!(late, json!({"stock": {"applied": 0, "stale": 3}}));
    // Product webhooks are not cart events: no event stored, no cart.
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("cartback_events_ingested_total 0\n")
            && metrics.contains("cartback_carts{state=\"active\"} 0\n"),
        "{metrics}"
    );

    // A checkout of the sold-out product is abandoned without a reminder.
    let checkout = |token: &str, customer: u64| {
        json!({"id": customer * 10, "token": token, "cart_token": format!("cart-{token}"),
            "email": format!("c{customer}@example.com"), "created_at": rfc3339(T0),
            "updated_at": rfc3339(T0), "currency": "USD", "total_price": "199.00",
            "line_items": [{"product_id": 632910392u64, "variant_id": 49148385u64,
                "sku": "IPOD2008RED", "title": "IPod Nano - 8GB", "vendor": "Apple",
                "price": "199.00", "quantity": 1}],
            "customer": {"id": customer, "email": format!("c{customer}@example.com")}})
    };
    let (status, stored) = shopify(&server, "checkouts/create", &checkout("t1", 207119551)).await;
    assert_eq!(
        (status, stored["accepted"].as_u64()),
        (200, Some(1)),
        "{stored}"
    );
    let cart = cart_of(&server, "207119551").await;
    clock.set(T0 + IDLE + Duration::minutes(1));
    let decision = decision_of(&server, &cart, 1).await;
    assert_eq!(
        (decision["action"].as_str(), decision["guardrail"].as_str()),
        (Some("do_nothing"), Some("out_of_stock")),
        "{decision}"
    );
    assert!(
        reasons(&decision).contains("(632910392)"),
        "the line is the product id: {decision}"
    );

    // Restocked (one variant): the next shopper's checkout of it gets a reminder.
    let (_, restock) = shopify(
        &server,
        "products/update",
        &product(T0 + Duration::minutes(35), [0, 4]),
    )
    .await;
    assert_eq!(restock, json!({"stock": {"applied": 3, "stale": 0}}));
    let later = T0 + Duration::hours(1);
    let mut second = checkout("t2", 207119552);
    second["created_at"] = json!(rfc3339(later));
    second["updated_at"] = json!(rfc3339(later));
    shopify(&server, "checkouts/create", &second).await;
    let cart = cart_of(&server, "207119552").await;
    clock.set(later + IDLE + Duration::minutes(1));
    let decision = decision_of(&server, &cart, 1).await;
    assert_eq!(
        (decision["action"].as_str(), decision["guardrail"].as_str()),
        (Some("reminder_email"), Some("passed")),
        "{decision}"
    );
    server.shutdown().await.unwrap();
}
