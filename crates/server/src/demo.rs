//! `cartback serve --demo`: a demo shop. Replays the bundled real REES46 events
//! time-compressed (the engine's clock runs `speed` times faster, starting at the first
//! event), and simulated shoppers react to every reminder: some open it (open pixel), some
//! of those click (signed restore link) and some of those buy (an `order_completed` event
//! over the HTTP API) — so carts are abandoned, decisions taken, messages logged and
//! recoveries attributed within a minute.

use crate::channels::log::LogChannel;
use crate::channels::{Channel, Outgoing, SendFuture};
use crate::clock::Clock;
use crate::engine::Engine;
use cartback_core::Event;
use cartback_ingest::{EventReader, Format, ParseOptions};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} holds no events")]
    Empty { path: String },
}

/// Reads every event of a REES46 CSV file, sorted by time.
pub fn load_events(path: &Path) -> Result<Vec<Event>, DemoError> {
    let shown = path.display().to_string();
    let read_error = |message: String| DemoError::Read {
        path: shown.clone(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| read_error(e.to_string()))?;
    let reader = EventReader::new(
        Format::Rees46,
        std::io::BufReader::new(file),
        ParseOptions::default(),
    )
    .map_err(|e| read_error(e.to_string()))?;
    let mut events = Vec::new();
    for line in reader {
        events.extend(line.map_err(|e| read_error(e.to_string()))?.events);
    }
    if events.is_empty() {
        return Err(DemoError::Empty { path: shown });
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

/// The log channel, also handing each message to the simulated shoppers.
pub struct DemoChannel {
    log: LogChannel,
    shoppers: mpsc::UnboundedSender<Outgoing>,
}

impl DemoChannel {
    pub fn new() -> (DemoChannel, mpsc::UnboundedReceiver<Outgoing>) {
        let (shoppers, inbox) = mpsc::unbounded_channel();
        (
            DemoChannel {
                log: LogChannel,
                shoppers,
            },
            inbox,
        )
    }
}

impl Channel for DemoChannel {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            self.log.send(outgoing).await?;
            let _ = self.shoppers.send(outgoing.clone());
            Ok(())
        })
    }
}

/// Feeds the events to the engine when the engine's clock reaches them.
pub async fn replay(engine: Arc<Engine>, clock: Arc<dyn Clock>, events: Vec<Event>) {
    let total = events.len();
    let mut pending = events.into_iter().peekable();
    let mut fed = 0;
    while pending.peek().is_some() {
        let now = clock.now();
        let mut due = Vec::new();
        while let Some(event) = pending.next_if(|e| e.timestamp <= now) {
            due.push(event);
        }
        if !due.is_empty() {
            fed += due.len();
            let engine = engine.clone();
            if let Err(e) = crate::worker::off_runtime(move || engine.ingest(due)).await {
                tracing::error!(error = %e, "demo replay failed");
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tracing::info!(target: "cartback::demo", "replay finished: {fed} of {total} events");
}

/// Deterministic "random" draw in [0, 1) from a message id and a salt.
fn draw(message_id: i64, salt: u64) -> f64 {
    let hash = xxhash_rust::xxh3::xxh3_64_with_seed(&message_id.to_le_bytes(), salt);
    (hash % 10_000) as f64 / 10_000.0
}

/// Simulated shoppers: 45 % open a reminder, 50 % of openers click, 35 % of clickers buy.
pub async fn shoppers(
    mut inbox: mpsc::UnboundedReceiver<Outgoing>,
    base_url: String,
    public_url: String,
    api_key: String,
    clock: Arc<dyn Clock>,
) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let local = |link: &str| {
        link.replacen(
            public_url.trim_end_matches('/'),
            base_url.trim_end_matches('/'),
            1,
        )
    };
    while let Some(outgoing) = inbox.recv().await {
        let m = &outgoing.message;
        if draw(m.id, 1) >= 0.45 {
            continue;
        }
        let _ = client.get(local(&outgoing.open_pixel)).send().await;
        tracing::info!(target: "cartback::demo", user_id = %m.user_id, "shopper opened the reminder");
        if draw(m.id, 2) >= 0.5 {
            continue;
        }
        let _ = client.get(local(&outgoing.restore_link)).send().await;
        tracing::info!(target: "cartback::demo", user_id = %m.user_id, "shopper clicked the restore link");
        if draw(m.id, 3) >= 0.35 {
            continue;
        }
        let items: Vec<serde_json::Value> = m.payload["lines"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| serde_json::json!({"id": l["item_id"], "quantity": l["quantity"]}))
                    .collect()
            })
            .unwrap_or_default();
        let order = serde_json::json!({
            "type": "order_completed", "timestamp": clock.now().as_millis(), "user_id": m.user_id,
            "order_id": format!("demo-order-{}", m.id), "items": items,
        });
        let result = client
            .post(format!("{}/v1/events", base_url.trim_end_matches('/')))
            .bearer_auth(&api_key)
            .json(&order)
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                tracing::info!(target: "cartback::demo", user_id = %m.user_id, "shopper bought the cart")
            }
            Ok(r) => {
                tracing::warn!(target: "cartback::demo", status = %r.status(), "demo order refused")
            }
            Err(e) => tracing::warn!(target: "cartback::demo", error = %e, "demo order failed"),
        }
    }
}

/// Prints what the engine has done every `every` of real time.
pub async fn report(engine: Arc<Engine>, every: std::time::Duration) {
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        let snapshot = {
            let engine = engine.clone();
            crate::worker::off_runtime(move || engine.metrics_snapshot()).await
        };
        let Ok(snapshot) = snapshot else { continue };
        let join = |rows: Vec<(String, u64)>| {
            rows.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let carts = snapshot
            .carts_by_state
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        eprintln!(
            "demo: carts [{}] · decisions [{}] · messages [{}]",
            join(carts),
            join(snapshot.decisions_by_action),
            join(snapshot.messages_by_status)
        );
    }
}

/// Everything the demo runs beside the server: the status report, the shoppers and the
/// replay; returns when the replay has fed every event (the server keeps running).
pub async fn run(
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    events: Vec<Event>,
    inbox: mpsc::UnboundedReceiver<Outgoing>,
    base_url: String,
    public_url: String,
    api_key: String,
) {
    tokio::spawn(report(engine.clone(), std::time::Duration::from_secs(5)));
    tokio::spawn(shoppers(
        inbox,
        base_url,
        public_url,
        api_key,
        clock.clone(),
    ));
    replay(engine, clock, events).await;
}
