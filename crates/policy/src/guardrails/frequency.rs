//! Frequency caps: at most N messages to a user within a window, at most M messages about
//! one cart, and a minimum gap between two messages about the same cart.

use super::Verdict;
use super::context::ShopperContext;
use cartback_core::{Duration, Timestamp};

/// Suppresses when the user already got `max_messages` within `window` before `send_at`.
pub fn check_user_frequency_cap(
    context: &ShopperContext,
    send_at: Timestamp,
    max_messages: u32,
    window: Duration,
) -> Verdict {
    let recent = context
        .user_message_times
        .iter()
        .filter(|&&t| t <= send_at && send_at - t < window)
        .count();
    if recent as u64 >= u64::from(max_messages) {
        Verdict::Suppress {
            reason: format!(
                "user got {recent} messages in the last {} h (cap {max_messages})",
                window.as_millis() / 3_600_000
            ),
        }
    } else {
        Verdict::Allow
    }
}

/// Suppresses when this cart already got `max_messages`.
pub fn check_cart_message_limit(context: &ShopperContext, max_messages: u32) -> Verdict {
    let sent = context.cart_message_times.len();
    if sent as u64 >= u64::from(max_messages) {
        Verdict::Suppress {
            reason: format!("cart already got {sent} messages (limit {max_messages})"),
        }
    } else {
        Verdict::Allow
    }
}

/// Postpones a message that would come less than `min_gap` after the cart's last one.
pub fn check_cart_gap(context: &ShopperContext, send_at: Timestamp, min_gap: Duration) -> Verdict {
    match context.cart_message_times.iter().max() {
        Some(&last) if send_at - last < min_gap => Verdict::Postpone {
            until: last + min_gap,
            reason: format!(
                "less than {} h after the cart's previous message",
                min_gap.as_millis() / 3_600_000
            ),
        },
        _ => Verdict::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::context::fixtures::shopper;

    const T0: Timestamp = Timestamp(1_780_000_000_000);

    #[test]
    fn user_cap_counts_only_messages_inside_the_window() {
        let mut context = shopper();
        let window = Duration::days(7);
        context.user_message_times = vec![T0 - Duration::days(8), T0 - Duration::days(1)];
        assert_eq!(
            check_user_frequency_cap(&context, T0, 2, window),
            Verdict::Allow
        );
        context.user_message_times.push(T0 - Duration::hours(2));
        assert!(matches!(
            check_user_frequency_cap(&context, T0, 2, window),
            Verdict::Suppress { reason } if reason.contains("2 messages in the last 168 h")
        ));
    }

    #[test]
    fn cart_limit_and_gap() {
        let mut context = shopper();
        context.cart_message_times = vec![T0 - Duration::hours(3)];
        assert_eq!(check_cart_message_limit(&context, 2), Verdict::Allow);
        assert!(matches!(
            check_cart_message_limit(&context, 1),
            Verdict::Suppress { .. }
        ));
        assert!(matches!(
            check_cart_gap(&context, T0, Duration::hours(12)),
            Verdict::Postpone { until, .. } if until == T0 + Duration::hours(9)
        ));
        assert_eq!(
            check_cart_gap(&context, T0, Duration::hours(2)),
            Verdict::Allow
        );
    }
}
