//! `cartback decisions export` and `cartback ope --format cartback` end to end on a small
//! SQLite store: the export's rounds and counts, a policy evaluated on them (built-ins, the
//! fitted reward model), and clear errors for bad input.

use cartback_core::{Cart, CartLine, CartState, Currency, Timestamp};
use cartback_policy::ope::LoggedState;
use cartback_policy::policies::ObservedState;
use cartback_policy::simulator::CartFeatures;
use cartback_store::{Decision, MessageStatus, OutboxMessage};
use std::path::Path;
use std::process::Command;

const T0: i64 = 1_781_085_600_000;

fn cartback(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cartback"))
        .args(args)
        .output()
        .expect("cartback runs")
}

fn cart(id: &str, state: CartState, value: i64) -> Cart {
    Cart {
        id: id.into(),
        user_id: format!("user-{id}"),
        state,
        lines: vec![CartLine {
            item_id: "mug".into(),
            name: None,
            category: None,
            unit_price: Some(value),
            quantity: 1,
        }],
        currency: Some(Currency::parse("EUR").unwrap()),
        value,
        adds: 1,
        removes: 0,
        views: 0,
        checkout_started: false,
        coupons_entered: 0,
        referrers: Vec::new(),
        session_at_abandonment: None,
        created_at: Timestamp(T0 - 3_600_000),
        last_activity: Timestamp(T0 - 1_800_000),
        abandoned_at: Some(Timestamp(T0)),
        abandonments: 1,
        closed_at: (state != CartState::Abandoned).then_some(Timestamp(T0 + 7_200_000)),
        order_id: (state == CartState::Recovered).then(|| format!("o-{id}")),
        order_value: (state == CartState::Recovered).then_some(value),
        order_coupon: None,
        email: Some(format!("{id}@example.com")),
        timezone: None,
        direct_purchase: false,
        order_cancelled: false,
    }
}

fn observed(value: i64) -> ObservedState {
    ObservedState {
        features: CartFeatures {
            cart_value_minor: value,
            predicted_propensity: 0.05,
            returning_customer: false,
            mobile: false,
            email_consent: true,
            webhook_consent: false,
            abandoned_hour: 12,
            history: Default::default(),
            session: Default::default(),
        },
        step: 0,
        n_steps: 3,
        abandoned_at: Timestamp(T0),
        send_at: Timestamp(T0 + 3_600_000),
        send_hour_local: 13,
        messages_sent: 0,
        coupon_sent_percent: 0,
        subscribed: true,
    }
}

/// A store with: a recovered cart that got a sent 10 % coupon (step 0) and a reminder
/// (step 1); an expired cart left alone; a holdout cart; a cart abandoned a day ago (its
/// attribution window still open); and a decision recorded without a state (an older
/// release).
fn make_store(db: &Path) {
    let mut store = cartback_store::open(db.to_str().unwrap()).unwrap();
    let carts = [
        cart("won", CartState::Recovered, 10_000),
        cart("lost", CartState::Expired, 4_000),
        cart("held", CartState::Expired, 4_000),
        cart("open", CartState::Abandoned, 4_000),
        cart("old", CartState::Expired, 4_000),
    ];
    store.upsert_carts(&carts).unwrap();
    let decision = |cart: &str, step: u32, action: &str, propensity: f64| Decision {
        id: 0,
        cart_id: cart.into(),
        user_id: format!("user-{cart}"),
        abandonment: 1,
        step,
        decided_at: Timestamp(T0 + i64::from(step) * 86_400_000),
        action: action.into(),
        channel: (action != "do_nothing").then(|| "email".to_string()),
        send_at: None,
        propensity,
        scores: serde_json::json!({}),
        reasons: vec![],
        guardrail: "passed".into(),
        holdout: false,
        discount_minor: if action == "discount_10" { 1_000 } else { 0 },
        state: Some(serde_json::to_value(LoggedState::unchanged(observed(10_000))).unwrap()),
    };
    let message = |cart: &str, key: &str| OutboxMessage {
        id: 0,
        idempotency_key: key.into(),
        decision_id: 0,
        cart_id: cart.into(),
        user_id: format!("user-{cart}"),
        channel: "email".into(),
        payload: serde_json::json!({}),
        status: MessageStatus::Pending,
        due_at: Timestamp(T0),
        attempts: 0,
        last_error: None,
        sent_at: None,
        cancel_reason: None,
        attributed_order: None,
    };
    for (step, action, key) in [
        (0, "discount_10", "won/1/0"),
        (1, "reminder_email", "won/1/1"),
    ] {
        store
            .record_decision(
                &decision("won", step, action, 0.25),
                Some(&message("won", key)),
            )
            .unwrap();
    }
    for m in store.messages_of_cart("won").unwrap() {
        assert!(store.claim(m.id).unwrap());
        store.mark_sent(m.id, Timestamp(T0 + 3_600_000)).unwrap();
    }
    store
        .record_decision(&decision("lost", 0, "do_nothing", 0.5), None)
        .unwrap();
    // Decided a day ago: its 7-day attribution window is still open.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let open = Decision {
        decided_at: Timestamp(now - 86_400_000),
        ..decision("open", 0, "do_nothing", 0.5)
    };
    store.record_decision(&open, None).unwrap();
    let held = Decision {
        holdout: true,
        guardrail: "holdout".into(),
        ..decision("held", 0, "do_nothing", 1.0)
    };
    store.record_decision(&held, None).unwrap();
    let old = Decision {
        state: None,
        ..decision("old", 0, "do_nothing", 0.5)
    };
    store.record_decision(&old, None).unwrap();
}

/// `cartback ope` of the built-in fixed flow, with the fitted reward model, on `log`.
fn ope_fixed_flow_with_fitted_model(log: &Path) -> std::process::Output {
    cartback(&[
        "ope",
        "--log",
        log.to_str().unwrap(),
        "--format",
        "cartback",
        "--eval-policy",
        "builtin:fixed_flow",
        "--reward-model",
        "fit",
    ])
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn the_export_feeds_ope_with_policies_and_a_fitted_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cartback.db");
    make_store(&db);
    // `cartback decisions export --json` of the store to `out`, with `extra` arguments.
    let export = |out: &Path, extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "decisions",
            "export",
            "--db",
            db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(&cartback(&args))).unwrap()
    };
    let rounds = dir.path().join("rounds.ndjson");
    let summary = export(&rounds, &[]);
    assert_eq!(summary["decisions"], 6);
    assert_eq!(summary["abandonments"], 5);
    assert_eq!(summary["rounds"], 2);
    assert_eq!(summary["recovered"], 1);
    assert_eq!(summary["skipped_holdout"], 1);
    assert_eq!(summary["skipped_open"], 1);
    assert_eq!(summary["skipped_without_state"], 1);
    let text = std::fs::read_to_string(&rounds).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Recovered: 100.00 less the 10 % coupon and two e-mails at the simulator's 0.1 each.
    assert_eq!(lines[0]["cart_id"], "won");
    assert_eq!(lines[0]["action"], "discount_10");
    assert_eq!(lines[0]["messages_sent"], 2);
    assert!((lines[0]["reward"].as_f64().unwrap() - (10_000.0 - 1_000.0 - 0.2)).abs() < 1e-9);
    assert_eq!(lines[1]["cart_id"], "lost");
    assert_eq!(lines[1]["reward"].as_f64(), Some(0.0));
    // With a one-hour window the day-old abandonment is settled: not recovered.
    let summary = export(
        &dir.path().join("short.ndjson"),
        &["--attribution-window", "1h"],
    );
    assert_eq!(
        (summary["rounds"].clone(), summary["skipped_open"].clone()),
        (3.into(), 0.into())
    );

    let ope = |policy: &str, model: &str| {
        cartback(&[
            "ope",
            "--log",
            rounds.to_str().unwrap(),
            "--format",
            "cartback",
            "--eval-policy",
            policy,
            "--reward-model",
            model,
            "--bootstrap",
            "50",
            "--json",
        ])
    };
    // Doing nothing: weight 1/0.5 on the lost cart, 0 on the coupon.
    let json: serde_json::Value =
        serde_json::from_str(&ok(&ope("builtin:do_nothing", "fit"))).unwrap();
    assert_eq!(json["n"], 2);
    assert_eq!(json["estimates"]["ipw"].as_f64(), Some(0.0));
    assert_eq!(
        json["diagnostics"]["evaluation_policy"],
        "built-in do_nothing"
    );
    assert_eq!(
        json["diagnostics"]["mean_importance_weight"].as_f64(),
        Some(1.0)
    );
    // A flow whose first touch is the logged coupon: weight 1/0.25 on the recovered cart.
    let json: serde_json::Value = serde_json::from_str(&ok(&ope(
        "builtin:fixed_flow=discount_10,reminder_email",
        "fit",
    )))
    .unwrap();
    let ipw = json["estimates"]["ipw"].as_f64().unwrap();
    assert!(
        (ipw - 4.0 * (10_000.0 - 1_000.2) / 2.0).abs() < 1e-6,
        "{json}"
    );

    // Bad input: named, never a panic.
    let err = ope("builtin:nope", "fit");
    assert_eq!(err.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("unknown built-in `nope`"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
    let toy = dir.path().join("toy.ndjson");
    std::fs::write(
        &toy,
        "{\"action\": \"reminder_email\", \"propensity\": 0.5, \"reward\": 1}\n",
    )
    .unwrap();
    let err = ope_fixed_flow_with_fitted_model(&toy);
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(
        stderr.contains("line 1: field `state`: missing"),
        "{stderr}"
    );
    let broken = dir.path().join("broken.ndjson");
    std::fs::write(&broken, text.replacen("\"step\":0", "\"step\":\"x\"", 1)).unwrap();
    let err = ope_fixed_flow_with_fitted_model(&broken);
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(stderr.contains("line 1: field `state`"), "{stderr}");
    let err = cartback(&[
        "decisions",
        "export",
        "--db",
        dir.path().join("missing/dir/x.db").to_str().unwrap(),
        "--out",
        dir.path().join("no/such/dir/out.ndjson").to_str().unwrap(),
    ]);
    assert_eq!(err.status.code(), Some(2));
}
