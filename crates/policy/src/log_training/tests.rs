use super::*;
use crate::policies::{DoNothing, Exploring, FixedFlow, ObservedState};
use crate::simulator::{
    CartFeatures, PolicySummary, Simulator, SimulatorConfig, evaluate, sample_population,
    simulated_logged_episodes,
};

fn observed(step: usize, n_steps: usize) -> ObservedState {
    ObservedState {
        features: CartFeatures {
            cart_value_minor: 10_000,
            predicted_propensity: 0.1,
            returning_customer: false,
            mobile: false,
            email_consent: true,
            webhook_consent: false,
            abandoned_hour: 10,
            history: Default::default(),
            session: Default::default(),
        },
        step,
        n_steps,
        abandoned_at: Timestamp(0),
        send_at: Timestamp(0),
        send_hour_local: 11,
        messages_sent: step as u32,
        coupon_sent_percent: 0,
        subscribed: true,
    }
}

fn step(index: usize, action: ActionKind, propensity: f64) -> LoggedStep {
    LoggedStep {
        state: LoggedState::unchanged(observed(index, 3)).with_proposal(action),
        action,
        propensity,
        changed_by: GuardrailSet::default(),
        message_sent: action.is_contact(),
        message_cost_minor: if action.is_contact() { 1.0 } else { 0.0 },
        unsubscribed: false,
    }
}

fn episode(cart: &str, steps: Vec<LoggedStep>, bought: bool) -> LoggedEpisode {
    LoggedEpisode {
        id: format!("{cart}#1"),
        cart_id: cart.into(),
        decided_at: Timestamp(0),
        steps,
        bought,
        order_value_minor: if bought { 10_000 } else { 0 },
        discount_minor: if bought { 1_000 } else { 0 },
        unsubscribe_loss_minor: 0.0,
    }
}

#[test]
fn transitions_book_the_purchase_on_the_last_step_and_sum_to_the_net() {
    let mut e = episode(
        "c1",
        vec![
            step(0, ActionKind::ReminderEmail, 0.9),
            step(1, ActionKind::Discount10, 0.05),
        ],
        true,
    );
    e.steps[1].unsubscribed = true;
    e.unsubscribe_loss_minor = 250.0;
    let transitions = e.transitions();
    assert_eq!(transitions.len(), 2);
    assert!(!transitions[0].bought && transitions[1].bought);
    assert_eq!(transitions[0].reward_minor, -1.0);
    assert_eq!(transitions[1].reward_minor, 9_000.0 - 1.0 - 250.0);
    assert_eq!(transitions[1].discount_minor, 1_000.0);
    assert!(transitions[1].unsubscribed && !transitions[0].unsubscribed);
    assert_eq!(transitions[0].next_state, Some(e.steps[1].state.observed));
    assert_eq!(transitions[1].next_state, None);
    let total: f64 = transitions.iter().map(|t| t.reward_minor).sum();
    assert_eq!(total, e.net_minor());
    assert_eq!(e.net_minor(), 9_000.0 - 2.0 - 250.0);
    // A message that did not go out executes nothing; the proposal is the recorded one.
    e.steps[0].message_sent = false;
    e.steps[0].state.proposed = Some(ActionKind::Discount20);
    let t = e.transitions();
    assert_eq!(t[0].executed, ActionKind::DoNothing);
    assert_eq!(t[0].action, ActionKind::Discount20);
}

#[test]
fn guardrail_records_parse_and_unknown_names_are_refused() {
    let set = guardrails_from_record("margin_floor,quiet_hours").unwrap();
    assert!(set.contains(Guardrail::MarginFloor) && set.contains(Guardrail::QuietHours));
    assert!(!set.contains(Guardrail::Holdout));
    assert!(guardrails_from_record("passed").unwrap().is_empty());
    let err = guardrails_from_record("holdout,moon_phase").unwrap_err();
    assert!(err.contains("moon_phase"), "{err}");
}

#[test]
fn bad_episodes_are_refused_naming_the_abandonment_and_step() {
    let mut e = episode("c7", vec![step(0, ActionKind::DoNothing, 1.0)], false);
    e.steps.push(step(0, ActionKind::ReminderEmail, 0.5));
    let err = e.validate().unwrap_err();
    assert!(
        err.contains("c7#1") && err.contains("decision 1 records step 0 after step 0"),
        "{err}"
    );
    // A step skipped (the engine was down) is no error; one beyond the flow is.
    e.steps[1] = step(2, ActionKind::ReminderEmail, 0.5);
    assert_eq!(e.validate(), Ok(()));
    e.steps[1] = step(3, ActionKind::ReminderEmail, 0.5);
    assert!(e.validate().unwrap_err().contains("records step 3"));
    let e = episode("c6", vec![step(1, ActionKind::DoNothing, 1.0)], false);
    assert!(
        e.validate()
            .unwrap_err()
            .contains("decision 0 records step 1")
    );
    let mut e = episode("c8", vec![step(0, ActionKind::DoNothing, 0.0)], false);
    assert!(e.validate().unwrap_err().contains("propensity 0"));
    // A sum of probabilities a rounding error above 1 is a certain action, not an error.
    e.steps[0].propensity = 1.000_000_000_000_000_2;
    assert_eq!(e.validate(), Ok(()));
    e.steps[0].propensity = 1.01;
    assert!(e.validate().unwrap_err().contains("propensity 1.01"));
    e.steps.clear();
    assert!(e.validate().unwrap_err().contains("no decision step"));
    let e = episode("c9", vec![step(0, ActionKind::DoNothing, 1.0)], false);
    let err = fit_fitted_q(
        &[e],
        &FittedQParams::default(),
        ActionCosts::default(),
        &[1, 24],
        None,
        0.0,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            LogTrainingError::Steps {
                found: 3,
                expected: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_evaluation_split_is_by_cart_and_stable() {
    let episodes: Vec<LoggedEpisode> = (0..2_000)
        .map(|i| episode(&format!("cart-{}", i / 2), vec![], false))
        .collect();
    let (train, held) = split_for_evaluation(episodes.clone(), 0.2);
    assert_eq!(train.len() + held.len(), 2_000);
    // About a fifth held out (binomial: 400 ± 3 × 13 over 1,000 carts, two episodes each).
    assert!((300..=500).contains(&held.len()), "{}", held.len());
    for e in &held {
        assert!(train.iter().all(|t| t.cart_id != e.cart_id));
    }
    let (_, again) = split_for_evaluation(episodes, 0.2);
    assert_eq!(again, held);
}

#[test]
fn importance_weights_are_exact_on_a_hand_made_log() {
    // Doing nothing, evaluated on a log where the first step did nothing with probability
    // 0.5 and a reminder with 0.5: its weight is 2 where the log did nothing, 0 elsewhere.
    let mut episodes = Vec::new();
    for i in 0..200 {
        let action = if i % 2 == 0 {
            ActionKind::DoNothing
        } else {
            ActionKind::ReminderEmail
        };
        let mut e = episode(&format!("c{i}"), vec![step(0, action, 0.5)], i % 4 == 0);
        e.order_value_minor = if e.bought { 8_000 } else { 0 };
        e.discount_minor = 0;
        episodes.push(e);
    }
    let evaluation =
        evaluate_on_log(&DoNothing, None, &episodes, BootstrapParams::default()).unwrap();
    assert_eq!(evaluation.episodes, 200);
    assert_eq!(evaluation.whole_flow.mean_weight, 1.0);
    assert_eq!(evaluation.whole_flow.max_weight, 2.0);
    assert_eq!(evaluation.whole_flow.effective_sample_size, 100.0);
    // Rounds that did nothing: every other one bought 8,000.
    // One step: the whole flow is the first touch.
    assert_eq!(evaluation.whole_flow, evaluation.first_touch);
    let estimate = evaluation.whole_flow.estimate.expect("enough overlap");
    assert_eq!(estimate.value, 4_000.0);
    let logged = evaluation.logged.unwrap();
    let expected_logged = episodes.iter().map(|e| e.net_minor()).sum::<f64>() / 200.0;
    assert!((logged.value - expected_logged).abs() < 1e-9);
    assert!(logged.ci_low < logged.value && logged.value < logged.ci_high);
    // Too few episodes: no estimate.
    let few = evaluate_on_log(
        &DoNothing,
        None,
        &episodes[..50],
        BootstrapParams::default(),
    )
    .unwrap();
    assert!(few.whole_flow.estimate.is_none() && few.verdict.starts_with("Too few"));
    assert_eq!(few.judgement, Judgement::TooFew);
}

#[test]
fn a_deterministic_log_leaves_little_overlap() {
    let episodes: Vec<LoggedEpisode> = (0..300)
        .map(|i| {
            episode(
                &format!("c{i}"),
                vec![step(0, ActionKind::ReminderEmail, 1.0)],
                i % 3 == 0,
            )
        })
        .collect();
    let evaluation =
        evaluate_on_log(&DoNothing, None, &episodes, BootstrapParams::default()).unwrap();
    assert_eq!(evaluation.whole_flow.mean_weight, 0.0);
    assert!(evaluation.whole_flow.estimate.is_none() && evaluation.first_touch.estimate.is_none());
    assert!(
        evaluation.verdict.starts_with("Little overlap"),
        "{}",
        evaluation.verdict
    );
    assert_eq!(evaluation.judgement, Judgement::LittleOverlap);
}

/// Mean net revenue per cart (minor units) of `policy` on `shoppers`, exactly, in arrival
/// order with one discount ledger (the simulator's ground truth).
fn truth(
    simulator: &Simulator,
    policy: &dyn Policy,
    shoppers: &[crate::simulator::Shopper],
) -> f64 {
    let zero = vec![Default::default(); shoppers.len()];
    let summary: PolicySummary = evaluate(simulator, "truth", policy, shoppers, &zero);
    // Per 1,000 carts in major units → per cart in minor units.
    summary.incremental_net_revenue_per_1000 / 10.0
}

/// The whole loop on the simulator, where the truth is known: a shop runs the fixed flow
/// with exploration, the planner learns from that log alone (what the engine records, no
/// hidden trait), and is judged on held-out abandonments before it would go live.
#[test]
fn a_planner_learned_from_an_exploring_fixed_flow_log_beats_the_flow_and_is_judged_right() {
    let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
    let config = simulator.config();
    let mut rng = SmallRng::seed_from_u64(2_027);
    let shoppers = sample_population(&simulator, 15_000, &mut rng);
    let logging = Exploring::new(Box::new(FixedFlow::default()), 0.3).unwrap();
    let episodes = simulated_logged_episodes(&simulator, &shoppers, &logging, "sim-", &mut rng);
    // Every logged propensity is the logging policy's mass on the action taken, in (0, 1].
    assert!(episodes.iter().all(|e| e.validate().is_ok()));
    let (train, held) = split_for_evaluation(episodes, 0.2);
    let budget = DailyBudget {
        minor_per_day: simulator.guardrails().unwrap().daily_discount_budget_minor as f64,
        abandonments_per_day: f64::from(config.shop.carts_per_day),
    };
    let (planner, training) = fit_fitted_q(
        &train,
        &FittedQParams::default(),
        config.costs,
        &config.step_delays_hours,
        Some(budget),
        0.05,
    )
    .unwrap();
    assert_eq!(training.episodes, train.len());
    assert!(training.guardrail_outcome_steps > training.episodes);
    let spend = training.expected_coupons_per_day_minor.unwrap();
    assert!(spend <= 0.95 * budget.minor_per_day + 1e-6, "{spend}");

    let fresh = sample_population(&simulator, 3_000, &mut rng);
    let learned = truth(&simulator, &planner, &fresh);
    let logged = truth(&simulator, &logging, &fresh);
    let flow = truth(&simulator, &FixedFlow::default(), &fresh);
    assert!(
        learned > logged,
        "learned {learned:.1} vs logging {logged:.1}"
    );
    assert!(
        learned > flow,
        "learned {learned:.1} vs fixed flow {flow:.1}"
    );

    // Judged on the held-out fifth of the log. The truth of a policy there: each held-out
    // treated shopper evaluated exactly, in arrival order, with the daily discount budget
    // spent as the logging policy spent it on everyone before them (the recorded guardrail
    // outcomes carry that budget, and so do the estimates).
    let held_ids: std::collections::HashSet<usize> = held
        .iter()
        .filter(|e| !e.holdout())
        .map(|e| e.cart_id["sim-".len()..].parse::<usize>().unwrap())
        .collect();
    let held_truth = |policy: &dyn Policy| {
        let mut ledger = crate::simulator::DiscountLedger::default();
        let mut sum = 0.0;
        for (i, shopper) in shoppers.iter().enumerate() {
            if held_ids.contains(&i) {
                sum += crate::simulator::expected_outcome(&simulator, shopper, &ledger, policy)
                    .net_revenue_minor;
            }
            crate::simulator::evaluate_cart(&simulator, shopper, &ledger, &logging)
                .book(&mut ledger);
        }
        sum / held_ids.len() as f64
    };
    let covers = |what: &str, estimate: ValueEstimate, truth: f64| {
        assert!(
            estimate.ci_low <= truth && truth <= estimate.ci_high,
            "{what}: {estimate:?} vs truth {truth:.1}"
        );
    };
    let evaluation = evaluate_on_log(
        &planner,
        Some(&planner.clone().with_coupon_shadow_price(0.0)),
        &held,
        BootstrapParams::default(),
    )
    .unwrap();
    assert_eq!(evaluation.episodes, held_ids.len());
    covers("logged", evaluation.logged.unwrap(), held_truth(&logging));
    // Whatever the judgement estimates, it gets right; where it cannot, it says so.
    let whole_truth = held_truth(&planner);
    for estimate in [
        evaluation.whole_flow.estimate,
        evaluation.whole_flow.doubly_robust,
    ]
    .into_iter()
    .flatten()
    {
        covers("whole flow", estimate, whole_truth);
    }
    if let Some(first) = evaluation.first_touch.estimate {
        let first_truth = held_truth(&crate::policies::FirstTouch {
            first: &planner,
            rest: &logging,
        });
        covers("first touch", first, first_truth);
    }
    assert_ne!(evaluation.judgement, Judgement::Worse, "{evaluation:?}");
    eprintln!("truth: planner {whole_truth:.1}; {evaluation:#?}");
    // A first touch the log covers well (doing nothing at the first step, then the logged
    // flow): its estimate is given and right.
    let wait_first = FixedFlow::new(vec![
        ActionKind::DoNothing,
        ActionKind::ReminderEmail,
        ActionKind::Discount10,
    ]);
    let waiting = evaluate_on_log(&wait_first, None, &held, BootstrapParams::default()).unwrap();
    let estimate = waiting
        .first_touch
        .estimate
        .expect("the log often did nothing first");
    covers(
        "doing nothing first",
        estimate,
        held_truth(&crate::policies::FirstTouch {
            first: &wait_first,
            rest: &logging,
        }),
    );
}

/// A model that knows every action's value exactly.
struct Exact([f64; N_ACTIONS]);

impl StepValueModel for Exact {
    fn step_values(&self, _: &ObservedState) -> [f64; N_ACTIONS] {
        self.0
    }
}

#[test]
fn the_doubly_robust_estimate_is_exact_with_an_exact_model() {
    // One step, deterministic rewards by action: a reminder brings 3,000 net, doing nothing
    // 1,000. The log explores both; the evaluated policy is "always remind". With the exact
    // model, every correction is zero and every resample gives the exact value, 3,000.
    let mut episodes = Vec::new();
    for i in 0..400 {
        let remind = i % 4 == 0;
        let action = if remind {
            ActionKind::ReminderEmail
        } else {
            ActionKind::DoNothing
        };
        let mut e = episode(
            &format!("c{i}"),
            vec![step(0, action, if remind { 0.25 } else { 0.75 })],
            true,
        );
        e.steps[0].message_cost_minor = 0.0;
        e.discount_minor = 0;
        e.order_value_minor = if remind { 3_000 } else { 1_000 };
        episodes.push(e);
    }
    let mut values = [0.0; N_ACTIONS];
    values[ActionKind::DoNothing.index()] = 1_000.0;
    values[ActionKind::ReminderEmail.index()] = 3_000.0;
    let remind = FixedFlow::new(vec![ActionKind::ReminderEmail]);
    let evaluation = evaluate_on_log(
        &remind,
        Some(&Exact(values)),
        &episodes,
        BootstrapParams::default(),
    )
    .unwrap();
    let dr = evaluation.whole_flow.doubly_robust.expect("overlap");
    assert!((dr.value - 3_000.0).abs() < 1e-9, "{dr:?}");
    assert!((dr.ci_high - dr.ci_low).abs() < 1e-9, "{dr:?}");
    let snipw = evaluation.whole_flow.estimate.unwrap();
    assert!((snipw.value - 3_000.0).abs() < 1e-9, "{snipw:?}");
    // The logged mean: a quarter reminded (3,000), the rest 1,000.
    let logged = evaluation.logged.unwrap();
    assert!((logged.value - 1_500.0).abs() < 1e-9);
    let difference = evaluation.whole_flow.doubly_robust_difference.unwrap();
    assert!((difference.value - 1_500.0).abs() < 1e-9);
    assert!(
        evaluation.verdict.contains("doubly robust"),
        "{}",
        evaluation.verdict
    );
    assert_eq!(evaluation.judgement, Judgement::Better);
    // Without a model, no doubly robust figure.
    let plain = evaluate_on_log(&remind, None, &episodes, BootstrapParams::default()).unwrap();
    assert!(plain.whole_flow.doubly_robust.is_none());
    // A model that knows nothing (every value 0) leaves only the weighted correction: the
    // self-normalised weighting itself, here on noisy rewards.
    for (i, e) in episodes.iter_mut().enumerate() {
        e.order_value_minor += if i % 8 == 0 { 700 } else { -100 };
    }
    let blind = evaluate_on_log(
        &remind,
        Some(&Exact([0.0; N_ACTIONS])),
        &episodes,
        BootstrapParams::default(),
    )
    .unwrap();
    let (dr, snipw) = (
        blind.whole_flow.doubly_robust.unwrap(),
        blind.whole_flow.estimate.unwrap(),
    );
    assert!((dr.value - snipw.value).abs() < 1e-9, "{dr:?} {snipw:?}");
    assert!((dr.ci_low - snipw.ci_low).abs() < 1e-9 && (dr.ci_high - snipw.ci_high).abs() < 1e-9);
    assert!(dr.ci_high > dr.ci_low);
}

#[test]
fn a_group_of_few_heavily_weighted_episodes_is_refused() {
    // 1,000 episodes: the log did nothing first on 980 (propensity 0.98) and sent a push
    // on 20 (0.02). A policy pushing to a quarter of the shoppers puts weight 12.5 on each
    // logged push: those 20 episodes carry 25 % of the weight on an effective 20, too few,
    // though the effective sample size over all is far above 30.
    let episodes: Vec<LoggedEpisode> = (0..1_000)
        .map(|i| {
            let push = i % 50 == 0;
            let (action, propensity) = if push {
                (ActionKind::WebhookPush, 0.02)
            } else {
                (ActionKind::DoNothing, 0.98)
            };
            let mut s = step(0, action, propensity);
            s.state.observed.features.webhook_consent = true;
            episode(&format!("c{i}"), vec![s], i % 7 == 0)
        })
        .collect();
    struct QuarterPush;
    impl Policy for QuarterPush {
        fn name(&self) -> &str {
            "quarter_push"
        }
        fn distribution(&self, _: &Observation<'_>) -> crate::policies::ActionDistribution {
            let mut p = [0.0; N_ACTIONS];
            p[ActionKind::DoNothing.index()] = 0.75;
            p[ActionKind::WebhookPush.index()] = 0.25;
            crate::policies::ActionDistribution {
                probabilities: p,
                scores: [0.0; N_ACTIONS],
                reason: String::new(),
            }
        }
    }
    let evaluation =
        evaluate_on_log(&QuarterPush, None, &episodes, BootstrapParams::default()).unwrap();
    let value = &evaluation.first_touch;
    assert!(value.effective_sample_size > 100.0, "{value:?}");
    let thin = value.thin_group.expect("the push group is thin");
    assert_eq!(thin.first_action, ActionKind::WebhookPush);
    assert!((thin.weight_share - 0.25 * 1_000.0 / (0.75 / 0.98 * 980.0 + 250.0)).abs() < 1e-9);
    assert!((thin.effective_sample_size - 20.0).abs() < 1e-9);
    assert!(value.estimate.is_none());
    assert_eq!(evaluation.judgement, Judgement::LittleOverlap);
    assert!(
        evaluation.verdict.contains("webhook_push"),
        "{}",
        evaluation.verdict
    );
}

#[test]
fn coupon_spend_is_weighted_by_the_steps_before() {
    // Every cart worth 10,000; the evaluated policy: nothing first, a 10 % coupon second.
    let policy = FixedFlow::new(vec![ActionKind::DoNothing, ActionKind::Discount10]);
    // The log: half the episodes did nothing first (propensity 0.5) and reached step 1,
    // half sent a reminder first and reached step 1 too.
    let episodes: Vec<LoggedEpisode> = (0..100)
        .map(|i| {
            let first = if i % 2 == 0 {
                ActionKind::DoNothing
            } else {
                ActionKind::ReminderEmail
            };
            episode(
                &format!("c{i}"),
                vec![step(0, first, 0.5), step(1, ActionKind::DoNothing, 1.0)],
                false,
            )
        })
        .collect();
    // Step 0 issues nothing; step 1's 1,000 counts with the ratio of step 0: 2 where the
    // log did nothing first (the policy's choice), 0 where it reminded. Mean: 1,000.
    let spend = coupon_spend_per_abandonment(&policy, &episodes);
    assert!((spend - 1_000.0).abs() < 1e-9, "{spend}");
    // A policy that sends the coupon first issues it on every logged state of step 0.
    let coupon_first = FixedFlow::new(vec![ActionKind::Discount10, ActionKind::DoNothing]);
    assert!((coupon_spend_per_abandonment(&coupon_first, &episodes) - 1_000.0).abs() < 1e-9);
    // The guardrails' recorded outcomes count: a coupon the budget turns into nothing is
    // not issued.
    let mut suppressed = episodes.clone();
    for e in &mut suppressed {
        e.steps[0]
            .state
            .executed
            .insert(ActionKind::Discount10, ActionKind::DoNothing);
    }
    assert_eq!(
        coupon_spend_per_abandonment(&coupon_first, &suppressed),
        0.0
    );
}
