//! Never after checkout or purchase: only a cart that is still abandoned may be contacted.

use super::Verdict;
use super::context::ShopperContext;
use cartback_core::CartState;

pub fn check_cart_still_abandoned(context: &ShopperContext) -> Verdict {
    if context.cart_state == CartState::Abandoned {
        Verdict::Allow
    } else {
        Verdict::Suppress {
            reason: format!("cart is {}, not abandoned", context.cart_state.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::context::fixtures::shopper;

    #[test]
    fn purchased_and_recovered_carts_are_never_contacted() {
        let mut context = shopper();
        assert_eq!(check_cart_still_abandoned(&context), Verdict::Allow);
        for state in [
            CartState::Purchased,
            CartState::Recovered,
            CartState::Active,
        ] {
            context.cart_state = state;
            assert!(matches!(
                check_cart_still_abandoned(&context),
                Verdict::Suppress { reason } if reason.contains(state.as_str())
            ));
        }
    }
}
