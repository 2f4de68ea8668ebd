//! How the live engine decides, with `cartback-policy`'s action space, guardrails and
//! policies and `cartback-ml`'s propensity models:
//!
//! - `adapter.rs`: a real cart (and the user's history) → the model's input columns and the
//!   policy crate's observed state;
//! - `model.rs`: a `cartback train` model file scoring one cart;
//! - `policy_file.rs`: the state file of a learned policy (`cartback policy train`);
//! - `bundle.rs`: policy + model + item costs loaded as one, and reloaded on change;
//! - `step.rs`: one decision step (holdout, policy, guardrails, next step);
//! - `coupon.rs`: signed, expiring coupon codes.
//!
//! [`Decider`] ties them to the configuration; the engine gathers each step's inputs from
//! its stores and writes the plan it gets back.

pub mod adapter;
pub mod bundle;
pub mod coupon;
pub mod model;
pub mod policy_file;
pub mod step;

pub use bundle::{BundleError, BundleSpec, PolicyBundle, ReloadOutcome, Reloader};
pub use coupon::{Coupon, CouponError, CouponSigner};
pub use step::{CouponPlan, FlowSettings, PastMessage, StepInput, StepPlan, in_holdout};

use crate::config::ServerConfig;
use cartback_policy::guardrails::{GuardrailConfig, HoldoutGroup, QuietHours};
use std::sync::Arc;

/// The configured decision layer: flow settings plus the reloadable policy files.
pub struct Decider {
    pub settings: FlowSettings,
    reloader: Reloader,
}

impl Decider {
    /// Builds the decision layer from a validated configuration, loading every file.
    pub fn from_config(config: &ServerConfig) -> Result<Decider, BundleError> {
        let g = &config.guardrails;
        let guardrails = GuardrailConfig {
            user_cap_messages: g.user_cap_messages,
            user_cap_window: g.user_cap_window,
            max_messages_per_cart: g.max_messages_per_cart,
            min_gap_between_cart_messages: g.min_gap_between_cart_messages,
            quiet_hours: (g.quiet_start_hour != g.quiet_end_hour)
                .then(|| QuietHours::new(g.quiet_start_hour, g.quiet_end_hour).ok())
                .flatten(),
            daily_discount_budget_minor: g.daily_discount_budget_minor,
            margin_floor: g.margin_floor,
            holdout: HoldoutGroup::new(0.0, 0).expect("0 is a valid share"),
        };
        let push_delivery = match config.flow.channel.as_str() {
            "log" => Some("log".to_owned()),
            _ if !config.webhook.url.is_empty() => Some("webhook".to_owned()),
            _ => None,
        };
        let settings = FlowSettings {
            step_delays: config.policy.step_delays.clone(),
            guardrails,
            holdout_fraction: config.holdout_fraction,
            default_zone: g.default_timezone.parse().unwrap_or(chrono_tz::Tz::UTC),
            email_delivery: config.flow.channel.clone(),
            push_delivery,
            coupon_ttl: config.policy.coupon_ttl,
            seed: config.policy.seed,
            session_tracking: adapter::SessionTracking {
                coupon_events_tracked: config.policy.coupon_events_tracked,
                referrers_tracked: config.policy.referrers_tracked,
                deal_sites: config.policy.deal_sites.clone(),
            },
            order_coupons_tracked: config.policy.order_coupons_tracked,
        };
        let reloader = Reloader::new(BundleSpec::from_config(config), config.policy.reload_check)?;
        Ok(Decider { settings, reloader })
    }

    /// The policy bundle in force now.
    pub fn bundle(&self) -> Arc<PolicyBundle> {
        self.reloader.current()
    }

    /// Reloads the policy files when they changed (at most every `policy.reload_check`).
    pub fn poll_reload(&self) -> ReloadOutcome {
        self.reloader.poll()
    }

    /// Decides one step with the bundle in force.
    pub fn decide_step(&self, input: &StepInput<'_>) -> StepPlan {
        self.settings.decide_step(&self.bundle(), input)
    }
}
