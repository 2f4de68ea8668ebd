//! Do the report's off-policy estimates find the truth, and agree with the holdout? On the
//! shopper simulator with a one-step flow (so that doing nothing at the first touch is
//! doing nothing throughout, what the holdout measures): a fifth of the shoppers are held
//! out and never contacted, the others get a uniformly random first action (an exploring
//! logging policy, with the propensity the engine would record), every cart booked with its
//! net revenue. The simulator's exact expectations over the treated shoppers are the truth.

use cartback_core::Timestamp;
use cartback_policy::actions::ActionKind;
use cartback_policy::policies::{DoNothing, FixedFlow, UniformRandom};
use cartback_policy::simulator::{
    DiscountLedger, Shopper, Simulator, SimulatorConfig, exact_first_touch_value, run_episode,
    sample_population, simulated_first_touch_rounds,
};
use cartback_report::{AbandonmentOutcome, FirstTouchRound, Period, ReportBuilder};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const CARTS: usize = 5_000;
const HOLDOUT: f64 = 0.2;

/// A held-out shopper's abandonment: nothing sent, bought or not.
fn held_out(simulator: &Simulator, shopper: &Shopper, rng: &mut SmallRng) -> AbandonmentOutcome {
    let steps = run_episode(
        simulator,
        shopper,
        &mut DiscountLedger::default(),
        &DoNothing,
        rng,
    );
    let recovered = steps.iter().any(|t| t.bought);
    let net: f64 = steps.iter().map(|t| t.reward_minor).sum();
    let outcome = AbandonmentOutcome {
        cart_id: String::new(),
        abandonment: 1,
        decided_at: Timestamp(0),
        holdout: true,
        first_action: "do_nothing".into(),
        settled: true,
        recovered,
        order_value_minor: if recovered {
            steps[0].state.features.cart_value_minor
        } else {
            0
        },
        order_cancelled: false,
        discount_minor: 0,
        messages_sent: 0,
        message_cost_minor: 0.0,
        unsubscribed: false,
        unsubscribe_loss_minor: 0.0,
        attributed: false,
        currency: Some("EUR".into()),
    };
    assert!((outcome.net_minor() - net).abs() < 1e-6, "{outcome:?}");
    outcome
}

#[test]
fn doing_nothing_estimated_off_policy_covers_the_truth_and_agrees_with_the_holdout() {
    let mut config = SimulatorConfig {
        step_delays_hours: vec![1],
        ..SimulatorConfig::default()
    };
    config.population.unaided_purchase_timing = vec![1.0];
    let simulator = Simulator::new(config).unwrap();
    let mut rng = SmallRng::seed_from_u64(2_026);
    let shoppers = sample_population(&simulator, CARTS, &mut rng);
    let (held, treated): (Vec<Shopper>, Vec<Shopper>) = shoppers
        .into_iter()
        .partition(|_| rng.random::<f64>() < HOLDOUT);
    let mut builder = ReportBuilder::new(Period::default()).with_off_policy();
    for shopper in &held {
        builder.add_abandonment(&held_out(&simulator, shopper, &mut rng));
    }
    let rounds = simulated_first_touch_rounds(&simulator, &treated, &UniformRandom, "t", &mut rng);
    for round in rounds {
        builder.add_first_touch(FirstTouchRound {
            decided_at: Timestamp(0),
            currency: Some("EUR".into()),
            action: round.action,
            propensity: round.propensity,
            reward: round.reward,
            nothing_throughout: (round.action == ActionKind::DoNothing).then_some(round.propensity),
            state: round.state,
        });
    }
    let report = builder.finish(Timestamp(0));
    let section = report.off_policy.expect("the off-policy section");
    let truth = |first: &dyn cartback_policy::policies::Policy| {
        exact_first_touch_value(&simulator, &treated, first, &UniformRandom)
    };
    let nothing_truth = truth(&DoNothing);
    let reminder_truth = truth(&FixedFlow::default());
    let logged_truth = truth(&UniformRandom);
    let holdout = report.lift.holdout.net_per_abandonment_minor.unwrap();
    eprintln!(
        "truth: nothing {nothing_truth:.1}, reminder first {reminder_truth:.1}, logged \
         {logged_truth:.1}; holdout measured {holdout:?}\n{section:#?}"
    );
    assert_eq!(section.rounds, treated.len() as u64);
    assert_eq!(section.flow_steps, Some(1));
    let covers = |name: &str, e: Option<cartback_report::Estimate>, truth: f64| {
        let e = e.unwrap_or_else(|| panic!("{name}: no estimate"));
        assert!(
            e.ci_low <= truth && truth <= e.ci_high,
            "{name}: truth {truth:.1} outside [{:.1}, {:.1}] (estimate {:.1})",
            e.ci_low,
            e.ci_high,
            e.value
        );
    };
    covers("logged", section.logged, logged_truth);
    let policy = |name: &str| section.policies.iter().find(|p| p.policy == name).unwrap();
    let nothing = policy("do_nothing");
    // Uniform over 7 or 8 allowed actions: about one round in seven or eight did nothing.
    let share = nothing.effective_sample_size / section.rounds as f64;
    assert!((0.10..0.16).contains(&share), "{nothing:?}");
    covers("do_nothing SNIPW", nothing.snipw, nothing_truth);
    covers("do_nothing DR", nothing.dr, nothing_truth);
    let reminder = policy("fixed_flow");
    covers("reminder first SNIPW", reminder.snipw, reminder_truth);
    covers("reminder first DR", reminder.dr, reminder_truth);
    // The truth the holdout measures is the same as the off-policy estimate's, and the two
    // agree within their sampling errors.
    covers("holdout", Some(holdout), nothing_truth);
    let check = section.holdout_check.unwrap();
    assert_eq!(check.estimate, nothing.snipw, "one step: the same rounds");
    assert_eq!(check.agrees, Some(true), "{}", check.verdict);
    assert!(check.verdict.starts_with("Agrees: "), "{}", check.verdict);
}
