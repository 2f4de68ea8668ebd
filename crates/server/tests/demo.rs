//! The demo shop (`cartback serve --demo`) on the real engine with a fast clock: the REES46
//! sample and the simulated shoppers must lead to abandoned carts, decisions, messages on
//! the log channel, opens and clicks, and a purchase attributed to its reminder — checked
//! in the engine's own records, not only in the demo's counters. No timing assertions: the
//! waits only bound how long to look.

use cartback_server::ServerConfig;
use cartback_server::demo::{Demo, load_events};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_abandons_decides_sends_and_attributes_a_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rees46-2019-Oct-head.csv");
    let events = load_events(&sample).unwrap();
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: dir.path().join("demo.db").display().to_string(),
        ..ServerConfig::default()
    };
    // 600× faster: a shop hour takes 6 s, a cart is abandoned 3 s after its last event.
    let demo = Demo::new(events, 600.0, &mut config)
        .unwrap()
        .report_every(Duration::from_secs(2));
    assert_eq!(config.flow.channel, "log");
    let server =
        cartback_server::server::start_with_channels(config, demo.clock(), demo.channels())
            .await
            .unwrap();
    assert!(
        server.generated_key.is_some(),
        "the demo's shoppers use the generated admin key"
    );
    let stats = demo.stats();
    let running = tokio::spawn(demo.run(&server));

    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if stats.attributed.load(Ordering::Relaxed) >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no attributed recovery in 3 minutes: {} events fed, {} messages, {} opened, {} clicked, {} bought",
            stats.events_fed.load(Ordering::Relaxed),
            stats.messages.load(Ordering::Relaxed),
            stats.opened.load(Ordering::Relaxed),
            stats.clicked.load(Ordering::Relaxed),
            stats.bought.load(Ordering::Relaxed),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.abort();

    let engine = server.engine.clone();
    let snapshot = engine.metrics_snapshot().unwrap();
    let count = |rows: &[(String, u64)], key: &str| {
        rows.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
    };
    let decisions: u64 = snapshot.decisions_by_action.iter().map(|(_, n)| n).sum();
    assert!(decisions > 0, "{:?}", snapshot.decisions_by_action);
    assert!(
        count(&snapshot.messages_by_status, "sent") > 0,
        "{:?}",
        snapshot.messages_by_status
    );
    assert!(stats.opened.load(Ordering::Relaxed) >= 1);
    assert!(stats.clicked.load(Ordering::Relaxed) >= 1);

    // The recovery is in the engine's records: the message was sent, carries the order,
    // and its cart was decided on when abandoned.
    let (message_id, order) = stats.attributed_orders.lock().unwrap()[0].clone();
    let message = engine
        .with_records(|r| r.message(message_id))
        .unwrap()
        .expect("the attributed message exists");
    assert_eq!(message.attributed_order.as_deref(), Some(order.as_str()));
    assert_eq!(message.status.as_str(), "sent");
    assert_eq!(message.channel, "log");
    let decided = engine
        .with_records(|r| r.decisions_of_cart(&message.cart_id))
        .unwrap();
    assert!(decided.iter().any(|d| d.action != "none"), "{decided:?}");
    let cart = engine.cart(&message.cart_id).unwrap().expect("the cart");
    assert!(cart.abandonments >= 1, "{cart:?}");
    server.shutdown().await.unwrap();
}

#[test]
fn the_bundled_sample_is_the_testdata_file_so_the_demo_runs_from_any_directory() {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rees46-2019-Oct-head.csv");
    let bundled = cartback_server::demo::load_bundled_events().unwrap();
    assert_eq!(bundled, load_events(&sample).unwrap());
    // Every line of the sample but its header is one event.
    let lines = std::fs::read_to_string(&sample).unwrap().lines().count();
    assert_eq!(bundled.len(), lines - 1);
}
