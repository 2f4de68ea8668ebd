//! The guarded environment: a validated [`SimulatorConfig`] with its guardrails, and the
//! step every simulated decision goes through — a policy proposes, the engine's own
//! guardrail functions ([`apply_guardrails`]) dispose, and the shopper responds to what is
//! actually sent, when it is sent.
//!
//! The guardrails see a [`ShopperContext`] built from the simulated cart: the user id (for
//! the holdout hash), consent (withdrawn after an unsubscribe), the shopper's time zone
//! (quiet hours), one cart line priced at the cart value with a unit cost from the cart's
//! gross margin (margin floor), the user's earlier messages plus this cart's (frequency
//! cap, cart limit, cart gap) and the coupons already issued on the decision's UTC day
//! (daily discount budget, kept in a [`DiscountLedger`]).
//!
//! The ledger couples carts: the exact evaluator processes carts in arrival order and
//! books each cart's *expected* coupon face value per day (a large shop's daily spend
//! concentrates around its mean), sampled episodes book what was actually issued. Within a
//! cart, its own earlier coupons of the same day are counted exactly (they are part of the
//! cart's state).

use super::config::{ConfigError, SimulatorConfig};
use super::dynamics::CartProgress;
use super::shopper::Shopper;
use crate::actions::{ActionCosts, ActionKind};
use crate::guardrails::Verdict;
use crate::guardrails::{
    ChannelConsent, GuardedDecision, Guardrail, GuardrailConfig, LineContext, Proposal,
    ShopperContext, apply_guardrails, check_consent,
};
use cartback_core::{CartState, Timestamp};
use chrono::NaiveDate;
use chrono_tz::Tz;
use rand::RngExt;
use rand::rngs::SmallRng;
use std::collections::HashMap;

/// Every guardrail, in the order `apply_guardrails` runs them.
pub const GUARDRAILS: [Guardrail; 10] = [
    Guardrail::CartNotAbandoned,
    Guardrail::Holdout,
    Guardrail::Consent,
    Guardrail::CartMessageLimit,
    Guardrail::UserFrequencyCap,
    Guardrail::OutOfStock,
    Guardrail::MarginFloor,
    Guardrail::DiscountBudget,
    Guardrail::CartMessageGap,
    Guardrail::QuietHours,
];

/// Position of `guardrail` in [`GUARDRAILS`].
pub fn guardrail_index(guardrail: Guardrail) -> usize {
    GUARDRAILS
        .iter()
        .position(|g| *g == guardrail)
        .expect("every guardrail is listed")
}

/// The snake_case name of `guardrail` (as in decision records).
pub fn guardrail_name(guardrail: Guardrail) -> &'static str {
    match guardrail {
        Guardrail::CartNotAbandoned => "cart_not_abandoned",
        Guardrail::Holdout => "holdout",
        Guardrail::Consent => "consent",
        Guardrail::CartMessageLimit => "cart_message_limit",
        Guardrail::UserFrequencyCap => "user_frequency_cap",
        Guardrail::OutOfStock => "out_of_stock",
        Guardrail::MarginFloor => "margin_floor",
        Guardrail::DiscountBudget => "discount_budget",
        Guardrail::CartMessageGap => "cart_message_gap",
        Guardrail::QuietHours => "quiet_hours",
    }
}

/// The UTC day (days since 1970-01-01) of an instant: the daily budget's day.
pub fn utc_day(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(86_400_000)
}

/// A validated simulator configuration with its parsed guardrails, time zones and calendar.
#[derive(Clone, Debug)]
pub struct Simulator {
    config: SimulatorConfig,
    guardrails: Option<GuardrailConfig>,
    zones: Vec<(Tz, f64)>,
    start_date: NaiveDate,
}

impl Simulator {
    /// Validates `config` (every error names its field).
    pub fn new(config: SimulatorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let zones = config.time_zones()?;
        let start_date = config.start_date()?;
        let guardrails = if config.shop.apply_guardrails {
            Some(
                config
                    .guardrails
                    .validate()
                    .map_err(|e| ConfigError::Invalid {
                        field: "guardrails",
                        message: e.to_string(),
                    })?,
            )
        } else {
            None
        };
        Ok(Simulator {
            config,
            guardrails,
            zones,
            start_date,
        })
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    /// The guardrails, or `None` when `shop.apply_guardrails` is false (then only consent
    /// and unsubscribes are respected).
    pub fn guardrails(&self) -> Option<&GuardrailConfig> {
        self.guardrails.as_ref()
    }

    pub fn start_date(&self) -> NaiveDate {
        self.start_date
    }

    pub(crate) fn draw_time_zone(&self, rng: &mut SmallRng) -> Tz {
        let mut u: f64 = rng.random();
        for (zone, share) in &self.zones {
            if u < *share {
                return *zone;
            }
            u -= share;
        }
        self.zones.last().expect("validated: at least one zone").0
    }
}

/// Coupon face value issued per UTC day by the carts simulated so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiscountLedger {
    by_day: HashMap<i64, f64>,
}

impl DiscountLedger {
    /// Minor units committed on `day` (rounded down to whole minor units).
    pub fn committed(&self, day: i64) -> i64 {
        self.by_day.get(&day).copied().unwrap_or(0.0).floor() as i64
    }

    pub fn add(&mut self, day: i64, minor: f64) {
        if minor > 0.0 {
            *self.by_day.entry(day).or_insert(0.0) += minor;
        }
    }
}

/// Which guardrails changed a proposal, as a bit per [`GUARDRAILS`] entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GuardrailSet(pub u16);

impl GuardrailSet {
    pub fn insert(&mut self, guardrail: Guardrail) {
        self.0 |= 1 << guardrail_index(guardrail);
    }

    pub fn contains(self, guardrail: Guardrail) -> bool {
        self.0 & (1 << guardrail_index(guardrail)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Guardrail> {
        GUARDRAILS.into_iter().filter(move |g| self.contains(*g))
    }
}

/// What is actually done after the guardrails: the action, when it goes out, and which
/// guardrails changed the proposal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Executed {
    pub proposed: ActionKind,
    pub kind: ActionKind,
    pub send_at: Timestamp,
    /// UTC day of the decision (the nominal send time), on which a coupon is booked.
    pub decision_day: i64,
    /// Coupon face value issued (0 without a coupon), minor units.
    pub coupon_minor: i64,
    pub changed_by: GuardrailSet,
}

/// One decision point of one cart: what the guardrails see, built once and applied to
/// every proposal.
pub struct DecisionPoint {
    context: ShopperContext,
    send_at: Timestamp,
}

impl DecisionPoint {
    /// The decision of `shopper`'s cart at `progress`, with `ledger` holding other carts'
    /// coupons.
    pub fn new(
        simulator: &Simulator,
        shopper: &Shopper,
        progress: &CartProgress,
        ledger: &DiscountLedger,
    ) -> Self {
        let config = simulator.config();
        let send_at = shopper.context.abandoned_at
            + cartback_core::Duration::hours(i64::from(config.step_delays_hours[progress.step]));
        let day = utc_day(send_at);
        let own_today: i64 = progress
            .sends
            .iter()
            .flatten()
            .filter(|s| s.decision_day == day)
            .map(|s| s.coupon_minor)
            .sum();
        let cart_message_times: Vec<Timestamp> =
            progress.sends.iter().flatten().map(|s| s.at).collect();
        let mut user_message_times: Vec<Timestamp> = shopper
            .context
            .earlier_messages
            .iter()
            .flatten()
            .copied()
            .collect();
        user_message_times.extend(&cart_message_times);
        let value = shopper.features.cart_value_minor;
        let unit_cost = (value as f64 * (1.0 - shopper.context.gross_margin)).round() as i64;
        let context = ShopperContext {
            user_id: shopper.context.user_id(),
            consent: ChannelConsent {
                email: shopper.features.email_consent && progress.subscribed,
                webhook: shopper.features.webhook_consent && progress.subscribed,
            },
            time_zone: shopper.context.time_zone,
            cart_state: CartState::Abandoned,
            lines: vec![LineContext {
                sku: "simulated-cart".into(),
                unit_price_minor: value,
                unit_cost_minor: Some(unit_cost),
                quantity: 1,
                in_stock: true,
            }],
            user_message_times,
            cart_message_times,
            discount_committed_today_minor: ledger.committed(day) + own_today,
        };
        DecisionPoint { context, send_at }
    }

    /// The nominal send time of this step.
    pub fn send_at(&self) -> Timestamp {
        self.send_at
    }

    /// Runs `proposal` through the guardrails (or, when they are off, through consent only).
    pub fn execute(&self, simulator: &Simulator, proposal: ActionKind) -> Executed {
        let (kind, send_at, changed_by) = match simulator.guardrails() {
            Some(config) => {
                let decision: GuardedDecision = apply_guardrails(
                    Proposal {
                        kind: proposal,
                        send_at: self.send_at,
                    },
                    &self.context,
                    config,
                );
                let mut changed = GuardrailSet::default();
                for change in &decision.changes {
                    changed.insert(change.guardrail);
                }
                (decision.kind, decision.send_at, changed)
            }
            None => match check_consent(proposal, &self.context) {
                Verdict::Allow => (proposal, self.send_at, GuardrailSet::default()),
                _ => {
                    let mut changed = GuardrailSet::default();
                    changed.insert(Guardrail::Consent);
                    (ActionKind::DoNothing, self.send_at, changed)
                }
            },
        };
        let value = self.context.cart_value_minor();
        Executed {
            proposed: proposal,
            kind,
            send_at,
            decision_day: utc_day(self.send_at),
            coupon_minor: ActionCosts::discount_given(kind, value),
            changed_by,
        }
    }

    /// Every proposal's execution, by action index.
    pub fn execute_all(&self, simulator: &Simulator) -> [Executed; crate::policies::N_ACTIONS] {
        ActionKind::ALL.map(|kind| self.execute(simulator, kind))
    }
}
