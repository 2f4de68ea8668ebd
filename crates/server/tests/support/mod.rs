//! Test harness: starts the server on a loopback port with a temporary SQLite file, a tiny
//! SMTP sink and an HTTP webhook receiver, both real servers on loopback that keep what
//! arrives, and polling helpers (no timing assertions: waits only bound how long to look).

#![allow(dead_code)]

use cartback_server::auth::hash_key;
use cartback_server::config::ApiKeyConfig;
use cartback_server::{RunningServer, ServerConfig, SystemClock};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub const ADMIN: &str = "test-admin-key";
pub const INGEST: &str = "test-ingest-key";
pub const READ: &str = "test-read-key";

pub fn base_config(dir: &tempfile::TempDir) -> ServerConfig {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: dir.path().join("cartback.db").display().to_string(),
        signing_secret: "test-signing-secret".into(),
        holdout_fraction: 0.0,
        tick: cartback_core::Duration::millis(50),
        ..ServerConfig::default()
    };
    config.auth.keys = vec![
        key("admin", ADMIN, &["admin"]),
        key("shop", INGEST, &["ingest"]),
        key("analyst", READ, &["read"]),
    ];
    config
}

/// Manual-clock tests: events folded as they come (no lateness), one reminder at the
/// abandonment, no quiet hours.
pub fn one_reminder_at_abandonment(config: &mut ServerConfig) {
    config.tracker.lateness = cartback_core::Duration::ZERO;
    config.policy.step_delays = vec![cartback_core::Duration::ZERO];
    config.policy.fixed_flow = vec!["reminder_email".into()];
    config.guardrails.quiet_start_hour = 0;
    config.guardrails.quiet_end_hour = 0;
}

/// Wall-clock tests: carts abandon within a second, and the flow is one reminder at the
/// abandonment, with no quiet hours (tests run at any hour).
pub fn fast_timers(config: &mut ServerConfig) {
    config.tracker.idle_after = cartback_core::Duration::millis(100);
    config.tracker.idle_timeout = cartback_core::Duration::millis(300);
    config.tracker.lateness = cartback_core::Duration::ZERO;
    config.policy.step_delays = vec![cartback_core::Duration::ZERO];
    config.policy.fixed_flow = vec!["reminder_email".into()];
    config.guardrails.quiet_start_hour = 0;
    config.guardrails.quiet_end_hour = 0;
    config.dispatch.initial_backoff = cartback_core::Duration::millis(100);
}

/// A clock the test sets: the engine's timers, the dispatcher and token expiry all read it,
/// so multi-day flows run in milliseconds and land on chosen local hours.
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn at(start: cartback_core::Timestamp) -> Arc<ManualClock> {
        Arc::new(ManualClock(std::sync::atomic::AtomicI64::new(
            start.as_millis(),
        )))
    }

    pub fn set(&self, to: cartback_core::Timestamp) {
        self.0
            .store(to.as_millis(), std::sync::atomic::Ordering::SeqCst);
    }

    pub fn get(&self) -> cartback_core::Timestamp {
        cartback_core::Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

impl cartback_server::Clock for ManualClock {
    fn now(&self) -> cartback_core::Timestamp {
        self.get()
    }
}

pub async fn start_with_clock(config: ServerConfig, clock: Arc<ManualClock>) -> RunningServer {
    cartback_server::start(config, clock)
        .await
        .expect("server starts")
}

/// [`add_to_cart`] stamped at `at`, for a cart worth `price` minor units, in `timezone`.
pub fn add_to_cart_at(
    user: &str,
    item: &str,
    price: i64,
    at: cartback_core::Timestamp,
    timezone: &str,
) -> serde_json::Value {
    let mut e = add_to_cart(user, item);
    e["timestamp"] = serde_json::json!(at.as_millis());
    e["items"][0]["price"] = serde_json::json!(price);
    e["timezone"] = serde_json::json!(timezone);
    e
}

/// An `order_completed` for `user`'s cart, stamped at `at`.
pub fn order_at(user: &str, item: &str, at: cartback_core::Timestamp) -> serde_json::Value {
    let mut e = event(
        "order_completed",
        user,
        serde_json::json!({"order_id": format!("o-{user}"), "currency": "EUR",
            "items": [{"id": item, "price": 1999, "quantity": 1}]}),
    );
    e["timestamp"] = serde_json::json!(at.as_millis());
    e
}

fn key(name: &str, key: &str, scopes: &[&str]) -> ApiKeyConfig {
    ApiKeyConfig {
        name: name.into(),
        hash: hash_key(key),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

pub async fn start(config: ServerConfig) -> RunningServer {
    cartback_server::start(config, Arc::new(SystemClock))
        .await
        .expect("server starts")
}

pub fn url(server: &RunningServer, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A cartback NDJSON event stamped now.
pub fn event(kind: &str, user: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut e = serde_json::json!({"type": kind, "timestamp": now_ms(), "user_id": user});
    if let serde_json::Value::Object(fields) = extra {
        for (k, v) in fields {
            e[k] = v;
        }
    }
    e
}

pub fn add_to_cart(user: &str, item: &str) -> serde_json::Value {
    event(
        "product_added",
        user,
        serde_json::json!({
            "email": format!("{user}@example.com"),
            "currency": "EUR",
            "items": [{"id": item, "name": format!("Item {item}"), "price": 1999, "quantity": 1}]
        }),
    )
}

pub async fn post_events(
    server: &RunningServer,
    key: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    client()
        .post(url(server, "/v1/events"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn get_json(server: &RunningServer, key: &str, path: &str) -> (u16, serde_json::Value) {
    let response = client()
        .get(url(server, path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// The server's `/metrics` page (Prometheus text).
/// `PUT /v1/users/{user}/consent` with the ingest key; the answer's status.
pub async fn set_consent(server: &RunningServer, user: &str, consent: serde_json::Value) -> u16 {
    client()
        .put(url(server, &format!("/v1/users/{user}/consent")))
        .bearer_auth(INGEST)
        .json(&consent)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `DELETE /v1/users/{user}` with the admin key: the erasure report.
pub async fn erase_user(server: &RunningServer, user: &str) -> serde_json::Value {
    client()
        .delete(url(server, &format!("/v1/users/{user}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn metrics_text(server: &RunningServer) -> String {
    client()
        .get(url(server, "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Polls `check` until it returns `Some`, for at most `limit`; panics naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: StdDuration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("gave up waiting for {what}");
        }
        tokio::time::sleep(StdDuration::from_millis(25)).await;
    }
}

/// The decisions of a cart as JSON.
pub async fn decisions(server: &RunningServer, cart_id: &str) -> Vec<serde_json::Value> {
    let (_, body) = get_json(server, READ, &format!("/v1/decisions?cart_id={cart_id}")).await;
    body.as_array().cloned().unwrap_or_default()
}

/// The first message's status of the first decision, when there is one.
pub fn first_message_status(decisions: &[serde_json::Value]) -> Option<String> {
    decisions.first()?["messages"].get(0)?["status"]
        .as_str()
        .map(str::to_owned)
}

/// One mail as the SMTP sink received it.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A minimal SMTP server (RFC 5321 subset lettre speaks unencrypted) that keeps every
/// message it accepts.
pub async fn smtp_sink() -> (u16, Arc<Mutex<Vec<ReceivedMail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = mails.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut mail = ReceivedMail {
                    from: String::new(),
                    to: Vec::new(),
                    data: String::new(),
                };
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        mail.to.push(line[8..].trim().to_owned());
                        b"250 OK\r\n"
                    } else if upper.starts_with("DATA") {
                        let _ = write.write_all(b"354 go ahead\r\n").await;
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        mail.data = data;
                        store.lock().unwrap().push(mail.clone());
                        mail = ReceivedMail {
                            from: String::new(),
                            to: Vec::new(),
                            data: String::new(),
                        };
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                        b"250 OK\r\n"
                    } else {
                        b"502 not implemented\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

/// One request as the webhook receiver got it.
#[derive(Clone, Debug)]
pub struct ReceivedHook {
    pub signature: String,
    pub idempotency_key: String,
    pub body: String,
}

/// An HTTP receiver on loopback that answers `failures_first` requests with 500, then 200,
/// and keeps every request.
pub async fn webhook_receiver(failures_first: usize) -> (String, Arc<Mutex<Vec<ReceivedHook>>>) {
    use axum::http::{HeaderMap, StatusCode};
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let mut all = store.lock().unwrap();
                all.push(ReceivedHook {
                    signature: header("x-cartback-signature"),
                    idempotency_key: header("idempotency-key"),
                    body,
                });
                if all.len() <= failures_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), received)
}

/// Posts cartback events with the ingest key and checks they were accepted.
pub async fn post(server: &RunningServer, body: serde_json::Value) {
    let response = post_events(server, INGEST, &body).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// `GET /v1/users/{user}/carts`.
pub async fn user_carts(server: &RunningServer, user: &str) -> serde_json::Value {
    let (_, carts) = get_json(server, READ, &format!("/v1/users/{user}/carts")).await;
    carts
}

/// The id of the user's first cart, once the engine has one (waits up to 20 s).
pub async fn cart_of(server: &RunningServer, user: &str) -> String {
    eventually(
        &format!("{user}'s cart"),
        StdDuration::from_secs(20),
        || async {
            user_carts(server, user).await[0]["id"]
                .as_str()
                .map(str::to_owned)
        },
    )
    .await
}
