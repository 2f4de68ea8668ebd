//! Pseudonymised shopper ids (`[privacy] pseudonymise_key`) end to end over loopback: the
//! store, the decision log and the API answers hold pseudonyms only; the API takes the
//! shop's ids (consent, a user's carts, a cart, decisions, erasure); the webhook carries the
//! shop's id back; the store refuses another key, no key, and a key over the shop's ids.

mod support;

use cartback_ingest::{PSEUDONYM_PREFIX, Pseudonymiser};
use cartback_server::ServerConfig;
use cartback_store::UserIdsError;
use serde_json::json;
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);
const KEY: &str = "a test key that is long enough to be accepted";

fn pseudonymised_webhook_config(dir: &tempfile::TempDir, hook_url: &str) -> ServerConfig {
    let mut config = base_config(dir);
    fast_timers(&mut config);
    config.flow.channel = "webhook".into();
    config.webhook.url = hook_url.into();
    config.webhook.secret = "hook-secret".into();
    config.privacy.pseudonymise_key = KEY.into();
    config
}

/// Every user id the store holds, in events, carts and decisions.
fn stored_user_ids(db: &str) -> Vec<String> {
    let mut store = cartback_store::open(db).unwrap();
    let mut ids = Vec::new();
    store
        .scan_events(&mut |e| {
            ids.push(e.user_id);
            ids.extend(e.anonymous_id);
        })
        .unwrap();
    store.scan_carts(&mut |c| ids.push(c.user_id)).unwrap();
    let decisions = store.decision_log(0, 1000).unwrap();
    ids.extend(decisions.into_iter().map(|d| d.user_id));
    ids
}

#[tokio::test]
async fn the_store_keeps_pseudonyms_and_the_api_speaks_the_shops_ids() {
    let (hook_url, received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let config = pseudonymised_webhook_config(&dir, &hook_url);
    let db = config.db.clone();
    let pseudonymiser = Pseudonymiser::new(KEY).unwrap();
    let alice = pseudonymiser.pseudonym("alice");
    let server = start(config).await;

    let mut added = add_to_cart("alice", "p1");
    added["anonymous_id"] = json!("device-7");
    added["email"] = json!("alice@example.com");
    assert_eq!(post_events(&server, INGEST, &added).await.status(), 200);
    // The same event again is a duplicate: dedupe works on the pseudonymised ids.
    let again: serde_json::Value = post_events(&server, INGEST, &added)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicates"].as_u64(), Some(1), "{again}");

    // A user's carts by the shop's id; the cart itself names the pseudonym.
    let carts = eventually("alice's cart", WAIT, || async {
        let (_, carts) = get_json(&server, READ, "/v1/users/alice/carts").await;
        carts.as_array().filter(|c| !c.is_empty()).cloned()
    })
    .await;
    let cart_id = carts[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(carts[0]["user_id"].as_str(), Some(alice.as_str()));
    assert_eq!(cart_id, format!("{alice}#1"));
    // The cart by the id the shop would derive (`alice#1`) and by the stored one.
    for asked in ["alice%231".to_owned(), cart_id.replace('#', "%23")] {
        let (status, cart) = get_json(&server, READ, &format!("/v1/carts/{asked}")).await;
        assert_eq!(status, 200, "{asked}");
        assert_eq!(cart["id"].as_str(), Some(cart_id.as_str()));
    }

    // The reminder goes out through the webhook, which names the shop's id.
    let hook = eventually("the webhook", WAIT, || async {
        received.lock().unwrap().first().cloned()
    })
    .await;
    let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["user_id"].as_str(), Some("alice"));
    assert_eq!(body["cart_id"].as_str(), Some(cart_id.as_str()));
    assert_eq!(body["cart"]["email"].as_str(), Some("alice@example.com"));
    // Decisions by the shop's cart id.
    let found = decisions(&server, "alice%231").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["user_id"].as_str(), Some(alice.as_str()));

    // Consent by the shop's id, read back by the shop's id and by the pseudonym.
    assert_eq!(
        set_consent(&server, "alice", json!({"webhook": false})).await,
        200
    );
    for user in ["alice", alice.as_str()] {
        let (_, consent) = get_json(&server, READ, &format!("/v1/users/{user}/consent")).await;
        assert_eq!(consent["webhook"].as_bool(), Some(false), "{user}");
    }

    // Nothing stored names alice or her device.
    let ids = stored_user_ids(&db);
    assert!(!ids.is_empty());
    for id in &ids {
        assert!(id.starts_with(PSEUDONYM_PREFIX), "{id} is stored");
    }
    assert!(ids.contains(&alice));
    assert!(ids.contains(&pseudonymiser.pseudonym("device-7")));

    // Erasure by the shop's id removes her.
    let erased = erase_user(&server, "alice").await;
    assert_eq!(erased["events"].as_u64(), Some(1), "{erased}");
    assert_eq!(erased["carts"].as_u64(), Some(1), "{erased}");
    let (_, carts) = get_json(&server, READ, "/v1/users/alice/carts").await;
    assert_eq!(carts, json!([]));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_store_refuses_another_key_no_key_and_a_key_over_the_shops_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    config.privacy.pseudonymise_key = KEY.into();
    let server = start(config.clone()).await;
    post_events(&server, INGEST, &add_to_cart("bob", "p1")).await;
    server.shutdown().await.unwrap();

    let fingerprint = Pseudonymiser::new(KEY).unwrap().fingerprint().to_owned();
    let mut other = config.clone();
    other.privacy.pseudonymise_key = format!("{KEY} but another one");
    let refused = cartback_server::start(other, std::sync::Arc::new(cartback_server::SystemClock))
        .await
        .err()
        .expect("another key is refused");
    let message = refused.to_string();
    assert!(
        message.contains("another key") && message.contains(&fingerprint),
        "{message}"
    );

    let mut none = config.clone();
    none.privacy.pseudonymise_key = String::new();
    let refused = cartback_server::start(none, std::sync::Arc::new(cartback_server::SystemClock))
        .await
        .err()
        .expect("no key is refused");
    assert!(
        refused.to_string().contains("pseudonymise_key"),
        "{refused}"
    );

    // The same key starts again and finds bob's cart by his id.
    let server = start(config).await;
    let (_, carts) = get_json(&server, READ, "/v1/users/bob/carts").await;
    assert_eq!(carts.as_array().map(Vec::len), Some(1), "{carts}");
    server.shutdown().await.unwrap();

    // A store that already holds a shop's own ids refuses a key.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = base_config(&plain_dir);
    let server = start(plain.clone()).await;
    post_events(&server, INGEST, &add_to_cart("carol", "p1")).await;
    server.shutdown().await.unwrap();
    let mut keyed = plain;
    keyed.privacy.pseudonymise_key = KEY.into();
    let refused = cartback_server::start(keyed, std::sync::Arc::new(cartback_server::SystemClock))
        .await
        .err()
        .expect("a key over the shop's ids is refused");
    match refused {
        cartback_server::ServerError::UserIds {
            source: UserIdsError::HoldsIssuedIds { events: 1, .. },
            ..
        } => {}
        other => panic!("expected HoldsIssuedIds, got {other}"),
    }
    let mut store = cartback_store::open(&keyed_db(&plain_dir)).unwrap();
    assert_eq!(
        store.setting(cartback_store::USER_IDS_SETTING).unwrap(),
        None
    );
}

fn keyed_db(dir: &tempfile::TempDir) -> String {
    dir.path().join("cartback.db").display().to_string()
}
