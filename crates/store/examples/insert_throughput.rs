//! Measures how fast the store takes events: insert (new events), re-insert (all duplicates),
//! scan and the erasure of two users, for SQLite in a temporary file and optionally
//! PostgreSQL in a throw-away schema. The events are built in memory first, so only the
//! store's own work is timed.
//!
//! ```text
//! cargo run --release -p cartback-store --example insert_throughput -- \
//!     [--events 1000000] [--batch 10000] [--postgres postgres://postgres@127.0.0.1:5432/test]
//! ```

use cartback_core::{Currency, Event, EventId, EventKind, Item, Timestamp};
use cartback_store::{PostgresStore, SqliteStore, Store};
use std::process::ExitCode;
use std::time::Instant;

struct Settings {
    events: usize,
    batch: usize,
    postgres_url: Option<String>,
}

fn parse_settings() -> Result<Settings, String> {
    let mut settings = Settings {
        events: 1_000_000,
        batch: 10_000,
        postgres_url: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => {
                settings.events = value()?.parse().map_err(|e| format!("--events: {e}"))?;
            }
            "--batch" => {
                settings.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?;
            }
            "--postgres" => settings.postgres_url = Some(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if settings.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    Ok(settings)
}

/// splitmix64: a tiny deterministic generator, enough to vary the synthetic events.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Events shaped like an import: 50k shoppers in sessions, timestamps mostly increasing.
fn synthetic_events(count: usize) -> Vec<Event> {
    let mut random = Random(42);
    let kinds = [
        EventKind::ProductViewed,
        EventKind::ProductViewed,
        EventKind::ProductViewed,
        EventKind::ProductAdded,
        EventKind::ProductRemoved,
        EventKind::CartViewed,
        EventKind::CheckoutStarted,
        EventKind::OrderCompleted,
    ];
    let mut millis = 1_569_888_000_000i64;
    (0..count)
        .map(|n| {
            millis += random.below(40) as i64;
            let user = random.below(50_000);
            let kind = kinds[random.below(kinds.len() as u64) as usize];
            let product = random.below(20_000);
            Event {
                id: EventId::derive("bench", &(n as u64).to_be_bytes()),
                kind,
                timestamp: Timestamp(millis),
                user_id: format!("{}", 500_000_000 + user),
                anonymous_id: None,
                session_id: Some(format!("{:016x}", user * 7 + millis as u64 / 3_600_000)),
                cart_id: None,
                order_id: (kind == EventKind::OrderCompleted).then(|| format!("o{n}")),
                items: vec![Item {
                    id: format!("{}", 1_000_000 + product),
                    name: None,
                    category: Some("electronics.smartphone".into()),
                    brand: Some("samsung".into()),
                    price: Some(1_000 + random.below(100_000) as i64),
                    quantity: 1,
                }],
                currency: Some(Currency::USD),
                total: None,
                email: None,
                timezone: None,
                channel: None,
                device: None,
                message_id: None,
                coupon_code: None,
                coupon_outcome: None,
                referrer: None,
            }
        })
        .collect()
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux), in seconds.
/// Wall time on a shared machine counts other processes' work too; CPU time does not.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

/// Wall and CPU time of one timed phase.
struct Stopwatch {
    wall: Instant,
    cpu: Option<f64>,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: thread_cpu_seconds(),
        }
    }

    /// "N ms CPU", or that it is unknown.
    fn cpu_text(&self) -> String {
        self.cpu.zip(thread_cpu_seconds()).map_or_else(
            || "CPU time unknown".to_string(),
            |(a, b)| format!("{:.1} ms CPU", (b - a) * 1e3),
        )
    }

    /// "N events/s wall, M events/s per CPU-second".
    fn rates(&self, count: u64) -> String {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = self.cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
        let per_cpu = cpu.map_or_else(
            || "CPU time unknown".to_string(),
            |cpu| {
                format!(
                    "{:.0} events/s per CPU-second ({cpu:.2} s CPU)",
                    count as f64 / cpu
                )
            },
        );
        format!(
            "{:.0} events/s wall ({wall:.2} s), {per_cpu}",
            count as f64 / wall
        )
    }
}

fn measure(
    label: &str,
    store: &mut dyn Store,
    events: &[Event],
    batch: usize,
) -> Result<(), String> {
    let stopwatch = Stopwatch::start();
    let mut inserted = 0;
    for chunk in events.chunks(batch) {
        inserted += store
            .insert_events(chunk)
            .map_err(|e| e.to_string())?
            .inserted;
    }
    println!(
        "{label} insert:    {inserted} new events (batch {batch}): {}",
        stopwatch.rates(inserted)
    );

    let stopwatch = Stopwatch::start();
    let mut duplicates = 0;
    for chunk in events.chunks(batch) {
        duplicates += store
            .insert_events(chunk)
            .map_err(|e| e.to_string())?
            .duplicates;
    }
    println!(
        "{label} re-insert: {duplicates} duplicates: {}",
        stopwatch.rates(duplicates)
    );

    let stopwatch = Stopwatch::start();
    let mut value = 0i64;
    let scanned = store
        .scan_events(&mut |event| value += event.items_value())
        .map_err(|e| e.to_string())?;
    println!(
        "{label} scan:      {scanned} events (checksum {value}): {}",
        stopwatch.rates(scanned)
    );

    // Erasure: the users of the first and the middle event (a user's events are spread over
    // the whole log, the worst case for SQLite's erasure by user-hour).
    for event in [events.first(), events.get(events.len() / 2)]
        .into_iter()
        .flatten()
    {
        let stopwatch = Stopwatch::start();
        let erased = store
            .erase_user(&event.user_id)
            .map_err(|e| e.to_string())?
            .events;
        println!(
            "{label} erase:     user {} ({erased} events): {:.1} ms wall, {}",
            event.user_id,
            stopwatch.wall.elapsed().as_secs_f64() * 1e3,
            stopwatch.cpu_text()
        );
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let settings = parse_settings()?;
    let started = Instant::now();
    let events = synthetic_events(settings.events);
    let payload_bytes: usize = events
        .iter()
        .map(|e| serde_json::to_vec(e).map_or(0, |v| v.len()))
        .sum();
    println!(
        "built {} events in {:.2} s (mean JSON payload {} bytes)",
        events.len(),
        started.elapsed().as_secs_f64(),
        payload_bytes / events.len().max(1)
    );

    let directory = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = directory.path().join("bench.db");
    let mut sqlite = SqliteStore::open(&path).map_err(|e| e.to_string())?;
    measure("sqlite", &mut sqlite, &events, settings.batch)?;
    drop(sqlite);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!("sqlite file: {:.1} MB", size as f64 / 1e6);

    if let Some(url) = settings.postgres_url {
        let schema = format!("cartback_bench_{}", std::process::id());
        let mut postgres =
            PostgresStore::connect_in_schema(&url, &schema).map_err(|e| e.to_string())?;
        let outcome = measure("postgres", &mut postgres, &events, settings.batch);
        drop(postgres);
        let mut client =
            postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        client
            .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .map_err(|e| e.to_string())?;
        outcome?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
