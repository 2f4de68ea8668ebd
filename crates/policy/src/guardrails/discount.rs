//! Discount guardrails: a coupon may not push any item below the margin floor, and coupons
//! issued in a day may not exceed the daily budget. Both downgrade to the largest coupon
//! that fits, or to a plain reminder when none does.

use super::Verdict;
use super::context::ShopperContext;
use crate::actions::{ActionCosts, ActionKind};

const COUPON_SIZES_DESCENDING: [u32; 4] = [20, 15, 10, 5];

/// Largest coupon percentage (0 if none) that keeps every item with a known cost at or
/// above `margin_floor` of its discounted price.
pub fn largest_discount_within_margin(context: &ShopperContext, margin_floor: f64) -> u32 {
    COUPON_SIZES_DESCENDING
        .into_iter()
        .find(|&percent| {
            context.lines.iter().all(|line| match line.unit_cost_minor {
                None => true,
                Some(cost) => {
                    let discounted =
                        line.unit_price_minor as f64 * (1.0 - f64::from(percent) / 100.0);
                    discounted - cost as f64 >= margin_floor * discounted
                }
            })
        })
        .unwrap_or(0)
}

fn downgrade(kind: ActionKind, allowed_percent: u32, why: String) -> Verdict {
    let to = ActionKind::discount(allowed_percent).unwrap_or(ActionKind::ReminderEmail);
    debug_assert!(to.discount_percent() < kind.discount_percent());
    Verdict::Downgrade { to, reason: why }
}

pub fn check_margin_floor(
    kind: ActionKind,
    context: &ShopperContext,
    margin_floor: f64,
) -> Verdict {
    let percent = kind.discount_percent();
    if percent == 0 {
        return Verdict::Allow;
    }
    let allowed = largest_discount_within_margin(context, margin_floor);
    if allowed >= percent {
        Verdict::Allow
    } else {
        downgrade(
            kind,
            allowed,
            format!(
                "a {percent} % coupon breaks the {:.0} % margin floor; {allowed} % fits",
                margin_floor * 100.0
            ),
        )
    }
}

pub fn check_discount_budget(
    kind: ActionKind,
    context: &ShopperContext,
    daily_budget_minor: i64,
) -> Verdict {
    let percent = kind.discount_percent();
    if percent == 0 {
        return Verdict::Allow;
    }
    let remaining = daily_budget_minor - context.discount_committed_today_minor;
    let value = context.cart_value_minor();
    let fits = |p: u32| {
        ActionKind::discount(p).is_some_and(|k| ActionCosts::discount_given(k, value) <= remaining)
    };
    if fits(percent) {
        return Verdict::Allow;
    }
    let allowed = COUPON_SIZES_DESCENDING
        .into_iter()
        .filter(|&p| p < percent)
        .find(|&p| fits(p))
        .unwrap_or(0);
    downgrade(
        kind,
        allowed,
        format!(
            "a {percent} % coupon ({} minor units) exceeds the {remaining} left of today's discount budget",
            ActionCosts::discount_given(kind, value)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::context::fixtures::shopper;

    #[test]
    fn margin_floor_picks_the_largest_coupon_that_fits() {
        let context = shopper();
        // Shirt: price 40, cost 20. With 20 % off: 32 - 20 = 12 = 37.5 % of 32.
        assert_eq!(largest_discount_within_margin(&context, 0.3), 20);
        // Margin 40 %: 15 % off gives 34 - 20 = 14 = 41 %: fits; 20 % gives 37.5 %: not.
        assert_eq!(largest_discount_within_margin(&context, 0.4), 15);
        assert_eq!(largest_discount_within_margin(&context, 0.6), 0);
        assert_eq!(
            check_margin_floor(ActionKind::Discount20, &context, 0.4),
            Verdict::Downgrade {
                to: ActionKind::Discount15,
                reason: "a 20 % coupon breaks the 40 % margin floor; 15 % fits".into()
            }
        );
        assert!(matches!(
            check_margin_floor(ActionKind::Discount5, &context, 0.6),
            Verdict::Downgrade {
                to: ActionKind::ReminderEmail,
                ..
            }
        ));
        assert_eq!(
            check_margin_floor(ActionKind::ReminderEmail, &context, 0.9),
            Verdict::Allow
        );
    }

    #[test]
    fn budget_downgrades_to_what_is_left() {
        let mut context = shopper(); // cart worth 10,000 minor units
        context.discount_committed_today_minor = 48_800; // 1,200 left of 50,000
        assert_eq!(
            check_discount_budget(ActionKind::Discount10, &context, 50_000),
            Verdict::Allow
        );
        assert!(matches!(
            check_discount_budget(ActionKind::Discount20, &context, 50_000),
            Verdict::Downgrade {
                to: ActionKind::Discount10,
                ..
            }
        ));
        context.discount_committed_today_minor = 50_000;
        assert!(matches!(
            check_discount_budget(ActionKind::Discount5, &context, 50_000),
            Verdict::Downgrade {
                to: ActionKind::ReminderEmail,
                ..
            }
        ));
    }
}
