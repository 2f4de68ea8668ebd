//! Measures how fast the cart tracker and the episode builder fold events (one core).
//!
//! `cargo run --release -p cartback-core --example fold_throughput [EVENTS]`
//!
//! Generates EVENTS (default 1,000,000) realistic events in memory first (not timed):
//! users with several sessions of views, adds, removals, cart views and multi-row
//! orders; then times three runs over the same events: `CartTracker::fold` on sorted
//! events, `CartTracker::observe` (reorder buffer, events moved in), and
//! `EpisodeBuilder::push` + `finish`.

use cartback_core::episodes::EpisodeBuilder;
use cartback_core::{
    CartTracker, Currency, Duration, Event, EventId, EventKind, Item, Timestamp, TrackerConfig,
};
use std::time::Instant;

/// CPU time this process has spent running, from `/proc/self/schedstat` (Linux), so that
/// the figures mean something on a shared machine; `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Wall and CPU seconds since a start point.
struct Clock {
    wall: Instant,
    cpu: Option<f64>,
}

impl Clock {
    fn start() -> Self {
        Clock {
            wall: Instant::now(),
            cpu: cpu_seconds(),
        }
    }
    /// (wall seconds, CPU seconds or wall when unknown)
    fn stop(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => wall,
        };
        (wall, cpu)
    }
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

fn generate(target: usize) -> Vec<Event> {
    let mut rng = Rng(42);
    let mut events = Vec::with_capacity(target + 64);
    let start = Timestamp(1_569_888_000_000);
    let users = (target / 40).max(1) as u64;
    let mut serial: u64 = 0;
    let mut make =
        |kind, user: &str, session: &str, t: Timestamp, items: Vec<Item>, order: Option<String>| {
            serial += 1;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&serial.to_be_bytes());
            Event {
                id: EventId(id),
                kind,
                timestamp: t,
                user_id: user.to_string(),
                anonymous_id: None,
                session_id: Some(session.to_string()),
                cart_id: None,
                order_id: order,
                items,
                currency: Some(Currency::USD),
                total: None,
                email: None,
                timezone: None,
                channel: Some("web".into()),
                device: None,
                message_id: None,
                coupon_code: None,
                coupon_outcome: None,
                referrer: None,
            }
        };
    let mut order_seq = 0;
    while events.len() < target {
        let u = rng.below(users);
        let user = format!("u{u}");
        let session = format!("s{}", events.len());
        let mut t = start + Duration::seconds(rng.below(30 * 86_400) as i64);
        let mut cart: Vec<String> = Vec::new();
        for _ in 0..(3 + rng.below(15)) {
            t = t + Duration::seconds(3 + rng.below(240) as i64);
            let product = format!("p{}", rng.below(50_000));
            let item = |id: &str, price| Item {
                id: id.to_string(),
                name: None,
                category: Some(format!("c{}", &id[1..2])),
                brand: None,
                price: Some(price),
                quantity: 1,
            };
            let roll = rng.below(100);
            if roll < 70 {
                events.push(make(
                    EventKind::ProductViewed,
                    &user,
                    &session,
                    t,
                    vec![item(&product, 999)],
                    None,
                ));
            } else if roll < 88 {
                cart.push(product.clone());
                events.push(make(
                    EventKind::ProductAdded,
                    &user,
                    &session,
                    t,
                    vec![item(&product, 100 + rng.below(9_000) as i64)],
                    None,
                ));
            } else if roll < 92 && !cart.is_empty() {
                let p = cart.pop().unwrap();
                events.push(make(
                    EventKind::ProductRemoved,
                    &user,
                    &session,
                    t,
                    vec![item(&p, 0)],
                    None,
                ));
            } else if roll < 97 {
                events.push(make(
                    EventKind::CartViewed,
                    &user,
                    &session,
                    t,
                    vec![],
                    None,
                ));
            } else {
                order_seq += 1;
                let ordered = std::mem::take(&mut cart);
                for p in ordered.iter().chain(std::iter::once(&product)) {
                    events.push(make(
                        EventKind::OrderCompleted,
                        &user,
                        &session,
                        t,
                        vec![item(p, 500)],
                        Some(format!("o{order_seq}")),
                    ));
                }
            }
        }
    }
    events.truncate(target);
    events.sort_by_key(cartback_core::tracker::release_key);
    events
}

fn main() {
    let target: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let events = generate(target);
    let end = events.last().map_or(Timestamp(0), |e| e.timestamp) + Duration::days(8);
    let n = events.len() as f64;
    println!(
        "{} events generated (size_of::<Event>() = {} bytes)",
        events.len(),
        std::mem::size_of::<Event>()
    );

    let mut tracker = CartTracker::new(TrackerConfig::default()).expect("default config is valid");
    let mut out = Vec::new();
    let clock = Clock::start();
    for e in &events {
        tracker.fold(e, &mut out);
        out.clear();
    }
    tracker.advance_to(end, &mut out);
    let (wall, secs) = clock.stop();
    let s = tracker.stats();
    println!(
        "fold (sorted, by reference): {secs:.3} s CPU ({wall:.3} s wall), {:.0} events/s per CPU second; carts {} abandoned {} purchased {} recovered {} direct {}",
        n / secs,
        s.carts,
        s.abandoned,
        s.purchased,
        s.recovered,
        s.direct_purchases
    );

    let owned = events.clone();
    let mut tracker = CartTracker::new(TrackerConfig::default()).expect("default config is valid");
    let clock = Clock::start();
    for e in owned {
        tracker.observe(e, &mut out);
        out.clear();
    }
    tracker.flush(end, &mut out);
    let (wall, secs) = clock.stop();
    println!(
        "observe (reorder buffer, moved in): {secs:.3} s CPU ({wall:.3} s wall), {:.0} events/s",
        n / secs
    );
    assert_eq!(tracker.stats().carts, s.carts);

    let owned = events.clone();
    let clock = Clock::start();
    let mut builder =
        EpisodeBuilder::new(TrackerConfig::default()).expect("default config is valid");
    for e in owned {
        builder.push(e);
    }
    let set = builder.finish(end);
    let (wall, secs) = clock.stop();
    let positives = set.episodes.iter().filter(|e| e.label == 1).count();
    println!(
        "episodes (push + finish): {secs:.3} s CPU ({wall:.3} s wall), {:.0} events/s; {} episodes, {} positive",
        n / secs,
        set.episodes.len(),
        positives
    );
}
