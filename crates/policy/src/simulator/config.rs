//! The simulator's settings: a TOML file whose every field is documented in
//! `default_config.toml` (printed by `cartback simulate --print-config`). Missing fields take
//! the defaults; unknown fields are errors.

use crate::actions::ActionCosts;
use crate::guardrails::GuardrailSettings;
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The commented default configuration.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_config.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("simulator config: {0}")]
    Parse(String),
    #[error("simulator config field `{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    pub abandonment_rate: f64,
    pub step_delays_hours: Vec<u32>,
    pub population: PopulationConfig,
    pub response: ResponseConfig,
    pub costs: ActionCosts,
    pub shop: ShopConfig,
    /// The behavioural history the shop keeps per returning customer.
    pub history: HistoryConfig,
    /// What the shop sees of the abandoned session itself (coupon field, referrer).
    pub session: SessionConfig,
    /// The engine's guardrails, applied to every simulated decision when
    /// `shop.apply_guardrails` is true.
    pub guardrails: GuardrailSettings,
}

/// The simulated shop around the shoppers: calendar, time zones, margins, earlier
/// messages, and whether the guardrails apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopConfig {
    pub apply_guardrails: bool,
    pub carts_per_day: u32,
    pub start_date: String,
    pub time_zones: Vec<String>,
    pub time_zone_shares: Vec<f64>,
    pub gross_margin_min: f64,
    pub gross_margin_max: f64,
    pub returning_recent_messages_mean: f64,
}

/// How the observable history of a returning customer (past orders and their coupon use,
/// engagement with the shop's marketing e-mails) is generated from the hidden traits. New
/// customers have no history. Every field is commented in `default_config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    pub extra_orders_mean: f64,
    pub coupon_order_share_sensitive: f64,
    pub coupon_order_share_insensitive: f64,
    pub marketing_emails: u32,
    pub open_rate_sure_thing: f64,
    pub open_rate_persuadable: f64,
    pub open_rate_lost_cause: f64,
    pub open_rate_sleeping_dog: f64,
    pub open_rate_webhook_preferring_factor: f64,
    pub open_rate_concentration: f64,
    pub machine_open_share: f64,
    pub click_rate_sure_thing: f64,
    pub click_rate_persuadable: f64,
    pub click_rate_lost_cause: f64,
    pub click_rate_sleeping_dog: f64,
}

/// How the session signals of discount seeking (a code typed into the checkout's coupon
/// field, arrival from a coupon / deal / cashback site) are generated from the hidden
/// discount sensitivity, for new and returning customers alike. Every field is commented
/// in `default_config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub code_seeking_rate_sensitive: f64,
    pub code_seeking_rate_insensitive: f64,
    pub checkout_reached_share: f64,
    pub code_entered_rate: f64,
    pub deal_site_referral_rate: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationConfig {
    pub sure_thing_share: f64,
    pub persuadable_share: f64,
    pub sleeping_dog_share: f64,
    pub sure_thing_purchase_rate: f64,
    pub persuadable_purchase_rate: f64,
    pub lost_cause_purchase_rate: f64,
    pub sleeping_dog_purchase_rate: f64,
    pub unaided_purchase_timing: Vec<f64>,
    pub cart_value_median_minor: f64,
    pub cart_value_log_sd: f64,
    pub webhook_preference_share: f64,
    pub email_consent_share: f64,
    pub webhook_consent_share: f64,
    pub persuadable_discount_sensitive_share: f64,
    pub lost_cause_discount_sensitive_share: f64,
    pub propensity_score_noise: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    pub email_open_rate: f64,
    pub push_seen_rate: f64,
    pub click_rate_given_open: f64,
    pub persuadable_reminder_lift: f64,
    pub recommendation_extra_lift: f64,
    pub sure_thing_responsiveness: f64,
    pub lost_cause_responsiveness: f64,
    pub webhook_lift_preferred: f64,
    pub webhook_lift_not_preferred: f64,
    pub email_lift_webhook_preferring: f64,
    pub discount_lift_per_percent: f64,
    pub sleeping_dog_harm: f64,
    pub fatigue: f64,
    pub intent_decay_per_day: f64,
    pub night_reach_factor: f64,
    pub email_unsubscribe_rate: f64,
    pub webhook_unsubscribe_rate: f64,
    pub sleeping_dog_unsubscribe_factor: f64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        toml::from_str(DEFAULT_CONFIG_TOML).expect("the bundled default config parses")
    }
}

fn probability(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field,
            message: format!("must be a probability in [0, 1], got {value}"),
        })
    }
}

fn non_negative(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field,
            message: format!("must be a non-negative number, got {value}"),
        })
    }
}

impl SimulatorConfig {
    /// Parses TOML over the defaults and validates the result.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let mut merged: toml::Table = toml::from_str(DEFAULT_CONFIG_TOML)
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        let user: toml::Table =
            toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        for (key, value) in user {
            match (merged.get_mut(&key), value) {
                (Some(toml::Value::Table(base)), toml::Value::Table(overrides)) => {
                    for (k, v) in overrides {
                        base.insert(k, v);
                    }
                }
                (_, value) => {
                    merged.insert(key, value);
                }
            }
        }
        let config: SimulatorConfig = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges, shares and the step schedule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.population;
        let r = &self.response;
        probability("abandonment_rate", self.abandonment_rate)?;
        if self.step_delays_hours.is_empty()
            || self.step_delays_hours.len() > 6
            || self.step_delays_hours.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(ConfigError::Invalid {
                field: "step_delays_hours",
                message: "must hold 1 to 6 strictly increasing delays".into(),
            });
        }
        if p.unaided_purchase_timing.len() != self.step_delays_hours.len()
            || (p.unaided_purchase_timing.iter().sum::<f64>() - 1.0).abs() > 1e-9
            || p.unaided_purchase_timing.iter().any(|&w| w < 0.0)
        {
            return Err(ConfigError::Invalid {
                field: "population.unaided_purchase_timing",
                message: "needs one non-negative share per step, summing to 1".into(),
            });
        }
        for (field, value) in [
            ("population.sure_thing_share", p.sure_thing_share),
            ("population.persuadable_share", p.persuadable_share),
            ("population.sleeping_dog_share", p.sleeping_dog_share),
            (
                "population.sure_thing_purchase_rate",
                p.sure_thing_purchase_rate,
            ),
            (
                "population.persuadable_purchase_rate",
                p.persuadable_purchase_rate,
            ),
            (
                "population.lost_cause_purchase_rate",
                p.lost_cause_purchase_rate,
            ),
            (
                "population.sleeping_dog_purchase_rate",
                p.sleeping_dog_purchase_rate,
            ),
            (
                "population.webhook_preference_share",
                p.webhook_preference_share,
            ),
            ("population.email_consent_share", p.email_consent_share),
            ("population.webhook_consent_share", p.webhook_consent_share),
            (
                "population.persuadable_discount_sensitive_share",
                p.persuadable_discount_sensitive_share,
            ),
            (
                "population.lost_cause_discount_sensitive_share",
                p.lost_cause_discount_sensitive_share,
            ),
            ("response.email_open_rate", r.email_open_rate),
            ("response.push_seen_rate", r.push_seen_rate),
            ("response.click_rate_given_open", r.click_rate_given_open),
            ("response.sleeping_dog_harm", r.sleeping_dog_harm),
            ("response.fatigue", r.fatigue),
            ("response.night_reach_factor", r.night_reach_factor),
            ("response.email_unsubscribe_rate", r.email_unsubscribe_rate),
            (
                "response.webhook_unsubscribe_rate",
                r.webhook_unsubscribe_rate,
            ),
        ] {
            probability(field, value)?;
        }
        if p.sure_thing_share + p.persuadable_share + p.sleeping_dog_share > 1.0 {
            return Err(ConfigError::Invalid {
                field: "population.*_share",
                message: "sure things, persuadables and sleeping dogs exceed 100 %".into(),
            });
        }
        for (field, value) in [
            (
                "population.cart_value_median_minor",
                p.cart_value_median_minor,
            ),
            ("population.cart_value_log_sd", p.cart_value_log_sd),
            (
                "population.propensity_score_noise",
                p.propensity_score_noise,
            ),
            (
                "response.persuadable_reminder_lift",
                r.persuadable_reminder_lift,
            ),
            (
                "response.recommendation_extra_lift",
                r.recommendation_extra_lift,
            ),
            (
                "response.sure_thing_responsiveness",
                r.sure_thing_responsiveness,
            ),
            (
                "response.lost_cause_responsiveness",
                r.lost_cause_responsiveness,
            ),
            ("response.webhook_lift_preferred", r.webhook_lift_preferred),
            (
                "response.webhook_lift_not_preferred",
                r.webhook_lift_not_preferred,
            ),
            (
                "response.email_lift_webhook_preferring",
                r.email_lift_webhook_preferring,
            ),
            (
                "response.discount_lift_per_percent",
                r.discount_lift_per_percent,
            ),
            ("response.intent_decay_per_day", r.intent_decay_per_day),
            (
                "response.sleeping_dog_unsubscribe_factor",
                r.sleeping_dog_unsubscribe_factor,
            ),
        ] {
            non_negative(field, value)?;
        }
        self.costs.validate().map_err(|e| ConfigError::Invalid {
            field: "costs",
            message: e.to_string(),
        })?;
        self.validate_shop()?;
        self.validate_history()?;
        self.validate_session()?;
        self.guardrails
            .validate()
            .map_err(|e| ConfigError::Invalid {
                field: "guardrails",
                message: e.to_string(),
            })?;
        Ok(())
    }

    fn validate_shop(&self) -> Result<(), ConfigError> {
        let s = &self.shop;
        if s.carts_per_day == 0 {
            return Err(ConfigError::Invalid {
                field: "shop.carts_per_day",
                message: "must be at least 1".into(),
            });
        }
        self.start_date()?;
        self.time_zones()?;
        probability("shop.gross_margin_min", s.gross_margin_min)?;
        probability("shop.gross_margin_max", s.gross_margin_max)?;
        if s.gross_margin_min > s.gross_margin_max || s.gross_margin_max >= 1.0 {
            return Err(ConfigError::Invalid {
                field: "shop.gross_margin_max",
                message: format!(
                    "must be at least gross_margin_min ({}) and below 1, got {}",
                    s.gross_margin_min, s.gross_margin_max
                ),
            });
        }
        non_negative(
            "shop.returning_recent_messages_mean",
            s.returning_recent_messages_mean,
        )
    }

    fn validate_history(&self) -> Result<(), ConfigError> {
        let h = &self.history;
        non_negative("history.extra_orders_mean", h.extra_orders_mean)?;
        for (field, value) in [
            (
                "history.coupon_order_share_sensitive",
                h.coupon_order_share_sensitive,
            ),
            (
                "history.coupon_order_share_insensitive",
                h.coupon_order_share_insensitive,
            ),
            ("history.open_rate_sure_thing", h.open_rate_sure_thing),
            ("history.open_rate_persuadable", h.open_rate_persuadable),
            ("history.open_rate_lost_cause", h.open_rate_lost_cause),
            ("history.open_rate_sleeping_dog", h.open_rate_sleeping_dog),
            (
                "history.open_rate_webhook_preferring_factor",
                h.open_rate_webhook_preferring_factor,
            ),
            ("history.machine_open_share", h.machine_open_share),
            ("history.click_rate_sure_thing", h.click_rate_sure_thing),
            ("history.click_rate_persuadable", h.click_rate_persuadable),
            ("history.click_rate_lost_cause", h.click_rate_lost_cause),
            ("history.click_rate_sleeping_dog", h.click_rate_sleeping_dog),
        ] {
            probability(field, value)?;
        }
        if !(h.open_rate_concentration.is_finite() && h.open_rate_concentration > 0.0) {
            return Err(ConfigError::Invalid {
                field: "history.open_rate_concentration",
                message: format!("must be positive, got {}", h.open_rate_concentration),
            });
        }
        if h.marketing_emails > 100 {
            return Err(ConfigError::Invalid {
                field: "history.marketing_emails",
                message: format!("must be at most 100, got {}", h.marketing_emails),
            });
        }
        Ok(())
    }

    fn validate_session(&self) -> Result<(), ConfigError> {
        let s = &self.session;
        for (field, value) in [
            (
                "session.code_seeking_rate_sensitive",
                s.code_seeking_rate_sensitive,
            ),
            (
                "session.code_seeking_rate_insensitive",
                s.code_seeking_rate_insensitive,
            ),
            ("session.checkout_reached_share", s.checkout_reached_share),
            ("session.code_entered_rate", s.code_entered_rate),
            ("session.deal_site_referral_rate", s.deal_site_referral_rate),
        ] {
            probability(field, value)?;
        }
        Ok(())
    }

    /// The first simulated day (`shop.start_date`).
    pub fn start_date(&self) -> Result<NaiveDate, ConfigError> {
        NaiveDate::parse_from_str(&self.shop.start_date, "%Y-%m-%d").map_err(|e| {
            ConfigError::Invalid {
                field: "shop.start_date",
                message: format!("`{}` is not a YYYY-MM-DD date ({e})", self.shop.start_date),
            }
        })
    }

    /// The shoppers' time zones with their shares (`shop.time_zones`,
    /// `shop.time_zone_shares`).
    pub fn time_zones(&self) -> Result<Vec<(Tz, f64)>, ConfigError> {
        let s = &self.shop;
        if s.time_zones.is_empty() || s.time_zones.len() != s.time_zone_shares.len() {
            return Err(ConfigError::Invalid {
                field: "shop.time_zone_shares",
                message: format!(
                    "needs one share per time zone ({} zones, {} shares) and at least one zone",
                    s.time_zones.len(),
                    s.time_zone_shares.len()
                ),
            });
        }
        if s.time_zone_shares.iter().any(|&w| w.is_nan() || w < 0.0)
            || (s.time_zone_shares.iter().sum::<f64>() - 1.0).abs() > 1e-9
        {
            return Err(ConfigError::Invalid {
                field: "shop.time_zone_shares",
                message: "shares must be non-negative and sum to 1".into(),
            });
        }
        s.time_zones
            .iter()
            .zip(&s.time_zone_shares)
            .map(|(name, &share)| {
                name.parse::<Tz>()
                    .map(|tz| (tz, share))
                    .map_err(|_| ConfigError::Invalid {
                        field: "shop.time_zones",
                        message: format!("`{name}` is not an IANA time zone"),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_defaults_parse_and_validate() {
        let config = SimulatorConfig::default();
        config.validate().unwrap();
        assert_eq!(config.step_delays_hours, vec![1, 24, 72]);
        // Every field of the file carries a comment line above it.
        let lines: Vec<&str> = DEFAULT_CONFIG_TOML.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains(" = ") {
                assert!(
                    lines[..i]
                        .iter()
                        .rev()
                        .take_while(|l| !l.contains(" = "))
                        .any(|l| l.starts_with('#')),
                    "field without comment: {line}"
                );
            }
        }
    }

    #[test]
    fn partial_files_override_defaults_and_errors_name_fields() {
        let config = SimulatorConfig::from_toml("[response]\nemail_open_rate = 0.3\n").unwrap();
        assert_eq!(config.response.email_open_rate, 0.3);
        assert_eq!(
            config.response.fatigue,
            SimulatorConfig::default().response.fatigue
        );
        let err = SimulatorConfig::from_toml("[response]\nemail_open_rate = 1.3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "simulator config field `response.email_open_rate`: must be a probability in [0, 1], got 1.3"
        );
        let err = SimulatorConfig::from_toml("[response]\nopen_rate = 0.3\n").unwrap_err();
        assert!(err.to_string().contains("open_rate"), "{err}");
        let err = SimulatorConfig::from_toml("step_delays_hours = [1, 24]\n").unwrap_err();
        assert!(err.to_string().contains("unaided_purchase_timing"), "{err}");
    }

    #[test]
    fn guardrails_default_to_the_engine_settings_and_shop_fields_are_checked() {
        let config = SimulatorConfig::default();
        assert_eq!(config.guardrails, GuardrailSettings::default());
        assert!(config.shop.apply_guardrails);
        assert_eq!(config.time_zones().unwrap().len(), 3);
        let err = SimulatorConfig::from_toml(
            "[shop]\ntime_zones = [\"Mars/Olympus\", \"UTC\", \"UTC\"]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("shop.time_zones"), "{err}");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
        let err =
            SimulatorConfig::from_toml("[shop]\ntime_zone_shares = [0.5, 0.5]\n").unwrap_err();
        assert!(err.to_string().contains("shop.time_zone_shares"), "{err}");
        let err = SimulatorConfig::from_toml("[shop]\nstart_date = \"2026-13-01\"\n").unwrap_err();
        assert!(err.to_string().contains("shop.start_date"), "{err}");
        let err = SimulatorConfig::from_toml("[shop]\ncarts_per_day = 0\n").unwrap_err();
        assert!(err.to_string().contains("shop.carts_per_day"), "{err}");
        let err = SimulatorConfig::from_toml("[guardrails]\nmargin_floor = 1.5\n").unwrap_err();
        assert!(err.to_string().contains("margin_floor"), "{err}");
        let err = SimulatorConfig::from_toml("[history]\nmachine_open_share = 2\n").unwrap_err();
        assert!(
            err.to_string().contains("history.machine_open_share"),
            "{err}"
        );
        let err =
            SimulatorConfig::from_toml("[history]\nopen_rate_concentration = 0\n").unwrap_err();
        assert!(
            err.to_string().contains("history.open_rate_concentration"),
            "{err}"
        );
        let err = SimulatorConfig::from_toml("[session]\ncode_entered_rate = -0.1\n").unwrap_err();
        assert!(
            err.to_string().contains("session.code_entered_rate"),
            "{err}"
        );
        let err = SimulatorConfig::from_toml("[guardrails]\nquiet_hours = 3\n").unwrap_err();
        assert!(err.to_string().contains("quiet_hours"), "{err}");
    }
}
