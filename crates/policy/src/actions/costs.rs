//! What an action costs: a fixed cost per message and channel, the coupon given away when
//! the shopper buys with it, and the expected value lost through unsubscribes. Configured
//! in integer minor units of the shop's currency.

use super::kind::{ActionKind, Channel};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum CostError {
    #[error("action cost `{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// Costs per action, in minor units (cents) unless named otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionCosts {
    /// Cost of sending one e-mail (ESP fees), minor units.
    pub email_minor: f64,
    /// Cost of one push/SMS through the webhook provider, minor units.
    pub webhook_minor: f64,
    /// Future value lost when a shopper unsubscribes, minor units.
    pub unsubscribe_loss_minor: f64,
    /// Probability that one e-mail makes the shopper unsubscribe.
    pub email_unsubscribe_rate: f64,
    /// Probability that one push/SMS makes the shopper unsubscribe.
    pub webhook_unsubscribe_rate: f64,
}

impl Default for ActionCosts {
    fn default() -> Self {
        ActionCosts {
            email_minor: 0.1,
            webhook_minor: 5.0,
            unsubscribe_loss_minor: 300.0,
            email_unsubscribe_rate: 0.002,
            webhook_unsubscribe_rate: 0.005,
        }
    }
}

impl ActionCosts {
    /// Checks that costs are finite and non-negative and rates are probabilities.
    pub fn validate(&self) -> Result<(), CostError> {
        for (field, value) in [
            ("email_minor", self.email_minor),
            ("webhook_minor", self.webhook_minor),
            ("unsubscribe_loss_minor", self.unsubscribe_loss_minor),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CostError::Invalid {
                    field,
                    message: format!("must be a non-negative number, got {value}"),
                });
            }
        }
        for (field, value) in [
            ("email_unsubscribe_rate", self.email_unsubscribe_rate),
            ("webhook_unsubscribe_rate", self.webhook_unsubscribe_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(CostError::Invalid {
                    field,
                    message: format!("must be a probability in [0, 1], got {value}"),
                });
            }
        }
        Ok(())
    }

    /// Cost of sending the message of `kind` (0 for doing nothing).
    pub fn message_cost(&self, kind: ActionKind) -> f64 {
        match kind.channel() {
            None => 0.0,
            Some(Channel::Email) => self.email_minor,
            Some(Channel::Webhook) => self.webhook_minor,
        }
    }

    /// Probability that the message of `kind` makes the shopper unsubscribe.
    pub fn unsubscribe_rate(&self, kind: ActionKind) -> f64 {
        match kind.channel() {
            None => 0.0,
            Some(Channel::Email) => self.email_unsubscribe_rate,
            Some(Channel::Webhook) => self.webhook_unsubscribe_rate,
        }
    }

    /// Discount given away if the shopper buys a cart worth `cart_value_minor` with the
    /// coupon of `kind` (rounded down to a whole minor unit, never a float in the books).
    pub fn discount_given(kind: ActionKind, cart_value_minor: i64) -> i64 {
        cart_value_minor * i64::from(kind.discount_percent()) / 100
    }

    /// Expected cost of `kind` for a cart worth `cart_value_minor` bought with probability
    /// `purchase_probability` after the action: message + expected discount + expected
    /// unsubscribe loss.
    pub fn expected_cost(
        &self,
        kind: ActionKind,
        cart_value_minor: i64,
        purchase_probability: f64,
    ) -> f64 {
        self.message_cost(kind)
            + purchase_probability * Self::discount_given(kind, cart_value_minor) as f64
            + self.unsubscribe_rate(kind) * self.unsubscribe_loss_minor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_cost_adds_message_discount_and_unsubscribes() {
        let costs = ActionCosts {
            email_minor: 1.0,
            webhook_minor: 4.0,
            unsubscribe_loss_minor: 1000.0,
            email_unsubscribe_rate: 0.01,
            webhook_unsubscribe_rate: 0.02,
        };
        assert_eq!(costs.expected_cost(ActionKind::DoNothing, 10_000, 0.5), 0.0);
        // 1 + 0 + 0.01 * 1000
        assert!((costs.expected_cost(ActionKind::ReminderEmail, 10_000, 0.5) - 11.0).abs() < 1e-12);
        // 1 + 0.5 * 1500 + 10
        assert!((costs.expected_cost(ActionKind::Discount15, 10_000, 0.5) - 761.0).abs() < 1e-12);
        // 4 + 0 + 20
        assert!((costs.expected_cost(ActionKind::WebhookPush, 10_000, 0.5) - 24.0).abs() < 1e-12);
        assert_eq!(
            ActionCosts::discount_given(ActionKind::Discount5, 1_999),
            99
        );
    }

    #[test]
    fn invalid_costs_name_the_field() {
        let costs = ActionCosts {
            email_unsubscribe_rate: 1.5,
            ..ActionCosts::default()
        };
        assert_eq!(
            costs.validate().unwrap_err().to_string(),
            "action cost `email_unsubscribe_rate`: must be a probability in [0, 1], got 1.5"
        );
        let costs = ActionCosts {
            webhook_minor: -1.0,
            ..ActionCosts::default()
        };
        assert!(
            costs
                .validate()
                .unwrap_err()
                .to_string()
                .contains("webhook_minor")
        );
        assert!(ActionCosts::default().validate().is_ok());
    }
}
