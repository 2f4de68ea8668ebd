//! Group commit over HTTP: many concurrent requests, sharing events between them, each get
//! their own counts; together they accept every distinct event once, and every accepted
//! event is stored and folded (its cart is readable) when its answer arrives.

mod support;

use std::collections::HashSet;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_get_their_own_counts_and_every_event_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(base_config(&dir)).await;
    let requests = 60;
    // Request i carries events i and i + 1 (ids shared with its neighbour) and one of its
    // own: 2 × 60 + 1 distinct ids in all.
    let event_of = |n: usize| {
        let mut e = add_to_cart(&format!("g{n}"), "p1");
        e["id"] = serde_json::json!(format!("shared-{n}"));
        e
    };
    let tasks: Vec<_> = (0..requests)
        .map(|i| {
            let mut own = add_to_cart(&format!("own{i}"), "p2");
            own["id"] = serde_json::json!(format!("own-{i}"));
            let body = serde_json::json!([event_of(i), event_of(i + 1), own]);
            let (client, url) = (client(), url(&server, "/v1/events"));
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(INGEST)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                response.json::<serde_json::Value>().await.unwrap()
            })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        let outcome = task.await.unwrap();
        let (a, d) = (
            outcome["accepted"].as_u64().unwrap(),
            outcome["duplicates"].as_u64().unwrap(),
        );
        assert_eq!(a + d, 3, "{outcome}");
        assert!(a >= 1, "its own event is new: {outcome}");
        accepted += a;
    }
    assert_eq!(accepted, 2 * requests as u64 + 1);

    // Every event is stored and folded: each user has its cart, and the store holds each id once.
    let users: HashSet<String> = (0..=requests)
        .map(|n| format!("g{n}"))
        .chain((0..requests).map(|i| format!("own{i}")))
        .collect();
    for user in &users {
        let (status, carts) = get_json(&server, READ, &format!("/v1/users/{user}/carts")).await;
        assert_eq!(status, 200);
        assert_eq!(carts.as_array().map(Vec::len), Some(1), "{user}: {carts}");
    }
    let stored = server
        .engine
        .with_store(|store| store.event_count())
        .unwrap();
    assert_eq!(stored, 2 * requests as u64 + 1);
    server.shutdown().await.unwrap();
}
