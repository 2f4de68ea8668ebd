//! Learning from the decision log (`cartback_server::learning::read_logged_episodes`) on
//! the log of the real engine, on a clock the test sets: shoppers abandon carts, the fixed
//! flow with exploration decides (webhook deliveries), some buy before their first message
//! goes out (it is cancelled), after it or after the last step, one unsubscribes through
//! the tracking endpoint, the holdout is never contacted, one user is erased, and one cart
//! is abandoned too late to be settled (then skips a step the clock jumped past).
//! Every episode's steps are the engine's decisions (order, action, propensity, recorded
//! state and the policy's proposal, guardrails, what each step's messages did and cost),
//! its outcome is the one the report books for the same abandonment, and what was left out
//! is counted by reason (hand-written records give the reasons the engine does not make).

mod support;

use cartback_core::{Duration, Timestamp};
use cartback_policy::actions::{ActionCosts, ActionKind};
use cartback_policy::log_training::LoggedEpisode;
use cartback_policy::ope::LoggedState;
use cartback_policy::simulator::guardrail_name;
use cartback_server::RunningServer;
use cartback_server::decide::in_holdout;
use cartback_server::learning::read_logged_episodes;
use cartback_server::outcomes::{
    Booking, KeepState, LoggedAbandonment, OutcomeFacts, read_abandonments,
};
use cartback_server::report::build_report;
use cartback_store::{Decision, MessageStatus, OutboxMessage, StoreError};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);
/// 2026-06-10T10:00:00Z, a Wednesday.
const T0: Timestamp = Timestamp(1_781_085_600_000);
const HOLDOUT: f64 = 0.3;

async fn decisions_of(server: &RunningServer, cart: &str) -> Vec<serde_json::Value> {
    decisions(server, &cart.replace('#', "%23")).await
}

/// Waits until every cart of `carts` has a decision for `step`.
async fn wait_for_step(server: &RunningServer, carts: &[&str], step: u64) {
    for cart in carts {
        eventually(&format!("step {step} of {cart}"), WAIT, || async {
            decisions_of(server, cart)
                .await
                .iter()
                .any(|d| d["step"] == json!(step))
                .then_some(())
        })
        .await;
    }
}

/// Waits until no message of `carts` due by `now` is still pending or being sent.
async fn wait_for_messages(server: &RunningServer, carts: &[&str], now: Timestamp) {
    for cart in carts {
        eventually(&format!("the due messages of {cart}"), WAIT, || async {
            let found = decisions_of(server, cart).await;
            found
                .iter()
                .flat_map(|d| d["messages"].as_array().cloned().unwrap_or_default())
                .all(|m| {
                    m["due_at"].as_i64().unwrap() > now.as_millis()
                        || !matches!(m["status"].as_str(), Some("pending" | "sending"))
                })
                .then_some(())
        })
        .await;
    }
}

async fn wait_for_state(server: &RunningServer, user: &str, states: &[&str]) {
    eventually(&format!("{user}'s cart {states:?}"), WAIT, || async {
        let state = user_carts(server, user).await[0]["state"].clone();
        states.iter().any(|s| state == json!(s)).then_some(())
    })
    .await;
}

/// An `order_completed` of `user`'s cart with the order total `total`, stamped at `at`.
fn order(user: &str, total: i64, at: Timestamp) -> serde_json::Value {
    let mut e = order_at(user, "mug", at);
    e["total"] = json!(total);
    e
}

/// What the proposal line of a decision's reasons names (`proposed X with probability`).
fn proposed_in_reasons(decision: &Decision) -> Option<ActionKind> {
    let line = decision
        .reasons
        .iter()
        .find_map(|r| r.split("; proposed ").nth(1))?;
    let name = line.split(" with probability").next().unwrap();
    Some(ActionKind::from_name(name).unwrap_or_else(|| panic!("unknown proposal in {line}")))
}

#[tokio::test]
async fn episodes_read_from_the_engines_log_are_its_decisions_and_the_reports_outcomes() {
    let (hook_url, hooks) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    config.tracker.lateness = Duration::ZERO;
    config.flow.channel = "webhook".into();
    config.webhook.url = hook_url;
    config.webhook.secret = "hook-secret".into();
    config.policy.exploration = 0.3;
    config.holdout_fraction = HOLDOUT;
    config.costs.email_minor = 3.0;
    config.costs.unsubscribe_loss_minor = 250.0;
    let db = config.db.clone();
    let costs = config.costs;
    let window = config.tracker.attribution_window;
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;

    // Twenty shoppers abandon a cart each (every price different), in UTC: no quiet hours.
    let users: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
    let price = |i: usize| 1_999 + 500 * i as i64;
    let held: Vec<bool> = users.iter().map(|u| in_holdout(u, HOLDOUT)).collect();
    let treated: Vec<usize> = (0..users.len()).filter(|&i| !held[i]).collect();
    let holdout: Vec<usize> = (0..users.len()).filter(|&i| held[i]).collect();
    assert!(
        holdout.len() >= 2 && treated.len() >= 12,
        "{} held out of 20",
        holdout.len()
    );
    // Roles: a treated shopper buys after the first reminder, six after the last step, one
    // is erased; a held-out shopper buys at the first reminder's time. Of the others, one
    // whose first message is waiting buys before it goes out, one unsubscribes.
    let mut early_buyers = vec![treated[0], holdout[0]];
    let late_buyers: Vec<usize> = treated[1..7].to_vec();
    let erased = treated[7];
    let mut plain: Vec<usize> = treated[8..].to_vec();
    let total = |i: usize| price(i) - 123;

    let events: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, u)| add_to_cart_at(u, "mug", price(i), T0, "UTC"))
        .collect();
    post(&server, json!(events)).await;
    let mut carts = Vec::new();
    for user in &users {
        carts.push(cart_of(&server, user).await);
    }
    let cart = |i: usize| carts[i].as_str();
    let all: Vec<&str> = carts.iter().map(String::as_str).collect();

    // Step 0 at the abandonment; its messages go out an hour later.
    let abandoned = T0 + Duration::minutes(30);
    clock.set(abandoned + Duration::minutes(1));
    wait_for_step(&server, &all, 0).await;
    let mut quick_buyer = None;
    for (at, &i) in plain.iter().enumerate() {
        let found = decisions_of(&server, cart(i)).await;
        if found[0]["messages"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
        {
            quick_buyer = Some(plain.remove(at));
            break;
        }
    }
    let quick_buyer = quick_buyer.expect("a plain shopper's first message is waiting");
    let at = abandoned + Duration::minutes(45);
    clock.set(at);
    post(&server, order(&users[quick_buyer], total(quick_buyer), at)).await;
    wait_for_state(&server, &users[quick_buyer], &["recovered"]).await;
    early_buyers.push(quick_buyer);
    let now = abandoned + Duration::hours(1) + Duration::minutes(1);
    clock.set(now);
    wait_for_messages(&server, &all, now).await;

    // One plain shopper whose first message went out unsubscribes through its link.
    let received: Vec<serde_json::Value> = hooks
        .lock()
        .unwrap()
        .iter()
        .map(|h| serde_json::from_str(&h.body).unwrap())
        .collect();
    let (unsubscriber, unsubscribed_message) = plain
        .iter()
        .find_map(|&i| {
            let hook = received.iter().find(|h| h["cart_id"] == json!(cart(i)))?;
            Some((i, hook.clone()))
        })
        .expect("a plain shopper's first message went out");
    let link = unsubscribed_message["unsubscribe_link"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", &url(&server, ""));
    assert_eq!(client().post(&link).send().await.unwrap().status(), 200);
    let unsubscribed_message = unsubscribed_message["message_id"].as_i64().unwrap();

    // The erased user's records go, whatever the engine had planned for the cart.
    let erasure = erase_user(&server, &users[erased]).await;
    assert_eq!(erasure["carts"], json!(1), "{erasure}");

    // The other early buyers order two hours after abandoning.
    let at = abandoned + Duration::hours(2);
    clock.set(at);
    let orders: Vec<_> = early_buyers[..2]
        .iter()
        .map(|&i| order(&users[i], total(i), at))
        .collect();
    post(&server, json!(orders)).await;
    for &i in &early_buyers[..2] {
        wait_for_state(&server, &users[i], &["recovered"]).await;
    }

    // Step 1 a day after the abandonment (the unsubscriber's ends the flow), step 2 three
    // days after it; the late buyers order an hour after that.
    let continuing: Vec<&str> = late_buyers.iter().chain(&plain).map(|&i| cart(i)).collect();
    let now = abandoned + Duration::hours(24) + Duration::minutes(1);
    clock.set(now);
    wait_for_step(&server, &continuing, 1).await;
    wait_for_messages(&server, &all, now).await;
    let to_the_end: Vec<&str> = continuing
        .iter()
        .copied()
        .filter(|&c| c != cart(unsubscriber))
        .collect();
    let now = abandoned + Duration::hours(72) + Duration::minutes(1);
    clock.set(now);
    wait_for_step(&server, &to_the_end, 2).await;
    wait_for_messages(&server, &all, now).await;
    let at = abandoned + Duration::hours(73);
    clock.set(at);
    let orders: Vec<_> = late_buyers
        .iter()
        .map(|&i| order(&users[i], total(i), at))
        .collect();
    post(&server, json!(orders)).await;
    for &i in &late_buyers {
        wait_for_state(&server, &users[i], &["recovered"]).await;
    }

    // A shopper abandons four days later: not settled when the log is read.
    let late_at = abandoned + Duration::days(4);
    clock.set(late_at);
    post(
        &server,
        json!([add_to_cart_at("late", "mug", 7_777, late_at, "UTC")]),
    )
    .await;
    let late_cart = cart_of(&server, "late").await;
    clock.set(late_at + Duration::minutes(31));
    wait_for_step(&server, &[late_cart.as_str()], 0).await;

    // Every window of the first wave closes.
    let as_of = abandoned + Duration::days(8);
    clock.set(as_of);
    for (i, user) in users.iter().enumerate() {
        if i != erased {
            wait_for_state(&server, user, &["recovered", "expired"]).await;
        }
    }
    let mut everyone = all.clone();
    everyone.push(&late_cart);
    wait_for_messages(&server, &everyone, as_of).await;
    server.shutdown().await.unwrap();

    let mut store = cartback_store::open(&db).unwrap();
    let booking = Booking {
        costs,
        attribution_window: window,
        as_of,
    };
    let logged = store.decision_log(0, 10_000).unwrap();
    let messages = store.message_log(0, 10_000).unwrap();
    let mut by_abandonment: BTreeMap<(String, u32), Vec<Decision>> = BTreeMap::new();
    for decision in &logged {
        by_abandonment
            .entry((decision.cart_id.clone(), decision.abandonment))
            .or_default()
            .push(decision.clone());
    }
    assert!(
        logged.iter().all(|d| d.cart_id != cart(erased)),
        "the erased user's decisions are gone"
    );
    assert!(logged.iter().any(|d| d.cart_id == late_cart));

    let read = read_logged_episodes(&mut *store, &booking).unwrap();
    let counts = &read.counts;
    assert_eq!(counts.decisions, logged.len() as u64);
    assert_eq!(counts.abandonments, by_abandonment.len() as u64);
    // The first wave but the erased user; the late cart is not settled.
    assert_eq!(counts.episodes, users.len() as u64 - 1, "{counts:?}");
    assert_eq!(counts.unsettled, 1, "{counts:?}");
    assert_eq!(counts.holdout, holdout.len() as u64, "{counts:?}");
    assert_eq!(
        (
            counts.without_state,
            counts.unknown_action,
            counts.broken_steps,
            counts.erased
        ),
        (0, 0, 0, 0),
        "{counts:?}"
    );
    assert_eq!(read.episodes.len() as u64, counts.episodes);

    // What the report books for each abandonment.
    let facts = OutcomeFacts::read(&mut *store, &mut |_| {}).unwrap();
    let mut booked = BTreeMap::new();
    read_abandonments::<StoreError>(
        &mut *store,
        &booking,
        &facts,
        KeepState::Nothing,
        |abandonment| {
            if let LoggedAbandonment::Read { outcome, .. } = abandonment {
                booked.insert(
                    format!("{}#{}", outcome.cart_id, outcome.abandonment),
                    outcome,
                );
            }
            Ok(())
        },
    )
    .unwrap();

    let mut coupons_bought = 0;
    let mut seen = BTreeSet::new();
    for episode in &read.episodes {
        let i = carts
            .iter()
            .position(|c| *c == episode.cart_id)
            .unwrap_or_else(|| panic!("{} is not a first-wave cart", episode.id));
        assert!(i != erased);
        assert!(seen.insert(i), "two episodes of {}", episode.id);
        let user = &users[i];
        assert_eq!(episode.id, format!("{}#1", cart(i)));
        let mut decisions = by_abandonment[&(cart(i).to_owned(), 1)].clone();
        decisions.sort_by_key(|d| d.step);
        assert_eq!(episode.decided_at, decisions[0].decided_at, "{user}");
        assert_eq!(episode.steps.len(), decisions.len(), "{user}");
        assert_eq!(episode.holdout(), held[i], "{user}");
        let mut largest_coupon_sent = 0;
        for (index, (step, decision)) in episode.steps.iter().zip(&decisions).enumerate() {
            let what = format!("{user} step {index}");
            assert_eq!(decision.step as usize, index, "{what}");
            assert_eq!(step.action.name(), decision.action, "{what}");
            assert_eq!(step.propensity, decision.propensity, "{what}");
            let recorded: LoggedState =
                serde_json::from_value(decision.state.clone().unwrap()).unwrap();
            assert_eq!(step.state, recorded, "{what}");
            assert_eq!(step.state.observed.step, index, "{what}");
            let guardrails: Vec<&str> = step.changed_by.iter().map(guardrail_name).collect();
            let guardrails = if guardrails.is_empty() {
                "passed".to_owned()
            } else {
                guardrails.join(",")
            };
            assert_eq!(guardrails, decision.guardrail, "{what}");
            // The policy's proposal is recorded whenever it was asked, and it is the one
            // the decision's reasons name.
            let proposed = proposed_in_reasons(decision);
            assert_eq!(
                step.state.proposed, proposed,
                "{what}: {:?}",
                decision.reasons
            );
            let asked = !matches!(decision.guardrail.as_str(), "holdout" | "consent");
            assert_eq!(proposed.is_some(), asked, "{what}: {:?}", decision.reasons);
            // With exploration, whatever the policy was asked took its action with a
            // probability below 1; the others are certain.
            assert_eq!(step.propensity < 1.0, asked, "{what}: {}", step.propensity);
            // This step's messages: sent ones cost the action's price; one of them
            // recorded the unsubscribe.
            let sent: Vec<&OutboxMessage> = messages
                .iter()
                .filter(|m| m.decision_id == decision.id && m.status == MessageStatus::Sent)
                .collect();
            assert_eq!(step.message_sent, !sent.is_empty(), "{what}");
            assert_eq!(
                step.message_cost_minor,
                sent.len() as f64 * costs.message_cost(step.action),
                "{what}"
            );
            assert_eq!(
                step.unsubscribed,
                sent.iter().any(|m| m.id == unsubscribed_message),
                "{what}"
            );
            if !sent.is_empty() {
                largest_coupon_sent = largest_coupon_sent.max(decision.discount_minor);
            }
        }
        let bought = early_buyers.contains(&i) || late_buyers.contains(&i);
        assert_eq!(episode.bought, bought, "{user}");
        assert_eq!(
            episode.order_value_minor,
            if bought { total(i) } else { 0 },
            "{user}"
        );
        assert_eq!(
            episode.discount_minor,
            if bought { largest_coupon_sent } else { 0 },
            "{user}"
        );
        assert_eq!(
            episode.unsubscribe_loss_minor,
            if i == unsubscriber { 250.0 } else { 0.0 },
            "{user}"
        );
        // The same net outcome as the report books for the abandonment.
        let outcome = &booked[&episode.id];
        assert!(outcome.settled, "{user}");
        assert_eq!(episode.net_minor(), outcome.net_minor(), "{user}");

        // What each kind of shopper's episode looks like.
        let steps = &episode.steps;
        if held[i] {
            assert_eq!(steps.len(), 1, "{user}");
            assert_eq!(steps[0].action, ActionKind::DoNothing);
            assert_eq!(steps[0].propensity, 1.0);
            assert!(!steps[0].message_sent);
        } else if early_buyers.contains(&i) {
            // Bought before step 1: the purchase follows its last logged step.
            assert_eq!(steps.len(), 1, "{user}");
            if i == quick_buyer {
                // Its message was cancelled by the order: not sent, no cost.
                assert!(
                    messages
                        .iter()
                        .any(|m| m.cart_id == episode.cart_id
                            && m.status == MessageStatus::Cancelled)
                );
                assert!(!steps[0].message_sent && steps[0].message_cost_minor == 0.0);
            }
        } else if i == unsubscriber {
            assert_eq!(steps.len(), 2, "{user}");
            assert!(steps[0].unsubscribed && steps[0].message_sent);
            assert_eq!(steps[0].message_cost_minor, 3.0);
            assert_eq!(steps[1].action, ActionKind::DoNothing);
            assert!(!steps[1].unsubscribed && !steps[1].message_sent);
        } else {
            assert_eq!(steps.len(), 3, "{user}");
        }
        if late_buyers.contains(&i) && episode.discount_minor > 0 {
            coupons_bought += 1;
            let coupon = steps
                .iter()
                .filter(|s| s.message_sent)
                .map(|s| {
                    ActionCosts::discount_given(
                        s.action,
                        steps[0].state.observed.features.cart_value_minor,
                    )
                })
                .max();
            assert_eq!(coupon, Some(episode.discount_minor), "{user}");
        }
    }
    // The flow's last step is the 10 % coupon (about 0.7 of its mass with this
    // exploration): six late buyers without one would be about 1e-3.
    assert!(coupons_bought >= 1, "no late buyer got a coupon");
    assert!(
        read.episodes
            .iter()
            .any(|e| e.cart_id == cart(unsubscriber))
    );

    // The report's lift books the same net revenue, group by group.
    let report = build_report(&mut *store, &booking, Default::default(), None).unwrap();
    let net = |holdout: bool| -> f64 {
        read.episodes
            .iter()
            .filter(|e| e.holdout() == holdout)
            .map(LoggedEpisode::net_minor)
            .sum()
    };
    assert_eq!(report.lift.treated.settled, treated.len() as u64 - 1);
    assert_eq!(report.lift.holdout.settled, holdout.len() as u64);
    assert!((report.lift.treated.net_revenue_minor - net(false)).abs() < 1e-9);
    assert!((report.lift.holdout.net_revenue_minor - net(true)).abs() < 1e-9);

    // Once its window has closed the late cart is settled and an episode of the steps that
    // were decided: the clock jumped from its step 0 past its step 1 by more than
    // `max_decision_lag` (as after a downtime), so the engine skipped step 1 and decided
    // step 2.
    let late_steps: Vec<u32> = logged
        .iter()
        .filter(|d| d.cart_id == late_cart)
        .map(|d| d.step)
        .collect();
    assert_eq!(late_steps, [0, 2]);
    let later = Booking {
        as_of: late_at + Duration::days(8),
        ..booking
    };
    let read_later = read_logged_episodes(&mut *store, &later).unwrap();
    let c = &read_later.counts;
    assert_eq!(
        (c.episodes, c.unsettled, c.broken_steps),
        (counts.episodes + 1, 0, 0),
        "{c:?}"
    );
    let (late, earlier): (Vec<&LoggedEpisode>, Vec<&LoggedEpisode>) = read_later
        .episodes
        .iter()
        .partition(|e| e.cart_id == late_cart);
    assert_eq!(earlier, read.episodes.iter().collect::<Vec<_>>());
    let recorded: Vec<usize> = late[0]
        .steps
        .iter()
        .map(|s| s.state.observed.step)
        .collect();
    assert_eq!(recorded, [0, 2]);
    assert_eq!(late[0].validate(), Ok(()));

    // Records the engine does not write itself, each left out for its own reason: a
    // decision about a cart no longer stored, an abandonment without its step 0, one
    // without a recorded state, one with an action of an older release, one whose step 2
    // records the state of a step 0.
    let template = by_abandonment[&(cart(plain[0]).to_owned(), 1)][0].clone();
    let record = |cart_id: &str, abandonment: u32, step: u32| Decision {
        id: 0,
        cart_id: cart_id.to_owned(),
        abandonment,
        step,
        decided_at: abandoned + Duration::hours(i64::from(step)),
        ..template.clone()
    };
    let plain_cart = cart(plain[0]).to_owned();
    let records = [
        record("gone#1", 1, 0),
        record(&plain_cart, 2, 1),
        Decision {
            state: None,
            ..record(&plain_cart, 3, 0)
        },
        Decision {
            action: "none".into(),
            ..record(&plain_cart, 4, 0)
        },
        record(&plain_cart, 5, 0),
        record(&plain_cart, 5, 2),
    ];
    for decision in &records {
        store.record_decision(decision, None).unwrap();
    }
    let again = read_logged_episodes(&mut *store, &booking).unwrap();
    let c = &again.counts;
    assert_eq!(c.decisions, counts.decisions + records.len() as u64);
    assert_eq!(c.abandonments, counts.abandonments + 5);
    assert_eq!(
        (
            c.episodes,
            c.unsettled,
            c.erased,
            c.without_state,
            c.unknown_action,
            c.broken_steps
        ),
        (counts.episodes, 1, 2, 1, 1, 1),
        "{c:?}"
    );
    assert_eq!(again.episodes, read.episodes);
}
