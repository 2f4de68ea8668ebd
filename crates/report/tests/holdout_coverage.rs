//! Does the report's lift against the holdout find the truth? On the shopper simulator,
//! whose exact expected values are known: each replication draws a fresh population, puts
//! 10 % of the shoppers in a holdout (do nothing) and runs the fixed flow on the others,
//! books every cart as the engine books an abandonment, and builds the report. The true
//! effects are the simulator's exact expectations (fixed flow − doing nothing), averaged over
//! a large population of their own. Over the replications, the report's 95 % intervals for
//! the net revenue per abandonment (Welch) and the recovery rate difference (Newcombe) must
//! cover the truth about 95 % of the time, and the estimates must be unbiased.

use cartback_core::Timestamp;
use cartback_policy::actions::ActionKind;
use cartback_policy::policies::{DoNothing, FixedFlow, Policy};
use cartback_policy::simulator::{
    DiscountLedger, Shopper, Simulator, SimulatorConfig, expected_outcome, run_episode,
    sample_population,
};
use cartback_report::{AbandonmentOutcome, Period, ReportBuilder};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const REPLICATIONS: u64 = 200;
const CARTS: usize = 2_000;
const HOLDOUT: f64 = 0.1;

/// One simulated abandonment, booked like the engine's.
fn book(
    simulator: &Simulator,
    shopper: &Shopper,
    holdout: bool,
    rng: &mut SmallRng,
) -> AbandonmentOutcome {
    let flow = FixedFlow::default();
    let policy: &dyn Policy = if holdout { &DoNothing } else { &flow };
    let steps = run_episode(
        simulator,
        shopper,
        &mut DiscountLedger::default(),
        policy,
        rng,
    );
    let recovered = steps.iter().any(|t| t.bought);
    let unsubscribed = steps.iter().any(|t| t.unsubscribed);
    let discount = steps.iter().map(|t| t.discount_minor).sum::<f64>().round() as i64;
    let net: f64 = steps.iter().map(|t| t.reward_minor).sum();
    let unsubscribe_loss = if unsubscribed {
        simulator.config().costs.unsubscribe_loss_minor
    } else {
        0.0
    };
    let revenue = if recovered {
        steps[0].state.features.cart_value_minor
    } else {
        0
    };
    let outcome = AbandonmentOutcome {
        cart_id: String::new(),
        abandonment: 1,
        decided_at: Timestamp(0),
        holdout,
        first_action: steps[0].executed.name().into(),
        settled: true,
        recovered,
        order_value_minor: revenue,
        order_cancelled: false,
        discount_minor: discount,
        messages_sent: steps
            .iter()
            .filter(|t| t.executed != ActionKind::DoNothing)
            .count() as u32,
        // What the simulator's net leaves after revenue, coupon and unsubscribe loss.
        message_cost_minor: (revenue - discount) as f64 - unsubscribe_loss - net,
        unsubscribed,
        unsubscribe_loss_minor: unsubscribe_loss,
        attributed: false,
        currency: Some("EUR".into()),
    };
    assert!(outcome.message_cost_minor > -1.0, "{outcome:?}");
    assert!((outcome.net_minor() - net).abs() < 1e-6);
    outcome
}

#[test]
fn the_holdout_lift_covers_the_simulators_true_effect() {
    let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
    // The truth: exact expectations over a large population of its own.
    let truth_population = sample_population(&simulator, 40_000, &mut SmallRng::seed_from_u64(99));
    let (mut net_effect, mut rate_effect) = (0.0, 0.0);
    for shopper in &truth_population {
        let ledger = DiscountLedger::default();
        let flow = expected_outcome(&simulator, shopper, &ledger, &FixedFlow::default());
        let nothing = expected_outcome(&simulator, shopper, &ledger, &DoNothing);
        net_effect += flow.net_revenue_minor - nothing.net_revenue_minor;
        rate_effect += flow.recovery_probability - nothing.recovery_probability;
    }
    let n = truth_population.len() as f64;
    let (net_effect, rate_effect) = (net_effect / n, rate_effect / n);

    let (mut net_covered, mut rate_covered) = (0, 0);
    let (mut net_sum, mut rate_sum) = (0.0, 0.0);
    let (mut net_width, mut rate_width) = (0.0, 0.0);
    for replication in 0..REPLICATIONS {
        let mut rng = SmallRng::seed_from_u64(1_000 + replication);
        let shoppers = sample_population(&simulator, CARTS, &mut rng);
        let mut builder = ReportBuilder::new(Period::default());
        for shopper in &shoppers {
            let holdout = rng.random::<f64>() < HOLDOUT;
            builder.add_abandonment(&book(&simulator, shopper, holdout, &mut rng));
        }
        let lift = builder.finish(Timestamp(0)).lift;
        let net = lift.net_per_abandonment_difference_minor.unwrap();
        let rate = lift.recovery_rate_difference.unwrap();
        net_covered += u32::from(net.ci_low <= net_effect && net_effect <= net.ci_high);
        rate_covered += u32::from(rate.ci_low <= rate_effect && rate_effect <= rate.ci_high);
        net_sum += net.value;
        rate_sum += rate.value;
        net_width += net.ci_high - net.ci_low;
        rate_width += rate.ci_high - rate.ci_low;
    }
    let r = REPLICATIONS as f64;
    let (net_coverage, rate_coverage) = (net_covered as f64 / r, rate_covered as f64 / r);
    let (net_mean, rate_mean) = (net_sum / r, rate_sum / r);
    let (net_width, rate_width) = (net_width / r, rate_width / r);
    eprintln!(
        "true effect per abandonment {net_effect:.2} minor units, recovery rate {:+.3} \
         points; over {REPLICATIONS} replications of {CARTS} carts ({:.0} % holdout): mean \
         estimate {net_mean:.2} minor units and {:+.3} points (mean interval width \
         {net_width:.1} and {:.2}); the 95 % intervals covered the truth {:.1} % (net) and \
         {:.1} % (rate) of the time",
        rate_effect * 100.0,
        HOLDOUT * 100.0,
        rate_mean * 100.0,
        rate_width * 100.0,
        net_coverage * 100.0,
        rate_coverage * 100.0
    );
    // 95 % nominal; with 200 replications the binomial standard error is 1.5 points.
    for (what, coverage) in [("net", net_coverage), ("rate", rate_coverage)] {
        assert!((0.90..=0.99).contains(&coverage), "{what}: {coverage}");
    }
    // Unbiased: the mean estimate lies within 3 standard errors of the truth (one
    // replication's standard deviation is about its interval's width / 3.92).
    let within =
        |mean: f64, truth: f64, width: f64| (mean - truth).abs() < 3.0 * width / 3.92 / r.sqrt();
    assert!(
        within(net_mean, net_effect, net_width),
        "{net_mean} vs {net_effect}"
    );
    assert!(
        within(rate_mean, rate_effect, rate_width),
        "{rate_mean} vs {rate_effect}"
    );
}
