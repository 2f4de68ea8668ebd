//! A decision log written into a store as the engine would have written it for simulated
//! shoppers (`cartback decisions simulate`): the shopper simulator's population abandons
//! carts, the engine's default fixed flow (reminder, reminder, 10 % coupon) with
//! `exploration` decides every step through the simulator's guardrails, and the carts,
//! decisions (with their recorded states and propensities), sent messages, unsubscribes and
//! orders land in the store's tables. It lets a shop try `cartback policy train --from-log`,
//! `cartback report` and `cartback ope` before its own log has grown, and gives their tests
//! a log whose truth is known.

use cartback_core::{Cart, CartState, Currency, Duration, Timestamp};
use cartback_policy::actions::{ActionCosts, Channel};
use cartback_policy::log_training::LoggedEpisode;
use cartback_policy::policies::{Exploring, FixedFlow, PolicyError};
use cartback_policy::simulator::{
    Simulator, SimulatorConfig, guardrail_name, sample_population, simulated_logged_episodes,
};
use cartback_store::{Decision, MessageStatus, OutboxMessage, Store, StoreError};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use std::collections::HashMap;

/// What to simulate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulatedLogParams {
    /// Abandoned carts (one simulated shopper each).
    pub carts: usize,
    /// Share of decisions drawn uniformly among the allowed actions (`[policy]
    /// exploration`), in [0, 1).
    pub exploration: f64,
    pub seed: u64,
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SimulatedLogSummary {
    pub carts: usize,
    pub decisions: usize,
    pub messages_sent: usize,
    pub unsubscribes: usize,
    pub recovered: usize,
    pub holdout: usize,
    pub first_decision: Option<Timestamp>,
    pub last_decision: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulatedLogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("simulator configuration: {0}")]
    Simulator(String),
    #[error("exploration: {0}")]
    Exploration(#[from] PolicyError),
    #[error("the store already holds {0} carts: give an empty one")]
    NotEmpty(u64),
    #[error("--carts must be at least 1")]
    NoCarts,
    #[error("encoding a simulated decision's state: {0}")]
    Encode(String),
    #[error("{0}")]
    Episode(String),
}

/// Draws `params.carts` shoppers from `config`'s population, logs an episode each under the
/// exploring fixed flow, and writes them into `store` (which must hold no cart).
pub fn write_simulated_log(
    store: &mut dyn Store,
    config: &SimulatorConfig,
    params: SimulatedLogParams,
) -> Result<SimulatedLogSummary, SimulatedLogError> {
    if params.carts == 0 {
        return Err(SimulatedLogError::NoCarts);
    }
    let held = store.cart_counts()?.values().sum::<u64>();
    if held > 0 {
        return Err(SimulatedLogError::NotEmpty(held));
    }
    let simulator =
        Simulator::new(config.clone()).map_err(|e| SimulatedLogError::Simulator(e.to_string()))?;
    let logging = Exploring::new(Box::new(FixedFlow::default()), params.exploration)?;
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let shoppers = sample_population(&simulator, params.carts, &mut rng);
    let episodes =
        simulated_logged_episodes(&simulator, &shoppers, &logging, "sim-cart-", &mut rng);
    write_episodes(store, &episodes)
}

/// Writes `episodes` (each checked first: [`LoggedEpisode::validate`]) as the engine records
/// them: a cart each (recovered an hour after its last decision when bought, else expired a
/// week after abandonment), a decision per step (decided at the step's nominal send time), a
/// sent outbox message per step whose message went out, and an `unsubscribe` tracking event
/// where one was recorded.
pub fn write_episodes(
    store: &mut dyn Store,
    episodes: &[LoggedEpisode],
) -> Result<SimulatedLogSummary, SimulatedLogError> {
    const HOUR: i64 = 3_600_000;
    for episode in episodes {
        episode.validate().map_err(SimulatedLogError::Episode)?;
    }
    let mut summary = SimulatedLogSummary {
        carts: episodes.len(),
        ..SimulatedLogSummary::default()
    };
    let carts: Vec<Cart> = episodes.iter().map(cart_of).collect();
    for chunk in carts.chunks(5_000) {
        store.upsert_carts(chunk)?;
    }
    // decision id → unsubscribed, for every decision whose message went out.
    let mut sent: HashMap<i64, bool> = HashMap::new();
    for (episode, cart) in episodes.iter().zip(&carts) {
        summary.recovered += usize::from(episode.bought);
        summary.holdout += usize::from(episode.holdout());
        for (step, logged) in episode.steps.iter().enumerate() {
            let observed = &logged.state.observed;
            let value = observed.features.cart_value_minor;
            let contact = logged.action.is_contact();
            let channel = logged.action.channel().map(|c| match c {
                Channel::Email => "email".to_owned(),
                Channel::Webhook => "webhook".to_owned(),
            });
            let guardrail = {
                let names: Vec<&str> = logged.changed_by.iter().map(guardrail_name).collect();
                if names.is_empty() {
                    "passed".to_owned()
                } else {
                    names.join(",")
                }
            };
            let decision = Decision {
                id: 0,
                cart_id: cart.id.clone(),
                user_id: cart.user_id.clone(),
                abandonment: 1,
                step: step as u32,
                decided_at: observed.send_at,
                action: logged.action.name().into(),
                channel: channel.clone(),
                send_at: contact.then_some(observed.send_at),
                propensity: logged.propensity,
                scores: serde_json::json!({}),
                reasons: vec!["simulated shopper (cartback decisions simulate)".into()],
                guardrail,
                holdout: episode.holdout(),
                discount_minor: if contact {
                    ActionCosts::discount_given(logged.action, value)
                } else {
                    0
                },
                state: Some(
                    serde_json::to_value(&logged.state)
                        .map_err(|e| SimulatedLogError::Encode(e.to_string()))?,
                ),
            };
            let message = logged.message_sent.then(|| OutboxMessage {
                id: 0,
                idempotency_key: format!("{}/1/{step}", cart.id),
                decision_id: 0,
                cart_id: cart.id.clone(),
                user_id: cart.user_id.clone(),
                channel: channel.clone().unwrap_or_default(),
                payload: serde_json::json!({}),
                status: MessageStatus::Pending,
                due_at: observed.send_at,
                attempts: 0,
                last_error: None,
                sent_at: None,
                cancel_reason: None,
                attributed_order: None,
            });
            if let Some(id) = store.record_decision(&decision, message.as_ref())? {
                summary.decisions += 1;
                if message.is_some() {
                    sent.insert(id, logged.unsubscribed);
                }
            }
            let at = observed.send_at;
            summary.first_decision = Some(summary.first_decision.map_or(at, |f| f.min(at)));
            summary.last_decision = Some(summary.last_decision.map_or(at, |l| l.max(at)));
        }
    }
    let mut after = 0;
    loop {
        let page = store.message_log(after, 5_000)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for message in page {
            let Some(&unsubscribed) = sent.get(&message.decision_id) else {
                continue;
            };
            store.claim(message.id)?;
            store.mark_sent(message.id, message.due_at)?;
            summary.messages_sent += 1;
            if unsubscribed {
                store.record_tracking(
                    message.id,
                    "unsubscribe",
                    Timestamp(message.due_at.as_millis() + HOUR),
                )?;
                summary.unsubscribes += 1;
            }
        }
    }
    Ok(summary)
}

/// The cart of an episode: abandoned at the shopper's time, recovered an hour after the
/// last decision when bought, else expired a week after abandonment.
fn cart_of(episode: &LoggedEpisode) -> Cart {
    let first = &episode.steps[0].state.observed;
    let abandoned_at = first.abandoned_at;
    let last_decision = episode
        .steps
        .last()
        .map_or(abandoned_at, |s| s.state.observed.send_at);
    let minutes = |m: i64| Duration::minutes(m);
    Cart {
        id: episode.cart_id.clone(),
        user_id: episode.cart_id.replacen("sim-cart-", "sim-user-", 1),
        state: if episode.bought {
            CartState::Recovered
        } else {
            CartState::Expired
        },
        lines: Vec::new(),
        currency: Some(Currency::EUR),
        value: first.features.cart_value_minor,
        adds: 1,
        removes: 0,
        views: 2,
        checkout_started: false,
        coupons_entered: 0,
        created_at: abandoned_at - minutes(35),
        last_activity: abandoned_at - minutes(30),
        abandoned_at: Some(abandoned_at),
        abandonments: 1,
        closed_at: Some(if episode.bought {
            last_decision + minutes(60)
        } else {
            abandoned_at + Duration::days(7)
        }),
        order_id: episode.bought.then(|| format!("order-{}", episode.cart_id)),
        order_value: episode.bought.then_some(episode.order_value_minor),
        order_coupon: None,
        email: None,
        timezone: None,
        direct_purchase: false,
        order_cancelled: false,
        referrers: Vec::new(),
        session_at_abandonment: None,
    }
}
