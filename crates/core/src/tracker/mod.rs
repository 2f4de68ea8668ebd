//! The cart tracker: a pure state machine that folds events into [`Cart`]s.
//!
//! ```text
//!            activity                          activity (abandoned_at kept)
//!         ┌───────────┐                ┌──────────────────────────────────────┐
//!         ▼           │                ▼                                      │
//!  ──▶ Active ──idle_after──▶ Idle ──idle_timeout, units > 0──▶ Abandoned ────┤
//!         │                    │  └──idle_timeout, empty──▶ Expired            │
//!         │ order              │ order                       attribution_window│
//!         ▼                    ▼                                    ▼          │
//!     Purchased            Purchased        order within window ─▶ Recovered   │
//!                                                               Expired ◀──────┘
//! ```
//!
//! Owns cart identity (the shop's `cart_id`, else `{user_id}#{n}`), folding of every event
//! kind, the timers that move carts through their states at their exact due time, and the
//! reorder buffer that folds late-arriving events in timestamp order. Time is only what
//! the events and [`CartTracker::advance_to`] say it is. See `docs/episodes.md`.

mod config;
mod fold;
mod reorder;
mod stats;
mod transition;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use config::{MAX_CONFIG_DURATION, TrackerConfig, TrackerConfigError, duration_text};
pub use reorder::{Admission, ReorderBuffer, release_key};
pub use stats::TrackerStats;
pub use transition::CartTransition;

use crate::cart::{Cart, CartState};
use crate::episodes::UserActivity;
use crate::event::Event;
use crate::time::Timestamp;
use foldhash::fast::RandomState;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

type FastMap<V> = HashMap<Box<str>, V, RandomState>;

/// Tracker-private facts about a cart, kept next to it.
#[derive(Clone, Copy)]
struct CartMeta {
    /// Index of the user who created the cart.
    owner: u32,
    /// Due time of this cart's entry in the timer heap, when it has one.
    scheduled: Option<Timestamp>,
}

/// Per-user bookkeeping: compact on purpose (8 bytes).
#[derive(Clone, Copy, Default)]
struct UserEntry {
    /// The user's current non-terminal cart (the latest one the user acted on).
    open_cart: Option<u32>,
    /// Carts created for the user so far (the `n` in `{user_id}#{n}`).
    carts_created: u32,
}

/// Sets `slot` to `latest` when the event has a value and it differs (no allocation when
/// it is the same, as on most events of a session): the cart's and the episode builder's
/// "latest seen" fields (e-mail, time zone, channel, device).
pub(crate) fn keep_latest(slot: &mut Option<String>, latest: &Option<String>) {
    if let Some(value) = latest
        && slot.as_ref() != Some(value)
    {
        *slot = Some(value.clone());
    }
}

/// Pending referrers kept before the first pruning pass (see `prune_pending_referrers`).
const PENDING_PRUNE_MIN: usize = 4096;

/// A referrer seen while its user had no open cart: the session arrived from somewhere before
/// anything went into a cart. The user's next cart takes it when it is created in the same
/// session: the same `session_id` when both events have one, else within `idle_timeout`.
struct PendingReferrer {
    key: String,
    session_id: Option<Box<str>>,
    at: Timestamp,
}

/// Latest cart carrying one shop cart id, and how many carts have carried it.
#[derive(Clone, Copy)]
struct ShopCart {
    /// `None` when the carts that carried it are not in memory (numbering continued with
    /// [`CartTracker::continue_shop_cart_numbers`]).
    latest: Option<u32>,
    uses: u32,
}

/// Where an `order_completed` event lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderTarget {
    /// The order id was already folded: another row of the same order.
    Repeat(usize),
    /// Closes this open cart.
    Close(usize),
    /// No open cart: a direct purchase.
    Direct,
}

/// Folds cart events into carts and moves them through their states.
///
/// Feed events with [`observe`](Self::observe) (any order within the configured lateness)
/// or, when they are already sorted, [`fold`](Self::fold); move time forward with
/// [`advance_to`](Self::advance_to); end the input with [`flush`](Self::flush). Every call
/// appends the transitions it caused to the caller's `Vec`, in time order.
pub struct CartTracker {
    config: TrackerConfig,
    buffer: ReorderBuffer,
    now: Option<Timestamp>,
    carts: Vec<Cart>,
    meta: Vec<CartMeta>,
    users: FastMap<u32>,
    user_entries: Vec<UserEntry>,
    shop_carts: FastMap<ShopCart>,
    cart_ids: FastMap<u32>,
    orders: FastMap<u32>,
    /// By user index; an entry is replaced by the user's next referrer and removed when the
    /// user's next cart is created.
    pending_referrers: HashMap<u32, PendingReferrer, RandomState>,
    /// Size of `pending_referrers` at which stale entries are next pruned.
    pending_prune_at: usize,
    /// Each user's session activity, by user index, when session features are kept
    /// ([`with_session_features`](Self::with_session_features)).
    sessions: Option<Vec<UserActivity>>,
    /// Reused memory for counting a session's distinct products.
    session_scratch: Vec<u64>,
    timers: BinaryHeap<Reverse<(Timestamp, u32)>>,
    state_counts: [u64; CartState::ALL.len()],
    expired_after_abandonment: u64,
    stats: TrackerStats,
}

impl CartTracker {
    /// Validates the configuration and builds an empty tracker.
    pub fn new(config: TrackerConfig) -> Result<Self, TrackerConfigError> {
        config.validate()?;
        Ok(CartTracker {
            config,
            buffer: ReorderBuffer::new(config.lateness),
            now: None,
            carts: Vec::new(),
            meta: Vec::new(),
            users: FastMap::default(),
            user_entries: Vec::new(),
            shop_carts: FastMap::default(),
            cart_ids: FastMap::default(),
            orders: FastMap::default(),
            pending_referrers: HashMap::default(),
            pending_prune_at: PENDING_PRUNE_MIN,
            sessions: None,
            session_scratch: Vec::new(),
            timers: BinaryHeap::new(),
            state_counts: [0; CartState::ALL.len()],
            expired_after_abandonment: 0,
            stats: TrackerStats::default(),
        })
    }

    /// Also keeps every user's session activity, as the episode builder does, and records
    /// the session on the cart at each abandonment ([`Cart::session_at_abandonment`]), so a
    /// propensity model trained on episodes gets its session columns live. Costs a hash of
    /// the session id and of each viewed product per event, and a little memory per user:
    /// the live engine keeps it, imports do not.
    pub fn with_session_features(mut self) -> Self {
        self.sessions = Some(Vec::new());
        self
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The tracker's clock: the latest time it has advanced to (`None` before any event).
    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }

    /// Accepts an event in arrival order. It is buffered until the watermark (newest
    /// timestamp seen − lateness) passes it, then folded in [`release_key`] order
    /// (timestamp, kind, id); an event
    /// already behind the watermark is folded at once at the tracker's current time and
    /// counted as late. Afterwards the clock advances to the watermark, firing every
    /// timeout due by then.
    ///
    /// Takes the event by value so buffering costs no copy; clone it if you need it after.
    pub fn observe(&mut self, event: Event, out: &mut Vec<CartTransition>) {
        if let Admission::Late(event) = self.buffer.push(event) {
            self.fold(&event, out);
        }
        while let Some(event) = self.buffer.pop_ready() {
            self.fold(&event, out);
        }
        if let Some(watermark) = self.buffer.watermark() {
            self.advance_to(watermark, out);
        }
    }

    /// Releases every buffered event (in order) and advances the clock to `end` (or keeps
    /// it where it is, when it is already later).
    pub fn flush(&mut self, end: Timestamp, out: &mut Vec<CartTransition>) {
        while let Some(event) = self.buffer.pop_any() {
            self.fold(&event, out);
        }
        self.advance_to(end, out);
    }

    /// Moves the clock to `now`, firing every timeout due at or before it at its exact due
    /// time. Time never goes back: an earlier `now` changes nothing.
    pub fn advance_to(&mut self, now: Timestamp, out: &mut Vec<CartTransition>) {
        let now = match self.now {
            Some(current) if current > now => current,
            _ => now,
        };
        self.now = Some(now);
        while let Some(&Reverse((due, index))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let index = index as usize;
            if self.meta[index].scheduled != Some(due) {
                continue; // superseded by an earlier entry for the same cart
            }
            self.meta[index].scheduled = None;
            if let Some((at, to)) = self.next_timeout(index)
                && at <= due
            {
                self.fire_timeout(index, at, to, out);
            }
            self.schedule(index);
        }
    }

    /// Every cart, in creation order.
    pub fn carts(&self) -> impl ExactSizeIterator<Item = &Cart> {
        self.carts.iter()
    }

    /// The cart with this id (a shop cart id, or `{user_id}#{n}`).
    pub fn cart(&self, cart_id: &str) -> Option<&Cart> {
        self.cart_index(cart_id).map(|i| &self.carts[i])
    }

    /// The user's current open (non-terminal) cart.
    pub fn open_cart_of(&self, user_id: &str) -> Option<&Cart> {
        let user = *self.users.get(user_id)? as usize;
        self.user_open_cart(user).map(|i| &self.carts[i])
    }

    /// Numbers the user's carts on from `created`: the next `{user_id}#{n}` cart the tracker
    /// creates for them is `n = created + 1` (or later, when the tracker has already created
    /// more). For a replay of a log whose beginning was purged (data retention): the purged
    /// carts' ids are gone from the log but the kept carts keep theirs, so the replay must
    /// not hand them out again. Call it before the user's events are folded.
    pub fn continue_user_cart_numbers(&mut self, user_id: &str, created: u32) {
        let user = self.intern_user(user_id);
        let entry = &mut self.user_entries[user];
        entry.carts_created = entry.carts_created.max(created);
    }

    /// [`continue_user_cart_numbers`](Self::continue_user_cart_numbers) for a shop cart id:
    /// `uses` carts have carried it, so the next one is `{shop_cart_id}#{uses + 1}`.
    pub fn continue_shop_cart_numbers(&mut self, shop_cart_id: &str, uses: u32) {
        if uses == 0 {
            return;
        }
        self.shop_carts
            .entry(shop_cart_id.into())
            .and_modify(|shop| shop.uses = shop.uses.max(uses))
            .or_insert(ShopCart { latest: None, uses });
    }

    /// Events waiting in the reorder buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    pub fn stats(&self) -> TrackerStats {
        let count = |state: CartState| self.state_counts[state as usize];
        TrackerStats {
            users: self.user_entries.len() as u64,
            carts: self.carts.len() as u64,
            active: count(CartState::Active),
            idle: count(CartState::Idle),
            abandoned: count(CartState::Abandoned) + self.expired_after_abandonment,
            expired: count(CartState::Expired),
            purchased: count(CartState::Purchased),
            recovered: count(CartState::Recovered),
            duplicates: self.buffer.duplicates(),
            ..self.stats
        }
    }

    pub(crate) fn cart_index(&self, cart_id: &str) -> Option<usize> {
        self.cart_ids.get(cart_id).map(|&i| i as usize)
    }

    pub(crate) fn cart_at(&self, index: usize) -> &Cart {
        &self.carts[index]
    }

    /// Index of the user who created the cart (see [`fold_for_user`](Self::fold_for_user)).
    pub(crate) fn cart_owner(&self, index: usize) -> usize {
        self.meta[index].owner as usize
    }

    /// Where an `order_completed` event would land if folded now.
    pub(crate) fn order_target(&self, event: &Event) -> OrderTarget {
        if let Some(order_id) = event.order_id.as_deref()
            && let Some(&index) = self.orders.get(order_id)
        {
            return OrderTarget::Repeat(index as usize);
        }
        match self.open_cart_for(event) {
            Some(index) => OrderTarget::Close(index),
            None => OrderTarget::Direct,
        }
    }

    /// The open cart an event refers to: its shop cart when that is open, else the user's
    /// open cart.
    fn open_cart_for(&self, event: &Event) -> Option<usize> {
        self.open_shop_cart(event).or_else(|| {
            let user = *self.users.get(event.user_id.as_str())? as usize;
            self.user_open_cart(user)
        })
    }

    /// [`open_cart_for`](Self::open_cart_for) when the user's index is already known.
    fn open_cart_for_user(&self, user: usize, event: &Event) -> Option<usize> {
        self.open_shop_cart(event)
            .or_else(|| self.user_open_cart(user))
    }

    fn open_shop_cart(&self, event: &Event) -> Option<usize> {
        let latest = self.shop_carts.get(event.cart_id.as_deref()?)?.latest? as usize;
        (!self.carts[latest].state.is_terminal()).then_some(latest)
    }

    fn user_open_cart(&self, user: usize) -> Option<usize> {
        let index = self.user_entries[user].open_cart? as usize;
        (!self.carts[index].state.is_terminal()).then_some(index)
    }

    /// The next timeout of a cart and the state it leads to.
    fn next_timeout(&self, index: usize) -> Option<(Timestamp, CartState)> {
        let cart = &self.carts[index];
        let c = &self.config;
        let idle_since = cart.last_activity;
        match cart.state {
            CartState::Active => Some((idle_since.saturating_add(c.idle_after), CartState::Idle)),
            CartState::Idle => {
                let to = if cart.lines.iter().any(|l| l.quantity > 0) {
                    CartState::Abandoned
                } else {
                    CartState::Expired
                };
                Some((idle_since.saturating_add(c.idle_timeout), to))
            }
            CartState::Abandoned => {
                let left_at = idle_since.saturating_add(c.idle_timeout);
                let window_end = cart
                    .abandoned_at
                    .unwrap_or(left_at)
                    .saturating_add(c.attribution_window);
                Some((window_end.max(left_at), CartState::Expired))
            }
            CartState::Recovered | CartState::Purchased | CartState::Expired => None,
        }
    }

    fn fire_timeout(
        &mut self,
        index: usize,
        at: Timestamp,
        to: CartState,
        out: &mut Vec<CartTransition>,
    ) {
        if to == CartState::Abandoned {
            let owner = self.meta[index].owner as usize;
            let session = self.sessions.as_ref().map(|sessions| {
                sessions
                    .get(owner)
                    .map(|activity| activity.session_snapshot(&mut self.session_scratch))
                    .unwrap_or_default()
            });
            let cart = &mut self.carts[index];
            cart.abandoned_at.get_or_insert(at);
            cart.abandonments += 1;
            if session.is_some() {
                cart.session_at_abandonment = session;
            }
        }
        self.set_state(index, to, at, out);
    }

    /// Makes sure the cart's next timeout is in the heap. An entry already there for an
    /// earlier time stays: when it pops, the timeout is recomputed and re-queued.
    fn schedule(&mut self, index: usize) {
        let Some((due, _)) = self.next_timeout(index) else {
            return;
        };
        let meta = &mut self.meta[index];
        if meta.scheduled.is_none_or(|queued| due < queued) {
            meta.scheduled = Some(due);
            self.timers.push(Reverse((due, index as u32)));
        }
    }

    /// Changes a cart's state, keeps the counts, and reports the transition.
    fn set_state(
        &mut self,
        index: usize,
        to: CartState,
        at: Timestamp,
        out: &mut Vec<CartTransition>,
    ) {
        let cart = &mut self.carts[index];
        let from = cart.state;
        if from == to {
            return;
        }
        self.state_counts[from as usize] -= 1;
        self.state_counts[to as usize] += 1;
        cart.state = to;
        if to.is_terminal() {
            cart.closed_at = Some(at);
            if to == CartState::Expired && cart.abandonments > 0 {
                self.expired_after_abandonment += 1;
            }
            let owner = self.meta[index].owner as usize;
            if self.user_entries[owner].open_cart == Some(index as u32) {
                self.user_entries[owner].open_cart = None;
            }
        }
        out.push(CartTransition {
            cart_id: cart.id.clone(),
            user_id: cart.user_id.clone(),
            from: Some(from),
            to,
            at,
        });
    }
}
