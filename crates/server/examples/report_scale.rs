//! How long does the report take on a big shop? Fills a fresh store (SQLite by default, or
//! the `postgres://` URL given as the second argument) with N abandoned carts, each with a
//! step-0 decision (10 % holdout) recording its policy state as the engine does, a sent
//! message for the treated ones (a reminder, or one in eight times another first action
//! drawn uniformly, so that the off-policy section has something to evaluate), opens and
//! clicks on some and a recovery on some, then times `build_report` — what `cartback
//! report`, `GET /v1/report` and the dashboard run — three times without its off-policy
//! section and three times with it, printing each run's peak resident memory (on Linux: the
//! process's high-water mark, reset before each run).
//!
//! `cargo run --release -p cartback-server --example report_scale -- 100000 [postgres://…]`
//! (a PostgreSQL database it fills must be empty; drop its tables afterwards).

use cartback_core::{Cart, CartState, Currency, Duration, Timestamp};
use cartback_policy::actions::{ActionCosts, ActionKind};
use cartback_policy::ope::LoggedState;
use cartback_policy::policies::ObservedState;
use cartback_policy::simulator::CartFeatures;
use cartback_server::outcomes::Booking;
use cartback_server::report::{build_report, build_report_without_off_policy};
use cartback_store::{Decision, MessageStatus, OutboxMessage};
use std::time::Instant;

/// 2026-03-02T00:00:00Z.
const T0: i64 = 1_772_409_600_000;
const MINUTE: i64 = 60_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let location = args
        .next()
        .unwrap_or_else(|| dir.path().join("scale.db").display().to_string());
    let mut store = cartback_store::open(&location)?;
    if store.cart_counts()?.values().sum::<u64>() > 0 {
        return Err(format!("{location} already holds carts: give an empty store").into());
    }

    let fill = Instant::now();
    let carts: Vec<Cart> = (0..n).map(cart).collect();
    for chunk in carts.chunks(10_000) {
        store.upsert_carts(chunk)?;
    }
    for (i, cart) in carts.iter().enumerate() {
        let holdout = i.is_multiple_of(10);
        // ε-greedy logging: the reminder with probability 7/8 + 1/64, any other action 1/64.
        let explored = i % 8 == 3;
        let action = match (holdout, explored) {
            (true, _) => ActionKind::DoNothing,
            (false, true) => ActionKind::ALL[(i / 8) % 8],
            (false, false) => ActionKind::ReminderEmail,
        };
        let propensity = match (holdout, action) {
            (true, _) => 1.0,
            (false, ActionKind::ReminderEmail) => 7.0 / 8.0 + 1.0 / 64.0,
            (false, _) => 1.0 / 64.0,
        };
        let observed = observed(cart);
        let state = if holdout {
            LoggedState::suppressed(observed)
        } else {
            LoggedState::unchanged(observed)
        };
        let decision = Decision {
            id: 0,
            cart_id: cart.id.clone(),
            user_id: cart.user_id.clone(),
            abandonment: 1,
            step: 0,
            decided_at: Timestamp(cart.abandoned_at.unwrap().0 + 60 * MINUTE),
            action: action.name().into(),
            channel: action.channel().map(|c| {
                if c == cartback_policy::actions::Channel::Webhook {
                    "webhook"
                } else {
                    "email"
                }
                .to_owned()
            }),
            send_at: None,
            propensity,
            scores: serde_json::json!({}),
            reasons: vec!["fixed flow".into()],
            guardrail: if holdout { "holdout" } else { "passed" }.into(),
            holdout,
            discount_minor: 0,
            state: Some(serde_json::to_value(state)?),
        };
        let message = (action != ActionKind::DoNothing).then(|| OutboxMessage {
            id: 0,
            idempotency_key: format!("{}/1/0", cart.id),
            decision_id: 0,
            cart_id: cart.id.clone(),
            user_id: cart.user_id.clone(),
            channel: decision.channel.clone().unwrap_or_default(),
            payload: serde_json::json!({}),
            status: MessageStatus::Pending,
            due_at: decision.decided_at,
            attempts: 0,
            last_error: None,
            sent_at: None,
            cancel_reason: None,
            attributed_order: None,
        });
        store.record_decision(&decision, message.as_ref())?;
    }
    let mut after = 0;
    loop {
        let page = store.message_log(after, 5_000)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for message in page {
            store.claim(message.id)?;
            store.mark_sent(message.id, message.due_at)?;
            if message.id % 3 == 0 {
                store.record_tracking(message.id, "open", message.due_at)?;
            }
            if message.id % 11 == 0 {
                store.record_tracking(message.id, "click", message.due_at)?;
            }
        }
    }
    println!(
        "filled {n} abandoned carts, decisions and reminders in {:.1} s ({location})",
        fill.elapsed().as_secs_f64()
    );

    let booking = Booking {
        costs: ActionCosts::default(),
        attribution_window: Duration::days(7),
        as_of: Timestamp(T0 + 60 * 86_400_000),
    };
    drop(carts);
    for off_policy in [false, true] {
        for run in 1..=3 {
            reset_peak_memory();
            let started = Instant::now();
            let report = if off_policy {
                build_report(&mut *store, &booking, Default::default(), None)?
            } else {
                build_report_without_off_policy(&mut *store, &booking, Default::default(), None)?
            };
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "run {run} {}: report of {} carts, {} abandonments, {} messages in {seconds:.3} \
                 s ({:.0} carts/s, peak memory {}); {}",
                if off_policy {
                    "with off-policy"
                } else {
                    "without off-policy"
                },
                report.carts.carts,
                report.lift.treated.abandonments + report.lift.holdout.abandonments,
                report.messages.messages,
                n as f64 / seconds,
                peak_memory(),
                report.lift.verdict
            );
            if let Some(section) = &report.off_policy {
                println!("  off-policy: {}", section.verdict);
            }
        }
    }
    Ok(())
}

/// Resets the process's peak resident memory (Linux; elsewhere nothing happens).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory since the last reset (`VmHWM`), or "unknown".
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.0} MB", kilobytes / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// What the policy saw of `cart` at its first decision step.
fn observed(cart: &Cart) -> ObservedState {
    let abandoned_at = cart.abandoned_at.unwrap();
    ObservedState {
        features: CartFeatures {
            cart_value_minor: cart.value,
            predicted_propensity: 0.05 + (cart.value % 7) as f64 / 100.0,
            returning_customer: cart.value % 3 == 0,
            mobile: cart.value % 2 == 0,
            email_consent: true,
            webhook_consent: true,
            abandoned_hour: ((abandoned_at.0 / 3_600_000) % 24) as u32,
            history: Default::default(),
            session: Default::default(),
        },
        step: 0,
        n_steps: 3,
        abandoned_at,
        send_at: Timestamp(abandoned_at.0 + 60 * MINUTE),
        send_hour_local: (((abandoned_at.0 + 60 * MINUTE) / 3_600_000) % 24) as u32,
        messages_sent: 0,
        coupon_sent_percent: 0,
        subscribed: true,
    }
}

/// The `i`-th abandoned cart, created over 40 days: one treated cart in 12 recovered, one
/// held-out cart in 25 (every 250th cart; the holdout is every 10th).
fn cart(i: usize) -> Cart {
    let created = T0 + (i as i64 * 37 * MINUTE) % (40 * 86_400_000);
    let holdout = i.is_multiple_of(10);
    let recovered = if holdout {
        i.is_multiple_of(250)
    } else {
        i % 12 == 1
    };
    Cart {
        id: format!("c{i}"),
        user_id: format!("u{}", i / 2),
        state: if recovered {
            CartState::Recovered
        } else {
            CartState::Expired
        },
        lines: Vec::new(),
        currency: Some(Currency::EUR),
        value: 2_000 + (i as i64 * 7_919) % 12_000,
        adds: 1,
        removes: 0,
        views: 2,
        checkout_started: false,
        coupons_entered: 0,
        created_at: Timestamp(created),
        last_activity: Timestamp(created + 5 * MINUTE),
        abandoned_at: Some(Timestamp(created + 35 * MINUTE)),
        abandonments: 1,
        closed_at: Some(Timestamp(created + 26 * 60 * MINUTE)),
        order_id: recovered.then(|| format!("o{i}")),
        order_value: None,
        order_coupon: None,
        email: None,
        timezone: None,
        direct_purchase: false,
        order_cancelled: false,
        referrers: Vec::new(),
        session_at_abandonment: None,
    }
}
