//! Guardrail settings as the shop writes them ([`GuardrailSettings`], serde) and their
//! validated form ([`GuardrailConfig`]).

use super::holdout::HoldoutGroup;
use super::quiet_hours::QuietHours;
use cartback_core::Duration;
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum GuardrailConfigError {
    #[error("guardrail setting `{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// User-facing guardrail settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSettings {
    /// At most this many messages to one user within `user_cap_window_hours`.
    pub user_cap_messages: u32,
    pub user_cap_window_hours: u32,
    /// At most this many messages about one cart.
    pub max_messages_per_cart: u32,
    /// At least this long between two messages about the same cart.
    pub min_hours_between_cart_messages: u32,
    /// Local quiet hours `[start, end)`, e.g. 21 and 8; equal values disable them.
    pub quiet_start_hour: u32,
    pub quiet_end_hour: u32,
    /// Coupons issued per day may not exceed this, minor units.
    pub daily_discount_budget_minor: i64,
    /// After a coupon, every item with a known cost must keep this margin (fraction of
    /// the discounted price).
    pub margin_floor: f64,
    /// Share of users in the never-contacted holdout group.
    pub holdout_share: f64,
    /// Salt of the holdout hash (change it to draw a new holdout).
    pub holdout_salt: u64,
}

impl Default for GuardrailSettings {
    fn default() -> Self {
        GuardrailSettings {
            user_cap_messages: 3,
            user_cap_window_hours: 7 * 24,
            max_messages_per_cart: 3,
            min_hours_between_cart_messages: 12,
            quiet_start_hour: 21,
            quiet_end_hour: 8,
            daily_discount_budget_minor: 50_000,
            margin_floor: 0.2,
            holdout_share: 0.1,
            holdout_salt: 0,
        }
    }
}

/// Validated guardrail settings.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardrailConfig {
    pub user_cap_messages: u32,
    pub user_cap_window: Duration,
    pub max_messages_per_cart: u32,
    pub min_gap_between_cart_messages: Duration,
    pub quiet_hours: Option<QuietHours>,
    pub daily_discount_budget_minor: i64,
    pub margin_floor: f64,
    pub holdout: HoldoutGroup,
}

impl GuardrailSettings {
    pub fn validate(&self) -> Result<GuardrailConfig, GuardrailConfigError> {
        if self.user_cap_window_hours == 0 {
            return Err(GuardrailConfigError::Invalid {
                field: "user_cap_window_hours",
                message: "must be at least 1".into(),
            });
        }
        if self.daily_discount_budget_minor < 0 {
            return Err(GuardrailConfigError::Invalid {
                field: "daily_discount_budget_minor",
                message: format!(
                    "must not be negative, got {}",
                    self.daily_discount_budget_minor
                ),
            });
        }
        if !(0.0..1.0).contains(&self.margin_floor) {
            return Err(GuardrailConfigError::Invalid {
                field: "margin_floor",
                message: format!("must be in [0, 1), got {}", self.margin_floor),
            });
        }
        let quiet_hours = if self.quiet_start_hour == self.quiet_end_hour {
            None
        } else {
            Some(
                QuietHours::new(self.quiet_start_hour, self.quiet_end_hour).map_err(|message| {
                    GuardrailConfigError::Invalid {
                        field: "quiet_start_hour/quiet_end_hour",
                        message,
                    }
                })?,
            )
        };
        let holdout =
            HoldoutGroup::new(self.holdout_share, self.holdout_salt).map_err(|message| {
                GuardrailConfigError::Invalid {
                    field: "holdout_share",
                    message,
                }
            })?;
        Ok(GuardrailConfig {
            user_cap_messages: self.user_cap_messages,
            user_cap_window: Duration::hours(i64::from(self.user_cap_window_hours)),
            max_messages_per_cart: self.max_messages_per_cart,
            min_gap_between_cart_messages: Duration::hours(i64::from(
                self.min_hours_between_cart_messages,
            )),
            quiet_hours,
            daily_discount_budget_minor: self.daily_discount_budget_minor,
            margin_floor: self.margin_floor,
            holdout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_fields_are_named() {
        let config = GuardrailSettings::default().validate().unwrap();
        assert_eq!(config.quiet_hours, Some(QuietHours::new(21, 8).unwrap()));
        let bad = GuardrailSettings {
            margin_floor: 1.5,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "guardrail setting `margin_floor`: must be in [0, 1), got 1.5"
        );
        let bad = GuardrailSettings {
            quiet_start_hour: 25,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("quiet_start_hour")
        );
        let bad = GuardrailSettings {
            holdout_share: -0.1,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("holdout_share")
        );
        let off = GuardrailSettings {
            quiet_start_hour: 0,
            quiet_end_hour: 0,
            ..Default::default()
        };
        assert_eq!(off.validate().unwrap().quiet_hours, None);
    }
}
