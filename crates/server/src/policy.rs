//! How the live engine decides what to do about an abandoned cart: the [`DecisionPolicy`]
//! trait (the seam where `cartback-policy`'s policies plug in) and [`FixedFlow`], the
//! default: one reminder on the configured channel a fixed delay after abandonment.
//! The holdout assignment ([`in_holdout`]) is applied by the engine before any policy.

use cartback_core::{Cart, Duration, Timestamp};
use xxhash_rust::xxh3::xxh3_64;

/// What a policy proposes for one abandonment.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// `reminder_email`, `reminder_webhook`, `reminder_log` or `none`.
    pub action: String,
    pub channel: Option<String>,
    pub send_at: Option<Timestamp>,
    /// Probability with which the policy chose this action.
    pub propensity: f64,
    pub scores: serde_json::Value,
    pub reasons: Vec<String>,
}

pub trait DecisionPolicy: Send + Sync {
    fn name(&self) -> &str;
    /// Decides for `cart`, abandoned at `abandoned_at`, seen at `now`.
    fn decide(&self, cart: &Cart, abandoned_at: Timestamp, now: Timestamp) -> Proposal;
}

/// One reminder on `channel`, `delay` after abandonment; deterministic (propensity 1).
pub struct FixedFlow {
    pub delay: Duration,
    pub channel: String,
}

impl DecisionPolicy for FixedFlow {
    fn name(&self) -> &str {
        "fixed_flow"
    }

    fn decide(&self, cart: &Cart, abandoned_at: Timestamp, now: Timestamp) -> Proposal {
        let action = format!("reminder_{}", self.channel);
        let send_at = (abandoned_at + self.delay).max(now);
        Proposal {
            scores: serde_json::json!({ action.as_str(): 1.0 }),
            action,
            channel: Some(self.channel.clone()),
            send_at: Some(send_at),
            propensity: 1.0,
            reasons: vec![format!(
                "fixed flow: reminder {} after abandonment ({} items, value {})",
                cartback_core::tracker::duration_text::format(self.delay),
                cart.units(),
                cart.value
            )],
        }
    }
}

/// Whether `user_id` belongs to the holdout: a stable hash of the id below `fraction`.
pub fn in_holdout(user_id: &str, fraction: f64) -> bool {
    let bucket = xxh3_64(format!("cartback-holdout:{user_id}").as_bytes()) % 1_000_000;
    (bucket as f64) < fraction * 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_assignment_is_stable_and_close_to_its_fraction() {
        let members = (0..10_000)
            .filter(|i| in_holdout(&format!("u{i}"), 0.1))
            .count();
        assert!((800..1_200).contains(&members), "{members}");
        assert_eq!(in_holdout("u7", 0.1), in_holdout("u7", 0.1));
        assert!(!in_holdout("u7", 0.0));
        assert!(in_holdout("u7", 1.0));
    }
}
