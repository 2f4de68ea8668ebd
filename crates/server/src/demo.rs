//! `cartback serve --demo`: a demo shop on the real engine. Replays the bundled real REES46
//! events time-compressed (the engine's clock runs `speed` times faster, starting at the
//! first event), mixed with simulated shoppers' sessions from `cartback-generator` (who put
//! items in carts and mostly leave, so carts are abandoned from the first minute on). Every
//! reminder goes to the log channel and to simulated recipients: some open it (open pixel),
//! some of those click (signed restore link) and some of those buy (an `order_completed`
//! over the HTTP API), so recoveries are attributed. A narrator logs each decision as it is
//! taken, and a summary line is printed every few seconds.

use crate::channels::log::LogChannel;
use crate::channels::{Channel, Outgoing, SendFuture};
use crate::clock::{Clock, ScaledClock};
use crate::config::ServerConfig;
use crate::engine::Engine;
use crate::server::RunningServer;
use cartback_core::{Currency, Duration, Event, Timestamp};
use cartback_generator::{EventGenerator, GeneratorConfig};
use cartback_ingest::{EventReader, Format, ParseOptions};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

const TARGET: &str = "cartback::demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} holds no events")]
    Empty { path: String },
    #[error("the demo speed must be a number of at least 1 (got {0})")]
    Speed(f64),
    #[error("simulated shoppers: {0}")]
    Generator(#[from] cartback_generator::GeneratorError),
}

/// The REES46 sample the demo replays unless given another file: the repository's
/// `testdata/rees46-2019-Oct-head.csv` (three night hours of a real shop, 2.3 MB; see
/// `testdata/README.md` for its source and licence), compiled in so that `cartback serve
/// --demo` runs from any directory.
pub const BUNDLED_SAMPLE: &[u8] = include_bytes!("../../../testdata/rees46-2019-Oct-head.csv");

/// What [`BUNDLED_SAMPLE`] is called in messages.
pub const BUNDLED_SAMPLE_NAME: &str = "the bundled REES46 sample (rees46-2019-Oct-head.csv)";

/// Reads every event of a REES46 CSV file, sorted by time.
pub fn load_events(path: &Path) -> Result<Vec<Event>, DemoError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| DemoError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    read_events(std::io::BufReader::new(file), &shown)
}

/// Reads every event of [`BUNDLED_SAMPLE`], sorted by time.
pub fn load_bundled_events() -> Result<Vec<Event>, DemoError> {
    read_events(BUNDLED_SAMPLE, BUNDLED_SAMPLE_NAME)
}

/// Reads every event of REES46 CSV `input` (called `shown` in errors), sorted by time.
fn read_events(input: impl std::io::BufRead, shown: &str) -> Result<Vec<Event>, DemoError> {
    let read_error = |message: String| DemoError::Read {
        path: shown.to_string(),
        message,
    };
    let reader = EventReader::new(Format::Rees46, input, ParseOptions::default())
        .map_err(|e| read_error(e.to_string()))?;
    let mut events = Vec::new();
    for line in reader {
        events.extend(line.map_err(|e| read_error(e.to_string()))?.events);
    }
    if events.is_empty() {
        return Err(DemoError::Empty {
            path: shown.to_string(),
        });
    }
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}

/// What the demo changes in a configuration: reminders to the log channel, decision steps
/// 10, 40 and 90 shop-minutes after abandonment (all inside the replay's three hours), an
/// attribution window of 2 shop-hours (the last step and a purchase after it fit; the
/// abandonments settle within the run, so the dashboard shows the lift against the holdout
/// after about five minutes instead of a week of shop time), no quiet hours (the REES46 sample
/// is from the night, UTC) and a short gap between touches, a fast tick, and links pointing
/// at the listening address. The simulated shoppers' shop
/// sends coupon events, names the codes of its orders and the referrer each session arrived
/// with, so all three are tracked (the replayed REES46 carts, whose sample has no coupon
/// events or referrers, then count as direct visits without a code).
pub fn configure(config: &mut ServerConfig) {
    config.flow.channel = "log".into();
    config.policy.coupon_events_tracked = true;
    config.policy.order_coupons_tracked = true;
    config.policy.referrers_tracked = true;
    config.policy.step_delays = [10, 40, 90].map(Duration::minutes).to_vec();
    config.tracker.attribution_window = Duration::hours(2);
    config.guardrails.quiet_start_hour = 0;
    config.guardrails.quiet_end_hour = 0;
    config.guardrails.min_gap_between_cart_messages = Duration::minutes(20);
    config.tick = Duration::millis(200);
    config.public_url = format!("http://{}", config.listen);
}

/// The simulated shoppers' traffic from `start` on: a small shop at night (the generator's
/// daily rhythm), where half of the sessions fill a cart and 70 % of those carts are left —
/// about one abandoned cart every 2–3 shop-minutes, most with an e-mail address.
pub fn simulated_shoppers(start: Timestamp, seed: u64) -> Result<EventGenerator, DemoError> {
    Ok(GeneratorConfig {
        events: u64::MAX,
        seed,
        users: 5_000,
        products: 400,
        start,
        sessions_per_hour: 240.0,
        mean_views: 4.0,
        cart_rate: 0.5,
        purchase_rate: 0.3,
        unaided_recovery_rate: 0.05,
        email_rate: 0.9,
        coupon_rate: 0.2,
        currency: Currency::EUR,
    }
    .build()?)
}

/// Two time-ordered event streams merged into one (ties: `a` first).
pub struct Merge<A: Iterator<Item = Event>, B: Iterator<Item = Event>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = Event>, B: Iterator<Item = Event>> Merge<A, B> {
    pub fn new(a: A, b: B) -> Self {
        Merge {
            a: a.peekable(),
            b: b.peekable(),
        }
    }
}

impl<A: Iterator<Item = Event>, B: Iterator<Item = Event>> Iterator for Merge<A, B> {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if y.timestamp < x.timestamp => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

/// What the simulated recipients did, for the summary line and for tests.
#[derive(Default)]
pub struct DemoStats {
    pub events_fed: AtomicU64,
    pub messages: AtomicU64,
    pub opened: AtomicU64,
    pub clicked: AtomicU64,
    pub bought: AtomicU64,
    pub attributed: AtomicU64,
    /// (message id, order id) of every purchase the engine attributed to its message.
    pub attributed_orders: std::sync::Mutex<Vec<(i64, String)>>,
}

/// The log channel, also handing each message to the simulated recipients.
pub struct DemoChannel {
    log: LogChannel,
    recipients: mpsc::UnboundedSender<Outgoing>,
}

impl DemoChannel {
    pub fn new() -> (DemoChannel, mpsc::UnboundedReceiver<Outgoing>) {
        let (recipients, inbox) = mpsc::unbounded_channel();
        (
            DemoChannel {
                log: LogChannel,
                recipients,
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
            let _ = self.recipients.send(outgoing.clone());
            Ok(())
        })
    }
}

/// A prepared demo: its clock, its channel, and the traffic it will feed.
pub struct Demo {
    clock: Arc<dyn Clock>,
    channel: Arc<DemoChannel>,
    inbox: mpsc::UnboundedReceiver<Outgoing>,
    traffic: Box<dyn Iterator<Item = Event> + Send>,
    stats: Arc<DemoStats>,
    replayed: usize,
    report_every: std::time::Duration,
}

impl Demo {
    /// The demo of `events` (REES46, sorted) plus simulated shoppers, on a clock `speed`
    /// times faster than real time starting just before the first event; `config` gets the
    /// demo's settings ([`configure`]).
    pub fn new(
        events: Vec<Event>,
        speed: f64,
        config: &mut ServerConfig,
    ) -> Result<Demo, DemoError> {
        if !(speed.is_finite() && speed >= 1.0) {
            return Err(DemoError::Speed(speed));
        }
        configure(config);
        let start = events
            .first()
            .map_or(Timestamp(0), |e| e.timestamp - Duration::seconds(1));
        let replayed = events.len();
        let traffic = Merge::new(events.into_iter(), simulated_shoppers(start, 7)?);
        let (channel, inbox) = DemoChannel::new();
        Ok(Demo {
            clock: Arc::new(ScaledClock::new(start, speed)),
            channel: Arc::new(channel),
            inbox,
            traffic: Box::new(traffic),
            stats: Arc::new(DemoStats::default()),
            replayed,
            report_every: std::time::Duration::from_secs(5),
        })
    }

    /// How often the summary line is printed (default 5 s of real time).
    pub fn report_every(mut self, every: std::time::Duration) -> Self {
        self.report_every = every;
        self
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The channels to start the server with (the demo's log channel).
    pub fn channels(&self) -> Vec<Arc<dyn Channel>> {
        vec![self.channel.clone()]
    }

    pub fn stats(&self) -> Arc<DemoStats> {
        self.stats.clone()
    }

    /// Number of REES46 events the demo replays.
    pub fn replayed_events(&self) -> usize {
        self.replayed
    }

    /// Everything the demo runs beside `server`: the traffic, the recipients, the narrator
    /// and the summary. Runs until dropped (the simulated shoppers never stop).
    pub fn run(
        self,
        server: &RunningServer,
    ) -> impl std::future::Future<Output = ()> + Send + use<> {
        let engine = server.engine.clone();
        let base_url = format!("http://{}", server.addr);
        let key = server.generated_key.clone().unwrap_or_default();
        let Demo {
            clock,
            inbox,
            traffic,
            stats,
            report_every,
            ..
        } = self;
        async move {
            let recipients = Recipients {
                base_url: base_url.clone(),
                api_key: key,
                engine: engine.clone(),
                clock: clock.clone(),
                stats: stats.clone(),
            };
            let tasks = [
                tokio::spawn(summary(
                    engine.clone(),
                    clock.clone(),
                    stats.clone(),
                    report_every,
                )),
                tokio::spawn(narrate(engine.clone())),
                tokio::spawn(recipients.run(inbox)),
            ];
            // Aborts the spawned tasks when this future is dropped (the server stops).
            struct AbortOnDrop<const N: usize>([tokio::task::JoinHandle<()>; N]);
            impl<const N: usize> Drop for AbortOnDrop<N> {
                fn drop(&mut self) {
                    self.0.iter().for_each(|t| t.abort());
                }
            }
            let _tasks = AbortOnDrop(tasks);
            feed(engine, clock, traffic, stats).await;
        }
    }
}

/// Feeds the events to the engine when the engine's clock reaches them (every 100 ms of
/// real time, everything due since the last round, as one request).
async fn feed(
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    traffic: Box<dyn Iterator<Item = Event> + Send>,
    stats: Arc<DemoStats>,
) {
    let mut pending = traffic.peekable();
    while pending.peek().is_some() {
        let now = clock.now();
        let mut due = Vec::new();
        while let Some(event) = pending.next_if(|e| e.timestamp <= now) {
            due.push(event);
        }
        if !due.is_empty() {
            let count = due.len() as u64;
            match engine.ingest_queued(due).await {
                Ok(_) => {
                    stats.events_fed.fetch_add(count, Ordering::Relaxed);
                }
                Err(e) => tracing::error!(target: TARGET, error = %e, "demo traffic refused"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Deterministic "random" draw in [0, 1) from a message id and a salt.
fn draw(message_id: i64, salt: u64) -> f64 {
    let hash = xxhash_rust::xxh3::xxh3_64_with_seed(&message_id.to_le_bytes(), salt);
    (hash % 10_000) as f64 / 10_000.0
}

/// A tracking link (made for `public_url`) on the listening address instead.
fn local_link(base_url: &str, link: &str) -> String {
    match link.find("/t/") {
        Some(path) => format!("{base_url}{}", &link[path..]),
        None => link.to_owned(),
    }
}

/// Simulated recipients of the reminders: 45 % open one, half of those click its restore
/// link, and 35 % of the clickers buy the cart (an `order_completed` over the HTTP API).
struct Recipients {
    base_url: String,
    api_key: String,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    stats: Arc<DemoStats>,
}

impl Recipients {
    async fn run(self, mut inbox: mpsc::UnboundedReceiver<Outgoing>) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let this = Arc::new(self);
        while let Some(outgoing) = inbox.recv().await {
            this.stats.messages.fetch_add(1, Ordering::Relaxed);
            let (this, client) = (this.clone(), client.clone());
            tokio::spawn(async move { this.react(&client, outgoing).await });
        }
    }

    async fn react(&self, client: &reqwest::Client, outgoing: Outgoing) {
        let m = &outgoing.message;
        let pause = || tokio::time::sleep(std::time::Duration::from_millis(400));
        if draw(m.id, 1) >= 0.45 {
            return;
        }
        pause().await;
        if !self.visit(client, &outgoing.open_pixel, "open pixel").await {
            return;
        }
        self.stats.opened.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: TARGET, "shopper {} opened reminder #{}", m.user_id, m.id);
        if draw(m.id, 2) >= 0.5 {
            return;
        }
        pause().await;
        if !self
            .visit(client, &outgoing.restore_link, "restore link")
            .await
        {
            return;
        }
        self.stats.clicked.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: TARGET, "shopper {} clicked the restore link of reminder #{}: cart restored", m.user_id, m.id);
        if draw(m.id, 3) >= 0.35 {
            return;
        }
        pause().await;
        self.buy(client, m).await;
    }

    async fn visit(&self, client: &reqwest::Client, link: &str, what: &str) -> bool {
        match client.get(local_link(&self.base_url, link)).send().await {
            Ok(r) if r.status().is_success() || r.status().is_redirection() => true,
            Ok(r) => {
                tracing::warn!(target: TARGET, status = %r.status(), "demo {what} refused");
                false
            }
            Err(e) => {
                tracing::warn!(target: TARGET, error = %e, "demo {what} failed");
                false
            }
        }
    }

    async fn buy(&self, client: &reqwest::Client, m: &cartback_store::OutboxMessage) {
        let items: Vec<serde_json::Value> = m.payload["lines"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| serde_json::json!({"id": l["item_id"], "quantity": l["quantity"]}))
                    .collect()
            })
            .unwrap_or_default();
        let order_id = format!("demo-order-{}", m.id);
        let order = serde_json::json!({
            "type": "order_completed", "timestamp": self.clock.now().as_millis(),
            "user_id": m.user_id, "cart_id": m.cart_id, "order_id": order_id, "items": items,
        });
        let result = client
            .post(format!("{}/v1/events", self.base_url))
            .bearer_auth(&self.api_key)
            .json(&order)
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                tracing::warn!(target: TARGET, %status, %body, "demo order refused");
                return;
            }
            Err(e) => {
                tracing::warn!(target: TARGET, error = %e, "demo order failed");
                return;
            }
        }
        self.stats.bought.fetch_add(1, Ordering::Relaxed);
        // The answer came after the order was stored and folded: the attribution is done.
        let engine = self.engine.clone();
        let id = m.id;
        let attributed =
            crate::worker::off_runtime(move || engine.with_records(|records| records.message(id)))
                .await
                .ok()
                .flatten()
                .and_then(|message| message.attributed_order);
        match attributed {
            Some(order) => {
                self.stats.attributed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(target: TARGET, "shopper {} bought cart {} (order {order}): recovery attributed to reminder #{}", m.user_id, m.cart_id, m.id);
                if let Ok(mut orders) = self.stats.attributed_orders.lock() {
                    orders.push((m.id, order));
                }
            }
            None => {
                tracing::info!(target: TARGET, "shopper {} bought cart {} (not attributed to reminder #{})", m.user_id, m.cart_id, m.id)
            }
        }
    }
}

/// Logs every decision as it is taken (polling the decision log).
async fn narrate(engine: Arc<Engine>) {
    let mut after = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let engine = engine.clone();
        let decisions =
            crate::worker::off_runtime(move || engine.with_records(|r| r.decision_log(after, 200)))
                .await;
        let Ok(decisions) = decisions else { continue };
        for d in decisions {
            after = after.max(d.id);
            let what = if d.holdout {
                "holdout: tracked, never contacted".to_owned()
            } else if d.guardrail != "passed" {
                format!("{} blocked by guardrail {}", d.action, d.guardrail)
            } else if d.action == "none" {
                "no message".to_owned()
            } else {
                format!("{} via {}", d.action, d.channel.as_deref().unwrap_or("-"))
            };
            // The fixed flow proposes with propensity 1; a model's estimate is worth showing.
            let propensity = if d.propensity < 1.0 {
                format!(" (purchase propensity {:.2})", d.propensity)
            } else {
                String::new()
            };
            if d.step == 0 {
                tracing::info!(target: TARGET, "cart {} abandoned → decision: {what}{propensity}", d.cart_id);
            } else {
                tracing::info!(target: TARGET, "cart {} still abandoned → step {} decision: {what}{propensity}", d.cart_id, d.step + 1);
            }
        }
    }
}

/// `HH:MM` of a timestamp, UTC.
fn clock_text(t: Timestamp) -> String {
    let minutes = t.as_millis().rem_euclid(86_400_000) / 60_000;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Prints a summary line every `every` of real time.
async fn summary(
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    stats: Arc<DemoStats>,
    every: std::time::Duration,
) {
    let began = std::time::Instant::now();
    let mut interval = tokio::time::interval(every);
    interval.tick().await;
    loop {
        interval.tick().await;
        let snapshot = {
            let engine = engine.clone();
            crate::worker::off_runtime(move || engine.metrics_snapshot()).await
        };
        let Ok(snapshot) = snapshot else { continue };
        let join = |rows: &[(String, u64)]| {
            let shown: Vec<String> = rows
                .iter()
                .filter(|(_, v)| *v > 0)
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            if shown.is_empty() {
                "none".to_owned()
            } else {
                shown.join(", ")
            }
        };
        let carts: Vec<(String, u64)> = snapshot
            .carts_by_state
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        eprintln!(
            "demo {:>3} s (shop time {} UTC): {} events · carts [{}] · decisions [{}] · messages [{}] · shoppers opened {}, clicked {}, bought {} ({} attributed)",
            began.elapsed().as_secs(),
            clock_text(clock.now()),
            n(&stats.events_fed),
            join(&carts),
            join(&snapshot.decisions_by_action),
            join(&snapshot.messages_by_status),
            n(&stats.opened),
            n(&stats.clicked),
            n(&stats.bought),
            n(&stats.attributed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_traffic_is_in_time_order_and_keeps_every_event() {
        let start = Timestamp(1_569_888_000_000);
        let a: Vec<Event> = simulated_shoppers(start, 1).unwrap().take(300).collect();
        let b: Vec<Event> = simulated_shoppers(start, 2).unwrap().take(200).collect();
        let merged: Vec<Event> = Merge::new(a.clone().into_iter(), b.into_iter()).collect();
        assert_eq!(merged.len(), 500);
        assert!(merged.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        assert!(a.iter().all(|e| merged.iter().any(|m| m.id == e.id)));
    }

    #[test]
    fn simulated_shoppers_leave_carts_from_the_first_shop_hour() {
        let start = Timestamp(1_569_888_000_000); // 2019-10-01 00:00 UTC, like the sample
        let hour: Vec<Event> = simulated_shoppers(start, 7)
            .unwrap()
            .take_while(|e| e.timestamp < start + Duration::hours(1))
            .collect();
        let carts = hour
            .iter()
            .filter(|e| e.kind == cartback_core::EventKind::ProductAdded)
            .map(|e| &e.user_id)
            .collect::<std::collections::HashSet<_>>()
            .len();
        let orders = hour
            .iter()
            .filter(|e| e.kind == cartback_core::EventKind::OrderCompleted)
            .count();
        assert!(
            carts >= 10 && orders < carts,
            "{carts} carts, {orders} orders"
        );
    }

    #[test]
    fn links_are_rewritten_to_the_listening_address() {
        assert_eq!(
            local_link(
                "http://127.0.0.1:4000",
                "http://0.0.0.0:8080/t/open/abc.def"
            ),
            "http://127.0.0.1:4000/t/open/abc.def"
        );
    }
}
