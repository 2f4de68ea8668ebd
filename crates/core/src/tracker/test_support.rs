//! Test helpers shared by the tracker and episode tests: terse event constructors, a
//! deterministic pseudo-random generator and a generator of realistic event streams.

use crate::event::{Event, EventId, EventKind, Item};
use crate::money::Currency;
use crate::time::{Duration, Timestamp};

/// 2019-10-01T00:00:00Z, a Tuesday.
pub const BASE: Timestamp = Timestamp(1_569_888_000_000);

/// `BASE` plus whole minutes.
pub fn at_min(minutes: i64) -> Timestamp {
    BASE + Duration::minutes(minutes)
}

pub fn item(id: &str, price: i64, quantity: u32) -> Item {
    Item {
        id: id.into(),
        name: None,
        category: Some(format!("cat-{}", &id[..1])),
        brand: None,
        price: Some(price),
        quantity,
    }
}

/// An event with a content-derived id (so equal content gives equal ids).
pub fn event(kind: EventKind, user: &str, ts: Timestamp, items: Vec<Item>) -> Event {
    let mut e = Event {
        id: EventId([0; 16]),
        kind,
        timestamp: ts,
        user_id: user.into(),
        anonymous_id: None,
        session_id: None,
        cart_id: None,
        order_id: None,
        items,
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
    };
    e.id = e.content_id("test");
    e
}

/// Re-derives the id after a field was changed.
pub fn rehash(mut e: Event) -> Event {
    e.id = EventId([0; 16]);
    e.id = e.content_id("test");
    e
}

pub fn add(user: &str, ts: Timestamp, id: &str, price: i64, quantity: u32) -> Event {
    event(
        EventKind::ProductAdded,
        user,
        ts,
        vec![item(id, price, quantity)],
    )
}

pub fn remove(user: &str, ts: Timestamp, id: &str, quantity: u32) -> Event {
    event(
        EventKind::ProductRemoved,
        user,
        ts,
        vec![item(id, 0, quantity)],
    )
}

pub fn view(user: &str, ts: Timestamp, id: &str) -> Event {
    event(EventKind::ProductViewed, user, ts, vec![item(id, 100, 1)])
}

pub fn order(user: &str, ts: Timestamp, order_id: &str, items: Vec<Item>) -> Event {
    let mut e = event(EventKind::OrderCompleted, user, ts, items);
    e.order_id = Some(order_id.into());
    rehash(e)
}

/// SplitMix64: small, deterministic, good enough for shuffles and synthetic streams.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A stream of sessions for `users` users over about `days` days, sorted by time: views,
/// adds, removals, cart views, checkouts, multi-row orders, comebacks after abandonment.
pub fn synthetic_stream(seed: u64, users: u32, sessions_per_user: u32) -> Vec<Event> {
    let mut rng = SplitMix(seed);
    let mut events = Vec::new();
    let mut order_seq = 0;
    for u in 0..users {
        let user = format!("user{u}");
        let mut t = BASE + Duration::minutes(rng.below(600) as i64);
        for s in 0..sessions_per_user {
            let session = format!("{user}-s{s}");
            let steps = 2 + rng.below(10);
            let mut in_cart: Vec<String> = Vec::new();
            for _ in 0..steps {
                t = t + Duration::seconds(5 + rng.below(400) as i64);
                let product = format!(
                    "{}{}",
                    ["a", "b", "c", "d"][rng.below(4) as usize],
                    rng.below(20)
                );
                let roll = rng.below(100);
                let mut e = if roll < 50 {
                    view(&user, t, &product)
                } else if roll < 80 {
                    in_cart.push(product.clone());
                    add(
                        &user,
                        t,
                        &product,
                        100 + rng.below(5_000) as i64,
                        1 + rng.below(2) as u32,
                    )
                } else if roll < 87 && !in_cart.is_empty() {
                    let p = in_cart.swap_remove(rng.below(in_cart.len() as u64) as usize);
                    remove(&user, t, &p, 1)
                } else if roll < 93 {
                    event(EventKind::CartViewed, &user, t, vec![])
                } else {
                    // An order, one row per product (REES46 style), all at the same instant.
                    order_seq += 1;
                    let order_id = format!("o{order_seq}");
                    let rows = in_cart.len().max(1);
                    for r in 0..rows {
                        let p = in_cart.get(r).cloned().unwrap_or_else(|| product.clone());
                        let mut row = order(&user, t, &order_id, vec![item(&p, 999, 1)]);
                        row.session_id = Some(session.clone());
                        events.push(rehash(row));
                    }
                    in_cart.clear();
                    continue;
                };
                e.session_id = Some(session.clone());
                if rng.below(10) == 0 {
                    e.email = Some(format!("{user}@example.com"));
                }
                events.push(rehash(e));
            }
            // Gap to the next session: minutes (comeback) to days.
            let gap = match rng.below(3) {
                0 => Duration::minutes(10 + rng.below(50) as i64),
                1 => Duration::hours(1 + rng.below(48) as i64),
                _ => Duration::days(1 + rng.below(9) as i64),
            };
            t = t + gap;
        }
    }
    events.sort_by_key(super::release_key);
    events
}

/// Reorders events as they could arrive with up to `lateness` of delay: each is given an
/// arrival time in `[timestamp, timestamp + lateness)`. No event ends up behind the
/// watermark.
pub fn shuffle_within(events: &[Event], lateness: Duration, seed: u64) -> Vec<Event> {
    let mut rng = SplitMix(seed);
    let span = lateness.as_millis().max(1) as u64;
    let mut keyed: Vec<(i64, u64, Event)> = events
        .iter()
        .map(|e| {
            (
                e.timestamp.as_millis() + rng.below(span) as i64,
                rng.next_u64(),
                e.clone(),
            )
        })
        .collect();
    keyed.sort_by_key(|(arrival, tie, _)| (*arrival, *tie));
    keyed.into_iter().map(|(_, _, e)| e).collect()
}
