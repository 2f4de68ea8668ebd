//! The HTTP API spoken over a real loopback socket: authentication and scopes, ingest in
//! every format with field-naming refusals, reads, consent, erasure and the operations
//! endpoints.

mod support;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use support::*;

#[tokio::test]
async fn requests_without_a_valid_key_or_scope_are_refused_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(base_config(&dir)).await;
    let body = json!(add_to_cart("u1", "p1"));
    let none = client()
        .post(url(&server, "/v1/events"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let error: serde_json::Value = none.json().await.unwrap();
    assert_eq!(
        (error["error"].as_str(), error["field"].as_str()),
        (Some("unauthorized"), Some("authorization"))
    );
    assert_eq!(post_events(&server, "wrong-key", &body).await.status(), 401);
    assert_eq!(post_events(&server, READ, &body).await.status(), 403);
    let (status, error) = get_json(&server, INGEST, "/v1/carts/anything").await;
    assert_eq!((status, error["error"].as_str()), (403, Some("forbidden")));
    let via_header = client()
        .post(url(&server, "/v1/events"))
        .header("x-api-key", INGEST)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.status(), 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn events_are_stored_deduplicated_and_bad_fields_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(base_config(&dir)).await;
    let add = add_to_cart("u1", "p1");
    let response = post_events(&server, INGEST, &add).await;
    assert_eq!(response.status(), 200);
    let outcome: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (outcome["accepted"].as_u64(), outcome["duplicates"].as_u64()),
        (Some(1), Some(0))
    );
    let again: serde_json::Value = post_events(&server, INGEST, &json!([add]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1))
    );

    let mut bad = add_to_cart("u2", "p2");
    bad["items"][0]["price"] = json!(19.99);
    let response = post_events(&server, INGEST, &bad).await;
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["field"].as_str(), Some("items[0].price"), "{error}");
    assert_eq!(error["rejections"][0]["line"].as_u64(), Some(1));

    let mixed: serde_json::Value =
        post_events(&server, INGEST, &json!([add_to_cart("u3", "p3"), bad]))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        (mixed["accepted"].as_u64(), mixed["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        mixed["rejections"][0]["field"].as_str(),
        Some("[1].items[0].price")
    );

    let ndjson = format!("{}\n{}\n", add_to_cart("u4", "p4"), add_to_cart("u4", "p5"));
    let response = client()
        .post(url(&server, "/v1/events"))
        .bearer_auth(INGEST)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    let outcome: serde_json::Value = response.json().await.unwrap();
    assert_eq!(outcome["accepted"].as_u64(), Some(2));

    let (status, carts) = get_json(&server, READ, "/v1/users/u4/carts").await;
    assert_eq!(status, 200);
    let cart = &carts[0];
    assert_eq!(cart["lines"].as_array().map(Vec::len), Some(2), "{carts}");
    let cart_id = cart["id"].as_str().unwrap();
    let (status, one) = get_json(
        &server,
        READ,
        &format!("/v1/carts/{}", cart_id.replace('#', "%23")),
    )
    .await;
    assert_eq!((status, one["user_id"].as_str()), (200, Some("u4")));
    let (status, missing) = get_json(&server, READ, "/v1/carts/nope").await;
    assert_eq!((status, missing["field"].as_str()), (404, Some("id")));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_unknown_paths_and_methods_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    config.max_body_bytes = 2048;
    let server = start(config).await;
    let big = format!(
        "[{}]",
        vec![add_to_cart("u1", "p1").to_string(); 40].join(",")
    );
    let response = client()
        .post(url(&server, "/v1/events"))
        .bearer_auth(INGEST)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (error["error"].as_str(), error["field"].as_str()),
        (Some("body_too_large"), Some("body"))
    );
    let (status, error) = get_json(&server, READ, "/v2/nothing").await;
    assert_eq!((status, error["error"].as_str()), (404, Some("not_found")));
    let response = client()
        .delete(url(&server, "/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["field"].as_str(), Some("method"));
    let (status, error) = get_json(&server, READ, "/v1/decisions").await;
    assert_eq!((status, error["field"].as_str()), (400, Some("cart_id")));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn segment_track_and_batch_calls_are_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(base_config(&dir)).await;
    let ts = "2026-01-01T00:00:00Z";
    let call = |id: &str| {
        json!({"type": "track", "event": "Product Added", "userId": "s1", "messageId": id, "timestamp": ts,
               "properties": {"product_id": "p1", "price": 12.5, "quantity": 1, "currency": "USD"}})
    };
    let response = client()
        .post(url(&server, "/v1/segment"))
        .bearer_auth(INGEST)
        .json(&json!({"batch": [call("m1"), call("m2"), {"type": "identify", "userId": "s1"}]}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let outcome: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        (outcome["accepted"].as_u64(), outcome["skipped"].as_u64()),
        (Some(2), Some(1)),
        "{outcome}"
    );
    server.shutdown().await.unwrap();
}

fn shopify_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn shopify_webhooks_need_a_valid_hmac() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    config.shopify.webhook_secret = "shpss_test".into();
    let server = start(config).await;
    let body = json!({
        "id": 981820079255243537u64, "token": "tok1", "email": "buyer@example.com",
        "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:05:00Z", "currency": "USD",
        "customer": {"id": 42}, "total_price": "10.00",
        "line_items": [{"variant_id": 7, "product_id": 70, "title": "Mug", "price": "10.00", "quantity": 1}]
    })
    .to_string();
    let send = |signature: String| {
        client()
            .post(url(&server, "/v1/webhooks/shopify"))
            .header("x-shopify-topic", "checkouts/create")
            .header("x-shopify-hmac-sha256", signature)
            .body(body.clone())
            .send()
    };
    let forged = send(shopify_signature("other", body.as_bytes()))
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let error: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(error["field"].as_str(), Some("x-shopify-hmac-sha256"));
    let genuine = send(shopify_signature("shpss_test", body.as_bytes()))
        .await
        .unwrap();
    let status = genuine.status();
    let outcome: serde_json::Value = genuine.json().await.unwrap();
    assert_eq!(
        (status.as_u16(), outcome["accepted"].as_u64()),
        (200, Some(1)),
        "{outcome}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn consent_is_validated_per_channel_and_erasure_reports_what_it_removed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(base_config(&dir)).await;
    post_events(&server, INGEST, &add_to_cart("gone", "p1")).await;
    let put = |body: serde_json::Value| {
        client()
            .put(url(&server, "/v1/users/gone/consent"))
            .bearer_auth(INGEST)
            .json(&body)
            .send()
    };
    let bad = put(json!({"email": "yes"})).await.unwrap();
    assert_eq!(bad.status(), 400);
    let error: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(error["field"].as_str(), Some("email"), "{error}");
    let unknown: serde_json::Value = put(json!({"fax": true}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unknown["field"].as_str(), Some("fax"));
    assert_eq!(put(json!({"email": false})).await.unwrap().status(), 200);
    let (_, consent) = get_json(&server, READ, "/v1/users/gone/consent").await;
    assert_eq!(consent["email"], json!(false));

    let refused = client()
        .delete(url(&server, "/v1/users/gone"))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let erased = erase_user(&server, "gone").await;
    assert_eq!(
        (erased["events"].as_u64(), erased["consents"].as_u64()),
        (Some(1), Some(1)),
        "{erased}"
    );
    let (_, carts) = get_json(&server, READ, "/v1/users/gone/carts").await;
    assert_eq!(carts, json!([]));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(base_config(&dir)).await;
    post_events(&server, INGEST, &add_to_cart("m1", "p1")).await;
    let (status, health) = get_json(&server, READ, "/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = get_json(&server, READ, "/readyz").await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("cartback_events_ingested_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cartback_carts{state=\"active\"} 1\n"),
        "{metrics}"
    );
    let (_, openapi) = get_json(&server, READ, "/openapi.json").await;
    for path in [
        "/v1/events",
        "/v1/segment",
        "/v1/webhooks/shopify",
        "/v1/carts/{id}",
        "/v1/users/{id}/carts",
        "/v1/decisions",
        "/v1/users/{id}/consent",
        "/v1/users/{id}",
        "/v1/stock",
        "/v1/stock/{item_id}",
        "/t/restore/{token}",
        "/metrics",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} missing from /openapi.json"
        );
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_configured_keys_a_generated_admin_key_is_the_only_way_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    config.auth.keys.clear();
    let server = start(config).await;
    let key = server.generated_key.clone().expect("a generated key");
    assert_eq!(
        post_events(&server, ADMIN, &add_to_cart("k", "p"))
            .await
            .status(),
        401
    );
    assert_eq!(
        post_events(&server, &key, &add_to_cart("k", "p"))
            .await
            .status(),
        200
    );
    server.shutdown().await.unwrap();
}
