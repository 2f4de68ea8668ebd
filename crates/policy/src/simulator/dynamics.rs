//! How one shopper responds to one step's action: the proposal first goes through the
//! guardrails ([`guarded_step`]), then every possible outcome of what is executed, when it
//! is sent (message reached or not, unsubscribed or not, bought or not), with its
//! probability. The exact evaluator sums over these outcomes; sampled episodes draw one of
//! them, so both use the same model.

use super::config::SimulatorConfig;
use super::environment::{DecisionPoint, DiscountLedger, Executed, Simulator};
use super::shopper::{Segment, Shopper, local_hour};
use crate::actions::{ActionCosts, ActionKind, Channel};
use crate::policies::ObservedState;
use cartback_core::{Duration, Timestamp};
use serde::Serialize;

/// Most decision steps a simulated cart has (`step_delays_hours` holds 1 to 6).
pub const MAX_STEPS: usize = 6;

/// A message that went out about the cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SentMessage {
    pub at: Timestamp,
    /// UTC day of the decision, on which its coupon is booked against the daily budget.
    pub decision_day: i64,
    /// Coupon face value issued with it (0 without a coupon), minor units.
    pub coupon_minor: i64,
}

/// Where a cart is in its contact sequence (part of it hidden from policies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct CartProgress {
    pub step: usize,
    pub messages_sent: u32,
    pub coupon_sent_percent: u32,
    /// Largest coupon the shopper actually saw (hidden).
    pub coupon_seen_percent: u32,
    pub subscribed: bool,
    /// The message sent at each earlier step, if any (for frequency caps, the cart gap
    /// and the daily discount budget).
    pub sends: [Option<SentMessage>; MAX_STEPS],
}

impl CartProgress {
    pub const START: CartProgress = CartProgress {
        step: 0,
        messages_sent: 0,
        coupon_sent_percent: 0,
        coupon_seen_percent: 0,
        subscribed: true,
        sends: [None; MAX_STEPS],
    };
}

/// Money and messages of one step's outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct StepAccounting {
    /// Cart value less the coupon used, when the shopper bought in this step.
    pub revenue_minor: f64,
    pub discount_minor: f64,
    pub message_cost_minor: f64,
    pub unsubscribe_loss_minor: f64,
    pub message_sent: bool,
    pub unsubscribed: bool,
    pub bought: bool,
}

impl StepAccounting {
    /// Net revenue of the step: revenue (already net of discount) less message cost and
    /// unsubscribe loss.
    pub fn net_minor(&self) -> f64 {
        self.revenue_minor - self.message_cost_minor - self.unsubscribe_loss_minor
    }
}

/// One possible outcome of a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    pub probability: f64,
    pub accounting: StepAccounting,
    /// The next step's progress; `None` when the episode is over (bought or last step).
    pub next: Option<CartProgress>,
    /// An e-mail of this step went out and was opened: what the engine's open tracking
    /// shows (push and SMS have no open signal). The policies are not told it; the Bayes
    /// policy can be ([`crate::simulator::Revealed::email_opens`]).
    pub opened: bool,
}

fn is_night(hour: u32) -> bool {
    !(7..22).contains(&hour)
}

/// When step `step` of `shopper`'s cart would send a message (before any guardrail).
pub fn nominal_send_at(config: &SimulatorConfig, shopper: &Shopper, step: usize) -> Timestamp {
    shopper.context.abandoned_at + Duration::hours(i64::from(config.step_delays_hours[step]))
}

/// What the engine observes about `shopper` at `progress`.
pub fn observe(simulator: &Simulator, shopper: &Shopper, progress: &CartProgress) -> ObservedState {
    let config = simulator.config();
    let send_at = nominal_send_at(config, shopper, progress.step);
    ObservedState {
        features: shopper.features,
        step: progress.step,
        n_steps: config.step_delays_hours.len(),
        abandoned_at: shopper.context.abandoned_at,
        send_at,
        send_hour_local: local_hour(send_at, shopper.context.time_zone),
        messages_sent: progress.messages_sent,
        coupon_sent_percent: progress.coupon_sent_percent,
        subscribed: progress.subscribed,
    }
}

/// The guardrails' verdict on `proposal` and every outcome of what is then executed.
pub fn guarded_step(
    simulator: &Simulator,
    shopper: &Shopper,
    progress: &CartProgress,
    ledger: &DiscountLedger,
    proposal: ActionKind,
) -> (Executed, Vec<StepOutcome>) {
    let executed =
        DecisionPoint::new(simulator, shopper, progress, ledger).execute(simulator, proposal);
    let outcomes = step_outcomes(simulator.config(), shopper, progress, &executed);
    (executed, outcomes)
}

/// Every outcome of executing `executed` at `progress`, with probabilities summing to 1.
/// The message (if any) goes out at `executed.send_at`: its reach depends on the local
/// hour then, its lift on the time since abandonment.
pub fn step_outcomes(
    config: &SimulatorConfig,
    shopper: &Shopper,
    progress: &CartProgress,
    executed: &Executed,
) -> Vec<StepOutcome> {
    let r = &config.response;
    let action = executed.kind;
    let step = progress.step;
    let last_step = step + 1 == config.step_delays_hours.len();
    let consented = match action.channel() {
        None => false,
        Some(Channel::Email) => shopper.features.email_consent,
        Some(Channel::Webhook) => shopper.features.webhook_consent,
    };
    let sent = consented && progress.subscribed;
    let messages_after = progress.messages_sent + u32::from(sent);

    // Unaided hazard of this step, so that the unaided purchase rate over all steps is
    // exactly the shopper's.
    let timing = &config.population.unaided_purchase_timing;
    let rate = shopper.unaided_purchase_rate;
    let before: f64 = timing[..step].iter().sum();
    let mut base = (rate * timing[step] / (1.0 - rate * before).max(1e-12)).clamp(0.0, 1.0);
    if shopper.segment == Segment::SleepingDog {
        base *= (1.0 - r.sleeping_dog_harm).powi(messages_after as i32);
    }

    let night = is_night(local_hour(executed.send_at, shopper.context.time_zone));
    let (reach, channel_multiplier, unsubscribe_rate) = match action.channel() {
        Some(Channel::Webhook) => (
            r.push_seen_rate,
            if shopper.prefers_webhook {
                r.webhook_lift_preferred
            } else {
                r.webhook_lift_not_preferred
            },
            r.webhook_unsubscribe_rate,
        ),
        _ => (
            r.email_open_rate,
            if shopper.prefers_webhook {
                r.email_lift_webhook_preferring
            } else {
                1.0
            },
            r.email_unsubscribe_rate,
        ),
    };
    let reach = if sent {
        reach * if night { r.night_reach_factor } else { 1.0 }
    } else {
        0.0
    };
    let responsiveness = match shopper.segment {
        Segment::Persuadable => 1.0,
        Segment::SureThing => r.sure_thing_responsiveness,
        Segment::LostCause => r.lost_cause_responsiveness,
        Segment::SleepingDog => 0.0,
    };
    let delay_hours =
        (executed.send_at.as_millis() - shopper.context.abandoned_at.as_millis()) as f64 / 3.6e6;
    let decay = (-r.intent_decay_per_day * delay_hours / 24.0).exp();
    let content = r.persuadable_reminder_lift
        + if action == ActionKind::RecommendationEmail {
            r.recommendation_extra_lift
        } else {
            0.0
        };
    let message_lift = responsiveness
        * content
        * channel_multiplier
        * decay
        * r.fatigue.powi(progress.messages_sent as i32);
    let percent = action.discount_percent();
    let coupon_seen_if_reached = progress.coupon_seen_percent.max(percent);
    let discount_lift = if shopper.discount_sensitive {
        r.discount_lift_per_percent
            * f64::from(coupon_seen_if_reached - progress.coupon_seen_percent)
            * decay
    } else {
        0.0
    };
    let bought_if_reached = (base + message_lift + discount_lift).clamp(0.0, 1.0);
    let unsubscribe = if sent {
        let factor = if shopper.segment == Segment::SleepingDog {
            r.sleeping_dog_unsubscribe_factor
        } else {
            1.0
        };
        (unsubscribe_rate * (1.0 + f64::from(progress.messages_sent)) * factor).min(1.0)
    } else {
        0.0
    };
    let message_cost = if sent {
        config.costs.message_cost(action)
    } else {
        0.0
    };
    let value = shopper.features.cart_value_minor;
    let mut sends = progress.sends;
    if sent {
        sends[step] = Some(SentMessage {
            at: executed.send_at,
            decision_day: executed.decision_day,
            coupon_minor: executed.coupon_minor,
        });
    }

    let mut outcomes = Vec::with_capacity(8);
    for (reached, p_reach) in [(true, reach), (false, 1.0 - reach)] {
        if p_reach <= 0.0 {
            continue;
        }
        let coupon_seen = if reached {
            coupon_seen_if_reached
        } else {
            progress.coupon_seen_percent
        };
        let p_buy = if reached { bought_if_reached } else { base };
        for (unsubscribed, p_unsub) in [(true, unsubscribe), (false, 1.0 - unsubscribe)] {
            if p_unsub <= 0.0 {
                continue;
            }
            for (bought, p_bought) in [(true, p_buy), (false, 1.0 - p_buy)] {
                if p_bought <= 0.0 {
                    continue;
                }
                let discount = if bought {
                    ActionKind::discount(coupon_seen)
                        .map_or(0, |k| ActionCosts::discount_given(k, value))
                        as f64
                } else {
                    0.0
                };
                let accounting = StepAccounting {
                    revenue_minor: if bought { value as f64 - discount } else { 0.0 },
                    discount_minor: discount,
                    message_cost_minor: message_cost,
                    unsubscribe_loss_minor: if unsubscribed {
                        config.costs.unsubscribe_loss_minor
                    } else {
                        0.0
                    },
                    message_sent: sent,
                    unsubscribed,
                    bought,
                };
                let next = if bought || last_step {
                    None
                } else {
                    Some(CartProgress {
                        step: step + 1,
                        messages_sent: messages_after,
                        coupon_sent_percent: if sent {
                            progress.coupon_sent_percent.max(percent)
                        } else {
                            progress.coupon_sent_percent
                        },
                        coupon_seen_percent: coupon_seen,
                        subscribed: progress.subscribed && !unsubscribed,
                        sends,
                    })
                };
                outcomes.push(StepOutcome {
                    probability: p_reach * p_unsub * p_bought,
                    accounting,
                    next,
                    opened: reached && sent && action.channel() == Some(Channel::Email),
                });
            }
        }
    }
    outcomes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::simulator::shopper::{
        CartContext, CartFeatures, CustomerHistory, MAX_EARLIER_MESSAGES,
    };

    /// A consenting (e-mail only) discount-sensitive persuadable in Berlin who abandoned a
    /// 100.00 cart at 12:00 local on 2026-06-10 (10:00 UTC).
    pub(crate) fn persuadable() -> Shopper {
        Shopper {
            segment: Segment::Persuadable,
            unaided_purchase_rate: 0.03,
            prefers_webhook: false,
            discount_sensitive: true,
            features: CartFeatures {
                cart_value_minor: 10_000,
                predicted_propensity: 0.03,
                returning_customer: false,
                mobile: false,
                email_consent: true,
                webhook_consent: false,
                abandoned_hour: 12,
                history: CustomerHistory::default(),
                session: Default::default(),
            },
            context: CartContext {
                user_key: 7,
                time_zone: chrono_tz::Europe::Berlin,
                abandoned_at: Timestamp(1_781_085_600_000),
                gross_margin: 0.5,
                earlier_messages: [None; MAX_EARLIER_MESSAGES],
            },
        }
    }

    pub(crate) fn simulator(apply_guardrails: bool) -> Simulator {
        let mut config = SimulatorConfig::default();
        config.shop.apply_guardrails = apply_guardrails;
        config.guardrails.holdout_share = 0.0;
        Simulator::new(config).unwrap()
    }

    fn outcomes(simulator: &Simulator, shopper: &Shopper, kind: ActionKind) -> Vec<StepOutcome> {
        guarded_step(
            simulator,
            shopper,
            &CartProgress::START,
            &DiscountLedger::default(),
            kind,
        )
        .1
    }

    fn buy_probability(outcomes: &[StepOutcome]) -> f64 {
        outcomes
            .iter()
            .filter(|o| o.accounting.bought)
            .map(|o| o.probability)
            .sum()
    }

    #[test]
    fn outcome_probabilities_sum_to_one() {
        let simulator = simulator(true);
        for kind in ActionKind::ALL {
            let total: f64 = outcomes(&simulator, &persuadable(), kind)
                .iter()
                .map(|o| o.probability)
                .sum();
            assert!((total - 1.0).abs() < 1e-12, "{kind}: {total}");
        }
    }

    #[test]
    fn contact_lifts_persuadables_and_coupons_cost_money() {
        let simulator = simulator(false);
        let shopper = persuadable();
        let nothing = outcomes(&simulator, &shopper, ActionKind::DoNothing);
        let email = outcomes(&simulator, &shopper, ActionKind::ReminderEmail);
        let coupon = outcomes(&simulator, &shopper, ActionKind::Discount20);
        assert!(buy_probability(&email) > buy_probability(&nothing) + 0.03);
        assert!(buy_probability(&coupon) > buy_probability(&email));
        let discount: f64 = coupon
            .iter()
            .map(|o| o.probability * o.accounting.discount_minor)
            .sum();
        assert!(discount > 0.0);
        // No webhook consent: a push is not sent and costs nothing.
        let push = outcomes(&simulator, &shopper, ActionKind::WebhookPush);
        assert!(
            push.iter()
                .all(|o| !o.accounting.message_sent && o.accounting.message_cost_minor == 0.0)
        );
        assert!((buy_probability(&push) - buy_probability(&nothing)).abs() < 1e-15);
    }

    #[test]
    fn sleeping_dogs_buy_less_when_contacted() {
        let simulator = simulator(true);
        let mut dog = persuadable();
        dog.segment = Segment::SleepingDog;
        dog.unaided_purchase_rate = 0.12;
        let nothing = outcomes(&simulator, &dog, ActionKind::DoNothing);
        let email = outcomes(&simulator, &dog, ActionKind::ReminderEmail);
        assert!(buy_probability(&email) < buy_probability(&nothing));
    }

    #[test]
    fn guardrails_change_what_is_sent_and_when() {
        let guarded = simulator(true);
        let free = simulator(false);
        // Abandoned at 22:30 Berlin: the 1 h message would arrive at 23:30, inside the
        // quiet hours; it waits until 08:00 local and, arriving in the day, is opened more
        // often than a night-time message.
        let mut late = persuadable();
        late.context.abandoned_at = Timestamp(1_781_085_600_000 + 10 * 3_600_000 + 1_800_000);
        late.features.abandoned_hour = 22;
        let ledger = DiscountLedger::default();
        let (executed, guarded_outcomes) = guarded_step(
            &guarded,
            &late,
            &CartProgress::START,
            &ledger,
            ActionKind::ReminderEmail,
        );
        assert!(
            executed
                .changed_by
                .contains(crate::guardrails::Guardrail::QuietHours)
        );
        assert_eq!(local_hour(executed.send_at, late.context.time_zone), 8);
        let (unchanged, free_outcomes) = guarded_step(
            &free,
            &late,
            &CartProgress::START,
            &ledger,
            ActionKind::ReminderEmail,
        );
        assert!(unchanged.changed_by.is_empty());
        assert!(buy_probability(&guarded_outcomes) > buy_probability(&free_outcomes));

        // A 25 % margin cart: the 20 % margin floor allows at most a 5 % coupon.
        let mut thin = persuadable();
        thin.context.gross_margin = 0.25;
        let (executed, _) = guarded_step(
            &guarded,
            &thin,
            &CartProgress::START,
            &ledger,
            ActionKind::Discount20,
        );
        assert_eq!(executed.kind, ActionKind::Discount5);
        assert!(
            executed
                .changed_by
                .contains(crate::guardrails::Guardrail::MarginFloor)
        );
        assert_eq!(executed.coupon_minor, 500);

        // The daily budget: with 499.00 of 500.00 spent today a 10 % coupon (10.00) does
        // not fit, a 5 % one (5.00) does not either: a plain reminder goes out.
        let mut spent = DiscountLedger::default();
        spent.add(executed.decision_day, 49_900.0);
        let (executed, _) = guarded_step(
            &guarded,
            &persuadable(),
            &CartProgress::START,
            &spent,
            ActionKind::Discount10,
        );
        assert_eq!(executed.kind, ActionKind::ReminderEmail);
        assert!(
            executed
                .changed_by
                .contains(crate::guardrails::Guardrail::DiscountBudget)
        );

        // The user frequency cap: three messages about other carts this week.
        let mut busy = persuadable();
        busy.context.earlier_messages = [
            Some(busy.context.abandoned_at - Duration::hours(5)),
            Some(busy.context.abandoned_at - Duration::hours(30)),
            Some(busy.context.abandoned_at - Duration::hours(60)),
            None,
        ];
        let (executed, outcomes) = guarded_step(
            &guarded,
            &busy,
            &CartProgress::START,
            &ledger,
            ActionKind::ReminderEmail,
        );
        assert_eq!(executed.kind, ActionKind::DoNothing);
        assert!(
            executed
                .changed_by
                .contains(crate::guardrails::Guardrail::UserFrequencyCap)
        );
        assert!(outcomes.iter().all(|o| !o.accounting.message_sent));
    }
}
