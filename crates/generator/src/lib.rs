//! Synthetic shop traffic for benchmarks, demos and tests.
//!
//! Owns [`GeneratorConfig`] and [`EventGenerator`], an iterator of canonical events in
//! timestamp order. Shoppers arrive with a daily rhythm, browse a catalogue whose
//! popularity follows a Zipf law, put items in carts, and either buy in the session or
//! leave. Rates default to public figures: about 70 % of carts are abandoned (Baymard) and
//! a few per cent of abandoned carts come back and buy within days without any reminder.
//! At checkout some shoppers type a discount code (`coupon_entered`); an order placed after
//! an accepted code names it (`coupon_code`). Those draws have their own random stream, so
//! every other choice of a session is the same with or without them.
//! The first event of every session names where the session came from (`referrer`: a search
//! engine, a social network, the shop's newsletter, an affiliate or coupon site, or nothing
//! for a direct visit), drawn from a stream of its own too, so every other field is the same
//! as without referrers.
//! Memory stays bounded by the sessions in flight, so any number of events can be written.

use cartback_core::{
    CouponOutcome, Currency, Duration, Event, EventId, EventKind, Item, Timestamp,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Zipf};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GeneratorError {
    #[error("{field} must be {expected}, got {value}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
        value: String,
    },
}

/// What the generated shop looks like.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Number of events to write.
    pub events: u64,
    pub seed: u64,
    /// Distinct shoppers (0 = one per 25 events).
    pub users: u64,
    /// Catalogue size.
    pub products: u64,
    /// First instant of the generated traffic, ms since the epoch.
    pub start: Timestamp,
    /// Mean sessions started per hour (at the daily average; evenings are busier).
    pub sessions_per_hour: f64,
    /// Mean product views in a session.
    pub mean_views: f64,
    /// Share of sessions that put something in the cart.
    pub cart_rate: f64,
    /// Share of carts bought in the same session (1 − this ≈ abandonment rate).
    pub purchase_rate: f64,
    /// Share of abandoned carts bought later without any reminder.
    pub unaided_recovery_rate: f64,
    /// Share of shoppers who left an e-mail address.
    pub email_rate: f64,
    /// Share of sessions reaching checkout in which the shopper types a discount code
    /// (the shopper simulator's default population types one in 20 % of the abandoned carts
    /// that reached checkout; docs/decisions.md, "Session signals").
    pub coupon_rate: f64,
    pub currency: Currency,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            events: 100_000,
            seed: 42,
            users: 0,
            products: 5_000,
            // 2026-01-05T00:00:00Z, a Monday.
            start: Timestamp(1_767_571_200_000),
            sessions_per_hour: 2_000.0,
            mean_views: 6.0,
            cart_rate: 0.22,
            purchase_rate: 0.30,
            unaided_recovery_rate: 0.05,
            email_rate: 0.6,
            coupon_rate: 0.20,
            currency: Currency::USD,
        }
    }
}

impl GeneratorConfig {
    /// Checks every field and builds the generator.
    pub fn build(self) -> Result<EventGenerator, GeneratorError> {
        let rate = |field: &'static str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(GeneratorError::Invalid {
                    field,
                    expected: "between 0 and 1",
                    value: v.to_string(),
                })
            }
        };
        rate("cart_rate", self.cart_rate)?;
        rate("purchase_rate", self.purchase_rate)?;
        rate("unaided_recovery_rate", self.unaided_recovery_rate)?;
        rate("email_rate", self.email_rate)?;
        rate("coupon_rate", self.coupon_rate)?;
        let positive = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(GeneratorError::Invalid {
                    field,
                    expected: "a positive number",
                    value: v.to_string(),
                })
            }
        };
        positive("sessions_per_hour", self.sessions_per_hour)?;
        positive("mean_views", self.mean_views)?;
        if self.products == 0 {
            return Err(GeneratorError::Invalid {
                field: "products",
                expected: "at least 1",
                value: "0".into(),
            });
        }
        Ok(EventGenerator::new(self))
    }
}

/// Mixed into the seed of the discount-code draws' stream.
const COUPON_STREAM: u64 = 0x636f_7570_6f6e_7321;

/// Mixed into the seed of the referrer draws' stream.
const REFERRER_STREAM: u64 = 0x7265_6665_7272_6572;

/// Where sessions come from, with their shares; `None` is a direct visit (the rest, 42 %).
/// The shares are an assumption, of the order of public traffic-source breakdowns of web
/// shops: search 30 %, social 12 %, the shop's e-mail newsletter 8 % (only a campaign
/// source, `utm_source=newsletter`), affiliates 8 % of which half are coupon, deal or
/// cash-back sites (4 % of sessions).
const REFERRERS: [(&str, f64); 10] = [
    ("https://www.google.com/", 0.26),
    ("https://www.bing.com/", 0.04),
    ("https://www.facebook.com/", 0.07),
    ("https://www.instagram.com/", 0.05),
    ("newsletter", 0.08),
    (
        "https://www.nytimes.com/wirecutter/reviews/best-gifts/",
        0.02,
    ),
    ("https://www.buzzfeed.com/shopping", 0.02),
    ("https://www.retailmenot.com/view/shop.example", 0.02),
    ("https://slickdeals.net/f/shop-example", 0.01),
    ("https://www.topcashback.com/shop-example/", 0.01),
];

/// Codes shoppers type, with the share of them the shop accepts.
const COUPON_CODES: [(&str, f64); 3] = [("WELCOME10", 0.9), ("SAVE15", 0.5), ("FREESHIP", 0.2)];

const CATEGORIES: [&str; 12] = [
    "apparel.shoes",
    "apparel.jacket",
    "electronics.smartphone",
    "electronics.audio.headphone",
    "computers.notebook",
    "appliances.kitchen.kettle",
    "furniture.living_room.sofa",
    "kids.toys",
    "beauty.skincare",
    "sport.bicycle",
    "accessories.bag",
    "home.lighting",
];
const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
const TIME_ZONES: [&str; 5] = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
];

/// Relative traffic by hour of the day (UTC), averaging 1.0: quiet nights, busy evenings.
const HOURLY_SHAPE: [f64; 24] = [
    0.35, 0.25, 0.2, 0.18, 0.2, 0.3, 0.5, 0.75, 0.95, 1.05, 1.1, 1.15, 1.2, 1.15, 1.1, 1.1, 1.15,
    1.25, 1.45, 1.65, 1.75, 1.6, 1.25, 0.81,
];

/// An event waiting in the time-ordered queue: (time, sequence) keeps the order total.
struct Pending {
    key: Reverse<(Timestamp, u64)>,
    what: Scheduled,
}

enum Scheduled {
    Event(Box<Event>),
    /// A shopper who left a cart comes back to buy it.
    Return {
        user: u64,
        cart: Vec<Item>,
    },
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// Iterator of generated events in timestamp order.
pub struct EventGenerator {
    config: GeneratorConfig,
    rng: Xoshiro256PlusPlus,
    /// The discount-code draws' own stream (see the module comment).
    coupon_rng: Xoshiro256PlusPlus,
    /// The referrer draws' own stream.
    referrer_rng: Xoshiro256PlusPlus,
    users: u64,
    popularity: Zipf<f64>,
    price_cents: LogNormal<f64>,
    gap_seconds: Exp<f64>,
    queue: BinaryHeap<Pending>,
    next_session_at: Timestamp,
    sequence: u64,
    sessions: u64,
    emitted: u64,
}

impl EventGenerator {
    fn new(config: GeneratorConfig) -> Self {
        let users = if config.users == 0 {
            (config.events / 25).max(1)
        } else {
            config.users
        };
        let mut generator = EventGenerator {
            rng: Xoshiro256PlusPlus::seed_from_u64(config.seed),
            coupon_rng: Xoshiro256PlusPlus::seed_from_u64(config.seed ^ COUPON_STREAM),
            referrer_rng: Xoshiro256PlusPlus::seed_from_u64(config.seed ^ REFERRER_STREAM),
            users,
            popularity: Zipf::new(config.products as f64, 1.07).expect("products ≥ 1"),
            // Median price about 35.00, long right tail.
            price_cents: LogNormal::new((3_500.0f64).ln(), 0.9).expect("valid lognormal"),
            gap_seconds: Exp::new(1.0 / 45.0).expect("valid rate"),
            queue: BinaryHeap::new(),
            next_session_at: config.start,
            sequence: 0,
            sessions: 0,
            emitted: 0,
            config,
        };
        generator.schedule_next_arrival();
        generator
    }

    /// Number of sessions started so far.
    pub fn sessions(&self) -> u64 {
        self.sessions
    }

    fn schedule_next_arrival(&mut self) {
        let hour = self.next_session_at.hour_utc() as usize;
        let rate_per_ms = self.config.sessions_per_hour * HOURLY_SHAPE[hour] / 3_600_000.0;
        let wait: f64 = Exp::new(rate_per_ms)
            .expect("positive rate")
            .sample(&mut self.rng);
        self.next_session_at = self.next_session_at + Duration((wait.ceil() as i64).max(1));
    }

    fn product(&mut self, rank: u64) -> Item {
        // Deterministic catalogue: a product's category and price derive from its rank.
        let mut product_rng = Xoshiro256PlusPlus::seed_from_u64(
            self.config.seed ^ rank.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let cents: f64 = self.price_cents.sample(&mut product_rng);
        let price = (cents.round() as i64).clamp(99, 500_000) / 10 * 10 - 1;
        Item {
            id: format!("p{rank}"),
            name: Some(format!("Product {rank}")),
            category: Some(CATEGORIES[(rank % CATEGORIES.len() as u64) as usize].to_string()),
            brand: None,
            price: Some(price.max(9)),
            quantity: 1,
        }
    }

    fn event(
        &mut self,
        kind: EventKind,
        at: Timestamp,
        user: u64,
        session: &str,
        items: Vec<Item>,
    ) -> Event {
        self.sequence += 1;
        let mut seed_bytes = [0u8; 16];
        seed_bytes[..8].copy_from_slice(&self.config.seed.to_be_bytes());
        seed_bytes[8..].copy_from_slice(&self.sequence.to_be_bytes());
        let has_email = (user.wrapping_mul(0x2545_F491_4F6C_DD1D) % 1_000) as f64 / 1_000.0
            < self.config.email_rate;
        Event {
            id: EventId::derive("generator", &seed_bytes),
            kind,
            timestamp: at,
            user_id: format!("u{user}"),
            anonymous_id: None,
            session_id: Some(session.to_string()),
            cart_id: None,
            order_id: None,
            total: None,
            currency: if items.iter().any(|i| i.price.is_some()) {
                Some(self.config.currency)
            } else {
                None
            },
            items,
            email: has_email.then(|| format!("u{user}@example.com")),
            timezone: Some(TIME_ZONES[(user % TIME_ZONES.len() as u64) as usize].to_string()),
            channel: Some("web".into()),
            device: Some(DEVICES[(user % DEVICES.len() as u64) as usize].to_string()),
            message_id: None,
            coupon_code: None,
            coupon_outcome: None,
            referrer: None,
        }
    }

    fn push(&mut self, event: Event) {
        self.sequence += 1;
        let key = Reverse((event.timestamp, self.sequence));
        self.queue.push(Pending {
            key,
            what: Scheduled::Event(Box::new(event)),
        });
    }

    fn gap(&mut self) -> Duration {
        Duration::millis((self.gap_seconds.sample(&mut self.rng) * 1_000.0) as i64 + 500)
    }

    /// Writes a whole session into the queue: views, maybe a cart, maybe an order, and
    /// for a share of abandoned carts a later visit that buys.
    fn start_session(&mut self, at: Timestamp, user: u64, returning_for: Option<Vec<Item>>) {
        self.sessions += 1;
        let session = format!("s{}-{}", self.config.seed, self.sessions);
        let mut t = at;
        let referrer = self.draw_referrer();
        if let Some(cart) = returning_for {
            // A shopper coming back to buy what they left: view the cart, check out, pay.
            let mut ev = self.event(EventKind::CartViewed, t, user, &session, Vec::new());
            ev.referrer = referrer;
            self.push(ev);
            t = t + self.gap();
            let ev = self.event(EventKind::CheckoutStarted, t, user, &session, cart.clone());
            self.push(ev);
            t = t + self.gap() + self.gap();
            self.push_order(t, user, &session, cart);
            return;
        }
        let views =
            1 + (self.rng.random::<f64>().ln() / (1.0 - 1.0 / self.config.mean_views).ln()) as u32;
        let mut cart: Vec<Item> = Vec::new();
        let wants_cart = self.rng.random_bool(self.config.cart_rate);
        let mut referrer = referrer;
        for v in 0..views.min(60) {
            let rank = self.popularity.sample(&mut self.rng) as u64;
            let item = self.product(rank);
            let mut ev = self.event(
                EventKind::ProductViewed,
                t,
                user,
                &session,
                vec![item.clone()],
            );
            ev.referrer = referrer.take();
            self.push(ev);
            t = t + self.gap();
            let add_here = wants_cart
                && (cart.is_empty() && v + 1 == views.min(60) || self.rng.random_bool(0.35));
            if add_here && cart.len() < 6 {
                let mut line = item;
                line.quantity = if self.rng.random_bool(0.15) { 2 } else { 1 };
                let ev = self.event(
                    EventKind::ProductAdded,
                    t,
                    user,
                    &session,
                    vec![line.clone()],
                );
                self.push(ev);
                t = t + self.gap();
                cart.push(line);
            }
        }
        if cart.is_empty() {
            return;
        }
        if cart.len() > 1 && self.rng.random_bool(0.2) {
            let removed = cart.remove(self.rng.random_range(0..cart.len()));
            let ev = self.event(EventKind::ProductRemoved, t, user, &session, vec![removed]);
            self.push(ev);
            t = t + self.gap();
        }
        let ev = self.event(EventKind::CartViewed, t, user, &session, Vec::new());
        self.push(ev);
        t = t + self.gap();
        if self.rng.random_bool(self.config.purchase_rate) {
            let ev = self.event(EventKind::CheckoutStarted, t, user, &session, cart.clone());
            self.push(ev);
            let (to_code, to_order) = (self.gap(), self.gap());
            let code = self.maybe_type_a_code(t + to_code, user, &session);
            t = t + to_code + to_order;
            self.push_order_with(t, user, &session, cart, code);
        } else {
            if self.rng.random_bool(0.25) {
                // Checkout abandonment: started, never paid.
                let ev = self.event(EventKind::CheckoutStarted, t, user, &session, cart.clone());
                self.push(ev);
                self.maybe_type_a_code(t + Duration::seconds(20), user, &session);
            }
            if self.rng.random_bool(self.config.unaided_recovery_rate) {
                // Comes back by itself between 2 hours and 6 days later.
                let later = t
                    + Duration::hours(2)
                    + Duration::minutes(self.rng.random_range(0..6 * 24 * 60));
                self.sequence += 1;
                let key = Reverse((later, self.sequence));
                self.queue.push(Pending {
                    key,
                    what: Scheduled::Return { user, cart },
                });
            }
        }
    }

    /// Where a new session comes from (one draw of the referrer stream per session).
    fn draw_referrer(&mut self) -> Option<String> {
        let mut u: f64 = self.referrer_rng.random();
        for (referrer, share) in REFERRERS {
            if u < share {
                return Some(referrer.to_string());
            }
            u -= share;
        }
        None
    }

    fn push_order(&mut self, at: Timestamp, user: u64, session: &str, cart: Vec<Item>) {
        self.push_order_with(at, user, session, cart, None);
    }

    /// An order, naming the discount code it was placed with, if any.
    fn push_order_with(
        &mut self,
        at: Timestamp,
        user: u64,
        session: &str,
        cart: Vec<Item>,
        code: Option<String>,
    ) {
        let mut ev = self.event(EventKind::OrderCompleted, at, user, session, cart);
        ev.order_id = Some(format!("o{}", self.sequence));
        ev.total = Some(ev.items_value());
        ev.coupon_code = code;
        self.push(ev);
    }

    /// At checkout, with probability `coupon_rate`, the shopper types a code at `at`: a
    /// `coupon_entered` event, applied or denied. Returns the code when it was applied.
    fn maybe_type_a_code(&mut self, at: Timestamp, user: u64, session: &str) -> Option<String> {
        if !self.coupon_rng.random_bool(self.config.coupon_rate) {
            return None;
        }
        let (code, accepted_share) =
            COUPON_CODES[self.coupon_rng.random_range(0..COUPON_CODES.len())];
        let applied = self.coupon_rng.random_bool(accepted_share);
        let mut ev = self.event(EventKind::CouponEntered, at, user, session, Vec::new());
        ev.coupon_code = Some(code.to_string());
        ev.coupon_outcome = Some(if applied {
            CouponOutcome::Applied
        } else {
            CouponOutcome::Denied
        });
        self.push(ev);
        applied.then(|| code.to_string())
    }
}

impl Iterator for EventGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if self.emitted >= self.config.events {
                return None;
            }
            let earliest = self.queue.peek().map(|p| p.key.0.0);
            if earliest.is_none_or(|t| self.next_session_at <= t) {
                let at = self.next_session_at;
                let user = self.rng.random_range(0..self.users);
                self.start_session(at, user, None);
                self.schedule_next_arrival();
                continue;
            }
            let pending = self.queue.pop().expect("peeked");
            match pending.what {
                Scheduled::Event(event) => {
                    self.emitted += 1;
                    return Some(*event);
                }
                Scheduled::Return { user, cart } => {
                    self.start_session(pending.key.0.0, user, Some(cart))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn generate(events: u64, seed: u64) -> Vec<Event> {
        GeneratorConfig {
            events,
            seed,
            ..Default::default()
        }
        .build()
        .unwrap()
        .collect()
    }

    #[test]
    fn is_deterministic_and_ordered() {
        let a = generate(5_000, 7);
        let b = generate(5_000, 7);
        assert_eq!(a.len(), 5_000);
        assert_eq!(a, b);
        assert_ne!(a, generate(5_000, 8));
        assert!(a.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        let ids: HashSet<_> = a.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), a.len(), "ids are unique");
    }

    #[test]
    fn abandonment_rate_is_close_to_seventy_percent() {
        let events = generate(200_000, 42);
        // A session with an add and no order in it is an abandoned cart session.
        let mut sessions: HashMap<&str, (bool, bool)> = HashMap::new();
        for e in &events {
            let s = sessions
                .entry(e.session_id.as_deref().unwrap())
                .or_default();
            s.0 |= e.kind == EventKind::ProductAdded;
            s.1 |= e.kind == EventKind::OrderCompleted;
        }
        let carts = sessions.values().filter(|(added, _)| *added).count() as f64;
        let bought = sessions
            .values()
            .filter(|(added, ordered)| *added && *ordered)
            .count() as f64;
        let abandonment = 1.0 - bought / carts;
        assert!(
            (0.65..0.75).contains(&abandonment),
            "abandonment {abandonment}"
        );
        let orders = events
            .iter()
            .filter(|e| e.kind == EventKind::OrderCompleted)
            .count();
        let returns = events
            .iter()
            .filter(|e| e.kind == EventKind::OrderCompleted)
            .filter(|e| !sessions[e.session_id.as_deref().unwrap()].0)
            .count();
        assert!(
            returns > 0 && returns * 10 < orders,
            "unaided recoveries {returns} of {orders} orders"
        );
        for e in &events {
            if !e.items.is_empty() && e.items[0].price.is_some() {
                assert_eq!(e.currency, Some(Currency::USD));
            }
        }
    }

    #[test]
    fn refuses_bad_rates() {
        let err = GeneratorConfig {
            cart_rate: 1.5,
            ..Default::default()
        }
        .build()
        .err();
        assert!(matches!(
            err,
            Some(GeneratorError::Invalid {
                field: "cart_rate",
                ..
            })
        ));
        assert!(
            GeneratorConfig {
                products: 0,
                ..Default::default()
            }
            .build()
            .is_err()
        );
    }

    #[test]
    fn some_checkouts_type_a_code_and_orders_name_the_applied_one() {
        let config = |coupon_rate: f64| GeneratorConfig {
            events: 60_000,
            seed: 9,
            coupon_rate,
            ..GeneratorConfig::default()
        };
        let with: Vec<Event> = config(0.2).build().unwrap().collect();
        let checkouts = with
            .iter()
            .filter(|e| e.kind == EventKind::CheckoutStarted)
            .count() as f64;
        let coupons: Vec<&Event> = with
            .iter()
            .filter(|e| e.kind == EventKind::CouponEntered)
            .collect();
        let share = coupons.len() as f64 / checkouts;
        assert!((0.15..0.25).contains(&share), "{share}");
        assert!(coupons.iter().all(|e| e.coupon_code.is_some()));
        // Every order naming a code follows an applied coupon event of its session.
        let applied: std::collections::HashSet<(&str, &str)> = coupons
            .iter()
            .filter(|e| e.coupon_outcome == Some(CouponOutcome::Applied))
            .map(|e| {
                (
                    e.session_id.as_deref().unwrap(),
                    e.coupon_code.as_deref().unwrap(),
                )
            })
            .collect();
        let coded_orders: Vec<&Event> = with
            .iter()
            .filter(|e| e.kind == EventKind::OrderCompleted && e.coupon_code.is_some())
            .collect();
        assert!(!coded_orders.is_empty());
        for order in coded_orders {
            let key = (
                order.session_id.as_deref().unwrap(),
                order.coupon_code.as_deref().unwrap(),
            );
            assert!(applied.contains(&key), "{key:?}");
        }
        // The codes have their own random stream: without them the shop is the same.
        let without: Vec<Event> = config(0.0).build().unwrap().collect();
        assert!(without.iter().all(|e| e.kind != EventKind::CouponEntered));
        let shape = |events: &[Event]| -> Vec<(EventKind, Timestamp, String, usize)> {
            events
                .iter()
                .filter(|e| e.kind != EventKind::CouponEntered)
                .map(|e| (e.kind, e.timestamp, e.user_id.clone(), e.items.len()))
                .take(50_000)
                .collect()
        };
        assert_eq!(shape(&with), shape(&without));
        assert!(config(1.5).build().is_err());
    }

    #[test]
    fn the_first_event_of_each_session_names_where_it_came_from() {
        let events = generate(60_000, 11);
        let mut seen = HashSet::new();
        let mut sessions = 0.0;
        let mut shares: HashMap<Option<&str>, f64> = HashMap::new();
        for e in &events {
            if !seen.insert(e.session_id.as_deref().unwrap()) {
                assert_eq!(e.referrer, None, "only a session's first event has one");
                continue;
            }
            sessions += 1.0;
            *shares.entry(e.referrer.as_deref()).or_default() += 1.0;
        }
        let share = |referrers: &[Option<&str>]| {
            referrers
                .iter()
                .map(|r| shares.get(r).copied().unwrap_or(0.0))
                .sum::<f64>()
                / sessions
        };
        let direct = share(&[None]);
        assert!((0.39..0.45).contains(&direct), "{direct}");
        let search = share(&[
            Some("https://www.google.com/"),
            Some("https://www.bing.com/"),
        ]);
        assert!((0.27..0.33).contains(&search), "{search}");
        let deal = share(&[
            Some("https://www.retailmenot.com/view/shop.example"),
            Some("https://slickdeals.net/f/shop-example"),
            Some("https://www.topcashback.com/shop-example/"),
        ]);
        assert!((0.03..0.05).contains(&deal), "{deal}");
        assert_eq!(shares.len(), REFERRERS.len() + 1, "{shares:?}");
    }
}
