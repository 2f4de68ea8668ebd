//! Durability across SIGKILL, with the server in a separate process (this test binary
//! re-executes itself as the server when `CARTBACK_CHILD_CONFIG` is set):
//! (a) every event answered with 2xx is found after a SIGKILL and restart;
//! (b) a SIGKILL between a send and its bookkeeping leads to one re-send with the same
//!     idempotency key and exactly one `sent` record — at-least-once to the provider,
//!     exactly-once in cartback's records.

mod support;

use axum::http::{HeaderMap, StatusCode};
use cartback_server::{ServerConfig, SystemClock};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;
use support::*;

const CHILD_ENV: &str = "CARTBACK_CHILD_CONFIG";

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        run_child(Path::new(&path));
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(acknowledged_events_survive_sigkill());
    println!("test acknowledged_events_survive_sigkill ... ok");
    runtime.block_on(a_sigkill_between_send_and_bookkeeping_resends_once_with_the_same_key());
    println!("test a_sigkill_between_send_and_bookkeeping_resends_once_with_the_same_key ... ok");
}

fn run_child(config_path: &Path) {
    let config = ServerConfig::load(Some(config_path)).expect("child config");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = cartback_server::start(config, Arc::new(SystemClock))
            .await
            .expect("child starts");
        let addr_file = config_path.with_extension("addr");
        std::fs::write(addr_file.with_extension("tmp"), server.addr.to_string()).unwrap();
        std::fs::rename(addr_file.with_extension("tmp"), &addr_file).unwrap();
        std::future::pending::<()>().await;
    });
}

struct ChildServer {
    child: Child,
    base: String,
}

impl ChildServer {
    fn spawn(config_path: &Path) -> ChildServer {
        let addr_file = config_path.with_extension("addr");
        let _ = std::fs::remove_file(&addr_file);
        let mut server = ChildServer {
            child: Command::new(std::env::current_exe().unwrap())
                .env(CHILD_ENV, config_path)
                .spawn()
                .unwrap(),
            base: String::new(),
        };
        let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
        loop {
            if let Ok(addr) = std::fs::read_to_string(&addr_file) {
                server.base = format!("http://{addr}");
                return server;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "child server did not start"
            );
            std::thread::sleep(StdDuration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(self) {}
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, config: &ServerConfig) -> PathBuf {
    let path = dir.join("server.toml");
    std::fs::write(&path, toml::to_string(config).unwrap()).unwrap();
    path
}

async fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &base_config(&dir));
    let server = ChildServer::spawn(&config_path);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let base = server.base.clone();
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            let client = client();
            for i in 0.. {
                let user = format!("d{i}");
                let body = add_to_cart(&user, "p1");
                let sent = client
                    .post(format!("{base}/v1/events"))
                    .bearer_auth(INGEST)
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        acknowledged.lock().unwrap().push(user)
                    }
                    _ => return,
                }
            }
        })
    };
    eventually(
        "200 acknowledged events",
        StdDuration::from_secs(60),
        || async { (acknowledged.lock().unwrap().len() >= 200).then_some(()) },
    )
    .await;
    server.kill();
    let _ = sender.await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    let server = ChildServer::spawn(&config_path);
    let client = client();
    for user in &acknowledged {
        let carts: serde_json::Value = client
            .get(format!("{}/v1/users/{user}/carts", server.base))
            .bearer_auth(READ)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            carts.as_array().map(Vec::len),
            Some(1),
            "event of {user} was acknowledged but is lost"
        );
    }
    println!(
        "  {} acknowledged events all found after SIGKILL",
        acknowledged.len()
    );
    server.kill();
}

async fn a_sigkill_between_send_and_bookkeeping_resends_once_with_the_same_key() {
    // The receiver stalls the first delivery forever (the server is killed mid-send).
    let deliveries: Arc<Mutex<Vec<String>>> = Arc::default();
    let store = deliveries.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let store = store.clone();
            async move {
                let key = headers["idempotency-key"].to_str().unwrap().to_owned();
                let first = {
                    let mut all = store.lock().unwrap();
                    all.push(key);
                    all.len() == 1
                };
                if first {
                    std::future::pending::<()>().await;
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    fast_timers(&mut config);
    config.flow.channel = "webhook".into();
    config.webhook.url = hook_url;
    config.dispatch.send_timeout = cartback_core::Duration::seconds(60);
    let config_path = write_config(dir.path(), &config);
    let server = ChildServer::spawn(&config_path);
    let response = client()
        .post(format!("{}/v1/events", server.base))
        .bearer_auth(INGEST)
        .json(&add_to_cart("k1", "p1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("the first delivery", StdDuration::from_secs(30), || async {
        (!deliveries.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    server.kill();

    let server = ChildServer::spawn(&config_path);
    let client = client();
    let carts: serde_json::Value = client
        .get(format!("{}/v1/users/k1/carts", server.base))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cart_id = carts[0]["id"].as_str().unwrap().replace('#', "%23");
    let decisions = eventually(
        "the message recorded as sent",
        StdDuration::from_secs(30),
        || {
            let client = client.clone();
            let url = format!("{}/v1/decisions?cart_id={cart_id}", server.base);
            async move {
                let found: serde_json::Value = client
                    .get(url)
                    .bearer_auth(READ)
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (found[0]["messages"][0]["status"].as_str() == Some("sent")).then_some(found)
            }
        },
    )
    .await;
    assert_eq!(decisions.as_array().unwrap().len(), 1, "one decision");
    let messages = decisions[0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "one message in cartback's records");
    assert_eq!(messages[0]["attempts"].as_u64(), Some(2));
    let keys = deliveries.lock().unwrap().clone();
    assert_eq!(
        keys.len(),
        2,
        "delivered once before the kill and once after"
    );
    assert_eq!(
        keys[0], keys[1],
        "the re-send carries the same idempotency key"
    );
    println!(
        "  re-sent once after SIGKILL with idempotency key {}",
        keys[0]
    );
    server.kill();
}
