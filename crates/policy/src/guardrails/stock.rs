//! Out-of-stock suppression: no message about a cart none of whose items can be bought.

use super::Verdict;
use super::context::ShopperContext;
use crate::actions::ActionKind;

pub fn check_stock(kind: ActionKind, context: &ShopperContext) -> Verdict {
    if kind.is_contact() && !context.lines.is_empty() && context.lines.iter().all(|l| !l.in_stock) {
        Verdict::Suppress {
            reason: "every item in the cart is out of stock".into(),
        }
    } else {
        Verdict::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::context::fixtures::shopper;

    #[test]
    fn suppressed_only_when_nothing_is_in_stock() {
        let mut context = shopper();
        context.lines[0].in_stock = false;
        assert_eq!(
            check_stock(ActionKind::ReminderEmail, &context),
            Verdict::Allow
        );
        context.lines[1].in_stock = false;
        assert!(matches!(
            check_stock(ActionKind::ReminderEmail, &context),
            Verdict::Suppress { .. }
        ));
    }
}
