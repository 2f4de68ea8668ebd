//! The decision log as off-policy evaluation reads it, end to end on a clock the test sets:
//! every decision (the holdout's too) records the state the policy was given, which is
//! exactly what the policy saw (its scores and the logged propensity are reproduced from the
//! recorded state), and the export of the log (`cartback_server::export`) evaluates the
//! engine's own policy file with importance weights of exactly 1.

mod support;

use cartback_core::{Duration, Timestamp};
use cartback_policy::actions::{ActionCosts, ActionKind};
use cartback_policy::ope::{LoggedState, OpeInput, policy_action_dist, read_cartback_log};
use cartback_policy::policies::Observation;
use cartback_server::RunningServer;
use cartback_server::decide::in_holdout;
use cartback_server::decide::policy_file::{self, PolicyKind, PolicyStateFile};
use serde_json::json;
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);
/// 2026-06-10T10:00:00Z, a Wednesday.
const T0: Timestamp = Timestamp(1_781_085_600_000);
const HOLDOUT: f64 = 0.3;

async fn first_decision(server: &RunningServer, cart: &str) -> serde_json::Value {
    eventually(&format!("the decision for {cart}"), WAIT, || async {
        decisions(server, &cart.replace('#', "%23"))
            .await
            .into_iter()
            .find(|d| d["step"] == json!(0))
    })
    .await
}

#[tokio::test]
async fn decisions_record_what_the_policy_saw_and_the_export_evaluates_its_own_file_exactly() {
    let (port, _mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("linucb.json");
    let simulator = cartback_policy::simulator::SimulatorConfig::default();
    policy_file::train(PolicyKind::Linucb, &simulator, "default", 400, 7)
        .unwrap()
        .save(&state_path)
        .unwrap();
    let mut config = base_config(&dir);
    config.tracker.lateness = Duration::ZERO;
    config.flow.channel = "email".into();
    config.email.smtp_port = port;
    config.policy.kind = PolicyKind::Linucb;
    config.policy.state_file = state_path.display().to_string();
    config.holdout_fraction = HOLDOUT;
    let db = config.db.clone();
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;

    let shoppers: Vec<(String, i64, &str)> = (0..8)
        .map(|i| {
            let zone = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"][i % 4];
            (format!("s{i}"), 999 + 2_750 * i as i64, zone)
        })
        .collect();
    let held: Vec<bool> = shoppers
        .iter()
        .map(|(u, _, _)| in_holdout(u, HOLDOUT))
        .collect();
    assert!(held.contains(&true) && held.contains(&false), "{held:?}");
    let events: Vec<_> = shoppers
        .iter()
        .map(|(u, price, zone)| add_to_cart_at(u, "mug", *price, T0, zone))
        .collect();
    post(&server, json!(events)).await;
    let mut carts = Vec::new();
    for (user, _, _) in &shoppers {
        carts.push(cart_of(&server, user).await);
    }
    let abandoned = T0 + Duration::minutes(30);
    clock.set(abandoned + Duration::minutes(1));

    let policy = PolicyStateFile::load(&state_path)
        .unwrap()
        .policy
        .into_policy();
    for (((user, price, _), cart), &holdout) in shoppers.iter().zip(&carts).zip(&held) {
        let decision = first_decision(&server, cart).await;
        let state: LoggedState = serde_json::from_value(decision["state"].clone())
            .unwrap_or_else(|e| panic!("{user}: {e}: {decision}"));
        assert_eq!(state.observed.features.cart_value_minor, *price, "{user}");
        assert_eq!(state.observed.step, 0);
        assert_eq!(state.observed.n_steps, 3);
        assert_eq!(state.observed.abandoned_at, abandoned);
        assert!(state.observed.features.email_consent && state.observed.subscribed);
        let outcomes = state.outcomes().unwrap();
        if holdout {
            assert_eq!(decision["guardrail"], json!("holdout"), "{user}");
            assert_eq!(outcomes, [ActionKind::DoNothing; 8], "{user}");
            continue;
        }
        // The policy's scores on the recorded state are the ones it logged, and the
        // pushed-forward distribution gives the logged propensity, bit for bit.
        let distribution = policy.distribution(&Observation {
            state: state.observed,
            truth: None,
        });
        for kind in ActionKind::ALL {
            let score = distribution.scores[kind.index()];
            if score.is_finite() {
                assert_eq!(
                    decision["scores"][kind.name()].as_f64(),
                    Some(score),
                    "{user} {kind}"
                );
            }
        }
        let action = ActionKind::from_name(decision["action"].as_str().unwrap()).unwrap();
        let propensity =
            LoggedState::push_forward(&outcomes, &distribution.probabilities)[action.index()];
        assert_eq!(decision["propensity"].as_f64(), Some(propensity), "{user}");
    }

    // One shopper buys after the first touch; the others' windows (7 days) close.
    let buyer = held.iter().position(|h| !h).unwrap();
    clock.set(abandoned + Duration::hours(2));
    post(
        &server,
        order_at(&shoppers[buyer].0, "mug", abandoned + Duration::hours(2)),
    )
    .await;
    clock.set(abandoned + Duration::days(8));
    for (user, _, _) in &shoppers {
        eventually(&format!("{user}'s cart closes"), WAIT, || async {
            let state = user_carts(&server, user).await[0]["state"].clone();
            (state == json!("recovered") || state == json!("expired")).then_some(())
        })
        .await;
    }
    server.shutdown().await.unwrap();

    let mut store = cartback_store::open(&db).unwrap();
    let mut out = Vec::new();
    let booking = cartback_server::outcomes::Booking {
        costs: ActionCosts::default(),
        attribution_window: Duration::days(7),
        as_of: abandoned + Duration::days(8),
    };
    let summary = cartback_server::export::export_rounds(&mut *store, &booking, &mut out).unwrap();
    let n_held = held.iter().filter(|&&h| h).count() as u64;
    assert_eq!(summary.skipped_holdout, n_held);
    assert_eq!(summary.rounds, shoppers.len() as u64 - n_held);
    assert_eq!(summary.recovered, 1);
    assert_eq!(summary.skipped_open + summary.skipped_without_state, 0);
    let text = String::from_utf8(out).unwrap();
    let rounds: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bought = rounds
        .iter()
        .find(|r| r["cart_id"] == json!(carts[buyer]))
        .expect("the buyer's round");
    assert_eq!(bought["recovered"], json!(true));
    assert_eq!(bought["order_value_minor"], json!(1999));
    let reward = bought["reward"].as_f64().unwrap();
    let expected = 1999.0
        - bought["discount_minor"].as_f64().unwrap()
        - bought["message_cost_minor"].as_f64().unwrap();
    assert_eq!(reward, expected, "{bought}");
    for round in rounds.iter().filter(|r| r["recovered"] == json!(false)) {
        assert!(round["reward"].as_f64().unwrap() <= 0.0, "{round}");
    }

    // The engine's own policy file on its own log: every importance weight is exactly 1.
    let log = read_cartback_log(text.as_bytes()).unwrap();
    let own = policy_action_dist(&*policy, &log, Some(3)).unwrap();
    let input = OpeInput::new(&log.feedback, &own, None).unwrap();
    for terms in input.importance_terms() {
        assert_eq!(terms.importance_weight, 1.0);
    }
}

/// `[policy] exploration`: the fixed flow, deterministic by itself, logs every decision with
/// the mixed probability (`Exploring` on the recorded state, pushed through the guardrails),
/// always below 1, and takes other actions as often as that says.
#[tokio::test]
async fn exploration_gives_the_fixed_flows_log_probabilities_other_policies_can_use() {
    use cartback_policy::policies::{Exploring, FixedFlow, Policy};
    let (port, _mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    config.tracker.lateness = Duration::ZERO;
    config.flow.channel = "email".into();
    config.email.smtp_port = port;
    config.policy.exploration = 0.5;
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;

    let users: Vec<String> = (0..24).map(|i| format!("e{i}")).collect();
    let events: Vec<_> = users
        .iter()
        .map(|u| add_to_cart_at(u, "mug", 4_999, T0, "Europe/Berlin"))
        .collect();
    post(&server, json!(events)).await;
    let mut carts = Vec::new();
    for user in &users {
        carts.push(cart_of(&server, user).await);
    }
    clock.set(T0 + Duration::minutes(31));

    let exploring = Exploring::new(Box::new(FixedFlow::default()), 0.5).unwrap();
    let mut actions = std::collections::BTreeSet::new();
    for cart in &carts {
        let decision = first_decision(&server, cart).await;
        let state: LoggedState = serde_json::from_value(decision["state"].clone()).unwrap();
        let action = ActionKind::from_name(decision["action"].as_str().unwrap()).unwrap();
        let distribution = exploring.distribution(&Observation {
            state: state.observed,
            truth: None,
        });
        let expected =
            LoggedState::push_forward(&state.outcomes().unwrap(), &distribution.probabilities)
                [action.index()];
        let logged = decision["propensity"].as_f64().unwrap();
        assert_eq!(logged, expected, "{decision}");
        assert!(logged > 0.0 && logged < 1.0, "{decision}");
        let reasons = decision["reasons"].to_string();
        assert!(reasons.contains("exploring: 50.0 %"), "{reasons}");
        actions.insert(action);
    }
    // The flow's reminder has about 0.57 of the mass: 24 reminders in a row would be 1e-6.
    assert!(actions.len() >= 2, "{actions:?}");
    assert!(actions.contains(&ActionKind::ReminderEmail), "{actions:?}");
    server.shutdown().await.unwrap();
}
