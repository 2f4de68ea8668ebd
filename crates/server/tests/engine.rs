//! The real-time engine end to end over loopback: a cart goes idle, is abandoned, gets a
//! decision and a message on a real channel (SMTP sink, webhook receiver); purchases,
//! unsubscribes and the holdout stop messages; failed sends are retried; tracking links
//! are signed and redirect only to the shop.

mod support;

use cartback_server::ServerConfig;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);

async fn cart_id_of(server: &cartback_server::RunningServer, user: &str) -> String {
    eventually("the user's cart", WAIT, || async {
        let (_, carts) = get_json(server, READ, &format!("/v1/users/{user}/carts")).await;
        carts[0]["id"].as_str().map(str::to_owned)
    })
    .await
}

fn encoded(cart_id: &str) -> String {
    cart_id.replace('#', "%23")
}

async fn wait_for_status(
    server: &cartback_server::RunningServer,
    cart_id: &str,
    wanted: &str,
) -> Vec<serde_json::Value> {
    eventually(&format!("message status {wanted}"), WAIT, || async {
        let found = decisions(server, &encoded(cart_id)).await;
        (first_message_status(&found).as_deref() == Some(wanted)).then_some(found)
    })
    .await
}

fn webhook_config(dir: &tempfile::TempDir, hook_url: &str) -> ServerConfig {
    let mut config = base_config(dir);
    fast_timers(&mut config);
    config.flow.channel = "webhook".into();
    config.webhook.url = hook_url.into();
    config.webhook.secret = "hook-secret".into();
    config
}

/// Fast timers, reminders by e-mail through the SMTP sink on `smtp_port`.
fn email_config(dir: &tempfile::TempDir, smtp_port: u16) -> ServerConfig {
    let mut config = base_config(dir);
    fast_timers(&mut config);
    config.flow.channel = "email".into();
    config.email.smtp_port = smtp_port;
    config.email.from = "Shop <shop@example.com>".into();
    config
}

#[tokio::test]
async fn an_abandoned_cart_gets_one_signed_webhook_and_a_recorded_decision() {
    let (hook_url, received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(webhook_config(&dir, &hook_url)).await;
    post_events(&server, INGEST, &add_to_cart("w1", "p1")).await;
    let cart_id = cart_id_of(&server, "w1").await;
    let found = wait_for_status(&server, &cart_id, "sent").await;
    let decision = &found[0];
    assert_eq!(decision["action"].as_str(), Some("reminder_email"));
    assert_eq!(decision["channel"].as_str(), Some("webhook"));
    assert_eq!(decision["step"].as_u64(), Some(0));
    assert_eq!(decision["propensity"].as_f64(), Some(1.0));
    assert_eq!(decision["guardrail"].as_str(), Some("passed"));
    assert!(
        decision["reasons"][0]
            .as_str()
            .unwrap()
            .contains("fixed_flow")
    );
    assert!(decision["send_at"].as_i64().is_some());

    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "exactly one delivery");
    let hook = &hooks[0];
    let (t, v1) = hook.signature.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").unwrap();
    mac.update(format!("{t}.{}", hook.body).as_bytes());
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        v1,
        "signature over timestamp + body"
    );
    let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["cart_id"].as_str(), Some(cart_id.as_str()));
    assert_eq!(
        hook.idempotency_key,
        body["idempotency_key"].as_str().unwrap()
    );
    assert_eq!(body["cart"]["lines"][0]["item_id"].as_str(), Some("p1"));

    // The restore link redirects to the configured shop URL only; tampering is refused.
    // Links point at `public_url` (the default); the test server listens elsewhere.
    let here = |link: &str| link.replace("http://127.0.0.1:8080", &url(&server, ""));
    let restore = &here(body["restore_link"].as_str().unwrap());
    let response = client().get(restore).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("https://shop.example/cart/{}", encoded(&cart_id))
    );
    let tampered = format!("{}x", restore.trim_end_matches('x'));
    let tampered = if &tampered == restore {
        format!("{restore}A")
    } else {
        tampered
    };
    let response = client().get(&tampered).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["field"].as_str(), Some("token"));

    // One-click unsubscribe withdraws consent for the channel.
    let unsubscribe = &here(body["unsubscribe_link"].as_str().unwrap());
    let page = client().get(unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (_, consent) = get_json(&server, READ, "/v1/users/w1/consent").await;
    assert_eq!(consent["webhook"], json!(null), "GET changes nothing");
    assert_eq!(
        client().post(unsubscribe).send().await.unwrap().status(),
        200
    );
    let (_, consent) = get_json(&server, READ, "/v1/users/w1/consent").await;
    assert_eq!(consent["webhook"], json!(false));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_abandoned_cart_gets_an_email_with_unsubscribe_headers_over_smtp() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(email_config(&dir, port)).await;
    post_events(&server, INGEST, &add_to_cart("e1", "mug")).await;
    let cart_id = cart_id_of(&server, "e1").await;
    wait_for_status(&server, &cart_id, "sent").await;
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, ["<e1@example.com>"]);
    let data = mail.data.replace("=\r\n", "");
    assert!(
        data.contains("List-Unsubscribe: <http://127.0.0.1:8080/t/unsubscribe/"),
        "{data}"
    );
    assert!(
        data.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("text/html") && data.contains("text/plain"));
    assert!(
        data.contains("Item mug"),
        "the cart's item is shown: {data}"
    );
    assert!(data.contains("/t/restore/"), "restore link: {data}");
    assert!(data.contains("19.99 EUR"), "price: {data}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn recommendation_emails_recommend_what_the_shop_sells_most_but_not_the_cart() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    fast_timers(&mut config);
    config.flow.channel = "email".into();
    config.flow.recommendations = 2;
    config.policy.fixed_flow = vec!["recommendation_email".into()];
    config.email.smtp_port = port;
    let server = start(config).await;
    // Other shoppers' orders make the popularity ranking: teapot (3 units), mug (2), then
    // spoon (1). The abandoned cart holds the mug, so the teapot and the spoon are shown.
    let order = |user: &str, id: &str, units: u32| {
        event(
            "order_completed",
            user,
            json!({"order_id": format!("o-{user}"), "currency": "EUR",
                   "items": [{"id": id, "name": format!("Item {id}"), "price": 500, "quantity": units}]}),
        )
    };
    let orders = json!([
        order("b1", "teapot", 3),
        order("b2", "mug", 2),
        order("b3", "spoon", 1)
    ]);
    assert!(
        post_events(&server, INGEST, &orders)
            .await
            .status()
            .is_success()
    );
    post_events(&server, INGEST, &add_to_cart("r1", "mug")).await;
    let cart_id = cart_id_of(&server, "r1").await;
    let found = wait_for_status(&server, &cart_id, "sent").await;
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{found:?}");
    let data = mails[0].data.replace("=\r\n", "");
    assert!(data.contains("You might also like"), "{data}");
    let liked = data.split("You might also like").nth(1).unwrap();
    let (teapot, spoon) = (liked.find("teapot"), liked.find("spoon"));
    assert!(teapot.is_some() && spoon.is_some(), "{data}");
    assert!(teapot < spoon, "ranked by units ordered: {data}");
    let text_part = liked.split("Restore your cart").next().unwrap();
    assert!(
        !text_part.contains("mug"),
        "the cart's own item is not recommended: {data}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_purchase_before_the_send_cancels_it() {
    let (hook_url, received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = webhook_config(&dir, &hook_url);
    config.policy.step_delays = vec![cartback_core::Duration::hours(1)];
    let server = start(config).await;
    post_events(&server, INGEST, &add_to_cart("b1", "p1")).await;
    let cart_id = cart_id_of(&server, "b1").await;
    wait_for_status(&server, &cart_id, "pending").await;
    let order = event(
        "order_completed",
        "b1",
        json!({"order_id": "o-1", "currency": "EUR", "total": 1999, "items": [{"id": "p1", "price": 1999, "quantity": 1}]}),
    );
    assert_eq!(post_events(&server, INGEST, &order).await.status(), 200);
    let found = wait_for_status(&server, &cart_id, "cancelled").await;
    assert_eq!(
        found[0]["messages"][0]["cancel_reason"].as_str(),
        Some("purchased")
    );
    let (_, cart) = get_json(&server, READ, &format!("/v1/carts/{}", encoded(&cart_id))).await;
    assert_eq!(cart["state"].as_str(), Some("recovered"));
    assert!(received.lock().unwrap().is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn withdrawn_consent_cancels_a_scheduled_send() {
    let (hook_url, received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = webhook_config(&dir, &hook_url);
    config.policy.step_delays = vec![cartback_core::Duration::millis(1500)];
    let server = start(config).await;
    post_events(&server, INGEST, &add_to_cart("c1", "p1")).await;
    let cart_id = cart_id_of(&server, "c1").await;
    wait_for_status(&server, &cart_id, "pending").await;
    assert_eq!(
        set_consent(&server, "c1", json!({"webhook": false})).await,
        200
    );
    let found = wait_for_status(&server, &cart_id, "cancelled").await;
    assert_eq!(
        found[0]["messages"][0]["cancel_reason"].as_str(),
        Some("consent_withdrawn")
    );
    assert!(received.lock().unwrap().is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_holdout_is_tracked_but_never_contacted() {
    let (hook_url, received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = webhook_config(&dir, &hook_url);
    config.holdout_fraction = 1.0;
    let server = start(config).await;
    post_events(&server, INGEST, &add_to_cart("h1", "p1")).await;
    let cart_id = cart_id_of(&server, "h1").await;
    let found = eventually("the holdout decision", WAIT, || async {
        let found = decisions(&server, &encoded(&cart_id)).await;
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(found[0]["holdout"], json!(true));
    assert_eq!(found[0]["guardrail"].as_str(), Some("holdout"));
    assert_eq!(found[0]["action"].as_str(), Some("do_nothing"));
    assert_eq!(found[0]["messages"], json!([]));
    assert!(received.lock().unwrap().is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn failed_sends_are_retried_with_the_same_idempotency_key() {
    let (hook_url, received) = webhook_receiver(2).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(webhook_config(&dir, &hook_url)).await;
    post_events(&server, INGEST, &add_to_cart("r1", "p1")).await;
    let cart_id = cart_id_of(&server, "r1").await;
    let found = wait_for_status(&server, &cart_id, "sent").await;
    assert_eq!(found[0]["messages"][0]["attempts"].as_u64(), Some(3));
    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.len(), 3);
    assert!(
        hooks
            .iter()
            .all(|h| h.idempotency_key == hooks[0].idempotency_key)
    );
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("cartback_message_send_failures_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cartback_decisions{action=\"reminder_email\"} 1\n"),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn erasure_removes_decisions_and_messages_too() {
    let (hook_url, _received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(webhook_config(&dir, &hook_url)).await;
    post_events(&server, INGEST, &add_to_cart("x1", "p1")).await;
    let cart_id = cart_id_of(&server, "x1").await;
    wait_for_status(&server, &cart_id, "sent").await;
    let erased = erase_user(&server, "x1").await;
    assert_eq!(erased["events"].as_u64(), Some(1), "{erased}");
    assert_eq!(erased["decisions"].as_u64(), Some(1), "{erased}");
    assert_eq!(erased["messages"].as_u64(), Some(1), "{erased}");
    assert!(erased["carts"].as_u64().unwrap() >= 1, "{erased}");
    assert!(decisions(&server, &encoded(&cart_id)).await.is_empty());
    let (status, _) = get_json(&server, READ, &format!("/v1/carts/{}", encoded(&cart_id))).await;
    assert_eq!(status, 404);
    server.shutdown().await.unwrap();
}

/// The same flow with every table in PostgreSQL (a fresh schema), when
/// `CARTBACK_TEST_POSTGRES_URL` names a test database; skipped (with a note) otherwise.
#[tokio::test]
async fn on_postgresql_an_abandoned_cart_is_decided_sent_and_erased() {
    let Ok(base_url) = std::env::var("CARTBACK_TEST_POSTGRES_URL") else {
        eprintln!("CARTBACK_TEST_POSTGRES_URL not set: PostgreSQL flow not run");
        return;
    };
    let schema = format!("cartback_server_test_{}", std::process::id());
    let admin = base_url.clone();
    let create = format!("CREATE SCHEMA \"{schema}\"");
    cartback_server::worker::off_runtime(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client.batch_execute(&create).unwrap();
    })
    .await;
    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url_in_schema = format!("{base_url}{separator}options=-csearch_path%3D{schema}");

    let (hook_url, received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = webhook_config(&dir, &hook_url);
    config.db = url_in_schema;
    let server = start(config).await;
    post_events(&server, INGEST, &add_to_cart("pg1", "p1")).await;
    let cart_id = cart_id_of(&server, "pg1").await;
    let found = wait_for_status(&server, &cart_id, "sent").await;
    assert_eq!(found[0]["action"].as_str(), Some("reminder_email"));
    assert_eq!(received.lock().unwrap().len(), 1);
    let erased = erase_user(&server, "pg1").await;
    assert_eq!(
        (erased["events"].as_u64(), erased["messages"].as_u64()),
        (Some(1), Some(1)),
        "{erased}"
    );
    server.shutdown().await.unwrap();

    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    cartback_server::worker::off_runtime(move || {
        let mut client = postgres::Client::connect(&base_url, postgres::NoTls).unwrap();
        client.batch_execute(&drop).unwrap();
    })
    .await;
}

/// The tracking path `/t/<kind>/<token>` of the first such link in a received e-mail.
fn tracking_path(data: &str, kind: &str) -> String {
    let marker = format!("/t/{kind}/");
    let start = data
        .find(&marker)
        .unwrap_or_else(|| panic!("no {kind} link in {data}"));
    let token: String = data[start + marker.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    format!("{marker}{token}")
}

#[tokio::test]
async fn an_opened_email_is_part_of_the_customer_history_of_the_users_next_cart() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(email_config(&dir, port)).await;
    let with_cart = |item: &str, cart: &str| {
        let mut e = add_to_cart("h1", item);
        e["cart_id"] = json!(cart);
        e
    };

    // First cart: abandoned, e-mailed; the shopper opens the e-mail (the pixel loads).
    post_events(&server, INGEST, &with_cart("mug", "cart-1")).await;
    let first = wait_for_status(&server, "cart-1", "sent").await;
    let reasons = first[0]["reasons"].to_string();
    assert!(
        reasons.contains("0 earlier carts, 0 orders, 0 abandonments; 0 e-mails in 90 days"),
        "a new customer has no history: {reasons}"
    );
    // Quoted-printable soft breaks joined; the HTML part escapes the links' slashes.
    let data = mails.lock().unwrap()[0]
        .data
        .replace("=\r\n", "")
        .replace("&#x2f;", "/");
    let pixel = tracking_path(&data, "open");
    let response = client().get(url(&server, &pixel)).send().await.unwrap();
    assert_eq!(response.status(), 200, "the open pixel is served");

    // Second cart of the same user: its decision sees the first cart and the opened e-mail.
    post_events(&server, INGEST, &with_cart("plate", "cart-2")).await;
    let second = wait_for_status(&server, "cart-2", "sent").await;
    let reasons = second[0]["reasons"].to_string();
    assert!(
        reasons.contains(
            "1 earlier carts, 0 orders, 1 abandonments; 1 e-mails in 90 days, 1 opened, 0 clicked"
        ),
        "the opened e-mail of the first cart counts: {reasons}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_coupon_typed_at_checkout_is_a_session_signal_in_the_decisions_reasons() {
    let (hook_url, _received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(webhook_config(&dir, &hook_url)).await;
    let in_cart = |mut e: serde_json::Value, cart: &str| {
        e["cart_id"] = json!(cart);
        e
    };

    // One request, so the three events are folded before the cart can go idle: an add, the
    // checkout, and a code typed into the coupon field that the shop refused.
    let coupon = event(
        "coupon_entered",
        "k1",
        json!({"coupon_code": "SAVE10", "coupon_outcome": "denied"}),
    );
    // Stamped in order: `event` reads the clock, and the coupon, built first, could fall in an
    // earlier millisecond than the add and be folded before the cart existed.
    let base = now_ms();
    let mut body = json!([
        in_cart(add_to_cart("k1", "mug"), "cart-k1"),
        in_cart(event("checkout_started", "k1", json!({})), "cart-k1"),
        in_cart(coupon, "cart-k1"),
    ]);
    for (offset, e) in body.as_array_mut().unwrap().iter_mut().enumerate() {
        e["timestamp"] = json!(base + offset as i64);
    }
    let (status, answer) = {
        let response = post_events(&server, INGEST, &body).await;
        (
            response.status(),
            response.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    // A second shopper only adds to the cart: checkout never reached.
    post_events(
        &server,
        INGEST,
        &in_cart(add_to_cart("k2", "mug"), "cart-k2"),
    )
    .await;

    let typed = wait_for_status(&server, "cart-k1", "sent").await;
    let reasons = typed[0]["reasons"].to_string();
    assert!(
        reasons.contains(
            "session signals: checkout reached, coupon code entered (1 coupon events); \
             referrer not observed (policy.referrers_tracked is off)"
        ),
        "the coupon event reaches the policy: {reasons}"
    );
    let (_, cart) = get_json(&server, READ, "/v1/carts/cart-k1").await;
    assert_eq!(cart["coupons_entered"], 1, "{cart}");
    assert_eq!(cart["checkout_started"], true, "{cart}");

    let plain = wait_for_status(&server, "cart-k2", "sent").await;
    let reasons = plain[0]["reasons"].to_string();
    assert!(
        reasons.contains(
            "session signals: checkout not reached, coupon field not observed; \
             referrer not observed (policy.referrers_tracked is off)"
        ),
        "no checkout, nothing observed: {reasons}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_session_from_a_coupon_site_is_a_session_signal_in_the_decisions_reasons() {
    let (hook_url, _received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = webhook_config(&dir, &hook_url);
    config.policy.referrers_tracked = true;
    let server = start(config).await;
    // The session lands on a product page from a coupon site, then fills a cart (one request,
    // so the cart cannot go idle in between); the add itself names no referrer.
    let landing = |user: &str, referrer: &str| {
        event(
            "product_viewed",
            user,
            json!({"session_id": format!("s-{user}"), "referrer": referrer,
                "items": [{"id": "mug"}]}),
        )
    };
    let in_session = |mut e: serde_json::Value, user: &str| {
        e["session_id"] = json!(format!("s-{user}"));
        e["cart_id"] = json!(format!("cart-{user}"));
        e
    };
    for (user, referrer) in [
        ("r1", "https://www.RetailMeNot.com/view/shop.example"),
        ("r2", "https://www.google.com/"),
    ] {
        let body = json!([
            landing(user, referrer),
            in_session(add_to_cart(user, "mug"), user)
        ]);
        let response = post_events(&server, INGEST, &body).await;
        assert_eq!(response.status(), 200);
    }
    // A third shopper's events carry no referrer: a direct visit, from a shop that sends them.
    post_events(&server, INGEST, &in_session(add_to_cart("r3", "mug"), "r3")).await;

    let from_coupon_site = wait_for_status(&server, "cart-r1", "sent").await;
    let reasons = from_coupon_site[0]["reasons"].to_string();
    assert!(
        reasons.contains(
            "session signals: checkout not reached, coupon field not observed; \
             arrived from retailmenot.com (a coupon site)"
        ),
        "the referrer reaches the policy: {reasons}"
    );
    let (_, cart) = get_json(&server, READ, "/v1/carts/cart-r1").await;
    assert_eq!(cart["referrers"], json!(["retailmenot.com"]), "{cart}");

    let from_search = wait_for_status(&server, "cart-r2", "sent").await;
    let reasons = from_search[0]["reasons"].to_string();
    assert!(
        reasons.contains("; referrer not a coupon site (google.com)"),
        "{reasons}"
    );
    let direct = wait_for_status(&server, "cart-r3", "sent").await;
    let reasons = direct[0]["reasons"].to_string();
    assert!(
        reasons.contains("; no referrer (a direct visit), not a coupon site"),
        "{reasons}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_order_placed_with_a_discount_code_is_coupon_history_for_the_next_cart() {
    let (hook_url, _received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = webhook_config(&dir, &hook_url);
    config.policy.order_coupons_tracked = true;
    let server = start(config).await;
    // An earlier cart bought with a code (one request: it never goes idle) ...
    let mut bought = add_to_cart("d1", "mug");
    bought["cart_id"] = json!("cart-d1");
    let mut order = event(
        "order_completed",
        "d1",
        json!({"order_id": "o-d1", "coupon_code": "SAVE10", "currency": "EUR",
            "items": [{"id": "mug", "price": 1999, "quantity": 1}]}),
    );
    order["cart_id"] = json!("cart-d1");
    let response = post_events(&server, INGEST, &json!([bought, order])).await;
    assert_eq!(response.status(), 200);
    // ... then a cart left behind: its decision sees one order of one with a code.
    let mut left = add_to_cart("d1", "plate");
    left["cart_id"] = json!("cart-d2");
    post_events(&server, INGEST, &left).await;
    let decided = wait_for_status(&server, "cart-d2", "sent").await;
    let reasons = decided[0]["reasons"].to_string();
    assert!(
        reasons.contains("1 orders, 0 abandonments")
            && reasons.contains("1 of 1 orders in 365 days with a discount code"),
        "{reasons}"
    );
    server.shutdown().await.unwrap();
}
