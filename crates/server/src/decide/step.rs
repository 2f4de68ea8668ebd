//! One decision step, as a pure function of what the engine gathered: the holdout first
//! (the engine's own stable hash, so assignments never change), then reachability, then
//! the policy proposes (drawing from its distribution with a stream seeded by the cart,
//! abandonment and step) and the policy crate's guardrails dispose. The plan records the
//! final action, when it goes out, the probability with which the whole pipeline (policy
//! and guardrails) takes that action, every guardrail that changed it and why, the coupon
//! to issue, and when the next step is due — or that the flow ends here. Every plan also
//! carries the state the policy was given (computed for the holdout and unreachable
//! shoppers too, where the policy is not asked) and what each proposal would have become,
//! for off-policy evaluation of other policies on the decision log.

use super::adapter::{
    SessionTracking, StepFacts, UserHistory, model_features, observed_state, session_signals,
    session_summary, time_zone,
};
use super::bundle::PolicyBundle;
use cartback_core::{Cart, Duration, Timestamp};
use cartback_policy::actions::{ActionCosts, ActionKind, Channel};
use cartback_policy::guardrails::{
    ChannelConsent, GuardedDecision, Guardrail, GuardrailConfig, LineContext, Proposal,
    ShopperContext, apply_guardrails,
};
use cartback_policy::ope::LoggedState;
use cartback_policy::policies::{N_ACTIONS, Observation, ObservedState};
use chrono_tz::Tz;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::collections::BTreeSet;
use xxhash_rust::xxh3::xxh3_64;

/// The settings of the multi-step flow (from `[policy]`, `[guardrails]`, `[flow]`).
#[derive(Clone, Debug)]
pub struct FlowSettings {
    pub step_delays: Vec<Duration>,
    /// The policy crate's guardrails, with a holdout share of 0: the engine applies its own
    /// holdout first.
    pub guardrails: GuardrailConfig,
    pub holdout_fraction: f64,
    pub default_zone: Tz,
    /// Delivery channel of e-mail actions (`email`, `webhook` or `log`).
    pub email_delivery: String,
    /// Delivery channel of push actions; `None` when no webhook is configured.
    pub push_delivery: Option<String>,
    pub coupon_ttl: Duration,
    pub seed: u64,
    /// `[policy] coupon_events_tracked`, `referrers_tracked` and `deal_sites`: see
    /// [`super::adapter::session_signals`].
    pub session_tracking: SessionTracking,
    /// `[policy] order_coupons_tracked`: see [`super::adapter::UserHistory::customer_history`].
    pub order_coupons_tracked: bool,
}

/// A message this cart already has (not cancelled, not failed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PastMessage {
    /// When it was sent, or is due.
    pub at: Timestamp,
    pub coupon_percent: u32,
}

/// What the engine gathered for one step.
#[derive(Clone, Debug)]
pub struct StepInput<'a> {
    pub cart: &'a Cart,
    pub abandonment: u32,
    pub step: usize,
    /// The instant of this abandonment.
    pub abandoned_at: Timestamp,
    pub now: Timestamp,
    pub history: UserHistory,
    pub cart_messages: &'a [PastMessage],
    /// Sent or scheduled messages to the user, any cart.
    pub user_message_times: &'a [Timestamp],
    /// Consent recorded for the e-mail and push delivery channels (`None`: never set).
    pub email_consent: Option<bool>,
    pub push_consent: Option<bool>,
    /// Coupons committed today (UTC), minor units.
    pub discount_committed_today_minor: i64,
    /// The cart's items the shop reported out of stock (available ≤ 0); an item the store
    /// has no level for counts as in stock.
    pub out_of_stock: &'a BTreeSet<String>,
}

/// A coupon to issue with the message (its code is derived at send time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CouponPlan {
    pub percent: u32,
    pub expires_at: Timestamp,
}

/// The decision of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepPlan {
    pub step: u32,
    pub kind: ActionKind,
    /// Delivery channel; `None` when nothing is sent.
    pub channel: Option<String>,
    pub send_at: Option<Timestamp>,
    /// Probability that policy + guardrails take `kind` here.
    pub propensity: f64,
    pub scores: serde_json::Value,
    pub reasons: Vec<String>,
    /// `passed`, or the guardrails that changed the proposal, comma-separated in order.
    pub guardrail: String,
    pub holdout: bool,
    pub coupon: Option<CouponPlan>,
    /// Discount committed if the coupon is used, minor units.
    pub discount_minor: i64,
    /// When the next step is due; `None` when the flow ends with this step.
    pub next_step_at: Option<Timestamp>,
    /// The policy's observed state and the final action of every possible proposal.
    pub state: LoggedState,
}

/// Whether `user_id` belongs to the holdout: a stable hash of the id below `fraction`.
/// (Unchanged since the first release: existing users keep their assignment.)
pub fn in_holdout(user_id: &str, fraction: f64) -> bool {
    let bucket = xxh3_64(format!("cartback-holdout:{user_id}").as_bytes()) % 1_000_000;
    (bucket as f64) < fraction * 1_000_000.0
}

fn guardrail_name(guardrail: Guardrail) -> String {
    serde_json::to_value(guardrail)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{guardrail:?}"))
}

/// Guardrails whose suppression ends the flow (later steps could not pass them either);
/// `no_consent` is how decisions before the multi-step flow named a consent block.
const FLOW_ENDING: &[&str] = &[
    "cart_not_abandoned",
    "holdout",
    "consent",
    "cart_message_limit",
    "out_of_stock",
    "no_address",
    "no_consent",
];

/// Whether a stored decision ended its flow: nothing was sent because of a guardrail that
/// later steps could not pass either.
pub fn ends_flow_record(action: &str, guardrail: &str) -> bool {
    matches!(action, "do_nothing" | "none")
        && guardrail.split(',').any(|g| FLOW_ENDING.contains(&g))
}

/// Which of the cart's lines the shop reported out of stock, when any is (else nothing to
/// say): `stock: 1 of 2 items out of stock (mug)`.
fn stock_summary(context: &ShopperContext) -> Option<String> {
    let out: Vec<&str> = context
        .lines
        .iter()
        .filter(|l| !l.in_stock)
        .map(|l| l.sku.as_str())
        .collect();
    (!out.is_empty()).then(|| {
        format!(
            "stock: {} of {} items out of stock ({})",
            out.len(),
            context.lines.len(),
            out.join(", ")
        )
    })
}

fn stream_seed(seed: u64, cart: &str, abandonment: u32, step: usize) -> u64 {
    xxh3_64(format!("{seed}/{cart}/{abandonment}/{step}").as_bytes())
}

fn time_text(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis()).map_or_else(
        || at.as_millis().to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

impl FlowSettings {
    pub fn n_steps(&self) -> usize {
        self.step_delays.len()
    }

    /// When a message of step `step` of an abandonment at `abandoned_at` is due.
    pub fn step_due(&self, abandoned_at: Timestamp, step: usize) -> Option<Timestamp> {
        self.step_delays.get(step).map(|d| abandoned_at + *d)
    }

    /// When step `step` is decided: the first at the abandonment (its message is scheduled
    /// ahead), every later one at its own step time (with what is known then).
    pub fn decide_at(&self, abandoned_at: Timestamp, step: usize) -> Option<Timestamp> {
        match step {
            0 => (!self.step_delays.is_empty()).then_some(abandoned_at),
            _ => self.step_due(abandoned_at, step),
        }
    }

    fn delivery(&self, kind: ActionKind) -> Option<String> {
        match kind.channel()? {
            Channel::Email => Some(self.email_delivery.clone()),
            Channel::Webhook => self.push_delivery.clone(),
        }
    }

    fn next_after(&self, input: &StepInput<'_>) -> Option<Timestamp> {
        self.decide_at(input.abandoned_at, input.step + 1)
    }

    /// A plan that sends nothing, whatever a policy would propose, and says why.
    fn nothing(
        &self,
        input: &StepInput<'_>,
        observed: ObservedState,
        guardrail: &str,
        reason: String,
        ends: bool,
    ) -> StepPlan {
        StepPlan {
            step: input.step as u32,
            kind: ActionKind::DoNothing,
            channel: None,
            send_at: None,
            propensity: 1.0,
            scores: serde_json::json!({}),
            reasons: vec![reason],
            guardrail: guardrail.into(),
            holdout: guardrail == "holdout",
            coupon: None,
            discount_minor: 0,
            next_step_at: if ends { None } else { self.next_after(input) },
            state: LoggedState::suppressed(observed),
        }
    }

    /// Decides step `input.step` with the policy and files of `bundle`.
    pub fn decide_step(&self, bundle: &PolicyBundle, input: &StepInput<'_>) -> StepPlan {
        let cart = input.cart;
        let has_address = self.email_delivery != "email" || cart.email.is_some();
        let email_reachable = input.email_consent != Some(false) && has_address;
        let push_reachable = self.push_delivery.is_some() && input.push_consent != Some(false);
        let zone = time_zone(cart, self.default_zone);
        let due = self
            .step_due(input.abandoned_at, input.step)
            .unwrap_or(input.now);
        let send_at = due.max(input.now);
        let mut reasons = vec![format!("policy: {}", bundle.description)];
        let mut model_failure = None;
        let predicted = match &bundle.scorer {
            None => bundle.prior_propensity,
            Some(scorer) => {
                match scorer.score(&model_features(cart, &input.history, input.abandoned_at)) {
                    Ok(p) => p,
                    Err(error) => {
                        model_failure = Some(format!(
                            "propensity model failed ({error}); prior {} used",
                            bundle.prior_propensity
                        ));
                        bundle.prior_propensity
                    }
                }
            }
        };
        let facts = StepFacts {
            step: input.step,
            n_steps: self.n_steps(),
            abandoned_at: input.abandoned_at,
            send_at,
            zone,
            messages_sent: input.cart_messages.len() as u32,
            coupon_sent_percent: input
                .cart_messages
                .iter()
                .map(|m| m.coupon_percent)
                .max()
                .unwrap_or(0),
            email_reachable,
            webhook_reachable: push_reachable,
            predicted_propensity: predicted,
            session: session_signals(cart, &self.session_tracking),
            order_coupons_tracked: self.order_coupons_tracked,
        };
        let observation = Observation {
            state: observed_state(cart, &input.history, &facts),
            truth: None,
        };
        // The holdout and unreachable shoppers are not asked, but the state the policy would
        // have seen is recorded all the same.
        if in_holdout(&cart.user_id, self.holdout_fraction) {
            return self.nothing(
                input,
                observation.state,
                "holdout",
                "holdout group: tracked, never contacted".into(),
                true,
            );
        }
        if !email_reachable && !push_reachable {
            let (guardrail, reason) = if input.email_consent == Some(false) {
                ("consent", "the shopper withdrew consent (unsubscribed)")
            } else {
                ("no_address", "no e-mail address and no other channel")
            };
            return self.nothing(
                input,
                observation.state,
                guardrail,
                format!("guardrail {guardrail}: {reason}"),
                true,
            );
        }
        reasons.extend(model_failure);
        let distribution = bundle.policy.distribution(&observation);
        let mut rng = SmallRng::seed_from_u64(stream_seed(
            self.seed,
            &cart.id,
            input.abandonment,
            input.step,
        ));
        let proposal = bundle.policy.decide(&observation, &mut rng);
        let context = ShopperContext {
            user_id: cart.user_id.clone(),
            consent: ChannelConsent {
                email: email_reachable,
                webhook: push_reachable,
            },
            time_zone: zone,
            cart_state: cart.state,
            lines: cart
                .lines
                .iter()
                .filter(|l| l.quantity > 0)
                .map(|l| LineContext {
                    sku: l.item_id.clone(),
                    unit_price_minor: l.unit_price.unwrap_or(0),
                    unit_cost_minor: bundle.item_costs.get(&l.item_id).copied(),
                    quantity: l.quantity,
                    in_stock: !input.out_of_stock.contains(&l.item_id),
                })
                .collect(),
            user_message_times: input.user_message_times.to_vec(),
            cart_message_times: input.cart_messages.iter().map(|m| m.at).collect(),
            discount_committed_today_minor: input.discount_committed_today_minor,
        };
        let guard = |kind: ActionKind| -> GuardedDecision {
            apply_guardrails(Proposal { kind, send_at }, &context, &self.guardrails)
        };
        let guarded = guard(proposal.action);
        // What the engine takes for each proposal: the guardrails' action when a channel
        // delivers it, else nothing.
        let final_of = |kind: ActionKind| {
            if kind.is_contact() && self.delivery(kind).is_some() {
                kind
            } else {
                ActionKind::DoNothing
            }
        };
        let outcomes: [ActionKind; N_ACTIONS] = ActionKind::ALL.map(|k| final_of(guard(k).kind));
        // The probability that policy and guardrails together end at the final action:
        // guardrails are deterministic, so sum the policy's mass over every proposal that
        // they turn into it (`LoggedState::push_forward`, which off-policy evaluation uses
        // for other policies on this state).
        let propensity = LoggedState::push_forward(&outcomes, &distribution.probabilities)
            [final_of(guarded.kind).index()];
        reasons.push(distribution.reason.clone());
        reasons.push(input.history.summary(self.order_coupons_tracked));
        reasons.push(session_summary(cart, &self.session_tracking));
        reasons.extend(stock_summary(&context));
        reasons.push(format!(
            "predicted purchase probability {predicted:.3}; proposed {} with probability {:.3}",
            proposal.action, proposal.propensity
        ));
        let mut names = Vec::new();
        for change in &guarded.changes {
            let name = guardrail_name(change.guardrail);
            let what = if change.after.kind != change.before.kind {
                if change.after.kind.is_contact() {
                    format!("{} → {}", change.before.kind, change.after.kind)
                } else {
                    format!("{} suppressed", change.before.kind)
                }
            } else {
                format!("postponed to {}", time_text(change.after.send_at))
            };
            reasons.push(format!("guardrail {name}: {what} ({})", change.reason));
            names.push(name);
        }
        let mut scores = serde_json::Map::new();
        for kind in ActionKind::ALL {
            let score = distribution.scores[kind.index()];
            if score.is_finite() {
                scores.insert(kind.name().into(), serde_json::json!(score));
            }
        }
        let kind = guarded.kind;
        let channel = self.delivery(kind);
        let contact = kind.is_contact() && channel.is_some();
        let percent = kind.discount_percent();
        let guardrail = if names.is_empty() {
            "passed".to_owned()
        } else {
            names.join(",")
        };
        let final_kind = if contact { kind } else { ActionKind::DoNothing };
        let ends = ends_flow_record(final_kind.name(), &guardrail);
        StepPlan {
            step: input.step as u32,
            kind: final_kind,
            channel: if contact { channel } else { None },
            send_at: contact.then_some(guarded.send_at),
            propensity,
            scores: serde_json::Value::Object(scores),
            reasons,
            guardrail,
            holdout: false,
            coupon: (contact && percent > 0).then(|| CouponPlan {
                percent,
                expires_at: guarded.send_at + self.coupon_ttl,
            }),
            discount_minor: if contact {
                ActionCosts::discount_given(kind, cart.value)
            } else {
                0
            },
            next_step_at: if ends { None } else { self.next_after(input) },
            state: LoggedState::from_outcomes(observation.state, outcomes)
                .with_proposal(proposal.action),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::bundle::BundleSpec;
    use crate::decide::policy_file::PolicyKind;
    use cartback_core::{CartLine, CartState, Currency};
    use cartback_policy::guardrails::GuardrailSettings;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        Timestamp(
            chrono::Utc
                .with_ymd_and_hms(y, mo, d, h, mi, 0)
                .unwrap()
                .timestamp_millis(),
        )
    }

    fn settings() -> FlowSettings {
        FlowSettings {
            step_delays: vec![Duration::hours(1), Duration::hours(24), Duration::hours(72)],
            guardrails: GuardrailSettings {
                holdout_share: 0.0,
                ..Default::default()
            }
            .validate()
            .unwrap(),
            holdout_fraction: 0.0,
            default_zone: Tz::UTC,
            email_delivery: "email".into(),
            push_delivery: None,
            coupon_ttl: Duration::days(7),
            seed: 0,
            session_tracking: SessionTracking::default(),
            order_coupons_tracked: false,
        }
    }

    fn bundle(kind: PolicyKind) -> PolicyBundle {
        BundleSpec {
            kind,
            fixed_flow: vec![
                ActionKind::ReminderEmail,
                ActionKind::ReminderEmail,
                ActionKind::Discount10,
            ],
            threshold: 0.1,
            step_delays: settings().step_delays,
            prior_propensity: 0.05,
            propensity_model: None,
            state_file: None,
            item_costs: None,
            exploration: 0.0,
        }
        .load()
        .unwrap()
    }

    fn cart() -> Cart {
        Cart {
            id: "c1".into(),
            user_id: "u1".into(),
            state: CartState::Abandoned,
            lines: vec![CartLine {
                item_id: "mug".into(),
                name: None,
                category: None,
                unit_price: Some(5_000),
                quantity: 2,
            }],
            currency: Some(Currency::parse("EUR").unwrap()),
            value: 10_000,
            adds: 1,
            removes: 0,
            views: 0,
            checkout_started: false,
            coupons_entered: 0,
            referrers: Vec::new(),
            session_at_abandonment: None,
            created_at: at(2026, 6, 10, 9, 0),
            last_activity: at(2026, 6, 10, 9, 30),
            abandoned_at: Some(at(2026, 6, 10, 10, 0)),
            abandonments: 1,
            closed_at: None,
            order_id: None,
            order_value: None,
            order_coupon: None,
            email: Some("ann@example.com".into()),
            timezone: Some("Europe/Berlin".into()),
            direct_purchase: false,
            order_cancelled: false,
        }
    }

    fn input<'a>(cart: &'a Cart, step: usize, messages: &'a [PastMessage]) -> StepInput<'a> {
        let abandoned_at = at(2026, 6, 10, 10, 0);
        StepInput {
            cart,
            abandonment: 1,
            step,
            abandoned_at,
            now: settings().step_due(abandoned_at, step).unwrap(),
            history: UserHistory::default(),
            cart_messages: messages,
            user_message_times: &[],
            email_consent: None,
            push_consent: None,
            discount_committed_today_minor: 0,
            out_of_stock: &NOTHING_OUT,
        }
    }

    static NOTHING_OUT: BTreeSet<String> = BTreeSet::new();

    #[test]
    fn the_fixed_flow_sends_two_reminders_then_a_coupon() {
        let (s, b, c) = (settings(), bundle(PolicyKind::FixedFlow), cart());
        let first = s.decide_step(&b, &input(&c, 0, &[]));
        assert_eq!(first.kind, ActionKind::ReminderEmail);
        assert_eq!(first.channel.as_deref(), Some("email"));
        assert_eq!(first.send_at, Some(at(2026, 6, 10, 11, 0)));
        assert_eq!(first.guardrail, "passed");
        assert_eq!(first.propensity, 1.0);
        assert_eq!(first.next_step_at, Some(at(2026, 6, 11, 10, 0)));
        assert!(
            first.reasons[0].starts_with("policy: fixed_flow"),
            "{:?}",
            first.reasons
        );
        let sent = [PastMessage {
            at: at(2026, 6, 10, 11, 0),
            coupon_percent: 0,
        }];
        let second = s.decide_step(&b, &input(&c, 1, &sent));
        assert_eq!(second.kind, ActionKind::ReminderEmail);
        let both = [
            sent[0],
            PastMessage {
                at: at(2026, 6, 11, 10, 0),
                coupon_percent: 0,
            },
        ];
        let third = s.decide_step(&b, &input(&c, 2, &both));
        assert_eq!(third.kind, ActionKind::Discount10);
        assert_eq!(
            third.coupon,
            Some(CouponPlan {
                percent: 10,
                expires_at: at(2026, 6, 13, 10, 0) + Duration::days(7)
            })
        );
        assert_eq!(third.discount_minor, 1_000);
        assert_eq!(third.next_step_at, None, "the last step ends the flow");
    }

    #[test]
    fn quiet_hours_move_a_night_send_to_the_morning_in_the_shoppers_zone() {
        let (s, b) = (settings(), bundle(PolicyKind::FixedFlow));
        let mut c = cart();
        c.timezone = Some("America/New_York".into());
        let mut i = input(&c, 0, &[]);
        // Abandoned 04:30 UTC = 00:30 in New York (EDT); due 01:30 local.
        i.abandoned_at = at(2026, 6, 10, 4, 30);
        i.now = at(2026, 6, 10, 5, 30);
        let plan = s.decide_step(&b, &i);
        assert_eq!(plan.kind, ActionKind::ReminderEmail);
        assert_eq!(plan.guardrail, "quiet_hours");
        // 08:00 EDT = 12:00 UTC.
        assert_eq!(plan.send_at, Some(at(2026, 6, 10, 12, 0)));
        assert!(
            plan.reasons.iter().any(|r| r.contains("America/New_York")),
            "{:?}",
            plan.reasons
        );
        assert!(plan.next_step_at.is_some());
    }

    #[test]
    fn guardrails_that_block_are_recorded_and_some_end_the_flow() {
        let (mut s, b, c) = (settings(), bundle(PolicyKind::FixedFlow), cart());
        s.guardrails.max_messages_per_cart = 1;
        let sent = [PastMessage {
            at: at(2026, 6, 10, 11, 0),
            coupon_percent: 0,
        }];
        let plan = s.decide_step(&b, &input(&c, 1, &sent));
        assert_eq!(plan.kind, ActionKind::DoNothing);
        assert_eq!(plan.guardrail, "cart_message_limit");
        assert_eq!(plan.send_at, None);
        assert_eq!(plan.next_step_at, None, "the cart limit ends the flow");
        assert_eq!(plan.propensity, 1.0);

        let s = settings();
        let recent = [at(2026, 6, 10, 8, 0); 3];
        let mut i = input(&c, 0, &[]);
        i.user_message_times = &recent;
        let plan = s.decide_step(&b, &i);
        assert_eq!(plan.guardrail, "user_frequency_cap");
        assert_eq!(plan.kind, ActionKind::DoNothing);
        assert!(
            plan.next_step_at.is_some(),
            "a user cap only skips this step"
        );

        let mut i = input(&c, 0, &[]);
        i.email_consent = Some(false);
        let plan = s.decide_step(&b, &i);
        assert_eq!(
            (plan.guardrail.as_str(), plan.next_step_at),
            ("consent", None)
        );
        let mut anonymous = cart();
        anonymous.email = None;
        let plan = s.decide_step(&b, &input(&anonymous, 0, &[]));
        assert_eq!(plan.guardrail, "no_address");
    }

    #[test]
    fn the_budget_downgrades_a_coupon_and_holdout_users_are_never_contacted() {
        let (s, b, c) = (settings(), bundle(PolicyKind::FixedFlow), cart());
        let mut i = input(&c, 2, &[]);
        i.discount_committed_today_minor = 49_500; // 500 left: 10 % of 100.00 does not fit
        let plan = s.decide_step(&b, &i);
        assert_eq!(plan.kind, ActionKind::Discount5);
        assert_eq!(plan.guardrail, "discount_budget");
        assert_eq!(plan.coupon.map(|c| c.percent), Some(5));

        let mut s = settings();
        s.holdout_fraction = 1.0;
        let plan = s.decide_step(&b, &input(&c, 0, &[]));
        assert!(plan.holdout);
        assert_eq!(plan.guardrail, "holdout");
        assert_eq!(plan.kind, ActionKind::DoNothing);
        assert_eq!(plan.next_step_at, None);
    }

    #[test]
    fn every_plan_records_the_state_and_what_each_proposal_becomes() {
        let (s, b, c) = (settings(), bundle(PolicyKind::FixedFlow), cart());
        let mut i = input(&c, 2, &[]);
        i.discount_committed_today_minor = 49_500;
        let plan = s.decide_step(&b, &i);
        assert_eq!(plan.state.observed.features.cart_value_minor, 10_000);
        assert_eq!(plan.state.observed.step, 2);
        let outcomes = plan.state.outcomes().unwrap();
        // The budget turns 10 % into 5 %; push has no channel here, so it sends nothing.
        assert_eq!(
            outcomes[ActionKind::Discount10.index()],
            ActionKind::Discount5
        );
        assert_eq!(
            outcomes[ActionKind::WebhookPush.index()],
            ActionKind::DoNothing
        );
        assert_eq!(
            outcomes[ActionKind::ReminderEmail.index()],
            ActionKind::ReminderEmail
        );

        // The holdout is not asked, but records what the policy would have seen.
        let mut s = settings();
        s.holdout_fraction = 1.0;
        let plan = s.decide_step(&b, &input(&c, 0, &[]));
        assert!(plan.holdout);
        assert_eq!(plan.state.observed.features.cart_value_minor, 10_000);
        assert_eq!(plan.state.observed.abandoned_at, at(2026, 6, 10, 10, 0));
        assert_eq!(
            plan.state.outcomes().unwrap(),
            [ActionKind::DoNothing; N_ACTIONS]
        );
        let mut i = input(&c, 0, &[]);
        i.email_consent = Some(false);
        let plan = settings().decide_step(&b, &i);
        assert_eq!(plan.guardrail, "consent");
        assert!(!plan.state.observed.subscribed);
    }

    #[test]
    fn a_cart_with_nothing_in_stock_gets_nothing_and_its_flow_ends() {
        let (s, b) = (settings(), bundle(PolicyKind::FixedFlow));
        let mut c = cart();
        let sold_out: BTreeSet<String> = ["mug".to_string()].into();
        let mut i = input(&c, 0, &[]);
        i.out_of_stock = &sold_out;
        let plan = s.decide_step(&b, &i);
        assert_eq!(plan.kind, ActionKind::DoNothing);
        assert_eq!(plan.guardrail, "out_of_stock");
        assert_eq!((plan.channel, plan.send_at), (None, None));
        assert_eq!(plan.next_step_at, None, "out of stock ends the flow");
        assert_eq!(plan.propensity, 1.0);
        let reasons = plan.reasons.join("\n");
        assert!(
            reasons.contains("stock: 1 of 1 items out of stock (mug)"),
            "{reasons}"
        );
        assert!(
            reasons.contains(
                "guardrail out_of_stock: reminder_email suppressed \
                 (every item in the cart is out of stock)"
            ),
            "{reasons}"
        );
        // Every proposal that contacts the shopper would have been suppressed too.
        assert_eq!(
            plan.state.outcomes().unwrap(),
            [ActionKind::DoNothing; N_ACTIONS]
        );

        // One line still in stock: the reminder goes, and the reasons say what is not.
        c.lines.push(CartLine {
            item_id: "cup".into(),
            name: None,
            category: None,
            unit_price: Some(1_000),
            quantity: 1,
        });
        let mut i = input(&c, 0, &[]);
        i.out_of_stock = &sold_out;
        let plan = s.decide_step(&b, &i);
        assert_eq!(
            (plan.kind, plan.guardrail.as_str()),
            (ActionKind::ReminderEmail, "passed")
        );
        assert!(
            plan.reasons
                .iter()
                .any(|r| r == "stock: 1 of 2 items out of stock (mug)"),
            "{:?}",
            plan.reasons
        );
        let nothing_out = s.decide_step(&b, &input(&c, 0, &[]));
        assert!(
            !nothing_out.reasons.iter().any(|r| r.starts_with("stock:")),
            "{:?}",
            nothing_out.reasons
        );
    }

    #[test]
    fn holdout_assignment_is_the_original_hash() {
        // Pinned: these assignments must never change (existing users keep their group).
        let members: Vec<u32> = (0..40)
            .filter(|i| in_holdout(&format!("u{i}"), 0.1))
            .collect();
        let count = (0..10_000)
            .filter(|i| in_holdout(&format!("u{i}"), 0.1))
            .count();
        assert!((800..1_200).contains(&count), "{count}");
        let bucket = xxh3_64(b"cartback-holdout:u7") % 1_000_000;
        assert_eq!(in_holdout("u7", 0.1), (bucket as f64) < 100_000.0);
        assert!(!in_holdout("u7", 0.0));
        assert!(in_holdout("u7", 1.0));
        assert_eq!(
            members,
            (0..40)
                .filter(|i| {
                    (xxh3_64(format!("cartback-holdout:u{i}").as_bytes()) % 1_000_000) < 100_000
                })
                .collect::<Vec<u32>>()
        );
    }
}
