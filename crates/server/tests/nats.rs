//! The NATS JetStream event source end to end, against the NATS server named by
//! `CARTBACK_TEST_NATS_URL` (skipped, saying so, when it is unset; `.ci/run` sets it): events
//! published to a stream become carts, a redelivered or republished event is stored once, bad
//! records are rejected without losing the good ones beside them, every message is
//! acknowledged, and a restarted engine does not read the acknowledged messages again.

mod support;

use async_nats::jetstream;
use cartback_server::config::NatsConfig;
use serde_json::json;
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);

fn nats_url() -> Option<String> {
    let url = std::env::var("CARTBACK_TEST_NATS_URL").ok();
    if url.is_none() {
        eprintln!("skipped: CARTBACK_TEST_NATS_URL is not set (e.g. nats://127.0.0.1:4222)");
    }
    url
}

async fn carts_of(server: &cartback_server::RunningServer, user: &str) -> serde_json::Value {
    get_json(server, READ, &format!("/v1/users/{user}/carts"))
        .await
        .1
}

#[tokio::test]
async fn events_published_to_jetstream_are_stored_once_and_acknowledged() {
    let Some(url) = nats_url() else { return };
    let unique = format!("CBTEST_{}_{}", std::process::id(), now_ms());
    let subject = |user: &str| format!("cbtest.{unique}.{user}");
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    config.nats = NatsConfig {
        url: url.clone(),
        stream: unique.clone(),
        subjects: vec![format!("cbtest.{unique}.>")],
        durable: "engine".into(),
        batch: 16,
        ..NatsConfig::default()
    };
    let server = start(config.clone()).await;

    let context = jetstream::new(async_nats::connect(&url).await.unwrap());
    let first = add_to_cart("n1", "mug");
    let bad = {
        let mut e = add_to_cart("n2", "bowl");
        e["items"][0]["price"] = json!(12.99);
        e
    };
    let messages: Vec<(String, String)> = vec![
        (subject("n1"), first.to_string()),
        // NDJSON: a good event and a bad one in one message.
        (
            subject("n2"),
            format!("{}\n{}\n", add_to_cart("n2", "plate"), bad),
        ),
        // The first event again (a publisher's retry): stored once.
        (subject("n1"), first.to_string()),
        (subject("n9"), "this is not JSON".to_owned()),
    ];
    for (subject, body) in messages {
        context
            .publish(subject, body.into())
            .await
            .unwrap()
            .await
            .expect("the stream stores the message");
    }
    for user in ["n1", "n2"] {
        eventually(&format!("{user}'s cart"), WAIT, || async {
            carts_of(&server, user).await[0]["id"]
                .as_str()
                .map(str::to_owned)
        })
        .await;
    }
    let n2 = carts_of(&server, "n2").await;
    assert_eq!(n2[0]["lines"].as_array().unwrap().len(), 1, "{n2}");
    assert_eq!(n2[0]["lines"][0]["item_id"], json!("plate"));
    let stream = context.get_stream(&unique).await.unwrap();
    eventually("every message acknowledged", WAIT, || async {
        let info = stream.consumer_info("engine").await.unwrap();
        (info.num_ack_pending == 0 && info.num_pending == 0 && info.delivered.stream_sequence == 4)
            .then_some(())
    })
    .await;
    let metrics = metrics_text(&server).await;
    // The bad record and the unreadable message.
    assert!(
        metrics.contains("cartback_events_rejected_total 2"),
        "{metrics}"
    );
    server.shutdown().await.unwrap();

    // A restart reads only what is new.
    let server = start(config.clone()).await;
    context
        .publish(subject("n3"), add_to_cart("n3", "cup").to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();
    eventually("n3's cart", WAIT, || async {
        carts_of(&server, "n3").await[0]["id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    server.shutdown().await.unwrap();
    let mut store = cartback_store::open(&config.db).unwrap();
    // n1 once, n2's good event, n3.
    assert_eq!(store.event_count().unwrap(), 3);
    context.delete_stream(&unique).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_nats_server_stops_the_start_with_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    // A port nothing listens on.
    config.nats.url = "nats://127.0.0.1:1".into();
    let error = cartback_server::start(config, std::sync::Arc::new(cartback_server::SystemClock))
        .await
        .err()
        .expect("the start fails");
    assert!(
        error
            .to_string()
            .contains("connecting to NATS at nats://127.0.0.1:1"),
        "{error}"
    );
}
