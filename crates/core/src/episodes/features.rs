//! What the episode builder remembers about each user between events — the current
//! session and the user's history — and how a cart plus that memory become
//! [`EpisodeFeatures`] at a decision point.
//!
//! Everything here is updated only from events (and tracker transitions) strictly before
//! the decision point: the builder takes snapshots before it folds the events of the
//! decision instant, and the history counters ([`StrictCounter`]) ignore what happened at
//! the decision instant itself.

use super::episode::EpisodeFeatures;
use crate::cart::{Cart, SessionSnapshot};
use crate::event::{Event, EventKind};
use crate::time::{Duration, Timestamp};
use crate::tracker::keep_latest;

/// A count of things that happened at non-decreasing times, which can answer "how many
/// strictly before `t`" for any `t` not older than the latest increment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StrictCounter {
    settled: u32,
    pending_at: Timestamp,
    pending: u32,
}

impl StrictCounter {
    pub(crate) fn increment(&mut self, at: Timestamp) {
        if at != self.pending_at {
            self.settled += self.pending;
            self.pending_at = at;
            self.pending = 0;
        }
        self.pending += 1;
    }

    pub(crate) fn before(&self, t: Timestamp) -> u32 {
        if self.pending_at < t {
            self.settled + self.pending
        } else {
            self.settled
        }
    }
}

/// The latest instant something happened and the latest one before that, so that "the
/// last time strictly before `t`" is known for `t` not older than the latest.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StrictLatest {
    latest: Option<Timestamp>,
    previous: Option<Timestamp>,
}

impl StrictLatest {
    pub(crate) fn record(&mut self, at: Timestamp) {
        if self.latest != Some(at) {
            self.previous = self.latest;
            self.latest = Some(at);
        }
    }

    pub(crate) fn before(&self, t: Timestamp) -> Option<Timestamp> {
        match self.latest {
            Some(latest) if latest < t => Some(latest),
            _ => self.previous.filter(|p| *p < t),
        }
    }
}

/// One user's session and history, as of the events folded so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserActivity {
    /// Hash of the current session's id (`None` when the events carry none).
    session_key: Option<u64>,
    in_session: bool,
    session_start: Timestamp,
    last_event: Timestamp,
    session_events: u32,
    session_views: u32,
    /// Hashes of the product ids viewed in the session (duplicates kept; counted at
    /// snapshot time).
    session_viewed: Vec<u64>,
    session_dwell: Duration,
    /// Sessions that ended before the current one.
    past_sessions: u32,
    pub(crate) orders: StrictCounter,
    pub(crate) abandonments: StrictCounter,
    pub(crate) recoveries: StrictCounter,
    pub(crate) last_order: StrictLatest,
    first_email_at: Option<Timestamp>,
    channel: Option<String>,
    device: Option<String>,
    timezone: Option<String>,
}

impl UserActivity {
    /// Records one event of this user at `at` (the time the tracker folded it).
    ///
    /// A session is the run of events with the same `session_id`; events without one
    /// belong to the current session unless more than `session_gap` passed since the
    /// previous event. Dwell adds each gap between consecutive events of the session,
    /// capped at `session_gap`.
    pub(crate) fn record(&mut self, event: &Event, at: Timestamp, session_gap: Duration) {
        let key = event
            .session_id
            .as_deref()
            .map(|s| xxhash_rust::xxh3::xxh3_64(s.as_bytes()));
        let gap = Duration::millis((at - self.last_event).as_millis().max(0));
        let new_session =
            !self.in_session || key != self.session_key || (key.is_none() && gap > session_gap);
        if new_session {
            if self.in_session {
                self.past_sessions += 1;
            }
            self.in_session = true;
            self.session_key = key;
            self.session_start = at;
            self.session_events = 0;
            self.session_views = 0;
            self.session_viewed.clear();
            self.session_dwell = Duration::ZERO;
        } else {
            self.session_dwell =
                Duration::millis(self.session_dwell.as_millis() + gap.min(session_gap).as_millis());
        }
        self.last_event = self.last_event.max(at);
        self.session_events += 1;
        if event.kind == EventKind::ProductViewed {
            self.session_views += 1;
            self.session_viewed.extend(
                event
                    .items
                    .iter()
                    .map(|i| xxhash_rust::xxh3::xxh3_64(i.id.as_bytes())),
            );
        }
        if event.email.is_some() && self.first_email_at.is_none() {
            self.first_email_at = Some(at);
        }
        keep_latest(&mut self.channel, &event.channel);
        keep_latest(&mut self.device, &event.device);
        keep_latest(&mut self.timezone, &event.timezone);
    }

    /// The current session as the episodes' session columns see it. `scratch` is reused
    /// memory (for counting distinct products).
    pub(crate) fn session_snapshot(&self, scratch: &mut Vec<u64>) -> SessionSnapshot {
        scratch.clear();
        scratch.extend_from_slice(&self.session_viewed);
        scratch.sort_unstable();
        scratch.dedup();
        SessionSnapshot {
            events: if self.in_session {
                self.session_events
            } else {
                0
            },
            views: self.session_views,
            products_viewed: scratch.len() as u32,
            length_millis: if self.in_session {
                (self.last_event - self.session_start).as_millis()
            } else {
                0
            },
            dwell_millis: self.session_dwell.as_millis(),
            past_sessions: self.past_sessions,
            channel: self.channel.clone(),
            device: self.device.clone(),
        }
    }
}

/// Computes the features of `cart` at decision time `t` from the cart (as folded from
/// events before `t`) and the user's activity (likewise). `scratch` is reused memory.
pub(crate) fn features_at(
    cart: &Cart,
    user: &UserActivity,
    t: Timestamp,
    scratch: &mut Vec<u64>,
) -> EpisodeFeatures {
    let units: u32 = cart.lines.iter().map(|l| l.quantity).sum();
    let priced_units: i64 = cart
        .lines
        .iter()
        .filter(|l| l.unit_price.is_some())
        .map(|l| i64::from(l.quantity))
        .sum();
    let mut categories: Vec<&str> = cart
        .lines
        .iter()
        .filter_map(|l| l.category.as_deref())
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let session = user.session_snapshot(scratch);
    let seconds = |d: Duration| d.as_secs_f64();
    EpisodeFeatures {
        cart_value: cart.value,
        cart_units: units,
        cart_lines: cart.lines.len() as u32,
        cart_categories: categories.len() as u32,
        max_item_price: cart
            .lines
            .iter()
            .filter_map(|l| l.unit_price)
            .max()
            .unwrap_or(0),
        mean_item_price: if priced_units > 0 {
            // Rounded half away from zero to whole minor units.
            cart.value.saturating_add(priced_units / 2) / priced_units
        } else {
            0
        },
        adds: cart.adds,
        removes: cart.removes,
        cart_views: cart.views,
        checkout_started: cart.checkout_started,
        seconds_since_cart_created: seconds(t - cart.created_at),
        session_events: session.events,
        session_views: session.views,
        session_products_viewed: session.products_viewed,
        session_length_seconds: seconds(Duration::millis(session.length_millis)),
        session_dwell_seconds: seconds(Duration::millis(session.dwell_millis)),
        hour_utc: t.hour_utc(),
        weekday_utc: t.weekday_utc(),
        returning_user: user.past_sessions > 0,
        past_sessions: user.past_sessions,
        past_orders: user.orders.before(t),
        past_abandonments: user.abandonments.before(t),
        past_recoveries: user.recoveries.before(t),
        days_since_last_order: user
            .last_order
            .before(t)
            .map(|last| (t - last).as_millis() as f64 / 86_400_000.0),
        has_email: user.first_email_at.is_some_and(|at| at < t) || cart.email.is_some(),
        channel: session.channel,
        device: session.device,
        timezone: user.timezone.clone().or_else(|| cart.timezone.clone()),
    }
}
