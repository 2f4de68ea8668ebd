//! Data retention (GDPR storage limitation): `[privacy] retention` in the configuration.
//!
//! When it is set, the engine purges the store once at start-up (before it rebuilds its
//! tracker) and then once a day by its clock ([`PURGE_INTERVAL`]): events older than the
//! retention, and carts closed longer ago with their decisions, outbox messages and tracking
//! ([`cartback_store::Store::purge_before`]). Open carts and consent records stay. After a
//! purge that removed anything the engine rebuilds its tracker from the events left, as after
//! an erasure, so it holds no purged cart, event id or user in memory (the tracker keeps every
//! cart it has seen, terminal ones included).
//!
//! A replay of a purged log no longer sees the purged carts, but the kept carts keep the ids
//! the tracker gave them (`{user_id}#{n}`, `{shop_cart_id}#{n}`): [`CartNumbering`] reads
//! the stored carts and makes the replay number on from them, so every kept cart gets its own
//! id again — without it a returning shopper's cart would be renamed at the next rebuild, and
//! stored twice, with its decisions under the old name.
//!
//! The retention must be at least [`MIN_RETENTION`] and longer than the attribution window:
//! an order inside the window must still find the cart and the message it recovers.

use cartback_core::{Cart, CartTracker, Duration, Timestamp};
use cartback_store::{PurgeReport, Store, StoreError};
use std::collections::HashMap;

/// The shortest retention accepted: the default attribution window (7 days) and a margin.
pub const MIN_RETENTION: Duration = Duration::days(8);

/// How often the engine purges, by its clock.
pub const PURGE_INTERVAL: Duration = Duration::days(1);

/// How long after a failed purge the engine tries again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::hours(1);

/// Checks a retention against the minimum and the attribution window; the error says what
/// is wrong (the caller names the setting).
pub fn check_retention(retention: Duration, attribution_window: Duration) -> Result<(), String> {
    let text = cartback_core::tracker::duration_text::format;
    if retention < MIN_RETENTION {
        return Err(format!(
            "{} is too short: keep data at least {} (the attribution window of 7 days and a \
             margin), e.g. \"400d\"",
            text(retention),
            text(MIN_RETENTION)
        ));
    }
    if retention <= attribution_window {
        return Err(format!(
            "{} must be longer than tracker.attribution_window ({}): an order inside the \
             window must still find its cart and messages",
            text(retention),
            text(attribution_window)
        ));
    }
    Ok(())
}

/// What a purge at `now` removes: everything before this instant.
pub fn cutoff(now: Timestamp, retention: Duration) -> Timestamp {
    Timestamp(now.as_millis().saturating_sub(retention.as_millis()))
}

/// Logs what a purge removed (info).
pub fn log_purge(report: &PurgeReport, cutoff: Timestamp, retention: Duration) {
    tracing::info!(
        events = report.events,
        carts = report.carts,
        decisions = report.decisions,
        messages = report.messages,
        tracking_events = report.tracking_events,
        %cutoff,
        retention = %cartback_core::tracker::duration_text::format(retention),
        "retention purge: removed what is older than the retention"
    );
}

/// Where the numbering of each user's and each shop cart id's carts goes on when the tracker
/// replays the stored log (see the module comment).
#[derive(Debug, Default)]
pub struct CartNumbering {
    users: HashMap<String, Numbers>,
    shop_carts: HashMap<String, Numbers>,
}

/// The numbers of one user's (or shop cart id's) stored carts.
#[derive(Debug, Default)]
struct Numbers {
    /// The lowest number of a cart the replay will create again (one with events left).
    replayed_min: Option<u32>,
    highest: u32,
}

impl Numbers {
    fn note(&mut self, n: u32, replayed: bool) {
        self.highest = self.highest.max(n);
        if replayed {
            self.replayed_min = Some(self.replayed_min.map_or(n, |min| min.min(n)));
        }
    }

    /// How many carts to count as created before the replay: those before the first one it
    /// creates again, or every stored one when it creates none of them again.
    fn created_before_replay(&self) -> u32 {
        match self.replayed_min {
            Some(n) => n - 1,
            None => self.highest,
        }
    }
}

impl CartNumbering {
    /// Reads every stored cart. A cart whose last activity is at or after the earliest event
    /// left has events left, so the replay creates it again; the others (purged events, or
    /// none at all in an empty log) are not.
    pub fn read(store: &mut dyn Store) -> Result<CartNumbering, StoreError> {
        let earliest = store.time_bounds()?.map(|(first, _)| first);
        let mut numbering = CartNumbering::default();
        store.scan_carts(&mut |cart| numbering.note(&cart, earliest))?;
        Ok(numbering)
    }

    fn note(&mut self, cart: &Cart, earliest: Option<Timestamp>) {
        let replayed = earliest.is_some_and(|first| cart.last_activity >= first);
        let (numbers, n) = match user_cart_number(&cart.id, &cart.user_id) {
            Some(n) => (self.users.entry(cart.user_id.clone()), n),
            None => {
                let (shop_cart_id, n) = shop_cart_number(&cart.id);
                (self.shop_carts.entry(shop_cart_id.to_owned()), n)
            }
        };
        numbers.or_default().note(n, replayed);
    }

    /// Tells `tracker` (before it replays anything) where each numbering goes on. On a log
    /// nothing was purged from, every cart is replayed from number 1 and this changes nothing.
    pub fn continue_in(&self, tracker: &mut CartTracker) {
        for (user_id, numbers) in &self.users {
            let created = numbers.created_before_replay();
            if created > 0 {
                tracker.continue_user_cart_numbers(user_id, created);
            }
        }
        for (shop_cart_id, numbers) in &self.shop_carts {
            tracker.continue_shop_cart_numbers(shop_cart_id, numbers.created_before_replay());
        }
    }
}

/// `n` of a cart named `{user_id}#{n}` (the tracker's name for a cart without a shop cart id).
fn user_cart_number(cart_id: &str, user_id: &str) -> Option<u32> {
    let n: u32 = cart_id
        .strip_prefix(user_id)?
        .strip_prefix('#')?
        .parse()
        .ok()?;
    (n > 0).then_some(n)
}

/// The shop cart id and use of a cart named after one: `{id}#{n}` for its `n`-th cart
/// (n ≥ 2), `{id}` for its first.
fn shop_cart_number(cart_id: &str) -> (&str, u32) {
    cart_id
        .rsplit_once('#')
        .filter(|(_, n)| !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(shop_cart_id, n)| Some((shop_cart_id, n.parse().ok()?)))
        .filter(|&(_, n)| n >= 2)
        .unwrap_or((cart_id, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retention_must_outlast_the_attribution_window() {
        let week = Duration::days(7);
        assert!(check_retention(Duration::days(400), week).is_ok());
        assert!(check_retention(MIN_RETENTION, week).is_ok());
        let short = check_retention(Duration::days(2), week).unwrap_err();
        assert!(short.contains("2d is too short"), "{short}");
        let window = check_retention(Duration::days(30), Duration::days(30)).unwrap_err();
        assert!(window.contains("attribution_window (30d)"), "{window}");
        assert_eq!(
            cutoff(Timestamp(100 * 86_400_000), Duration::days(30)),
            Timestamp(70 * 86_400_000)
        );
        assert_eq!(
            cutoff(Timestamp(i64::MIN + 5), Duration::days(30)),
            Timestamp(i64::MIN)
        );
    }

    #[test]
    fn cart_ids_give_their_numbers() {
        assert_eq!(user_cart_number("u#3", "u"), Some(3));
        assert_eq!(user_cart_number("a#b#12", "a#b"), Some(12));
        assert_eq!(user_cart_number("u#3", "v"), None);
        assert_eq!(user_cart_number("u#x", "u"), None);
        assert_eq!(user_cart_number("u#0", "u"), None);
        assert_eq!(shop_cart_number("c-77"), ("c-77", 1));
        assert_eq!(shop_cart_number("c-77#3"), ("c-77", 3));
        assert_eq!(shop_cart_number("c#1"), ("c#1", 1));
        assert_eq!(shop_cart_number("c#07"), ("c#07", 1));
        assert_eq!(shop_cart_number("c#"), ("c#", 1));
    }

    #[test]
    fn the_replay_numbers_on_from_the_first_cart_it_creates_again() {
        let mut numbers = Numbers::default();
        assert_eq!(numbers.created_before_replay(), 0);
        // u#1 and u#2 purged; u#3 left without events (expired before the cutoff, closed
        // after it); u#4 and u#5 have events left.
        numbers.note(3, false);
        numbers.note(5, true);
        numbers.note(4, true);
        assert_eq!(numbers.created_before_replay(), 3);
        // None created again: number on after the highest stored.
        let mut numbers = Numbers::default();
        numbers.note(2, false);
        numbers.note(6, false);
        assert_eq!(numbers.created_before_replay(), 6);
    }
}
