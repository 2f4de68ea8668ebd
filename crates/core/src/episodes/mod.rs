//! Episodes: cart histories turned into training rows for propensity models.
//!
//! An episode is one cart that reached a decision point: its first abandonment (label 1
//! when it was recovered inside the attribution window), or — for a cart never abandoned —
//! its order (label 1). Features come only from events strictly before the decision point.
//! [`EpisodeBuilder`] folds the events through its own [`CartTracker`] and keeps, per user,
//! the session and history the features need. See `docs/episodes.md` for every column.
//!
//! How strictness is kept: events are released in (timestamp, kind, id) order and handled one
//! timestamp at a time. For each timestamp `t` the builder (1) advances the tracker to `t`,
//! so abandonments due at or before `t` fire and are snapshotted before any event at `t`
//! is folded, (2) snapshots every cart an order at `t` will close, and only then (3) folds
//! the events at `t`. History counts ignore what happened at the decision instant itself.

mod episode;
mod features;

#[cfg(test)]
mod tests;

pub use episode::{DecisionKind, Episode, EpisodeFeatures, Outcome, rfc3339_utc};

use crate::cart::CartState;
use crate::event::{Event, EventKind};
use crate::time::Timestamp;
use crate::tracker::{
    Admission, CartTracker, CartTransition, OrderTarget, ReorderBuffer, TrackerConfig,
    TrackerConfigError, TrackerStats,
};
pub(crate) use features::UserActivity;
use features::features_at;
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The episodes of a data set and the tracker's counts at its end.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeSet {
    /// In (decision_time, cart_id) order; `episode_id` is the position.
    pub episodes: Vec<Episode>,
    pub tracker: TrackerStats,
}

impl EpisodeSet {
    /// Counts for a report line (e.g. the CLI's `--json`).
    pub fn summary(&self) -> EpisodeSummary {
        let count = |keep: &dyn Fn(&Episode) -> bool| {
            self.episodes.iter().filter(|e| keep(e)).count() as u64
        };
        EpisodeSummary {
            episodes: self.episodes.len() as u64,
            positive: count(&|e| e.label == 1),
            censored: count(&|e| e.censored),
            at_abandonment: count(&|e| e.decision == DecisionKind::Abandonment),
            at_order: count(&|e| e.decision == DecisionKind::Order),
            recovered: count(&|e| e.outcome == Outcome::Recovered),
            purchased: count(&|e| e.outcome == Outcome::Purchased),
            expired: count(&|e| e.outcome == Outcome::Expired),
            abandoned_open: count(&|e| e.outcome == Outcome::AbandonedOpen),
        }
    }
}

/// How many episodes of each kind a set holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeSummary {
    pub episodes: u64,
    /// Label 1.
    pub positive: u64,
    pub censored: u64,
    /// Decision point = first abandonment.
    pub at_abandonment: u64,
    /// Decision point = order of a never-abandoned cart.
    pub at_order: u64,
    pub recovered: u64,
    pub purchased: u64,
    pub expired: u64,
    pub abandoned_open: u64,
}

/// An episode whose decision point has passed, with the cart it belongs to.
struct Decided {
    cart_index: usize,
    episode: Episode,
}

/// Builds episodes from a stream of events (any order within the tracker's lateness).
///
/// ```
/// use cartback_core::episodes::EpisodeBuilder;
/// use cartback_core::{Timestamp, TrackerConfig};
/// let mut builder = EpisodeBuilder::new(TrackerConfig::default()).unwrap();
/// // for event in events { builder.push(event); }
/// let set = builder.finish(Timestamp(0));
/// assert!(set.episodes.is_empty());
/// // The CLI writes it with the csv crate:
/// //   writer.write_record(Episode::COLUMNS)?;
/// //   for episode in &set.episodes { writer.write_record(episode.values())?; }
/// ```
pub struct EpisodeBuilder {
    tracker: CartTracker,
    buffer: ReorderBuffer,
    /// Released events sharing one timestamp, not folded yet.
    group: Vec<Event>,
    /// Per user, indexed like the tracker's users.
    activity: Vec<UserActivity>,
    /// Abandoned episodes waiting for their outcome, by cart index.
    open: HashMap<usize, Episode, RandomState>,
    /// Snapshots of carts an order in the current group will close.
    before_order: Vec<(usize, Episode)>,
    decided: Vec<Decided>,
    transitions: Vec<CartTransition>,
    scratch: Vec<u64>,
    /// Newest event timestamp pushed.
    newest: Option<Timestamp>,
}

impl EpisodeBuilder {
    /// Validates the configuration (see [`TrackerConfig::validate`]).
    pub fn new(config: TrackerConfig) -> Result<Self, TrackerConfigError> {
        Ok(EpisodeBuilder {
            tracker: CartTracker::new(config)?,
            buffer: ReorderBuffer::new(config.lateness),
            group: Vec::new(),
            activity: Vec::new(),
            open: HashMap::default(),
            before_order: Vec::new(),
            decided: Vec::new(),
            transitions: Vec::new(),
            scratch: Vec::new(),
            newest: None,
        })
    }

    /// The tracker the builder folds into (for its carts and counts).
    pub fn tracker(&self) -> &CartTracker {
        &self.tracker
    }

    /// Accepts one event. Events are best given sorted by time (as the store returns them);
    /// out of order within the lateness they give the same result.
    pub fn push(&mut self, event: Event) {
        if self.newest.is_none_or(|n| event.timestamp > n) {
            self.newest = Some(event.timestamp);
        }
        if let Admission::Late(event) = self.buffer.push(event) {
            self.release(*event);
        }
        while let Some(event) = self.buffer.pop_ready() {
            self.release(event);
        }
    }

    /// Ends the input at `end_of_data` (the time the data set is complete up to; it is
    /// raised to the last event's time if earlier): folds what is buffered, fires the
    /// timeouts due by then, and returns every episode. Abandoned carts still open are
    /// `abandoned_open`, censored when their window reaches past `end_of_data`.
    pub fn finish(mut self, end_of_data: Timestamp) -> EpisodeSet {
        while let Some(event) = self.buffer.pop_any() {
            self.release(event);
        }
        self.fold_group();
        let end = self
            .tracker
            .now()
            .map_or(end_of_data, |now| now.max(end_of_data));
        self.transitions.clear();
        self.tracker.advance_to(end, &mut self.transitions);
        self.handle_transitions();

        let window = self.tracker.config().attribution_window;
        let open = std::mem::take(&mut self.open);
        for (cart_index, mut episode) in open {
            episode.censored = episode.decision_time.saturating_add(window) > end;
            self.decided.push(Decided {
                cart_index,
                episode,
            });
        }
        let mut episodes: Vec<Episode> = self
            .decided
            .drain(..)
            .map(
                |Decided {
                     cart_index,
                     mut episode,
                 }| {
                    // Read at the end: later rows of the same order add to its value.
                    episode.order_value = self.tracker.cart_at(cart_index).order_value;
                    episode
                },
            )
            .collect();
        episodes.sort_by(|a, b| (a.decision_time, &a.cart_id).cmp(&(b.decision_time, &b.cart_id)));
        for (position, episode) in episodes.iter_mut().enumerate() {
            episode.episode_id = position as u64;
        }
        EpisodeSet {
            episodes,
            tracker: self.tracker.stats(),
        }
    }

    /// [`finish`](Self::finish) with the end of data at the newest event timestamp seen.
    pub fn finish_at_last_event(self) -> EpisodeSet {
        let end = self.newest.unwrap_or(Timestamp(i64::MIN));
        self.finish(end)
    }

    /// Takes the next event in release order; a new timestamp folds the previous group.
    fn release(&mut self, event: Event) {
        if self
            .group
            .first()
            .is_some_and(|first| first.timestamp != event.timestamp)
        {
            self.fold_group();
        }
        self.group.push(event);
    }

    /// Folds the events of one timestamp, snapshotting decisions due at it first.
    fn fold_group(&mut self) {
        let Some(first) = self.group.first() else {
            return;
        };
        let t = first.timestamp;
        self.transitions.clear();
        self.tracker.advance_to(t, &mut self.transitions);
        self.handle_transitions();
        // Late events are folded at the tracker's clock, which may be past `t`.
        let at = self.tracker.now().map_or(t, |now| now.max(t));

        let group = std::mem::take(&mut self.group);
        for event in group.iter().filter(|e| e.kind == EventKind::OrderCompleted) {
            if let OrderTarget::Close(cart_index) = self.tracker.order_target(event) {
                let cart = self.tracker.cart_at(cart_index);
                let never_abandoned = cart.abandonments == 0 && cart.abandoned_at.is_none();
                let has_prior_activity = cart.created_at < at;
                if never_abandoned
                    && has_prior_activity
                    && !self.before_order.iter().any(|(i, _)| *i == cart_index)
                {
                    let episode = self.snapshot(cart_index, at, DecisionKind::Order);
                    self.before_order.push((cart_index, episode));
                }
            }
        }
        self.transitions.clear();
        let gap = self.tracker.config().idle_timeout;
        for event in &group {
            let user = self.tracker.fold_for_user(event, &mut self.transitions);
            let folded_at = self.tracker.now().unwrap_or(at);
            if user >= self.activity.len() {
                self.activity.resize_with(user + 1, UserActivity::default);
            }
            self.activity[user].record(event, folded_at, gap);
        }
        self.handle_transitions();
        self.before_order.clear();
        self.group = group;
        self.group.clear();
    }

    /// Opens, resolves and counts episodes from the transitions in `self.transitions`.
    fn handle_transitions(&mut self) {
        let transitions = std::mem::take(&mut self.transitions);
        for transition in &transitions {
            let Some(cart_index) = self.tracker.cart_index(&transition.cart_id) else {
                continue;
            };
            let user = self.tracker.cart_owner(cart_index);
            if user >= self.activity.len() {
                self.activity.resize_with(user + 1, UserActivity::default);
            }
            let at = transition.at;
            match transition.to {
                CartState::Abandoned => {
                    let first = self.tracker.cart_at(cart_index).abandoned_at == Some(at);
                    if first && !self.open.contains_key(&cart_index) {
                        let episode = self.snapshot(cart_index, at, DecisionKind::Abandonment);
                        self.open.insert(cart_index, episode);
                    }
                    self.activity[user].abandonments.increment(at);
                }
                CartState::Recovered | CartState::Purchased => {
                    let recovered = transition.to == CartState::Recovered;
                    let activity = &mut self.activity[user];
                    activity.orders.increment(at);
                    activity.last_order.record(at);
                    if recovered {
                        activity.recoveries.increment(at);
                    }
                    let outcome = if recovered {
                        Outcome::Recovered
                    } else {
                        Outcome::Purchased
                    };
                    if let Some(mut episode) = self.open.remove(&cart_index) {
                        episode.outcome = outcome;
                        episode.outcome_time = Some(at);
                        episode.label = u8::from(recovered);
                        self.decided.push(Decided {
                            cart_index,
                            episode,
                        });
                    } else if let Some(pos) =
                        self.before_order.iter().position(|(i, _)| *i == cart_index)
                    {
                        let (_, mut episode) = self.before_order.swap_remove(pos);
                        episode.outcome = outcome;
                        episode.outcome_time = Some(at);
                        episode.label = 1;
                        self.decided.push(Decided {
                            cart_index,
                            episode,
                        });
                    }
                }
                CartState::Expired => {
                    if let Some(mut episode) = self.open.remove(&cart_index) {
                        episode.outcome = Outcome::Expired;
                        episode.outcome_time = Some(at);
                        self.decided.push(Decided {
                            cart_index,
                            episode,
                        });
                    }
                }
                CartState::Active | CartState::Idle => {}
            }
        }
        self.transitions = transitions;
        self.transitions.clear();
    }

    /// The episode of a cart at decision time `t`, before its outcome is known.
    fn snapshot(&mut self, cart_index: usize, t: Timestamp, decision: DecisionKind) -> Episode {
        let cart = self.tracker.cart_at(cart_index);
        let empty = UserActivity::default();
        let activity = self
            .activity
            .get(self.tracker.cart_owner(cart_index))
            .unwrap_or(&empty);
        let features = features_at(cart, activity, t, &mut self.scratch);
        Episode {
            episode_id: 0,
            cart_id: cart.id.clone(),
            user_id: cart.user_id.clone(),
            decision,
            decision_time: t,
            outcome: Outcome::AbandonedOpen,
            outcome_time: None,
            censored: false,
            label: 0,
            order_value: None,
            currency: cart.currency,
            features,
        }
    }
}
