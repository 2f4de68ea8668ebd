//! [`ActionKind`]: do nothing, a reminder e-mail, an e-mail with recommended items, a
//! push/SMS through a webhook, or a reminder with a unique coupon of 5, 10, 15 or 20 %;
//! [`Action`]: a kind with its send delay after abandonment.

use cartback_core::Duration;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Through which channel an action reaches the shopper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    /// SMS, push or WhatsApp through a provider's webhook.
    Webhook,
}

/// What to do about an abandoned cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    DoNothing,
    ReminderEmail,
    RecommendationEmail,
    WebhookPush,
    #[serde(rename = "discount_5")]
    Discount5,
    #[serde(rename = "discount_10")]
    Discount10,
    #[serde(rename = "discount_15")]
    Discount15,
    #[serde(rename = "discount_20")]
    Discount20,
}

impl ActionKind {
    /// Every kind, in index order (the order used by off-policy logs and bandits).
    pub const ALL: [ActionKind; 8] = [
        ActionKind::DoNothing,
        ActionKind::ReminderEmail,
        ActionKind::RecommendationEmail,
        ActionKind::WebhookPush,
        ActionKind::Discount5,
        ActionKind::Discount10,
        ActionKind::Discount15,
        ActionKind::Discount20,
    ];

    /// Position in [`ActionKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(index: usize) -> Option<ActionKind> {
        ActionKind::ALL.get(index).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            ActionKind::DoNothing => "do_nothing",
            ActionKind::ReminderEmail => "reminder_email",
            ActionKind::RecommendationEmail => "recommendation_email",
            ActionKind::WebhookPush => "webhook_push",
            ActionKind::Discount5 => "discount_5",
            ActionKind::Discount10 => "discount_10",
            ActionKind::Discount15 => "discount_15",
            ActionKind::Discount20 => "discount_20",
        }
    }

    pub fn from_name(name: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The channel a message goes through; `None` for doing nothing.
    pub fn channel(self) -> Option<Channel> {
        match self {
            ActionKind::DoNothing => None,
            ActionKind::WebhookPush => Some(Channel::Webhook),
            _ => Some(Channel::Email),
        }
    }

    /// Coupon size in percent (0 without a coupon).
    pub fn discount_percent(self) -> u32 {
        match self {
            ActionKind::Discount5 => 5,
            ActionKind::Discount10 => 10,
            ActionKind::Discount15 => 15,
            ActionKind::Discount20 => 20,
            _ => 0,
        }
    }

    /// The coupon kind of a given size, if there is one.
    pub fn discount(percent: u32) -> Option<ActionKind> {
        ActionKind::ALL
            .into_iter()
            .find(|k| k.discount_percent() == percent && percent > 0)
    }

    pub fn is_contact(self) -> bool {
        self != ActionKind::DoNothing
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An action and when to send it, counted from the moment the cart was abandoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    pub delay: Duration,
}

impl Action {
    pub const NOTHING: Action = Action {
        kind: ActionKind::DoNothing,
        delay: Duration::ZERO,
    };

    pub fn new(kind: ActionKind, delay: Duration) -> Self {
        Action { kind, delay }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indices_round_trip() {
        for (index, kind) in ActionKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), index);
            assert_eq!(ActionKind::from_index(index), Some(kind));
            assert_eq!(ActionKind::from_name(kind.name()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        assert_eq!(ActionKind::from_name("fax"), None);
        assert_eq!(ActionKind::from_index(8), None);
    }

    #[test]
    fn channels_and_discounts() {
        assert_eq!(ActionKind::DoNothing.channel(), None);
        assert_eq!(ActionKind::WebhookPush.channel(), Some(Channel::Webhook));
        assert_eq!(ActionKind::Discount15.channel(), Some(Channel::Email));
        assert_eq!(ActionKind::Discount15.discount_percent(), 15);
        assert_eq!(ActionKind::ReminderEmail.discount_percent(), 0);
        assert_eq!(ActionKind::discount(10), Some(ActionKind::Discount10));
        assert_eq!(ActionKind::discount(0), None);
        assert_eq!(ActionKind::discount(12), None);
    }
}
