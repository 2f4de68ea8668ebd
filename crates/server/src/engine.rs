//! The real-time engine: owns the store (events, carts and the engine records, on one
//! connection) and the cart tracker behind one lock, so ingest, timers and the dispatcher's
//! send-time re-check are serialised (one connection is therefore enough, and SQLite never
//! sees two engine writers). Events are stored (durably) before they are folded; a cart
//! that becomes abandoned gets a decision, written with its outbox message in one
//! transaction; a purchase cancels pending messages and is attributed to the last message
//! sent inside the attribution window.
//!
//! Decisions are multi-step: the first step is decided when the cart is abandoned, each
//! later one at its step time (`policy.step_delays` after the abandonment), through the
//! [`Decider`] (policy proposes, guardrails dispose), until the cart is bought or the shopper
//! comes back, or a guardrail or the last step ends the flow. Timers are not persisted on
//! their own: at start-up the tracker is rebuilt from the stored events (re-deriving the
//! abandonment timers) and the next step of every abandoned cart is derived from the
//! decisions already stored, which are keyed by (cart, abandonment, step).
//!
//! With `[privacy] retention` set, the engine purges the store at start-up and once a day by
//! its clock, and rebuilds the tracker from what is left (`crate::retention`).
//!
//! The stock levels the shop reports ([`Engine::upsert_stock`]) are read from the store when
//! a step is decided (the out-of-stock guardrail sees which of the cart's items are sold
//! out), when a message is re-checked at send time, and when products are recommended; an
//! item the shop never reported counts as in stock.

use crate::clock::Clock;
use crate::decide::adapter::{TrackedMessage, UserHistory, in_engagement_window};
use crate::decide::step::ends_flow_record;
use crate::decide::{CouponPlan, Decider, PastMessage, ReloadOutcome, StepInput, StepPlan};
use crate::metrics::{Metrics, Snapshot};
use crate::retention::{self, CartNumbering};
use crate::worker::{DropOffRuntime, GroupCommit, WriterGone};
use cartback_core::{
    Cart, CartState, CartTracker, CartTransition, Duration, Event, EventId, EventKind, StockLevel,
    Timestamp, TrackerConfig,
};
use cartback_ingest::Pseudonymiser;
use cartback_recommend::{
    ExclusionPolicy, PopularityRecommender, RecommendationRequest, Recommender,
};
use cartback_store::{
    Decision, EngineRecords, ErasureReport, MessageStatus, OutboxMessage, PurgeReport, StockReport,
    Store, StoreError,
};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("tracker configuration: {0}")]
    Tracker(String),
    /// The ingest writer thread is gone; the events were not stored.
    #[error(transparent)]
    Writer(#[from] WriterGone),
    /// One failure of a group commit, answered to every request of the group.
    #[error(transparent)]
    Shared(Arc<EngineError>),
}

/// Most events one group commit writes: queued requests join a group while their events
/// fit (a bigger request is written alone). Large enough to share a commit's fixed cost
/// among hundreds of requests, small enough that a group holds the engine lock (timers,
/// reads, the dispatcher wait for it) for tens of milliseconds, not seconds.
const GROUP_COMMIT_EVENTS: usize = 4_096;

/// The engine's knobs (from [`crate::config::ServerConfig`]).
#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub tracker: TrackerConfig,
    /// A decision step found more than this late (replayed history, downtime) is skipped.
    pub max_decision_lag: Duration,
    /// `[privacy] retention`: what is older is purged at start-up and once a day
    /// (`crate::retention`); `None` keeps everything.
    pub retention: Option<Duration>,
    /// `[privacy] pseudonymise_key`: events from outside are pseudonymised before they are
    /// stored, and the shop's ids in requests are looked up by their pseudonyms.
    pub pseudonymiser: Option<Pseudonymiser>,
}

/// A decision step waiting for its time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DueStep {
    at: Timestamp,
    cart_id: String,
    abandonment: u32,
    step: u32,
}

struct Core {
    store: DropOffRuntime<Box<dyn Store>>,
    tracker: CartTracker,
    seen: HashSet<EventId>,
    /// Units ordered per product: the popularity fallback for recommendations.
    ordered_units: HashMap<String, f64>,
    /// Popularity ranking built from `ordered_units`; dropped when an order arrives.
    popular: Option<PopularityRecommender>,
    /// Decision steps by due time (derived from the stored decisions at start-up).
    schedule: BTreeSet<DueStep>,
    /// When the next retention purge is due, by the engine's clock (`None`: retention off).
    next_purge: Option<Timestamp>,
    /// A purge removed something but the rebuild after it failed: the next purge rebuilds
    /// even when it removes nothing.
    rebuild_owed: bool,
}

impl Core {
    fn count_order(&mut self, event: &Event) {
        if count_ordered_units(&mut self.ordered_units, event) {
            self.popular = None;
        }
    }
}

/// Adds an order's units per product; says whether `event` was an order.
fn count_ordered_units(units: &mut HashMap<String, f64>, event: &Event) -> bool {
    if event.kind != EventKind::OrderCompleted {
        return false;
    }
    for item in &event.items {
        *units.entry(item.id.clone()).or_default() += f64::from(item.quantity);
    }
    true
}

pub struct Engine {
    core: Mutex<Core>,
    decider: Decider,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    metrics: Arc<Metrics>,
    recommendations: Recommendations,
    /// The group-commit writer of [`Engine::ingest_queued`], started on first use.
    ingest_writer: OnceLock<IngestWriter>,
}

type IngestWriter = GroupCommit<Vec<Event>, Result<IngestOutcome, EngineError>>;

/// How messages get their recommended products.
struct Recommendations {
    /// Products per message (0 = none).
    count: usize,
    /// A trained model; `None` = the most ordered products.
    model: Option<Arc<dyn Recommender>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub accepted: u64,
    pub duplicates: u64,
}

/// What the dispatcher may do with a due message after the send-time re-check.
#[derive(Debug)]
pub enum SendCheck {
    Send(Box<OutboxMessage>),
    Cancelled(String),
    Gone,
}

impl Engine {
    /// Builds the engine and rebuilds the tracker from every stored event (re-deriving the
    /// timers), then handles what the replay found at `clock.now()`.
    pub fn start(
        store: Box<dyn Store>,
        decider: Decider,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Engine, EngineError> {
        let tracker = new_tracker(&settings)?;
        let engine = Engine {
            core: Mutex::new(Core {
                store: DropOffRuntime::new(store),
                tracker,
                seen: HashSet::new(),
                ordered_units: HashMap::new(),
                popular: None,
                schedule: BTreeSet::new(),
                next_purge: None,
                rebuild_owed: false,
            }),
            decider,
            clock,
            settings,
            metrics,
            recommendations: Recommendations {
                count: 3,
                model: None,
            },
            ingest_writer: OnceLock::new(),
        };
        {
            let mut core = engine.lock();
            // Purged before the rebuild, so the tracker is folded once, from what is kept.
            if let Err(error) = engine.purge(&mut core) {
                tracing::error!(%error, "retention purge at start-up failed; retried in an hour");
            }
            engine.rebuild(&mut core)?;
        }
        Ok(engine)
    }

    /// Sets how many products each message recommends and from which model (`None`: the
    /// products ordered most so far, so messages carry products before any model exists).
    pub fn set_recommendations(&mut self, count: usize, model: Option<Arc<dyn Recommender>>) {
        self.recommendations = Recommendations { count, model };
    }

    /// Products to show in a message about `cart`: never what is in it, nor what the shop
    /// reported out of stock, nor (unless the model's shop sells consumables) what the
    /// shopper already bought.
    ///
    /// The model ranks without knowing stock; the levels of what it proposes are read, the
    /// sold-out ones excluded and the model asked again, at most
    /// [`STOCK_RECOMMENDATION_ROUNDS`] times (each round excludes at least one more item);
    /// whatever is still sold out after the last round is dropped (fewer products, never a
    /// sold-out one).
    fn recommend_for(
        &self,
        core: &mut Core,
        cart: &Cart,
    ) -> Result<Vec<serde_json::Value>, EngineError> {
        let count = self.recommendations.count;
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut request = RecommendationRequest {
            user_id: Some(cart.user_id.clone()),
            cart: cart.lines.iter().map(|l| l.item_id.clone()).collect(),
            k: count,
            ..RecommendationRequest::default()
        };
        for round in 1..=STOCK_RECOMMENDATION_ROUNDS {
            let found = match &self.recommendations.model {
                Some(model) => model.recommend(&request),
                None => {
                    let ordered = &core.ordered_units;
                    core.popular
                        .get_or_insert_with(|| {
                            PopularityRecommender::from_counts(
                                ordered.iter().map(|(id, n)| (id.clone(), *n)),
                                ExclusionPolicy::default(),
                            )
                        })
                        .recommend(&request)
                }
            };
            let items = match found {
                Ok(items) => items,
                Err(err) => {
                    tracing::warn!(cart = %cart.id, "no recommendations: {err}");
                    return Ok(Vec::new());
                }
            };
            let ids: Vec<String> = items.iter().map(|r| r.item_id.clone()).collect();
            let sold_out = sold_out_among(core.store.as_mut(), &ids)?;
            if sold_out.is_empty() || round == STOCK_RECOMMENDATION_ROUNDS {
                return Ok(items
                    .into_iter()
                    .filter(|r| !sold_out.contains(&r.item_id))
                    .map(|r| {
                        serde_json::json!({"id": r.item_id, "score": r.score, "source": r.source})
                    })
                    .collect());
            }
            request.out_of_stock.extend(sold_out);
        }
        Ok(Vec::new())
    }

    /// Records the shop's stock levels (the newest of each item wins; see
    /// [`Store::upsert_stock`]) and counts them in the metrics. Decisions and send-time
    /// re-checks from now on see them.
    pub fn upsert_stock(&self, levels: &[StockLevel]) -> Result<StockReport, EngineError> {
        let report = self.lock().store.upsert_stock(levels)?;
        self.metrics
            .stock_levels_applied
            .fetch_add(report.applied, Ordering::Relaxed);
        self.metrics
            .stock_levels_stale
            .fetch_add(report.stale, Ordering::Relaxed);
        Ok(report)
    }

    /// The stock level the store keeps for an item, if the shop ever reported one.
    pub fn stock_level(&self, item_id: &str) -> Result<Option<StockLevel>, EngineError> {
        Ok(self.lock().store.stock_levels(&[item_id.to_owned()])?.pop())
    }

    /// Replaces the tracker by one folded from every stored event, derives every abandoned
    /// cart's next decision step from the stored decisions, and takes the steps due now.
    /// Cart ids go on from the stored carts ([`CartNumbering`]): after a retention purge the
    /// log no longer holds the purged carts, and the kept ones must get their own ids again.
    fn rebuild(&self, core: &mut Core) -> Result<(), EngineError> {
        core.tracker = new_tracker(&self.settings)?;
        CartNumbering::read(core.store.as_mut())?.continue_in(&mut core.tracker);
        core.seen.clear();
        core.ordered_units.clear();
        core.popular = None;
        let mut transitions = Vec::new();
        let (tracker, seen, units) = (&mut core.tracker, &mut core.seen, &mut core.ordered_units);
        core.store.scan_events(&mut |event| {
            seen.insert(event.id);
            count_ordered_units(units, &event);
            tracker.observe(event, &mut transitions);
        })?;
        let now = self.clock.now();
        core.tracker.flush(now, &mut transitions);
        self.apply_transitions(core, &transitions, now)?;
        self.derive_schedule(core)?;
        self.run_due(core, now)
    }

    /// Replaces the shop's ids in events from outside by pseudonyms, when configured (events
    /// that already carry this key's pseudonyms stay as they are).
    fn pseudonymise(&self, events: &mut [Event]) {
        if let Some(pseudonymiser) = &self.settings.pseudonymiser {
            for event in events {
                pseudonymiser.apply(event);
            }
        }
    }

    /// The id the store keeps a shopper under, given the shop's id (or the pseudonym itself):
    /// its pseudonym when ids are pseudonymised, else the id as it is.
    pub fn stored_user_id(&self, shop_id: &str) -> String {
        match &self.settings.pseudonymiser {
            Some(pseudonymiser) => pseudonymiser.pseudonym(shop_id),
            None => shop_id.to_owned(),
        }
    }

    /// The stored id of the cart a request names: the id as it is when such a cart is
    /// stored, else — ids being pseudonymised — `{pseudonym}#{n}` for a `{user_id}#{n}` with
    /// the shop's user id.
    pub fn stored_cart_id(&self, id: &str) -> Result<String, EngineError> {
        if self.settings.pseudonymiser.is_none() || self.cart(id)?.is_some() {
            return Ok(id.to_owned());
        }
        Ok(match id.rsplit_once('#') {
            Some((user, n)) => format!("{}#{n}", self.stored_user_id(user)),
            None => id.to_owned(),
        })
    }

    /// The shop's own id of a stored user id (a webhook's receiver looks the shopper up by
    /// it): the pseudonym turned back with the key, or the id as it is.
    pub fn shop_user_id(&self, stored: &str) -> String {
        match &self.settings.pseudonymiser {
            Some(pseudonymiser) => pseudonymiser
                .reveal(stored)
                .unwrap_or_else(|_| stored.to_owned()),
            None => stored.to_owned(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Stores the events (dedupe by id), then folds the new ones and acts on the transitions.
    /// When this returns `Ok`, every event is durably stored. Runs on the caller's thread;
    /// the HTTP API uses [`Engine::ingest_queued`] instead.
    pub fn ingest(&self, mut events: Vec<Event>) -> Result<IngestOutcome, EngineError> {
        self.pseudonymise(&mut events);
        let mut core = self.lock();
        let mut outcomes = self.ingest_group(&mut core, vec![events]);
        outcomes.pop().expect("one outcome per request")
    }

    /// [`Engine::ingest`] through group commit: the events join those of every other
    /// request waiting, and one writer thread stores the group in one transaction, folds it,
    /// writes the touched carts once, then answers each request with its own counts. The
    /// answer comes only after the commit, so `Ok` still means durably stored.
    pub async fn ingest_queued(
        self: &Arc<Self>,
        mut events: Vec<Event>,
    ) -> Result<IngestOutcome, EngineError> {
        self.pseudonymise(&mut events);
        let writer = self.ingest_writer.get_or_init(|| {
            // Weak: the writer must not keep the engine alive (dropping the engine drops
            // the queue, which ends the thread).
            let engine = Arc::downgrade(self);
            GroupCommit::spawn(
                "cartback-ingest",
                GROUP_COMMIT_EVENTS,
                Vec::len,
                move |requests: Vec<Vec<Event>>| match engine.upgrade() {
                    Some(engine) => {
                        let mut core = engine.lock();
                        engine.ingest_group(&mut core, requests)
                    }
                    None => Vec::new(),
                },
            )
            .expect("spawning the ingest writer thread")
        });
        writer.submit(events).await?
    }

    /// Stores the events of several requests in one transaction and folds them; one outcome
    /// per request, in order. If the group's insert fails nothing of it is stored, and each
    /// request is written on its own, so one bad request cannot fail the others.
    fn ingest_group(
        &self,
        core: &mut Core,
        requests: Vec<Vec<Event>>,
    ) -> Vec<Result<IngestOutcome, EngineError>> {
        let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
        let events: Vec<Event> = requests.into_iter().flatten().collect();
        let report = match core.store.insert_events(&events) {
            Ok(report) => report,
            Err(error) if sizes.len() == 1 => return vec![Err(error.into())],
            Err(error) => {
                tracing::warn!(%error, requests = sizes.len(), "group insert failed; writing its requests one by one");
                let mut events = events.into_iter();
                return sizes
                    .iter()
                    .flat_map(|&n| {
                        let request = events.by_ref().take(n).collect();
                        self.ingest_group(core, vec![request])
                    })
                    .collect();
            }
        };
        let mut outcomes = vec![IngestOutcome::default(); sizes.len()];
        let mut transitions = Vec::new();
        let mut touched_users = Vec::new();
        let mut events = events.into_iter();
        for (outcome, &n) in outcomes.iter_mut().zip(&sizes) {
            for event in events.by_ref().take(n) {
                if core.seen.insert(event.id) {
                    outcome.accepted += 1;
                    core.count_order(&event);
                    touched_users.push(event.user_id.clone());
                    core.tracker.observe(event, &mut transitions);
                } else {
                    outcome.duplicates += 1;
                }
            }
        }
        let accepted: u64 = outcomes.iter().map(|o| o.accepted).sum();
        if accepted != report.inserted {
            tracing::warn!(
                stored = report.inserted,
                new = accepted,
                "the store and the engine disagree on which events are new"
            );
        }
        self.metrics
            .events_ingested
            .fetch_add(report.inserted, Ordering::Relaxed);
        self.metrics
            .events_duplicate
            .fetch_add(report.duplicates, Ordering::Relaxed);
        match self.fold_group(core, transitions, touched_users) {
            Ok(()) => outcomes.into_iter().map(Ok).collect(),
            // The events are stored; what failed is acting on them.
            Err(error) if outcomes.len() == 1 => vec![Err(error)],
            Err(error) => {
                let error = Arc::new(error);
                outcomes
                    .iter()
                    .map(|_| Err(EngineError::Shared(error.clone())))
                    .collect()
            }
        }
    }

    /// After a group's events are stored and observed: advances the tracker, writes the
    /// touched open carts once, and acts on the transitions.
    fn fold_group(
        &self,
        core: &mut Core,
        mut transitions: Vec<CartTransition>,
        mut touched_users: Vec<String>,
    ) -> Result<(), EngineError> {
        core.tracker.flush(self.clock.now(), &mut transitions);
        touched_users.sort_unstable();
        touched_users.dedup();
        // A cart with a transition is written by `apply_transitions` (with its state after
        // the whole group); writing it here too would put its pages in the WAL twice.
        let transitioned: HashSet<&str> = transitions.iter().map(|t| t.cart_id.as_str()).collect();
        let mut carts: Vec<Cart> = touched_users
            .iter()
            .filter_map(|user| core.tracker.open_cart_of(user))
            .filter(|cart| !transitioned.contains(cart.id.as_str()))
            .cloned()
            .collect();
        carts.sort_by(|a, b| a.id.cmp(&b.id));
        carts.dedup_by(|a, b| a.id == b.id);
        if !carts.is_empty() {
            core.store.upsert_carts(&carts)?;
        }
        self.handle_transitions(core, &transitions)
    }

    /// Reloads changed policy files (off the engine lock), advances the tracker to the
    /// clock's now (abandonment timers) and takes the decision steps due; called every tick.
    pub fn tick(&self) -> Result<usize, EngineError> {
        match self.decider.poll_reload() {
            ReloadOutcome::Unchanged => {}
            ReloadOutcome::Reloaded => {
                self.metrics.policy_reloads.fetch_add(1, Ordering::Relaxed);
            }
            ReloadOutcome::Failed(_) => {
                self.metrics
                    .policy_reload_failures
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut core = self.lock();
        let core = &mut *core;
        let mut transitions = Vec::new();
        core.tracker.flush(self.clock.now(), &mut transitions);
        self.handle_transitions(core, &transitions)?;
        Ok(transitions.len())
    }

    /// Acts on the tracker's transitions, then takes the decision steps due.
    fn handle_transitions(
        &self,
        core: &mut Core,
        transitions: &[CartTransition],
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        self.apply_transitions(core, transitions, now)?;
        self.run_due(core, now)
    }

    /// An abandonment schedules its first step; a purchase cancels pending messages and is
    /// attributed. (A cart that leaves the abandoned state drops its pending steps when
    /// they come due.)
    fn apply_transitions(
        &self,
        core: &mut Core,
        transitions: &[CartTransition],
        _now: Timestamp,
    ) -> Result<(), EngineError> {
        if transitions.is_empty() {
            return Ok(());
        }
        let mut changed: Vec<Cart> = Vec::new();
        let mut changed_ids: HashSet<String> = HashSet::new();
        for transition in transitions {
            let Some(cart) = core.tracker.cart(&transition.cart_id).cloned() else {
                continue;
            };
            match transition.to {
                CartState::Abandoned if cart.state == CartState::Abandoned => {
                    core.schedule.insert(DueStep {
                        at: transition.at,
                        cart_id: cart.id.clone(),
                        abandonment: cart.abandonments.max(1),
                        step: 0,
                    });
                }
                CartState::Purchased | CartState::Recovered => {
                    core.store.cancel_cart(&cart.id, "purchased")?;
                    let order = cart.order_id.clone().unwrap_or_else(|| cart.id.clone());
                    let since = transition.at - self.settings.tracker.attribution_window;
                    core.store
                        .attribute(&cart.user_id, &order, since, transition.at)?;
                }
                _ => {}
            }
            // A set, not a scan of `changed`: a group commit brings thousands of transitions.
            if changed_ids.insert(cart.id.clone()) {
                changed.push(cart);
            }
        }
        core.store.upsert_carts(&changed)?;
        Ok(())
    }

    /// The instant of the cart's current abandonment (the tracker abandons a cart
    /// `idle_timeout` after its last activity).
    fn abandoned_instant(&self, cart: &Cart) -> Timestamp {
        cart.last_activity + self.settings.tracker.idle_timeout
    }

    /// Clears the schedule and derives it from the stored decisions: for every abandoned
    /// cart, the step after the last one stored for its current abandonment (the first when
    /// none is), unless that decision ended the flow.
    fn derive_schedule(&self, core: &mut Core) -> Result<(), EngineError> {
        core.schedule.clear();
        let abandoned: Vec<Cart> = core
            .tracker
            .carts()
            .filter(|c| c.state == CartState::Abandoned)
            .cloned()
            .collect();
        for cart in &abandoned {
            self.schedule_next_from_records(core, cart)?;
        }
        Ok(())
    }

    /// Schedules the cart's next step after the decisions stored for its current
    /// abandonment.
    fn schedule_next_from_records(&self, core: &mut Core, cart: &Cart) -> Result<(), EngineError> {
        let abandonment = cart.abandonments.max(1);
        let abandoned_at = self.abandoned_instant(cart);
        let last = core
            .store
            .decisions_of_cart(&cart.id)?
            .into_iter()
            .filter(|d| d.abandonment == abandonment)
            .max_by_key(|d| d.step);
        let next = match last {
            None => Some(0),
            Some(d) if ends_flow_record(&d.action, &d.guardrail) => None,
            Some(d) => Some(d.step as usize + 1),
        };
        if let Some(step) = next
            && let Some(at) = self.decider.settings.decide_at(abandoned_at, step)
        {
            core.schedule.insert(DueStep {
                at,
                cart_id: cart.id.clone(),
                abandonment,
                step: step as u32,
            });
        }
        Ok(())
    }

    /// Takes every decision step due by `now`, in order. A step whose cart is no longer
    /// abandoned (bought, back to shopping, expired) or abandoned again since is dropped; a
    /// step more than `max_decision_lag` late is skipped (its next step is scheduled).
    fn run_due(&self, core: &mut Core, now: Timestamp) -> Result<(), EngineError> {
        while core.schedule.first().is_some_and(|d| d.at <= now) {
            let Some(due) = core.schedule.pop_first() else {
                break;
            };
            let Some(cart) = core.tracker.cart(&due.cart_id).cloned() else {
                continue;
            };
            if cart.state != CartState::Abandoned || cart.abandonments.max(1) != due.abandonment {
                continue;
            }
            let abandoned_at = self.abandoned_instant(&cart);
            if now - due.at > self.settings.max_decision_lag {
                // Replayed history or downtime: too late to act on this step.
                let next = due.step as usize + 1;
                if let Some(at) = self.decider.settings.decide_at(abandoned_at, next) {
                    core.schedule.insert(DueStep {
                        at,
                        step: next as u32,
                        ..due
                    });
                }
                continue;
            }
            self.take_step(
                core,
                &cart,
                due.abandonment,
                due.step as usize,
                abandoned_at,
                now,
            )?;
        }
        Ok(())
    }

    /// Gathers what the step needs from the store, decides it, and writes the decision with
    /// its message in one transaction; schedules the next step.
    fn take_step(
        &self,
        core: &mut Core,
        cart: &Cart,
        abandonment: u32,
        step: usize,
        abandoned_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let settings = &self.decider.settings;
        let carts = core.store.carts_of_user(&cart.user_id)?;
        // Every message of the user's carts, read once: the e-mail engagement comes from
        // all of them, the flow's own state from this cart's.
        let mut user_messages = Vec::new();
        let mut own_messages = None;
        for other in &carts {
            let messages = core.store.messages_of_cart(&other.id)?;
            if other.id == cart.id {
                own_messages = Some(messages);
            } else {
                user_messages.extend(messages);
            }
        }
        let own_messages = match own_messages {
            Some(messages) => messages,
            None => core.store.messages_of_cart(&cart.id)?,
        };
        let tracked = tracked_emails(
            core,
            user_messages.iter().chain(&own_messages),
            abandoned_at,
        )?;
        let history = UserHistory::from_carts(&carts, &cart.id, abandoned_at)
            .with_engagement(&tracked, abandoned_at);
        let mut cart_messages = Vec::new();
        for m in own_messages {
            let live = matches!(
                m.status,
                MessageStatus::Pending | MessageStatus::Sending | MessageStatus::Sent
            );
            // A message still waiting from an earlier abandonment is superseded by this
            // flow (the shopper came back and left again).
            let earlier = m.payload["abandonment"]
                .as_u64()
                .is_some_and(|a| a < u64::from(abandonment));
            if m.status == MessageStatus::Pending && earlier {
                if core.store.cancel(m.id, "abandoned_again")? {
                    self.metrics
                        .messages_cancelled
                        .fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            if live {
                cart_messages.push(PastMessage {
                    at: m.sent_at.unwrap_or(m.due_at),
                    coupon_percent: m.payload["coupon"]["percent"].as_u64().unwrap_or(0) as u32,
                });
            }
        }
        let user_message_times = core
            .store
            .message_times_of_user(&cart.user_id, now - settings.guardrails.user_cap_window)?;
        let email_consent = core
            .store
            .consent(&cart.user_id, &settings.email_delivery)?;
        let push_consent = match &settings.push_delivery {
            Some(channel) => core.store.consent(&cart.user_id, channel)?,
            None => None,
        };
        let day_start = Timestamp(now.as_millis().div_euclid(86_400_000) * 86_400_000);
        let discount_committed_today_minor = core.store.discount_committed_since(day_start)?;
        let out_of_stock = sold_out_among(core.store.as_mut(), &line_items(cart))?;
        let plan = self.decider.decide_step(&StepInput {
            cart,
            abandonment,
            step,
            abandoned_at,
            now,
            history,
            cart_messages: &cart_messages,
            user_message_times: &user_message_times,
            email_consent,
            push_consent,
            discount_committed_today_minor,
            out_of_stock: &out_of_stock,
        });
        let decision = Decision {
            id: 0,
            cart_id: cart.id.clone(),
            user_id: cart.user_id.clone(),
            abandonment,
            step: plan.step,
            decided_at: now,
            action: plan.kind.name().to_owned(),
            channel: plan.channel.clone(),
            send_at: plan.send_at,
            propensity: plan.propensity,
            scores: plan.scores.clone(),
            reasons: plan.reasons.clone(),
            guardrail: plan.guardrail.clone(),
            holdout: plan.holdout,
            discount_minor: plan.discount_minor,
            // What the policy saw (off-policy evaluation of other policies on this log).
            state: serde_json::to_value(&plan.state).ok(),
        };
        let message = match (&plan.channel, plan.send_at) {
            (Some(channel), Some(send_at)) => {
                let recommended =
                    if plan.kind == cartback_policy::actions::ActionKind::RecommendationEmail {
                        self.recommend_for(core, cart)?
                    } else {
                        Vec::new()
                    };
                Some(OutboxMessage {
                    id: 0,
                    idempotency_key: format!(
                        "{}/{}/{}/{}",
                        cart.id, abandonment, plan.step, decision.action
                    ),
                    decision_id: 0,
                    cart_id: cart.id.clone(),
                    user_id: cart.user_id.clone(),
                    channel: channel.clone(),
                    payload: message_payload(cart, abandonment, &plan, recommended),
                    status: MessageStatus::Pending,
                    due_at: send_at,
                    attempts: 0,
                    last_error: None,
                    sent_at: None,
                    cancel_reason: None,
                    attributed_order: None,
                })
            }
            _ => None,
        };
        match core.store.record_decision(&decision, message.as_ref())? {
            Some(_) => {
                if let Some(at) = plan.next_step_at {
                    core.schedule.insert(DueStep {
                        at,
                        cart_id: cart.id.clone(),
                        abandonment,
                        step: plan.step + 1,
                    });
                }
            }
            // Already decided (e.g. by an earlier run): carry on from what is stored.
            None => self.schedule_next_from_records(core, cart)?,
        }
        Ok(())
    }

    /// Messages due now (for the dispatcher).
    pub fn due_messages(&self, limit: usize) -> Result<Vec<OutboxMessage>, EngineError> {
        let now = self.clock.now();
        Ok(self.lock().store.due_messages(now, limit)?)
    }

    /// The send-time re-check: a purchase, a return to the cart, an unsubscribe or a consent
    /// withdrawal since scheduling cancels the message; otherwise it is claimed for sending.
    pub fn check_and_claim(&self, message_id: i64) -> Result<SendCheck, EngineError> {
        let mut core = self.lock();
        let core = &mut *core;
        let Some(message) = core.store.message(message_id)? else {
            return Ok(SendCheck::Gone);
        };
        let cart = core.tracker.cart(&message.cart_id);
        let reason = match cart.map(|c| c.state) {
            None => Some("cart_unknown"),
            Some(CartState::Purchased | CartState::Recovered) => Some("purchased"),
            Some(CartState::Expired) => Some("expired"),
            Some(CartState::Active | CartState::Idle) => Some("shopper_returned"),
            // Decided for an earlier abandonment: the shopper came back and left again, and
            // the new abandonment has a flow of its own.
            Some(CartState::Abandoned)
                if message.payload["abandonment"]
                    .as_u64()
                    .is_some_and(|a| Some(a) != cart.map(|c| u64::from(c.abandonments.max(1)))) =>
            {
                Some("abandoned_again")
            }
            Some(CartState::Abandoned) => None,
        };
        let reason = match reason {
            Some(reason) => Some(reason),
            None if core.store.consent(&message.user_id, &message.channel)? == Some(false) => {
                Some("consent_withdrawn")
            }
            // Sold out since the decision: the out-of-stock guardrail, at send time.
            None => match cart {
                Some(cart) => {
                    let items = line_items(cart);
                    let sold_out = sold_out_among(core.store.as_mut(), &items)?;
                    (!items.is_empty() && items.iter().all(|id| sold_out.contains(id)))
                        .then_some("out_of_stock")
                }
                None => None,
            },
        };
        if let Some(reason) = reason {
            if core.store.cancel(message_id, reason)? {
                self.metrics
                    .messages_cancelled
                    .fetch_add(1, Ordering::Relaxed);
            }
            return Ok(SendCheck::Cancelled(reason.to_owned()));
        }
        if !core.store.claim(message_id)? {
            return Ok(SendCheck::Gone);
        }
        Ok(core
            .store
            .message(message_id)?
            .map_or(SendCheck::Gone, |m| SendCheck::Send(Box::new(m))))
    }

    pub fn with_records<T>(
        &self,
        f: impl FnOnce(&mut dyn EngineRecords) -> Result<T, StoreError>,
    ) -> Result<T, EngineError> {
        let mut core = self.lock();
        Ok(f(core.store.as_mut())?)
    }

    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<T, StoreError>,
    ) -> Result<T, EngineError> {
        let mut core = self.lock();
        Ok(f(core.store.as_mut())?)
    }

    /// A cart as the tracker sees it now, else as stored.
    pub fn cart(&self, cart_id: &str) -> Result<Option<Cart>, EngineError> {
        let mut core = self.lock();
        if let Some(cart) = core.tracker.cart(cart_id) {
            return Ok(Some(cart.clone()));
        }
        Ok(core.store.cart(cart_id)?)
    }

    /// Removes every trace of the user — events, carts, decisions, messages, consent,
    /// tracking — in one store transaction; then rebuilds the tracker from the remaining
    /// events so the user's carts are gone from memory too (erasure is rare; the rebuild
    /// costs one scan).
    pub fn erase_user(&self, user_id: &str) -> Result<ErasureReport, EngineError> {
        let mut core = self.lock();
        let erased = core.store.erase_user(user_id)?;
        self.rebuild(&mut core)?;
        Ok(erased)
    }

    /// Data retention, when a purge is due by the engine's clock (once a day; see
    /// `crate::retention`): removes from the store what is older than `[privacy] retention`,
    /// then, when anything went, rebuilds the tracker from the events left so memory holds
    /// nothing the store no longer does (as [`Engine::erase_user`] does; a purge that removed
    /// something costs what a start-up costs). Returns what was purged, `None` when no purge
    /// was due. Called by the ticker, off the async runtime.
    pub fn purge_if_due(&self) -> Result<Option<PurgeReport>, EngineError> {
        let mut core = self.lock();
        let now = self.clock.now();
        if core.next_purge.is_none_or(|due| due > now) {
            return Ok(None);
        }
        let report = self.purge(&mut core)?;
        if report.total() > 0 || core.rebuild_owed {
            if let Err(error) = self.rebuild(&mut core) {
                core.rebuild_owed = true;
                core.next_purge = Some(now + retention::RETRY_AFTER_FAILURE);
                return Err(error);
            }
            core.rebuild_owed = false;
        }
        Ok(Some(report))
    }

    /// The store's purge of what is older than the retention at the clock's now (nothing
    /// when retention is off); schedules the next one a day later, or an hour after a
    /// failure, and logs what went.
    fn purge(&self, core: &mut Core) -> Result<PurgeReport, EngineError> {
        let Some(retention) = self.settings.retention else {
            return Ok(PurgeReport::default());
        };
        let now = self.clock.now();
        let cutoff = retention::cutoff(now, retention);
        match core.store.purge_before(cutoff) {
            Ok(report) => {
                core.next_purge = Some(now + retention::PURGE_INTERVAL);
                retention::log_purge(&report, cutoff, retention);
                Ok(report)
            }
            Err(error) => {
                core.next_purge = Some(now + retention::RETRY_AFTER_FAILURE);
                Err(error.into())
            }
        }
    }

    pub fn metrics_snapshot(&self) -> Result<Snapshot, EngineError> {
        let mut core = self.lock();
        let stats = core.tracker.stats();
        let carts_by_state = vec![
            ("active", stats.active),
            ("idle", stats.idle),
            ("abandoned", stats.abandoned),
            ("expired", stats.expired),
            ("purchased", stats.purchased),
            ("recovered", stats.recovered),
        ];
        Ok(Snapshot {
            carts_by_state,
            decisions_by_action: core.store.decision_counts()?,
            messages_by_status: core.store.message_counts()?,
        })
    }
}

/// How often [`Engine::recommend_for`] asks the model again without the sold-out products
/// it proposed.
const STOCK_RECOMMENDATION_ROUNDS: usize = 4;

/// The item ids of a cart's lines (those with a quantity), once each.
fn line_items(cart: &Cart) -> Vec<String> {
    let mut ids: Vec<String> = cart
        .lines
        .iter()
        .filter(|l| l.quantity > 0)
        .map(|l| l.item_id.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Those of `item_ids` the shop reported out of stock (available ≤ 0). An item the store
/// has no level for counts as in stock: a shop that never reports stock loses nothing.
fn sold_out_among(
    store: &mut dyn Store,
    item_ids: &[String],
) -> Result<BTreeSet<String>, StoreError> {
    if item_ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    Ok(store
        .stock_levels(item_ids)?
        .into_iter()
        .filter(|level| !level.in_stock())
        .map(|level| level.item_id)
        .collect())
}

/// The engine's tracker: with session activity, for the propensity model's session, channel
/// and device columns (docs/episodes.md).
fn new_tracker(settings: &EngineSettings) -> Result<CartTracker, EngineError> {
    Ok(CartTracker::new(settings.tracker)
        .map_err(|e| EngineError::Tracker(e.to_string()))?
        .with_session_features())
}

/// The e-mails among `messages` (the user's) sent in the engagement window before `at`,
/// each with whether it was opened or clicked: the e-mail engagement the policies see in the
/// customer history. A message's action names its channel (older messages without one count
/// as e-mails when they went out on the `email` channel).
fn tracked_emails<'m>(
    core: &mut Core,
    messages: impl IntoIterator<Item = &'m OutboxMessage>,
    at: Timestamp,
) -> Result<Vec<TrackedMessage>, EngineError> {
    let mut tracked = Vec::new();
    for m in messages {
        let Some(sent_at) = m.sent_at else {
            continue;
        };
        // Filtered before the tracking is read: only these can count.
        if m.status != MessageStatus::Sent || !in_engagement_window(sent_at, at) {
            continue;
        }
        let email = match m.payload["action"]
            .as_str()
            .and_then(cartback_policy::actions::ActionKind::from_name)
        {
            Some(kind) => kind.channel() == Some(cartback_policy::actions::Channel::Email),
            None => m.channel == "email",
        };
        if !email {
            continue;
        }
        let counts = core.store.tracking_counts(m.id)?;
        let seen = |kind: &str| counts.iter().any(|(k, n)| k == kind && *n > 0);
        tracked.push(TrackedMessage {
            email,
            sent_at,
            opened: seen("open"),
            clicked: seen("click"),
        });
    }
    Ok(tracked)
}

/// What a message shows, frozen at decision time: the cart, the action and step, the
/// recommended products (for a `recommendation_email`) and the coupon to issue (its code is
/// derived from the message id when it is sent).
fn message_payload(
    cart: &Cart,
    abandonment: u32,
    plan: &StepPlan,
    recommended: Vec<serde_json::Value>,
) -> serde_json::Value {
    let price = |minor: i64| match cart.currency {
        Some(currency) => format!("{} {}", currency.format_minor(minor), currency.code()),
        None => format!("{minor}"),
    };
    let lines: Vec<serde_json::Value> = cart
        .lines
        .iter()
        .filter(|l| l.quantity > 0)
        .map(|l| {
            serde_json::json!({
                "item_id": l.item_id,
                "name": l.name,
                "quantity": l.quantity,
                "unit_price": l.unit_price.map(price),
            })
        })
        .collect();
    let coupon = plan.coupon.map(
        |CouponPlan {
             percent,
             expires_at,
         }| { serde_json::json!({"percent": percent, "expires_at": expires_at}) },
    );
    serde_json::json!({
        "email": cart.email,
        "currency": cart.currency.map(|c| c.code()),
        "value_minor": cart.value,
        "value": price(cart.value),
        "lines": lines,
        "action": plan.kind.name(),
        "abandonment": abandonment,
        "step": plan.step,
        "recommended": recommended,
        "coupon": coupon,
    })
}
