//! The Bayes-optimal policy for what a shop can observe: it knows the simulator's model
//! and priors (the response types' shares and behaviour, how the observable features are
//! generated from them) but not the shopper's hidden traits. At each step it holds the
//! exact posterior over the shopper's hidden type given the observed features (including a
//! returning customer's coupon use and marketing e-mail engagement, and the session's
//! signals of discount seeking: a code typed at checkout, a coupon-site arrival) and the observed
//! history of the cart (what was sent, that the shopper has not bought yet, whether they
//! unsubscribed), and plays the action with the highest posterior expected net revenue
//! over the remaining steps (dynamic programming over the observable history tree, every
//! proposal passing through the guardrails).
//!
//! It is a diagnostic, not a learned policy: its value is the ceiling of any policy that
//! sees the same observations, so the oracle's lead over it is the price of the hidden
//! information, and its lead over a learned policy is what better learning could still win.

use super::dynamics::{CartProgress, StepOutcome, step_outcomes};
use super::environment::{DecisionPoint, DiscountLedger, Executed, Simulator, guardrail_index};
use super::exact::{CartEvaluation, CartExpectation};
use super::shopper::{
    Segment, Shopper, history_likelihood, mobile_share, returning_share, session_likelihood,
};
use crate::actions::ActionKind;
use crate::policies::N_ACTIONS;
use std::collections::HashMap;

/// One hypothesis about the hidden traits, with the shopper built from it.
struct Hypothesis {
    shopper: Shopper,
}

/// Posterior weight and hidden progress of one hypothesis at a node.
#[derive(Clone, Copy)]
struct Particle {
    weight: f64,
    hypothesis: usize,
    progress: CartProgress,
}

#[derive(Default)]
struct TruthStats {
    expectation: CartExpectation,
    coupons: Vec<(i64, f64)>,
}

impl TruthStats {
    fn absorb(&mut self, other: TruthStats) {
        let (a, b) = (&mut self.expectation, other.expectation);
        a.net_revenue_minor += b.net_revenue_minor;
        a.recovery_probability += b.recovery_probability;
        a.messages += b.messages;
        a.discount_minor += b.discount_minor;
        a.unsubscribe_probability += b.unsubscribe_probability;
        a.decisions += b.decisions;
        a.guardrail_changes += b.guardrail_changes;
        for i in 0..a.changes_by_guardrail.len() {
            a.changes_by_guardrail[i] += b.changes_by_guardrail[i];
        }
        for i in 0..N_ACTIONS {
            a.executed[i] += b.executed[i];
        }
        self.coupons.extend(other.coupons);
    }
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Every combination of hidden traits with its prior × likelihood of `shopper`'s
/// observable features (normalised): the propensity score, returning, mobile, the
/// customer history (coupon use, e-mail opens and clicks) and the session signals (code
/// typed at checkout, coupon-site arrival). Consent, cart value, hour, the numbers of past
/// orders and e-mails and whether checkout was reached do not depend on the hidden traits.
fn hypotheses(simulator: &Simulator, shopper: &Shopper) -> Vec<(f64, Hypothesis)> {
    let p = &simulator.config().population;
    let lost_share = 1.0 - p.sure_thing_share - p.persuadable_share - p.sleeping_dog_share;
    let score = logit(shopper.features.predicted_propensity);
    let sd = p.propensity_score_noise.max(1e-9);
    let mut out = Vec::new();
    for (segment, share, rate, sensitive_share) in [
        (
            Segment::SureThing,
            p.sure_thing_share,
            p.sure_thing_purchase_rate,
            0.0,
        ),
        (
            Segment::Persuadable,
            p.persuadable_share,
            p.persuadable_purchase_rate,
            p.persuadable_discount_sensitive_share,
        ),
        (
            Segment::LostCause,
            lost_share,
            p.lost_cause_purchase_rate,
            p.lost_cause_discount_sensitive_share,
        ),
        (
            Segment::SleepingDog,
            p.sleeping_dog_share,
            p.sleeping_dog_purchase_rate,
            0.0,
        ),
    ] {
        let z = (score - logit(rate)) / sd;
        let returning = returning_share(segment);
        let likelihood = (-0.5 * z * z).exp()
            * if shopper.features.returning_customer {
                returning
            } else {
                1.0 - returning
            };
        for (sensitive, p_sensitive) in [(true, sensitive_share), (false, 1.0 - sensitive_share)] {
            for (webhook, p_webhook) in [
                (true, p.webhook_preference_share),
                (false, 1.0 - p.webhook_preference_share),
            ] {
                let mobile = mobile_share(webhook);
                let weight = share
                    * likelihood
                    * p_sensitive
                    * p_webhook
                    * if shopper.features.mobile {
                        mobile
                    } else {
                        1.0 - mobile
                    }
                    * history_likelihood(
                        &simulator.config().history,
                        segment,
                        sensitive,
                        webhook,
                        &shopper.features.history,
                    )
                    * session_likelihood(
                        &simulator.config().session,
                        sensitive,
                        &shopper.features.session,
                    );
                if weight > 0.0 {
                    out.push((
                        weight,
                        Hypothesis {
                            shopper: Shopper {
                                segment,
                                unaided_purchase_rate: rate,
                                prefers_webhook: webhook,
                                discount_sensitive: sensitive,
                                ..*shopper
                            },
                        },
                    ));
                }
            }
        }
    }
    let total: f64 = out.iter().map(|(w, _)| w).sum();
    for (w, _) in &mut out {
        *w /= total.max(f64::MIN_POSITIVE);
    }
    out
}

struct Solver<'a> {
    simulator: &'a Simulator,
    truth: &'a Shopper,
    ledger: &'a DiscountLedger,
    hypotheses: Vec<Hypothesis>,
    /// Price of coupon face value in the policy's objective (not in the reported outcome).
    coupon_shadow_price: f64,
    /// Whether the policy sees which of the cart's e-mails were opened.
    observe_opens: bool,
}

impl Solver<'_> {
    /// Posterior value of the node (unnormalised weights) and the truth's statistics under
    /// the Bayes policy from here.
    fn solve(&self, belief: &[Particle], truth: &[(f64, CartProgress)]) -> (f64, TruthStats) {
        let observable = belief
            .first()
            .map(|p| p.progress)
            .or_else(|| truth.first().map(|t| t.1))
            .expect("a node has particles");
        let point = DecisionPoint::new(self.simulator, self.truth, &observable, self.ledger);
        let executed = point.execute_all(self.simulator);
        let mut best: Option<(f64, TruthStats)> = None;
        let mut seen: Vec<(ActionKind, cartback_core::Timestamp)> = Vec::new();
        for kind in ActionKind::ALL {
            let e = executed[kind.index()];
            if seen.contains(&(e.kind, e.send_at)) {
                continue;
            }
            seen.push((e.kind, e.send_at));
            let (value, stats) = self.action(belief, truth, &e);
            // Ties go to the earlier (cheaper) action: strict improvement needed.
            if best.as_ref().is_none_or(|(v, _)| value > *v + 1e-9) {
                best = Some((value, stats));
            }
        }
        best.expect("doing nothing is always possible")
    }

    fn action(
        &self,
        belief: &[Particle],
        truth: &[(f64, CartProgress)],
        executed: &Executed,
    ) -> (f64, TruthStats) {
        let config = self.simulator.config();
        // Children keyed by the observable outcome: still subscribed or not, and (when the
        // policy sees opens) whether the step's e-mail was opened.
        let child = |o: &StepOutcome, next: &CartProgress| {
            usize::from(next.subscribed) + 2 * usize::from(self.observe_opens && o.opened)
        };
        let mut belief_children: [HashMap<(usize, CartProgress), f64>; 4] = Default::default();
        let mut value = 0.0;
        for particle in belief {
            let shopper = &self.hypotheses[particle.hypothesis].shopper;
            for o in step_outcomes(config, shopper, &particle.progress, executed) {
                let w = particle.weight * o.probability;
                value += w * o.accounting.net_minor();
                if o.accounting.message_sent {
                    value -= w * self.coupon_shadow_price * executed.coupon_minor as f64;
                }
                if let Some(next) = o.next {
                    *belief_children[child(&o, &next)]
                        .entry((particle.hypothesis, next))
                        .or_insert(0.0) += w;
                }
            }
        }
        let mut stats = TruthStats::default();
        let mut truth_children: [HashMap<CartProgress, f64>; 4] = Default::default();
        for &(mass, progress) in truth {
            let e = &mut stats.expectation;
            e.decisions += mass;
            if !executed.changed_by.is_empty() {
                e.guardrail_changes += mass;
                for g in executed.changed_by.iter() {
                    e.changes_by_guardrail[guardrail_index(g)] += mass;
                }
            }
            e.executed[executed.kind.index()] += mass;
            let outcomes = step_outcomes(config, self.truth, &progress, executed);
            if outcomes.first().is_some_and(|o| o.accounting.message_sent)
                && executed.coupon_minor > 0
            {
                stats
                    .coupons
                    .push((executed.decision_day, mass * executed.coupon_minor as f64));
            }
            for o in outcomes {
                let w = mass * o.probability;
                let a = &o.accounting;
                e.net_revenue_minor += w * a.net_minor();
                e.discount_minor += w * a.discount_minor;
                if a.bought {
                    e.recovery_probability += w;
                }
                if a.message_sent {
                    e.messages += w;
                }
                if a.unsubscribed {
                    e.unsubscribe_probability += w;
                }
                if let Some(next) = o.next {
                    *truth_children[child(&o, &next)].entry(next).or_insert(0.0) += w;
                }
            }
        }
        for (beliefs, truths) in belief_children.into_iter().zip(truth_children) {
            if beliefs.is_empty() && truths.is_empty() {
                continue;
            }
            let particles: Vec<Particle> = beliefs
                .into_iter()
                .map(|((hypothesis, progress), weight)| Particle {
                    weight,
                    hypothesis,
                    progress,
                })
                .collect();
            let truths: Vec<(f64, CartProgress)> =
                truths.into_iter().map(|(p, m)| (m, p)).collect();
            let (child_value, child_stats) = self.solve(&particles, &truths);
            value += child_value;
            stats.absorb(child_stats);
        }
        (value, stats)
    }
}

/// Hidden traits the Bayes policy may additionally be told, to price the information the
/// oracle has, and one observation the shop has but the policies are not given. Told all
/// three traits it still trails the oracle slightly: the oracle also sees whether each
/// earlier message reached the shopper (whether a coupon was seen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Revealed {
    /// The response type (sure thing, persuadable, lost cause, sleeping dog).
    pub segment: bool,
    /// Whether coupons work on the shopper.
    pub discount_sensitivity: bool,
    /// Whether the shopper prefers push/SMS to e-mail.
    pub channel_preference: bool,
    /// Not a trait: whether each of this cart's e-mails was opened, as the engine's open
    /// tracking shows. The step it is seen is the one after the e-mail; push and SMS have
    /// no open signal.
    pub email_opens: bool,
}

/// The exact expectation of the Bayes-optimal observable policy on `shopper` (whose hidden
/// traits it does not use), with the other carts' coupons in `ledger`. The policy charges
/// itself `coupon_shadow_price` per minor unit of coupon face value it issues (0: it
/// spends a binding daily budget on whoever comes first).
pub fn bayes_evaluation(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    coupon_shadow_price: f64,
) -> CartEvaluation {
    bayes_evaluation_revealed(
        simulator,
        shopper,
        ledger,
        coupon_shadow_price,
        Revealed::default(),
    )
}

/// [`bayes_evaluation`] for a policy also told the `revealed` hidden traits: the value of
/// that information.
pub fn bayes_evaluation_revealed(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    coupon_shadow_price: f64,
    revealed: Revealed,
) -> CartEvaluation {
    let mut weighted: Vec<(f64, Hypothesis)> = hypotheses(simulator, shopper)
        .into_iter()
        .filter(|(_, h)| {
            let h = &h.shopper;
            (!revealed.segment || h.segment == shopper.segment)
                && (!revealed.discount_sensitivity
                    || h.discount_sensitive == shopper.discount_sensitive)
                && (!revealed.channel_preference || h.prefers_webhook == shopper.prefers_webhook)
        })
        .collect();
    let total: f64 = weighted.iter().map(|(w, _)| w).sum();
    for (w, _) in &mut weighted {
        *w /= total.max(f64::MIN_POSITIVE);
    }
    let belief: Vec<Particle> = weighted
        .iter()
        .enumerate()
        .map(|(i, (w, _))| Particle {
            weight: *w,
            hypothesis: i,
            progress: CartProgress::START,
        })
        .collect();
    let solver = Solver {
        simulator,
        truth: shopper,
        ledger,
        hypotheses: weighted.into_iter().map(|(_, h)| h).collect(),
        coupon_shadow_price,
        observe_opens: revealed.email_opens,
    };
    let (_, stats) = solver.solve(&belief, &[(1.0, CartProgress::START)]);
    let mut by_day: HashMap<i64, f64> = HashMap::new();
    for (day, minor) in stats.coupons {
        *by_day.entry(day).or_insert(0.0) += minor;
    }
    let mut coupons_by_day: Vec<(i64, f64)> = by_day.into_iter().collect();
    coupons_by_day.sort_by_key(|(d, _)| *d);
    CartEvaluation {
        expectation: stats.expectation,
        coupons_by_day,
    }
}

/// The posterior probability that `shopper` (whose hidden traits are not used) buys in
/// the first step when `proposal` is made: what an ideal purchase model of the observable
/// features predicts. For diagnosing learned models.
pub fn posterior_first_step_purchase(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &DiscountLedger,
    proposal: ActionKind,
) -> f64 {
    let point = DecisionPoint::new(simulator, shopper, &CartProgress::START, ledger);
    let executed = point.execute(simulator, proposal);
    hypotheses(simulator, shopper)
        .iter()
        .map(|(w, h)| {
            w * step_outcomes(
                simulator.config(),
                &h.shopper,
                &CartProgress::START,
                &executed,
            )
            .iter()
            .filter(|o| o.accounting.bought)
            .map(|o| o.probability)
            .sum::<f64>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{DoNothing, FixedFlow, Oracle, Policy};
    use crate::simulator::SimulatorConfig;
    use crate::simulator::exact::expected_outcome;
    use crate::simulator::shopper::{CustomerHistory, SessionSignals, sample_population};
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn the_posterior_favours_the_type_the_features_point_to() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(8);
        let shoppers = sample_population(&simulator, 400, &mut rng);
        // Averaged over shoppers, the posterior puts more mass on the true type than its
        // prior share does.
        let mut posterior_on_truth = 0.0;
        for s in &shoppers {
            posterior_on_truth += hypotheses(&simulator, s)
                .iter()
                .filter(|(_, h)| h.shopper.segment == s.segment)
                .map(|(w, _)| w)
                .sum::<f64>();
        }
        posterior_on_truth /= shoppers.len() as f64;
        assert!(posterior_on_truth > 0.7, "{posterior_on_truth}");
    }

    /// The Bayes policy's posterior mass on the shopper's true discount sensitivity.
    fn posterior_on_true_sensitivity(simulator: &Simulator, s: &Shopper) -> f64 {
        hypotheses(simulator, s)
            .iter()
            .filter(|(_, h)| h.shopper.discount_sensitive == s.discount_sensitive)
            .map(|(w, _)| w)
            .sum()
    }

    #[test]
    fn the_customer_history_moves_the_posterior_towards_the_truth() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(8);
        let shoppers = sample_population(&simulator, 3_000, &mut rng);
        // Posterior mass on the true discount sensitivity, with and without the history,
        // over returning customers (new ones have none).
        let on_truth = |s: &Shopper| posterior_on_true_sensitivity(&simulator, s);
        let (mut with, mut without, mut n) = (0.0, 0.0, 0.0);
        for s in shoppers.iter().filter(|s| s.features.returning_customer) {
            let mut wiped = *s;
            wiped.features.history = Default::default();
            with += on_truth(s);
            without += on_truth(&wiped);
            n += 1.0;
        }
        assert!(
            with / n > without / n + 0.02,
            "{} vs {}",
            with / n,
            without / n
        );
    }

    /// The value of information cannot be negative: averaged over the histories a cart's
    /// shopper can show (each with its exact probability) and over the hidden traits (with
    /// their posterior given the other features), the Bayes policy that sees the history
    /// makes at least what the one that does not makes. Small history (one order, three
    /// e-mails) so every history can be listed.
    /// What observing a signal is worth to the Bayes policy, summed over `carts`: for each
    /// cart (its signal cleared first) and each hidden truth the cart's observations allow,
    /// the value of seeing every possible signal `value` (weighted by its likelihood under
    /// that truth) minus the value of seeing none. Asserts that the likelihoods sum to 1 and
    /// that seeing the signal never loses value on any cart.
    fn value_of_observing<S: Copy + Default>(
        simulator: &Simulator,
        carts: Vec<Shopper>,
        values: &[S],
        likelihood: impl Fn(&Shopper, &S) -> f64,
        observe: impl Fn(&mut Shopper, S),
    ) -> f64 {
        let ledger = DiscountLedger::default();
        let value = |shopper: &Shopper| {
            bayes_evaluation(simulator, shopper, &ledger, 0.0)
                .expectation
                .net_revenue_minor
        };
        let mut gained = 0.0;
        for mut cart in carts {
            observe(&mut cart, S::default());
            let (mut blind, mut informed) = (0.0, 0.0);
            for (prior, hypothesis) in hypotheses(simulator, &cart) {
                let truth = hypothesis.shopper;
                blind += prior * value(&truth);
                let mut total_likelihood = 0.0;
                for signal in values {
                    let l = likelihood(&truth, signal);
                    total_likelihood += l;
                    let mut seen = truth;
                    observe(&mut seen, *signal);
                    informed += prior * l * value(&seen);
                }
                assert!((total_likelihood - 1.0).abs() < 1e-12);
            }
            assert!(informed >= blind - 1e-6, "{informed} < {blind}");
            gained += informed - blind;
        }
        gained
    }

    #[test]
    fn the_bayes_ceiling_does_not_drop_when_the_history_is_observed() {
        let mut config = SimulatorConfig::default();
        config.history.extra_orders_mean = 0.0;
        config.history.marketing_emails = 3;
        config.guardrails.holdout_share = 0.0;
        let simulator = Simulator::new(config.clone()).unwrap();
        let mut rng = SmallRng::seed_from_u64(17);
        let mut histories = Vec::new();
        for coupon_orders in 0..=1 {
            for email_opens in 0..=3 {
                for email_clicks in 0..=email_opens {
                    histories.push(CustomerHistory {
                        orders: 1,
                        coupon_orders,
                        emails: 3,
                        email_opens,
                        email_clicks,
                    });
                }
            }
        }
        let carts: Vec<Shopper> = sample_population(&simulator, 400, &mut rng)
            .into_iter()
            .filter(|s| s.features.returning_customer && s.features.email_consent)
            .take(4)
            .collect();
        let gained = value_of_observing(
            &simulator,
            carts,
            &histories,
            |truth, history| {
                history_likelihood(
                    &config.history,
                    truth.segment,
                    truth.discount_sensitive,
                    truth.prefers_webhook,
                    history,
                )
            },
            |cart, history| cart.features.history = history,
        );
        assert!(gained > 0.0, "the history was worth nothing");
    }

    #[test]
    fn the_session_signals_move_the_posterior_towards_the_truth() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(8);
        let shoppers = sample_population(&simulator, 3_000, &mut rng);
        // Posterior mass on the true discount sensitivity, with and without the session
        // signals, over new customers (who have no history) and over everyone.
        let on_truth = |s: &Shopper| posterior_on_true_sensitivity(&simulator, s);
        for new_only in [true, false] {
            let (mut with, mut without, mut n) = (0.0, 0.0, 0.0);
            for s in shoppers
                .iter()
                .filter(|s| !new_only || !s.features.returning_customer)
            {
                let mut wiped = *s;
                wiped.features.session = SessionSignals::default();
                with += on_truth(s);
                without += on_truth(&wiped);
                n += 1.0;
            }
            assert!(with / n > without / n, "{} vs {}", with / n, without / n);
        }
    }

    /// Like the history's: averaged over every session a cart's shopper can show (checkout
    /// reached, referrer known: four combinations of a typed code and a coupon-site arrival,
    /// each with its exact probability) and over the hidden traits, the Bayes policy that
    /// sees the session signals makes at least what the one that does not makes.
    #[test]
    fn the_bayes_ceiling_does_not_drop_when_the_session_signals_are_observed() {
        let mut config = SimulatorConfig::default();
        config.guardrails.holdout_share = 0.0;
        let simulator = Simulator::new(config.clone()).unwrap();
        let mut rng = SmallRng::seed_from_u64(17);
        let mut sessions = Vec::new();
        for coupon_entered in [false, true] {
            for deal_site_referral in [false, true] {
                sessions.push(SessionSignals {
                    coupon_field_seen: true,
                    coupon_entered,
                    referrer_known: true,
                    deal_site_referral,
                });
            }
        }
        let carts: Vec<Shopper> = sample_population(&simulator, 400, &mut rng)
            .into_iter()
            .filter(|s| {
                // New customers whose score points to a persuadable: where a coupon is a
                // close call.
                !s.features.returning_customer
                    && s.features.email_consent
                    && (0.015..0.06).contains(&s.features.predicted_propensity)
            })
            .take(6)
            .collect();
        let gained = value_of_observing(
            &simulator,
            carts,
            &sessions,
            |truth, session| session_likelihood(&config.session, truth.discount_sensitive, session),
            |cart, session| cart.features.session = session,
        );
        assert!(gained > 0.0, "the session signals were worth nothing");
    }

    #[test]
    fn the_bayes_ceiling_does_not_drop_when_this_carts_email_opens_are_observed() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(23);
        let carts: Vec<Shopper> = sample_population(&simulator, 400, &mut rng)
            .into_iter()
            .filter(|s| s.features.email_consent)
            .take(6)
            .collect();
        let ledger = DiscountLedger::default();
        let value = |truth: &Shopper, email_opens: bool| {
            let revealed = Revealed {
                email_opens,
                ..Revealed::default()
            };
            bayes_evaluation_revealed(&simulator, truth, &ledger, 0.0, revealed)
                .expectation
                .net_revenue_minor
        };
        // Averaged over the truths the cart's observations allow (with their posterior
        // weights), seeing more can only help: the informed policy could ignore the opens.
        let mut gained = 0.0;
        for cart in carts {
            let (mut blind, mut informed) = (0.0, 0.0);
            for (prior, hypothesis) in hypotheses(&simulator, &cart) {
                blind += prior * value(&hypothesis.shopper, false);
                informed += prior * value(&hypothesis.shopper, true);
            }
            assert!(informed >= blind - 1e-6, "{informed} < {blind}");
            gained += informed - blind;
        }
        assert!(gained > 0.0, "the opens were worth nothing: {gained}");
    }

    #[test]
    fn told_every_hidden_trait_it_nearly_matches_the_oracle() {
        for guardrails in [true, false] {
            let mut config = SimulatorConfig::default();
            config.shop.apply_guardrails = guardrails;
            let simulator = Simulator::new(config).unwrap();
            let ledger = DiscountLedger::default();
            let mut rng = SmallRng::seed_from_u64(13);
            let everything = Revealed {
                segment: true,
                discount_sensitivity: true,
                channel_preference: true,
                ..Revealed::default()
            };
            let (mut told_total, mut oracle_total) = (0.0, 0.0);
            for s in sample_population(&simulator, 40, &mut rng) {
                let told = bayes_evaluation_revealed(&simulator, &s, &ledger, 0.0, everything)
                    .expectation
                    .net_revenue_minor;
                let oracle = expected_outcome(&simulator, &s, &ledger, &Oracle).net_revenue_minor;
                // The oracle also knows whether each message reached the shopper (the engine
                // sees only e-mail opens), so it can only be better, and not by much.
                assert!(told <= oracle + 1e-6, "{told} vs oracle {oracle}");
                told_total += told;
                oracle_total += oracle;
            }
            assert!(
                told_total > 0.97 * oracle_total,
                "{told_total} vs {oracle_total}"
            );
        }
    }

    #[test]
    fn bayes_lies_between_the_fixed_flow_and_the_oracle() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let ledger = DiscountLedger::default();
        let mut rng = SmallRng::seed_from_u64(12);
        let shoppers = sample_population(&simulator, 60, &mut rng);
        let total = |p: &dyn Policy| -> f64 {
            shoppers
                .iter()
                .map(|s| expected_outcome(&simulator, s, &ledger, p).net_revenue_minor)
                .sum()
        };
        let bayes: f64 = shoppers
            .iter()
            .map(|s| {
                bayes_evaluation(&simulator, s, &ledger, 0.0)
                    .expectation
                    .net_revenue_minor
            })
            .sum();
        let oracle = total(&Oracle);
        let nothing = total(&DoNothing);
        assert!(bayes <= oracle + 1e-6, "{bayes} > oracle {oracle}");
        assert!(bayes > nothing, "{bayes} <= nothing {nothing}");
        assert!(bayes > total(&FixedFlow::default()));
        // Per cart it never beats the oracle either.
        for s in &shoppers {
            let b = bayes_evaluation(&simulator, s, &ledger, 0.0).expectation;
            let o = expected_outcome(&simulator, s, &ledger, &Oracle);
            assert!(b.net_revenue_minor <= o.net_revenue_minor + 1e-6);
            assert!((b.decisions - o.decisions).abs() < 1.0 + 1e-9);
        }
    }
}
