//! Consent per channel: no e-mail without e-mail consent, no push/SMS without webhook consent.

use super::Verdict;
use super::context::ShopperContext;
use crate::actions::{ActionKind, Channel};

pub fn check_consent(kind: ActionKind, context: &ShopperContext) -> Verdict {
    let consented = match kind.channel() {
        None => true,
        Some(Channel::Email) => context.consent.email,
        Some(Channel::Webhook) => context.consent.webhook,
    };
    if consented {
        Verdict::Allow
    } else {
        Verdict::Suppress {
            reason: format!("no consent for {} messages", channel_name(kind)),
        }
    }
}

fn channel_name(kind: ActionKind) -> &'static str {
    match kind.channel() {
        Some(Channel::Email) => "e-mail",
        Some(Channel::Webhook) => "push/SMS",
        None => "no",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::context::fixtures::shopper;

    #[test]
    fn each_channel_needs_its_own_consent() {
        let mut context = shopper();
        context.consent.webhook = false;
        assert_eq!(
            check_consent(ActionKind::Discount10, &context),
            Verdict::Allow
        );
        assert_eq!(
            check_consent(ActionKind::WebhookPush, &context),
            Verdict::Suppress {
                reason: "no consent for push/SMS messages".into()
            }
        );
        context.consent.email = false;
        assert!(matches!(
            check_consent(ActionKind::ReminderEmail, &context),
            Verdict::Suppress { .. }
        ));
        assert_eq!(
            check_consent(ActionKind::DoNothing, &context),
            Verdict::Allow
        );
    }
}
