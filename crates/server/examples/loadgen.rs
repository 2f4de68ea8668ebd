//! Load benchmark of `cartback serve` on loopback with SQLite: starts the server in this
//! process on a temporary database, then measures (1) sustained events/s for batched
//! ingest (concurrent clients posting JSON arrays) and (2) p50/p99 latency of single-event
//! requests sent open-loop at a fixed rate (latency counted from each request's scheduled
//! time, so queueing is not hidden).
//!
//! `cargo run --release -p cartback-server --example loadgen -- [SECONDS] [RATE] [BATCH] [CLIENTS]`
//! (defaults 10 s, 2000 requests/s, 500 events per batch, 4 clients).

use cartback_server::config::ApiKeyConfig;
use cartback_server::{ServerConfig, SystemClock};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const KEY: &str = "loadgen-key";

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn event(user: u64, n: u64, now_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "id": format!("e{user}-{n}"), "type": "product_added", "timestamp": now_ms, "user_id": format!("u{user}"),
        "currency": "EUR", "items": [{"id": format!("p{}", n % 50), "price": 1999, "quantity": 1}]
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let seconds = arg(1, 10);
    let rate = arg(2, 2_000);
    let batch = arg(3, 500);
    let clients = arg(4, 4);
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: dir.path().join("load.db").display().to_string(),
        rate_limit_per_key: 1_000_000,
        max_body_bytes: 16 << 20,
        ..ServerConfig::default()
    };
    config.auth.keys = vec![ApiKeyConfig {
        name: "load".into(),
        hash: cartback_server::auth::hash_key(KEY),
        scopes: vec!["ingest".into()],
    }];
    let server = cartback_server::start(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let url = format!("http://{}/v1/events", server.addr);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();

    // (1) Batched ingest.
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..clients {
        let (client, url, accepted) = (client.clone(), url.clone(), accepted.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                let ts = now_ms();
                let body: Vec<_> = (0..batch)
                    .map(|i| {
                        event(
                            worker * 1_000_000 + (n * batch + i) % 20_000,
                            n * batch + i,
                            ts,
                        )
                    })
                    .collect();
                n += 1;
                let response = client
                    .post(&url)
                    .bearer_auth(KEY)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                let outcome: serde_json::Value = response.json().await.unwrap();
                accepted.fetch_add(outcome["accepted"].as_u64().unwrap(), Ordering::Relaxed);
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = accepted.load(Ordering::Relaxed);
    println!(
        "batched ingest: {total} events in {elapsed:.1} s = {:.0} events/s ({clients} clients, {batch} events per request)",
        total as f64 / elapsed
    );

    // (2) Single events at a fixed rate, open loop.
    let requests = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let begin = Instant::now();
    let mut tasks = Vec::with_capacity(requests as usize);
    for i in 0..requests {
        let scheduled = begin + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let body = event(5_000_000 + i % 20_000, 10_000_000 + i, now_ms());
            let response = client
                .post(&url)
                .bearer_auth(KEY)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            let _ = response.bytes().await;
            scheduled.elapsed().as_secs_f64() * 1_000.0
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    let achieved = requests as f64 / begin.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "single events at {rate}/s target ({achieved:.0}/s achieved, {requests} requests): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    server.shutdown().await.unwrap();
}
