//! The real-time engine: owns the event store, the engine records and the cart tracker
//! behind one lock, so ingest, timers and the dispatcher's send-time re-check are
//! serialised. Events are stored (durably) before they are folded; a cart that becomes
//! abandoned gets a decision, written with its outbox message in one transaction; a
//! purchase cancels pending messages and is attributed to the last message sent inside the
//! attribution window. Timers are not persisted on their own: at start-up the tracker is
//! rebuilt from the stored events, which re-derives every timer, and decisions already
//! taken are recognised by their (cart, abandonment) key.

use crate::clock::Clock;
use crate::metrics::{Metrics, Snapshot};
use crate::policy::{DecisionPolicy, in_holdout};
use crate::records::{
    Decision, EngineStore, MessageStatus, OutboxMessage, RecordsErasure, RecordsError,
};
use crate::worker::DropOffRuntime;
use cartback_core::{
    Cart, CartState, CartTracker, CartTransition, Duration, Event, EventId, EventKind, Timestamp,
    TrackerConfig,
};
use cartback_recommend::{
    ExclusionPolicy, PopularityRecommender, RecommendationRequest, Recommender,
};
use cartback_store::{ErasureReport, Store, StoreError};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Records(#[from] RecordsError),
    #[error("tracker configuration: {0}")]
    Tracker(String),
}

/// The engine's knobs (from [`crate::config::ServerConfig`]).
#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub tracker: TrackerConfig,
    pub holdout_fraction: f64,
    pub max_decision_lag: Duration,
}

struct Core {
    store: DropOffRuntime<Box<dyn Store>>,
    records: DropOffRuntime<Box<dyn EngineStore>>,
    tracker: CartTracker,
    seen: HashSet<EventId>,
    /// Units ordered per product: the popularity fallback for recommendations.
    ordered_units: HashMap<String, f64>,
    /// Popularity ranking built from `ordered_units`; dropped when an order arrives.
    popular: Option<PopularityRecommender>,
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
    policy: Box<dyn DecisionPolicy>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    metrics: Arc<Metrics>,
    recommendations: Recommendations,
}

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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FullErasure {
    pub events: u64,
    pub carts: u64,
    pub decisions: u64,
    pub messages: u64,
    pub consents: u64,
    pub tracking_events: u64,
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
        records: Box<dyn EngineStore>,
        policy: Box<dyn DecisionPolicy>,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Engine, EngineError> {
        let tracker =
            CartTracker::new(settings.tracker).map_err(|e| EngineError::Tracker(e.to_string()))?;
        let engine = Engine {
            core: Mutex::new(Core {
                store: DropOffRuntime::new(store),
                records: DropOffRuntime::new(records),
                tracker,
                seen: HashSet::new(),
                ordered_units: HashMap::new(),
                popular: None,
            }),
            policy,
            clock,
            settings,
            metrics,
            recommendations: Recommendations {
                count: 3,
                model: None,
            },
        };
        engine.rebuild(&mut engine.lock())?;
        Ok(engine)
    }

    /// Sets how many products each message recommends and from which model (`None`: the
    /// products ordered most so far, so messages carry products before any model exists).
    pub fn set_recommendations(&mut self, count: usize, model: Option<Arc<dyn Recommender>>) {
        self.recommendations = Recommendations { count, model };
    }

    /// Products to show in a message about `cart`: never what is in it, nor (unless the
    /// model's shop sells consumables) what the shopper already bought.
    fn recommend_for(&self, core: &mut Core, cart: &Cart) -> Vec<serde_json::Value> {
        let count = self.recommendations.count;
        if count == 0 {
            return Vec::new();
        }
        let request = RecommendationRequest {
            user_id: Some(cart.user_id.clone()),
            cart: cart.lines.iter().map(|l| l.item_id.clone()).collect(),
            k: count,
            ..RecommendationRequest::default()
        };
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
        match found {
            Ok(items) => items
                .into_iter()
                .map(|r| serde_json::json!({"id": r.item_id, "score": r.score, "source": r.source}))
                .collect(),
            Err(err) => {
                tracing::warn!(cart = %cart.id, "no recommendations: {err}");
                Vec::new()
            }
        }
    }

    /// Replaces the tracker by one folded from every stored event, and handles what the
    /// replay finds (decisions already taken are recognised and not repeated).
    fn rebuild(&self, core: &mut Core) -> Result<(), EngineError> {
        core.tracker = CartTracker::new(self.settings.tracker)
            .map_err(|e| EngineError::Tracker(e.to_string()))?;
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
        core.tracker.flush(self.clock.now(), &mut transitions);
        self.handle_transitions(core, &transitions)
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Stores the events (dedupe by id), then folds the new ones and acts on the transitions.
    /// When this returns `Ok`, every event is durably stored.
    pub fn ingest(&self, events: Vec<Event>) -> Result<IngestOutcome, EngineError> {
        let mut core = self.lock();
        let core = &mut *core;
        let report = core.store.insert_events(&events)?;
        let mut transitions = Vec::new();
        let mut touched_users = Vec::new();
        for event in events {
            if core.seen.insert(event.id) {
                core.count_order(&event);
                touched_users.push(event.user_id.clone());
                core.tracker.observe(event, &mut transitions);
            }
        }
        core.tracker.flush(self.clock.now(), &mut transitions);
        touched_users.sort_unstable();
        touched_users.dedup();
        let mut carts: Vec<Cart> = touched_users
            .iter()
            .filter_map(|user| core.tracker.open_cart_of(user).cloned())
            .collect();
        carts.sort_by(|a, b| a.id.cmp(&b.id));
        carts.dedup_by(|a, b| a.id == b.id);
        if !carts.is_empty() {
            core.store.upsert_carts(&carts)?;
        }
        self.handle_transitions(core, &transitions)?;
        self.metrics
            .events_ingested
            .fetch_add(report.inserted, Ordering::Relaxed);
        self.metrics
            .events_duplicate
            .fetch_add(report.duplicates, Ordering::Relaxed);
        Ok(IngestOutcome {
            accepted: report.inserted,
            duplicates: report.duplicates,
        })
    }

    /// Advances the tracker to the clock's now (abandonment timers); called every tick.
    pub fn tick(&self) -> Result<usize, EngineError> {
        let mut core = self.lock();
        let core = &mut *core;
        let mut transitions = Vec::new();
        core.tracker.flush(self.clock.now(), &mut transitions);
        self.handle_transitions(core, &transitions)?;
        Ok(transitions.len())
    }

    fn handle_transitions(
        &self,
        core: &mut Core,
        transitions: &[CartTransition],
    ) -> Result<(), EngineError> {
        if transitions.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut changed: Vec<Cart> = Vec::new();
        for transition in transitions {
            let Some(cart) = core.tracker.cart(&transition.cart_id).cloned() else {
                continue;
            };
            match transition.to {
                CartState::Abandoned if cart.state == CartState::Abandoned => {
                    self.decide(core, &cart, transition.at, now)?;
                }
                CartState::Purchased | CartState::Recovered => {
                    core.records.cancel_cart(&cart.id, "purchased")?;
                    let order = cart.order_id.clone().unwrap_or_else(|| cart.id.clone());
                    let since = transition.at - self.settings.tracker.attribution_window;
                    core.records.attribute(&cart.user_id, &order, since)?;
                }
                _ => {}
            }
            if !changed.iter().any(|c| c.id == cart.id) {
                changed.push(cart);
            }
        }
        core.store.upsert_carts(&changed)?;
        Ok(())
    }

    fn decide(
        &self,
        core: &mut Core,
        cart: &Cart,
        abandoned_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if now - abandoned_at > self.settings.max_decision_lag {
            return Ok(()); // replayed history: too late to act on
        }
        let mut decision = Decision {
            id: 0,
            cart_id: cart.id.clone(),
            user_id: cart.user_id.clone(),
            abandonment: cart.abandonments.max(1),
            decided_at: now,
            action: "none".into(),
            channel: None,
            send_at: None,
            propensity: 1.0,
            scores: serde_json::json!({}),
            reasons: Vec::new(),
            guardrail: "passed".into(),
            holdout: false,
        };
        if in_holdout(&cart.user_id, self.settings.holdout_fraction) {
            decision.holdout = true;
            decision.guardrail = "holdout".into();
            decision
                .reasons
                .push("holdout group: tracked, never contacted".into());
            core.records.record_decision(&decision, None)?;
            return Ok(());
        }
        let proposal = self.policy.decide(cart, abandoned_at, now);
        decision.action = proposal.action;
        decision.channel = proposal.channel.clone();
        decision.send_at = proposal.send_at;
        decision.propensity = proposal.propensity;
        decision.scores = proposal.scores;
        decision.reasons = proposal.reasons;
        decision
            .reasons
            .insert(0, format!("policy: {}", self.policy.name()));
        let message = match (&proposal.channel, proposal.send_at) {
            (Some(channel), Some(send_at)) => {
                let blocked = if core.records.consent(&cart.user_id, channel)? == Some(false) {
                    Some("no_consent")
                } else if channel == "email" && cart.email.is_none() {
                    Some("no_address")
                } else {
                    None
                };
                match blocked {
                    Some(guardrail) => {
                        decision.guardrail = guardrail.into();
                        decision
                            .reasons
                            .push(format!("guardrail {guardrail}: not sent"));
                        None
                    }
                    None => Some(OutboxMessage {
                        id: 0,
                        idempotency_key: format!(
                            "{}/{}/{}",
                            cart.id, decision.abandonment, decision.action
                        ),
                        decision_id: 0,
                        cart_id: cart.id.clone(),
                        user_id: cart.user_id.clone(),
                        channel: channel.clone(),
                        payload: cart_snapshot(cart, self.recommend_for(core, cart)),
                        status: MessageStatus::Pending,
                        due_at: send_at,
                        attempts: 0,
                        last_error: None,
                        sent_at: None,
                        cancel_reason: None,
                        attributed_order: None,
                    }),
                }
            }
            _ => None,
        };
        core.records.record_decision(&decision, message.as_ref())?;
        Ok(())
    }

    /// Messages due now (for the dispatcher).
    pub fn due_messages(&self, limit: usize) -> Result<Vec<OutboxMessage>, EngineError> {
        let now = self.clock.now();
        Ok(self.lock().records.due_messages(now, limit)?)
    }

    /// The send-time re-check: a purchase, a return to the cart, an unsubscribe or a consent
    /// withdrawal since scheduling cancels the message; otherwise it is claimed for sending.
    pub fn check_and_claim(&self, message_id: i64) -> Result<SendCheck, EngineError> {
        let mut core = self.lock();
        let core = &mut *core;
        let Some(message) = core.records.message(message_id)? else {
            return Ok(SendCheck::Gone);
        };
        let reason = match core.tracker.cart(&message.cart_id).map(|c| c.state) {
            None => Some("cart_unknown"),
            Some(CartState::Purchased | CartState::Recovered) => Some("purchased"),
            Some(CartState::Expired) => Some("expired"),
            Some(CartState::Active | CartState::Idle) => Some("shopper_returned"),
            Some(CartState::Abandoned) => None,
        };
        let reason = match reason {
            Some(reason) => Some(reason),
            None if core.records.consent(&message.user_id, &message.channel)? == Some(false) => {
                Some("consent_withdrawn")
            }
            None => None,
        };
        if let Some(reason) = reason {
            if core.records.cancel(message_id, reason)? {
                self.metrics
                    .messages_cancelled
                    .fetch_add(1, Ordering::Relaxed);
            }
            return Ok(SendCheck::Cancelled(reason.to_owned()));
        }
        if !core.records.claim(message_id)? {
            return Ok(SendCheck::Gone);
        }
        Ok(core
            .records
            .message(message_id)?
            .map_or(SendCheck::Gone, |m| SendCheck::Send(Box::new(m))))
    }

    pub fn with_records<T>(
        &self,
        f: impl FnOnce(&mut dyn EngineStore) -> Result<T, RecordsError>,
    ) -> Result<T, EngineError> {
        let mut core = self.lock();
        Ok(f(core.records.as_mut())?)
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

    /// Removes every trace of the user: events, carts, decisions, messages, consent,
    /// tracking; then rebuilds the tracker from the remaining events so the user's carts
    /// are gone from memory too (erasure is rare; the rebuild costs one scan).
    pub fn erase_user(&self, user_id: &str) -> Result<FullErasure, EngineError> {
        let mut core = self.lock();
        let ErasureReport { events, carts } = core.store.erase_user(user_id)?;
        let RecordsErasure {
            decisions,
            messages,
            consents,
            tracking_events,
        } = core.records.erase_user(user_id)?;
        self.rebuild(&mut core)?;
        Ok(FullErasure {
            events,
            carts,
            decisions,
            messages,
            consents,
            tracking_events,
        })
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
            decisions_by_action: core.records.decision_counts()?,
            messages_by_status: core.records.message_counts()?,
        })
    }
}

/// What a message shows, frozen at decision time.
fn cart_snapshot(cart: &Cart, recommended: Vec<serde_json::Value>) -> serde_json::Value {
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
    serde_json::json!({
        "email": cart.email,
        "currency": cart.currency.map(|c| c.code()),
        "value_minor": cart.value,
        "value": price(cart.value),
        "lines": lines,
        "recommended": recommended,
        "coupon": null,
    })
}
