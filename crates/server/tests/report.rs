//! The report of what was won back, end to end on a clock the test sets: shoppers in and
//! out of the holdout abandon carts, the engine reminds the treated ones, some of each group
//! buy, the windows close, and `GET /v1/report`, the dashboard and `build_report` on the
//! store count exactly what happened.

mod support;

use cartback_core::{Duration, Timestamp};
use cartback_server::decide::in_holdout;
use cartback_server::outcomes::Booking;
use cartback_server::report::build_report;
use serde_json::json;
use std::time::Duration as StdDuration;
use support::*;

const WAIT: StdDuration = StdDuration::from_secs(20);
/// 2026-06-10T10:00:00Z.
const T0: Timestamp = Timestamp(1_781_085_600_000);
const HOLDOUT: f64 = 0.5;

#[tokio::test]
async fn the_report_counts_the_lift_against_the_holdout_and_the_dashboard_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    one_reminder_at_abandonment(&mut config);
    config.holdout_fraction = HOLDOUT;
    config.costs.email_minor = 2.0;
    let db = config.db.clone();
    let costs = config.costs;
    let clock = ManualClock::at(T0);
    let server = start_with_clock(config, clock.clone()).await;

    let users: Vec<String> = (0..24).map(|i| format!("r{i}")).collect();
    let held: Vec<bool> = users.iter().map(|u| in_holdout(u, HOLDOUT)).collect();
    let n_held = held.iter().filter(|&&h| h).count();
    assert!((4..=20).contains(&n_held), "{n_held} of 24 held out");
    let events: Vec<_> = users
        .iter()
        .map(|u| add_to_cart_at(u, "mug", 1999, T0, "UTC"))
        .collect();
    let response = post_events(&server, INGEST, &json!(events)).await;
    assert_eq!(response.status(), 200);
    let abandoned = T0 + Duration::minutes(30);
    clock.set(abandoned + Duration::minutes(1));
    let treated_users: Vec<&String> = users
        .iter()
        .zip(&held)
        .filter(|(_, h)| !**h)
        .map(|(u, _)| u)
        .collect();
    let held_users: Vec<&String> = users
        .iter()
        .zip(&held)
        .filter(|(_, h)| **h)
        .map(|(u, _)| u)
        .collect();
    // Every treated shopper's reminder goes out on the log channel.
    eventually("every treated reminder sent", WAIT, || async {
        let (_, report) = get_json(&server, READ, "/v1/report").await;
        (report["messages"]["sent"] == json!(treated_users.len())).then_some(())
    })
    .await;

    // Three treated shoppers and one held-out shopper buy two hours later.
    let bought = abandoned + Duration::hours(2);
    clock.set(bought);
    let buyers: Vec<&String> = treated_users[..3]
        .iter()
        .chain(&held_users[..1])
        .copied()
        .collect();
    let orders: Vec<_> = buyers.iter().map(|u| order_at(u, "mug", bought)).collect();
    assert_eq!(
        post_events(&server, INGEST, &json!(orders)).await.status(),
        200
    );
    clock.set(abandoned + Duration::days(8));
    eventually("every window closed", WAIT, || async {
        let (_, report) = get_json(&server, READ, "/v1/report").await;
        let settled = report["lift"]["treated"]["settled"].as_u64()?
            + report["lift"]["holdout"]["settled"].as_u64()?;
        (settled == 24).then_some(report)
    })
    .await;
    let (status, report) = get_json(&server, READ, "/v1/report").await;
    assert_eq!(status, 200, "{report}");
    let (treated, holdout) = (&report["lift"]["treated"], &report["lift"]["holdout"]);
    assert_eq!(treated["settled"], json!(treated_users.len()));
    assert_eq!(holdout["settled"], json!(held_users.len()));
    assert_eq!(
        (treated["recovered"].clone(), holdout["recovered"].clone()),
        (json!(3), json!(1))
    );
    assert_eq!(treated["revenue_minor"], json!(3 * 1999));
    assert_eq!(holdout["revenue_minor"], json!(1999));
    assert_eq!(treated["messages_sent"], json!(treated_users.len()));
    // Every reminder costs the configured 2 minor units.
    assert_eq!(
        treated["message_cost_minor"].as_f64(),
        Some(2.0 * treated_users.len() as f64)
    );
    assert_eq!(holdout["messages_sent"], json!(0));
    // Each treated order came after its reminder: attributed by last touch.
    assert_eq!(treated["attributed"], json!(3));
    assert_eq!(report["carts"]["carts"], json!(24));
    assert_eq!(report["carts"]["by_state"]["recovered"], json!(4));
    assert_eq!(report["carts"]["by_state"]["expired"], json!(20));
    assert_eq!(report["carts"]["recovery_rate"].as_f64(), Some(4.0 / 24.0));
    assert_eq!(report["currency"], json!("EUR"));
    // The off-policy section: every settled treated abandonment is a first-touch round with
    // the state the engine recorded; too few to estimate other policies, and it says so.
    let off_policy = &report["off_policy"];
    assert_eq!(
        off_policy["rounds"],
        json!(treated_users.len()),
        "{off_policy}"
    );
    assert_eq!(off_policy["skipped_without_state"], json!(0));
    assert_eq!(off_policy["flow_steps"], json!(1));
    assert!(off_policy["policies"].as_array().unwrap().is_empty());
    assert!(
        off_policy["verdict"]
            .as_str()
            .unwrap()
            .starts_with("Too few first-touch rounds to estimate other policies"),
        "{off_policy}"
    );
    assert_eq!(
        report["messages_by_channel"]["log"]["sent"],
        json!(treated_users.len())
    );
    assert_eq!(
        report["messages_by_action"]["reminder_email"]["attributed"],
        json!(3)
    );
    // Too few abandonments for an interval: the verdict says so and gives no figure.
    assert_eq!(report["lift"]["measurable"], json!(false));
    assert!(report["lift"]["incremental_net_revenue_minor"].is_null());
    let verdict = report["lift"]["verdict"].as_str().unwrap().to_owned();
    assert!(
        verdict.starts_with("Too few settled abandonments"),
        "{verdict}"
    );

    // A period without the abandonments has none of them.
    let (_, later) = get_json(&server, READ, "/v1/report?since=2026-06-12").await;
    assert_eq!(later["lift"]["treated"]["abandonments"], json!(0));
    assert_eq!(later["carts"]["carts"], json!(0));
    // Only euro carts: all of them; no dollar carts.
    let (_, euros) = get_json(&server, READ, "/v1/report?currency=eur").await;
    assert_eq!(euros["carts"]["carts"], json!(24));
    assert_eq!(euros["currency_filter"], json!("EUR"));
    let (_, dollars) = get_json(&server, READ, "/v1/report?currency=USD").await;
    assert_eq!(dollars["carts"]["carts"], json!(0));
    assert_eq!(dollars["lift"]["treated"]["abandonments"], json!(0));
    assert_eq!(dollars["messages"]["messages"], json!(0));
    let (status, refused) = get_json(&server, READ, "/v1/report?currency=euros").await;
    assert_eq!(
        (status, refused["field"].clone()),
        (400, json!("currency")),
        "{refused}"
    );
    let (status, refused) = get_json(&server, READ, "/v1/report?since=june").await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["field"], json!("since"), "{refused}");
    let (status, _) = get_json(&server, INGEST, "/v1/report").await;
    assert_eq!(status, 403);

    // The dashboard asks a browser for the key (HTTP Basic) and then shows the report.
    let anonymous = client()
        .get(url(&server, "/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    let page = client()
        .get(url(&server, "/dashboard"))
        .basic_auth("shop-owner", Some(READ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains("Too few settled abandonments"), "{html}");
    assert!(html.contains("Other first touches, estimated off-policy"));
    assert!(html.contains("Too few first-touch rounds"));
    let wrong = client()
        .get(url(&server, "/dashboard"))
        .basic_auth("shop-owner", Some("not-a-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    server.shutdown().await.unwrap();

    // The same figures from the store directly, and the tracking the report reads: an open
    // and a click on one reminder, an unsubscribe on another.
    let mut store = cartback_store::open(&db).unwrap();
    let mut messages = Vec::new();
    store.scan_carts(&mut |_| {}).unwrap();
    let log = store.message_log(0, 100).unwrap();
    assert_eq!(log.len(), treated_users.len());
    for (message, kind) in [
        (&log[0], "open"),
        (&log[0], "click"),
        (&log[1], "unsubscribe"),
    ] {
        store
            .record_tracking(message.id, kind, abandoned + Duration::days(9))
            .unwrap();
        messages.push(message.id);
    }
    let booking = Booking {
        costs,
        attribution_window: Duration::days(7),
        as_of: abandoned + Duration::days(9),
    };
    let report = build_report(&mut *store, &booking, Default::default(), None).unwrap();
    assert_eq!(report.lift.treated.settled, treated_users.len() as u64);
    // A day earlier, the windows (7 days from the first decision) were still open.
    let early = Booking {
        as_of: abandoned + Duration::days(7),
        ..booking
    };
    let before = build_report(&mut *store, &early, Default::default(), None).unwrap();
    assert_eq!(before.lift.treated.settled + before.lift.holdout.settled, 0);
    assert_eq!(before.lift.treated.open, treated_users.len() as u64);
    let log_channel = &report.messages_by_channel["log"];
    assert_eq!((log_channel.clicked, log_channel.unsubscribed), (1, 1));
    // The log channel stands in for e-mail: its opens count (one of the sent reminders).
    assert_eq!(
        log_channel.open_rate,
        Some(1.0 / treated_users.len() as f64)
    );
    assert_eq!(log_channel.click_to_open_rate, Some(1.0));
    assert_eq!(report.lift.treated.unsubscribed, 1);
    assert_eq!(
        report.lift.treated.unsubscribe_loss_minor,
        costs.unsubscribe_loss_minor
    );
    assert_eq!(report.lift.treated.recovered, 3);

    // A decision recorded without a policy state (as before schema version 5), about a
    // second abandonment of a treated cart: counted as skipped, not evaluated.
    let treated_message = &log[2];
    store
        .record_decision(
            &cartback_store::Decision {
                id: 0,
                cart_id: treated_message.cart_id.clone(),
                user_id: treated_message.user_id.clone(),
                abandonment: 2,
                step: 0,
                decided_at: abandoned + Duration::hours(3),
                action: "reminder_email".into(),
                channel: Some("log".into()),
                send_at: None,
                propensity: 1.0,
                scores: json!({}),
                reasons: Vec::new(),
                guardrail: "passed".into(),
                holdout: false,
                discount_minor: 0,
                state: None,
            },
            None,
        )
        .unwrap();
    let report = build_report(&mut *store, &booking, Default::default(), None).unwrap();
    let off_policy = report.off_policy.unwrap();
    assert_eq!(off_policy.rounds, treated_users.len() as u64);
    assert_eq!(off_policy.skipped_without_state, 1);
    assert!(
        off_policy.verdict.contains(
            "1 abandonments whose first decision has no recorded policy state were skipped"
        ),
        "{}",
        off_policy.verdict
    );
}
