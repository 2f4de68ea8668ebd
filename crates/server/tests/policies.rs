//! The multi-step decision flow end to end, on a clock the test sets (so a three-day flow
//! runs in a second and sends land on chosen local hours): the fixed flow's three touches
//! with a signed coupon on the third, purchase ending the flow, quiet hours in the shopper's
//! zone, the cart limit and user cap recorded as guardrails, the threshold policy with a
//! trained propensity model, model reload without restart, steps surviving a restart, and
//! coupon verification (tampered, expired). Mail goes to the loopback SMTP sink.

mod support;

use cartback_core::{Duration, Timestamp};
use cartback_server::{RunningServer, ServerConfig};
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);
/// 2026-06-10T10:00:00Z, a Wednesday.
const T0: Timestamp = Timestamp(1_781_085_600_000);

fn encoded(cart_id: &str) -> String {
    cart_id.replace('#', "%23")
}

/// Mail through the SMTP sink, carts abandoned 30 min after their last activity, events
/// folded at once.
fn email_config(dir: &tempfile::TempDir, smtp_port: u16) -> ServerConfig {
    let mut config = base_config(dir);
    config.tracker.lateness = Duration::ZERO;
    config.flow.channel = "email".into();
    config.email.smtp_port = smtp_port;
    config
}

/// Waits until the cart has `n` decisions and returns them.
async fn decisions_n(server: &RunningServer, cart: &str, n: usize) -> Vec<serde_json::Value> {
    eventually(&format!("{n} decisions for {cart}"), WAIT, || async {
        let found = decisions(server, &encoded(cart)).await;
        (found.len() == n).then_some(found)
    })
    .await
}

/// Waits until `n` of the cart's messages are recorded as sent (not only received by the
/// sink: the clock must not move before the bookkeeping, or `sent_at` would be later).
async fn sent_n(server: &RunningServer, cart: &str, n: usize) {
    eventually(&format!("{n} messages of {cart} sent"), WAIT, || async {
        let found = decisions(server, &encoded(cart)).await;
        let sent = found
            .iter()
            .flat_map(|d| d["messages"].as_array().cloned().unwrap_or_default())
            .filter(|m| m["status"] == json!("sent"))
            .count();
        (sent == n).then_some(())
    })
    .await
}

/// Waits until `n` mails arrived and returns them.
async fn mails_n(mails: &Arc<Mutex<Vec<ReceivedMail>>>, n: usize) -> Vec<ReceivedMail> {
    eventually(&format!("{n} mails"), WAIT, || async {
        let all = mails.lock().unwrap().clone();
        (all.len() >= n).then_some(all)
    })
    .await
}

fn mails_to(mails: &[ReceivedMail], user: &str) -> Vec<String> {
    let address = format!("<{user}@example.com>");
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == &address))
        .map(|m| m.data.replace("=\r\n", "").replace("=3D", "="))
        .collect()
}

fn coupon_code(mail: &str) -> String {
    let at = mail.find("CB10-").expect("a coupon code in the mail");
    mail[at..at + "CB10-".len() + 4 * 6 + 3].to_owned()
}

#[tokio::test]
async fn the_fixed_flow_sends_three_touches_with_a_coupon_on_the_third_and_stops_after_purchase() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let server = start_with_clock(email_config(&dir, port), clock.clone()).await;
    // Two shoppers in Berlin (12:00 local): one lets the flow run, one buys after the first
    // reminder.
    post(
        &server,
        json!([
            add_to_cart_at("flow", "mug", 1999, T0, "Europe/Berlin"),
            add_to_cart_at("buyer", "mug", 1999, T0, "Europe/Berlin")
        ]),
    )
    .await;
    let (flow_cart, buyer_cart) = (
        cart_of(&server, "flow").await,
        cart_of(&server, "buyer").await,
    );
    let abandoned = T0 + Duration::minutes(30);
    clock.set(abandoned + Duration::minutes(1));
    let first = decisions_n(&server, &flow_cart, 1).await;
    assert_eq!(first[0]["step"], json!(0));
    assert_eq!(first[0]["action"], json!("reminder_email"));
    assert_eq!(
        first[0]["send_at"],
        json!((abandoned + Duration::hours(1)).as_millis())
    );
    assert_eq!(first[0]["messages"][0]["status"], json!("pending"));

    clock.set(abandoned + Duration::hours(1));
    mails_n(&mails, 2).await;
    sent_n(&server, &flow_cart, 1).await;
    sent_n(&server, &buyer_cart, 1).await;
    post(&server, order_at("buyer", "mug", clock.get())).await;
    eventually("the purchase", WAIT, || async {
        let (_, cart) = get_json(
            &server,
            READ,
            &format!("/v1/carts/{}", encoded(&buyer_cart)),
        )
        .await;
        (cart["state"] == json!("recovered")).then_some(())
    })
    .await;

    clock.set(abandoned + Duration::hours(24));
    mails_n(&mails, 3).await;
    sent_n(&server, &flow_cart, 2).await;
    clock.set(abandoned + Duration::hours(72));
    let all = mails_n(&mails, 4).await;
    sent_n(&server, &flow_cart, 3).await;

    let flow = decisions_n(&server, &flow_cart, 3).await;
    let steps: Vec<(u64, &str, &str)> = flow
        .iter()
        .map(|d| {
            (
                d["step"].as_u64().unwrap(),
                d["action"].as_str().unwrap(),
                d["guardrail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (0, "reminder_email", "passed"),
            (1, "reminder_email", "passed"),
            (2, "discount_10", "passed")
        ]
    );
    assert!(
        flow.iter()
            .all(|d| d["messages"][0]["status"] == json!("sent"))
    );
    let to_flow = mails_to(&all, "flow");
    assert_eq!(to_flow.len(), 3);
    assert!(!to_flow[0].contains("CB10-") && !to_flow[1].contains("CB10-"));
    let third = &to_flow[2];
    assert!(third.contains("10% off"), "{third}");
    let code = coupon_code(third);
    assert!(third.contains(&format!("Use the code {code}")), "{third}");
    assert!(third.contains("valid until"), "{third}");

    // The buyer got the first reminder only: the purchase ended the flow.
    assert_eq!(mails_to(&all, "buyer").len(), 1);
    let bought = decisions(&server, &encoded(&buyer_cart)).await;
    assert_eq!(bought.len(), 1, "{bought:?}");

    // The shop checks the code: valid, 10 %, this cart.
    let (status, coupon) = get_json(&server, READ, &format!("/v1/coupons/{code}")).await;
    assert_eq!(status, 200, "{coupon}");
    assert_eq!(coupon["valid"], json!(true));
    assert_eq!(coupon["percent"], json!(10));
    assert_eq!(coupon["cart_id"].as_str(), Some(flow_cart.as_str()));
    let expires_at = coupon["expires_at"].as_i64().unwrap();
    assert!(expires_at >= (abandoned + Duration::hours(72) + Duration::days(7)).as_millis());
    assert_eq!(
        client()
            .get(url(&server, &format!("/v1/coupons/{code}")))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "a read key is required"
    );
    // A tampered code (one symbol changed) and a forged bigger discount are refused.
    let mut symbols: Vec<char> = code.chars().collect();
    let i = "CB10-".len() + 3;
    symbols[i] = if symbols[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = symbols.into_iter().collect();
    let (status, error) = get_json(&server, READ, &format!("/v1/coupons/{tampered}")).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (404, Some("unknown_coupon"))
    );
    assert_eq!(error["field"], json!("code"));
    let forged = code.replacen("CB10", "CB50", 1);
    let (status, error) = get_json(&server, READ, &format!("/v1/coupons/{forged}")).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("malformed_coupon"))
    );
    // Expired once the clock passes its expiry.
    clock.set(Timestamp(expires_at));
    let (status, error) = get_json(&server, READ, &format!("/v1/coupons/{code}")).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (410, Some("coupon_expired"))
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn quiet_hours_move_a_night_send_to_the_morning_in_the_shoppers_zone() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    // 03:50 UTC: 23:50 the evening before in New York (EDT), 12:50 in Tokyo.
    let start = T0 - Duration::minutes(370);
    let clock = ManualClock::at(start);
    let server = start_with_clock(email_config(&dir, port), clock.clone()).await;
    post(
        &server,
        json!([
            add_to_cart_at("night", "mug", 1999, start, "America/New_York"),
            add_to_cart_at("day", "mug", 1999, start, "Asia/Tokyo")
        ]),
    )
    .await;
    let night = cart_of(&server, "night").await;
    let abandoned = start + Duration::minutes(30);
    clock.set(abandoned + Duration::minutes(1));
    let found = decisions_n(&server, &night, 1).await;
    // Due 01:20 in New York: postponed to 08:00 EDT = 12:00 UTC.
    let morning = T0 + Duration::hours(2);
    assert_eq!(found[0]["guardrail"], json!("quiet_hours"));
    assert_eq!(found[0]["send_at"], json!(morning.as_millis()));
    assert_eq!(
        found[0]["messages"][0]["due_at"],
        json!(morning.as_millis())
    );
    assert!(
        found[0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("America/New_York")),
        "{found:?}"
    );
    // At 05:20 UTC the Tokyo shopper (14:20 local) is mailed; New York still sleeps.
    clock.set(abandoned + Duration::hours(1));
    let sent = mails_n(&mails, 1).await;
    sent_n(&server, &cart_of(&server, "day").await, 1).await;
    assert_eq!(mails_to(&sent, "day").len(), 1);
    assert_eq!(
        decisions(&server, &encoded(&night)).await[0]["messages"][0]["status"],
        json!("pending")
    );
    clock.set(morning);
    let sent = mails_n(&mails, 2).await;
    assert_eq!(mails_to(&sent, "night").len(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_shopper_who_comes_back_and_leaves_again_gets_a_fresh_flow() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(T0);
    let server = start_with_clock(email_config(&dir, port), clock.clone()).await;
    post(&server, add_to_cart_at("back", "mug", 1999, T0, "UTC")).await;
    let cart = cart_of(&server, "back").await;
    clock.set(T0 + Duration::minutes(31));
    decisions_n(&server, &cart, 1).await;
    // Back 40 min in, before the first reminder (due 1 h 30 min in), then gone again.
    let back = T0 + Duration::minutes(40);
    clock.set(back);
    post(&server, add_to_cart_at("back", "pot", 2500, back, "UTC")).await;
    let again = back + Duration::minutes(30);
    clock.set(again + Duration::minutes(1));
    let found = decisions_n(&server, &cart, 2).await;
    assert_eq!(
        (found[1]["abandonment"].as_u64(), found[1]["step"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(found[0]["messages"][0]["status"], json!("cancelled"));
    assert_eq!(
        found[0]["messages"][0]["cancel_reason"],
        json!("abandoned_again")
    );
    assert_eq!(
        found[1]["send_at"],
        json!((again + Duration::hours(1)).as_millis()),
        "the earlier reminder does not push the new one back"
    );
    clock.set(again + Duration::hours(1));
    sent_n(&server, &cart, 1).await;
    assert_eq!(mails.lock().unwrap().len(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_discount_sent_by_webhook_carries_the_signed_coupon() {
    let (hook_url, received) = webhook_receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    fast_timers(&mut config);
    config.flow.channel = "webhook".into();
    config.webhook.url = hook_url;
    config.policy.fixed_flow = vec!["discount_15".into()];
    let server = start(config).await;
    post(&server, add_to_cart("hooked", "mug")).await;
    let cart = cart_of(&server, "hooked").await;
    sent_n(&server, &cart, 1).await;
    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&hooks[0].body).unwrap();
    assert_eq!(body["action"], json!("discount_15"));
    assert_eq!(body["coupon"]["percent"], json!(15));
    let code = body["coupon"]["code"].as_str().unwrap();
    assert!(code.starts_with("CB15-"), "{body}");
    let (status, coupon) = get_json(&server, READ, &format!("/v1/coupons/{code}")).await;
    assert_eq!(status, 200, "{coupon}");
    assert_eq!(coupon["cart_id"].as_str(), Some(cart.as_str()));
    assert_eq!(coupon["expires_at"], body["coupon"]["expires_at"]);
    server.shutdown().await.unwrap();
}

/// Trains `kind` on `carts` simulated carts, serves it from its state file and returns the
/// first decision on a cart of `user`, after checking what every learned policy's decision
/// shows: the state file named in the reasons, ε-floor exploration (every allowed action
/// keeps a share, so no action is certain) and scores for the allowed actions only.
async fn first_learned_decision(
    kind: cartback_server::decide::policy_file::PolicyKind,
    carts: usize,
    user: &str,
) -> serde_json::Value {
    use cartback_server::decide::policy_file;
    let (port, _mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(format!("{}.json", kind.name()));
    let simulator = cartback_policy::simulator::SimulatorConfig::default();
    policy_file::train(kind, &simulator, "default", carts, 7)
        .unwrap()
        .save(&state)
        .unwrap();
    let mut config = email_config(&dir, port);
    config.policy.kind = kind;
    config.policy.state_file = state.display().to_string();
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;
    let decision = first_decision(&server, &clock, user, 5_000).await;
    let reasons = decision["reasons"].to_string();
    assert!(
        reasons.contains(&format!("{} (state", kind.name())),
        "{decision}"
    );
    let propensity = decision["propensity"].as_f64().unwrap();
    assert!(propensity > 0.0 && propensity < 1.0, "{decision}");
    // Push is not allowed without a webhook: it has no score.
    assert!(
        decision["scores"].get("webhook_push").is_none(),
        "{decision}"
    );
    assert!(decision["scores"]["do_nothing"].is_number(), "{decision}");
    server.shutdown().await.unwrap();
    decision
}

#[tokio::test]
async fn a_learned_policy_decides_from_its_state_file_with_its_propensity() {
    use cartback_server::decide::policy_file::PolicyKind;
    let decision = first_learned_decision(PolicyKind::Linucb, 400, "learned").await;
    assert!(
        decision["reasons"].to_string().contains("LinUCB"),
        "{decision}"
    );
    assert!(
        decision["scores"].get("discount_20").is_some(),
        "{decision}"
    );
}

#[tokio::test]
async fn the_fitted_q_planner_decides_from_its_state_file_with_its_propensity() {
    use cartback_server::decide::policy_file::PolicyKind;
    // The planner refuses logs with too few purchases per action: 8,000 carts.
    let decision = first_learned_decision(PolicyKind::FittedQ, 8_000, "planned").await;
    assert!(
        decision["reasons"].to_string().contains("fitted Q:"),
        "{decision}"
    );
}

/// Runs one cart through the three steps of the fixed flow; returns its decisions and
/// the mails it got.
async fn three_steps(
    config: ServerConfig,
    mails: &Arc<Mutex<Vec<ReceivedMail>>>,
    user: &str,
) -> Vec<serde_json::Value> {
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;
    post(&server, add_to_cart_at(user, "mug", 1999, T0, "UTC")).await;
    let cart = cart_of(&server, user).await;
    let abandoned = T0 + Duration::minutes(30);
    clock.set(abandoned + Duration::hours(1));
    mails_n(mails, 1).await;
    sent_n(&server, &cart, 1).await;
    clock.set(abandoned + Duration::hours(24));
    mails_n(mails, 2).await;
    sent_n(&server, &cart, 2).await;
    clock.set(abandoned + Duration::hours(72));
    let found = decisions_n(&server, &cart, 3).await;
    server.shutdown().await.unwrap();
    found
}

#[tokio::test]
async fn the_cart_limit_and_the_user_cap_block_with_the_guardrail_recorded() {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = email_config(&dir, port);
    config.guardrails.max_messages_per_cart = 2;
    let found = three_steps(config, &mails, "limited").await;
    assert_eq!(found[2]["action"], json!("do_nothing"));
    assert_eq!(found[2]["guardrail"], json!("cart_message_limit"));
    assert_eq!(found[2]["messages"], json!([]));
    assert!(
        found[2]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("discount_10 suppressed")),
        "{found:?}"
    );
    assert_eq!(mails.lock().unwrap().len(), 2);

    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = email_config(&dir, port);
    config.guardrails.user_cap_messages = 2;
    let found = three_steps(config, &mails, "capped").await;
    assert_eq!(found[2]["action"], json!("do_nothing"));
    assert_eq!(found[2]["guardrail"], json!("user_frequency_cap"));
    assert_eq!(mails.lock().unwrap().len(), 2);
}

/// Trains a logistic propensity model on `cart_value` (major units) the way `cartback
/// train` does and writes it to `path`: with `expensive_buy`, carts above 100.00 are
/// likely bought, otherwise the cheap ones are.
fn train_model(path: &Path, expensive_buy: bool) {
    let mut csv = String::from("cart_value,label\n");
    for i in 0..200 {
        let value = 5.0 + f64::from(i) * 2.5;
        let expensive = value > 100.0;
        // A few counter-examples keep the data from being separable.
        let label = (expensive == expensive_buy) != (i % 37 == 18);
        csv.push_str(&format!("{value},{}\n", u8::from(label)));
    }
    let data = path.with_extension("csv");
    std::fs::write(&data, csv).unwrap();
    let table = cartback_ml::dataset::CsvTable::from_path(&data, &[]).unwrap();
    let options = cartback_ml::TrainOptions {
        label: "label".into(),
        excluded: Vec::new(),
        estimator: cartback_ml::EstimatorSpec::Logistic {
            name: "logistic".into(),
            params: cartback_ml::linear::LogisticParams::default(),
        },
        evaluation: cartback_ml::Evaluation::None,
        calibration: None,
        seed: 42,
        fit_final: true,
    };
    let (model, _) = cartback_ml::train(&table, &options).unwrap();
    // Written beside and renamed over, as a deployment would, so the server never reads
    // half a file.
    let partial = path.with_extension("partial");
    model.save(&partial).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

fn threshold_config(dir: &tempfile::TempDir, port: u16, model: &Path) -> ServerConfig {
    let mut config = email_config(dir, port);
    config.policy.kind = cartback_server::config::PolicyKind::Threshold;
    config.policy.propensity_model = model.display().to_string();
    config.policy.threshold = 0.3;
    config.policy.reload_check = Duration::millis(50);
    config
}

/// Abandons a cart worth `price` for `user` at the clock's time and returns its first
/// decision.
async fn first_decision(
    server: &RunningServer,
    clock: &ManualClock,
    user: &str,
    price: i64,
) -> serde_json::Value {
    let now = clock.get();
    post(server, add_to_cart_at(user, "item", price, now, "UTC")).await;
    let cart = cart_of(server, user).await;
    clock.set(now + Duration::minutes(31));
    decisions_n(server, &cart, 1).await.remove(0)
}

#[tokio::test]
async fn the_threshold_policy_with_a_trained_model_contacts_only_carts_unlikely_to_buy() {
    let (port, _mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("propensity.json");
    train_model(&model, true);
    let clock = ManualClock::at(T0);
    let server = start_with_clock(threshold_config(&dir, port, &model), clock.clone()).await;
    let cheap = first_decision(&server, &clock, "cheap", 999).await;
    let dear = first_decision(&server, &clock, "dear", 45_000).await;
    assert_eq!(cheap["action"], json!("reminder_email"), "{cheap}");
    assert_eq!(cheap["messages"][0]["status"], json!("pending"));
    assert_eq!(dear["action"], json!("do_nothing"), "{dear}");
    assert_eq!(dear["messages"], json!([]));
    let reasons = |d: &serde_json::Value| d["reasons"].to_string();
    assert!(reasons(&cheap).contains("< 0.300"), "{cheap}");
    assert!(reasons(&dear).contains("leave alone"), "{dear}");
    assert!(reasons(&cheap).contains("propensity.json"), "{cheap}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_replaced_model_changes_decisions_without_restart_and_a_broken_one_is_ignored() {
    let (port, _mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("propensity.json");
    train_model(&model, true);
    let clock = ManualClock::at(T0);
    let server = start_with_clock(threshold_config(&dir, port, &model), clock.clone()).await;
    let before = first_decision(&server, &clock, "r1", 999).await;
    assert_eq!(before["action"], json!("reminder_email"));

    // Now cheap carts are the ones that buy on their own.
    train_model(&model, false);
    eventually("the reload", WAIT, || async {
        metrics_text(&server)
            .await
            .contains("cartback_policy_reloads_total 1\n")
            .then_some(())
    })
    .await;
    let after = first_decision(&server, &clock, "r2", 999).await;
    assert_eq!(after["action"], json!("do_nothing"), "{after}");

    // A broken file is logged and ignored: the last good model stays.
    let partial = model.with_extension("partial");
    std::fs::write(
        &partial,
        "{\"format\": \"cartback-propensity-model\", \"trunc",
    )
    .unwrap();
    std::fs::rename(&partial, &model).unwrap();
    eventually("the failed reload", WAIT, || async {
        metrics_text(&server)
            .await
            .contains("cartback_policy_reload_failures_total 1\n")
            .then_some(())
    })
    .await;
    let kept = first_decision(&server, &clock, "r3", 999).await;
    assert_eq!(kept["action"], json!("do_nothing"), "{kept}");
    assert!(
        metrics_text(&server)
            .await
            .contains("cartback_policy_reloads_total 1\n")
    );
    server.shutdown().await.unwrap();
}

/// Steps 0 and 1 on one server, step 2 after a restart: the next step comes from the stored
/// decisions, nothing is decided or sent twice.
async fn steps_survive_a_restart(db: String) {
    let (port, mails) = smtp_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = email_config(&dir, port);
    config.db = db;
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config.clone(), clock.clone()).await;
    post(&server, add_to_cart_at("again", "mug", 1999, T0, "UTC")).await;
    let cart = cart_of(&server, "again").await;
    let abandoned = T0 + Duration::minutes(30);
    clock.set(abandoned + Duration::hours(1));
    mails_n(&mails, 1).await;
    sent_n(&server, &cart, 1).await;
    clock.set(abandoned + Duration::hours(24));
    mails_n(&mails, 2).await;
    sent_n(&server, &cart, 2).await;
    decisions_n(&server, &cart, 2).await;
    server.shutdown().await.unwrap();

    clock.set(abandoned + Duration::hours(72));
    let server = start_with_clock(config, clock.clone()).await;
    let found = decisions_n(&server, &cart, 3).await;
    assert_eq!(found[2]["step"], json!(2));
    assert_eq!(found[2]["action"], json!("discount_10"));
    let all = mails_n(&mails, 3).await;
    assert_eq!(all.len(), 3, "no step decided or sent twice");
    assert!(coupon_code(&mails_to(&all, "again")[2]).starts_with("CB10-"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_next_step_survives_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    steps_survive_a_restart(dir.path().join("restart.db").display().to_string()).await;
}

#[tokio::test]
async fn the_next_step_survives_a_restart_on_postgresql() {
    let Ok(base_url) = std::env::var("CARTBACK_TEST_POSTGRES_URL") else {
        eprintln!("skipped: CARTBACK_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("cartback_policies_test_{}", std::process::id());
    let (admin, create) = (base_url.clone(), format!("CREATE SCHEMA \"{schema}\""));
    cartback_server::worker::off_runtime(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client.batch_execute(&create).unwrap();
    })
    .await;
    let separator = if base_url.contains('?') { '&' } else { '?' };
    steps_survive_a_restart(format!(
        "{base_url}{separator}options=-csearch_path%3D{schema}"
    ))
    .await;
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    cartback_server::worker::off_runtime(move || {
        let mut client = postgres::Client::connect(&base_url, postgres::NoTls).unwrap();
        client.batch_execute(&drop).unwrap();
    })
    .await;
}
