//! Runs the guardrails over a proposal in a fixed order and records every change:
//! lifecycle → holdout → consent → cart message limit → user frequency cap → stock →
//! margin floor → discount budget → cart gap → quiet hours. Once an action is suppressed
//! the rest are skipped; downgrades and postponements carry on through the later checks.

use super::Verdict;
use super::config::GuardrailConfig;
use super::consent::check_consent;
use super::context::ShopperContext;
use super::discount::{check_discount_budget, check_margin_floor};
use super::frequency::{check_cart_gap, check_cart_message_limit, check_user_frequency_cap};
use super::holdout::check_holdout;
use super::lifecycle::check_cart_still_abandoned;
use super::quiet_hours::check_quiet_hours;
use super::stock::check_stock;
use crate::actions::ActionKind;
use cartback_core::Timestamp;
use serde::Serialize;

/// One guardrail's check of the current proposal.
type GuardrailCheck<'a> = dyn Fn(&Proposal) -> Verdict + 'a;

/// What a policy proposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub kind: ActionKind,
    pub send_at: Timestamp,
}

/// The guardrails, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guardrail {
    CartNotAbandoned,
    Holdout,
    Consent,
    CartMessageLimit,
    UserFrequencyCap,
    OutOfStock,
    MarginFloor,
    DiscountBudget,
    CartMessageGap,
    QuietHours,
}

/// One change a guardrail made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GuardrailChange {
    pub guardrail: Guardrail,
    pub before: Proposal,
    pub after: Proposal,
    pub reason: String,
}

/// The final decision and how it came about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GuardedDecision {
    pub proposed: Proposal,
    pub kind: ActionKind,
    pub send_at: Timestamp,
    pub changes: Vec<GuardrailChange>,
}

impl GuardedDecision {
    /// Whether any guardrail changed the proposal.
    pub fn was_changed(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// Applies every guardrail to `proposal`.
pub fn apply_guardrails(
    proposal: Proposal,
    context: &ShopperContext,
    config: &GuardrailConfig,
) -> GuardedDecision {
    let mut current = proposal;
    let mut changes = Vec::new();
    if proposal.kind.is_contact() {
        let checks: [(Guardrail, &GuardrailCheck); 10] = [
            (Guardrail::CartNotAbandoned, &|_| {
                check_cart_still_abandoned(context)
            }),
            (Guardrail::Holdout, &|_| {
                check_holdout(context, &config.holdout)
            }),
            (Guardrail::Consent, &|p| check_consent(p.kind, context)),
            (Guardrail::CartMessageLimit, &|_| {
                check_cart_message_limit(context, config.max_messages_per_cart)
            }),
            (Guardrail::UserFrequencyCap, &|p| {
                check_user_frequency_cap(
                    context,
                    p.send_at,
                    config.user_cap_messages,
                    config.user_cap_window,
                )
            }),
            (Guardrail::OutOfStock, &|p| check_stock(p.kind, context)),
            (Guardrail::MarginFloor, &|p| {
                check_margin_floor(p.kind, context, config.margin_floor)
            }),
            (Guardrail::DiscountBudget, &|p| {
                check_discount_budget(p.kind, context, config.daily_discount_budget_minor)
            }),
            (Guardrail::CartMessageGap, &|p| {
                check_cart_gap(context, p.send_at, config.min_gap_between_cart_messages)
            }),
            (Guardrail::QuietHours, &|p| match &config.quiet_hours {
                Some(quiet) => check_quiet_hours(p.send_at, context.time_zone, quiet),
                None => Verdict::Allow,
            }),
        ];
        for (guardrail, check) in checks {
            let before = current;
            let (after, reason) = match check(&current) {
                Verdict::Allow => continue,
                Verdict::Suppress { reason } => (
                    Proposal {
                        kind: ActionKind::DoNothing,
                        ..before
                    },
                    reason,
                ),
                Verdict::Downgrade { to, reason } => (Proposal { kind: to, ..before }, reason),
                Verdict::Postpone { until, reason } => (
                    Proposal {
                        send_at: until,
                        ..before
                    },
                    reason,
                ),
            };
            current = after;
            changes.push(GuardrailChange {
                guardrail,
                before,
                after,
                reason,
            });
            if !current.kind.is_contact() {
                break;
            }
        }
    }
    GuardedDecision {
        proposed: proposal,
        kind: current.kind,
        send_at: current.send_at,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::config::GuardrailSettings;
    use crate::guardrails::context::fixtures::shopper;
    use cartback_core::{CartState, Duration};
    use chrono::{TimeZone, Utc};

    fn config() -> GuardrailConfig {
        GuardrailSettings {
            holdout_share: 0.0,
            margin_floor: 0.4,
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    fn afternoon() -> Timestamp {
        Timestamp(
            Utc.with_ymd_and_hms(2026, 6, 10, 13, 0, 0)
                .unwrap()
                .timestamp_millis(),
        )
    }

    #[test]
    fn an_allowed_proposal_passes_unchanged() {
        let proposal = Proposal {
            kind: ActionKind::ReminderEmail,
            send_at: afternoon(),
        };
        let decision = apply_guardrails(proposal, &shopper(), &config());
        assert_eq!(decision.kind, ActionKind::ReminderEmail);
        assert_eq!(decision.send_at, afternoon());
        assert!(!decision.was_changed());
    }

    #[test]
    fn changes_are_recorded_in_order_and_compose() {
        // A 20 % coupon at 23:30 Berlin time: the margin floor downgrades it to 15 %, then
        // quiet hours postpone it to 08:00 local.
        let late = Timestamp(
            Utc.with_ymd_and_hms(2026, 6, 10, 21, 30, 0)
                .unwrap()
                .timestamp_millis(),
        );
        let proposal = Proposal {
            kind: ActionKind::Discount20,
            send_at: late,
        };
        let decision = apply_guardrails(proposal, &shopper(), &config());
        let names: Vec<Guardrail> = decision.changes.iter().map(|c| c.guardrail).collect();
        assert_eq!(names, vec![Guardrail::MarginFloor, Guardrail::QuietHours]);
        assert_eq!(decision.kind, ActionKind::Discount15);
        let eight_local = Timestamp(
            Utc.with_ymd_and_hms(2026, 6, 11, 6, 0, 0)
                .unwrap()
                .timestamp_millis(),
        );
        assert_eq!(decision.send_at, eight_local);
        assert_eq!(decision.proposed, proposal);
    }

    #[test]
    fn suppression_stops_the_chain_and_names_the_guardrail() {
        let mut context = shopper();
        context.cart_state = CartState::Purchased;
        let proposal = Proposal {
            kind: ActionKind::Discount20,
            send_at: afternoon(),
        };
        let decision = apply_guardrails(proposal, &context, &config());
        assert_eq!(decision.kind, ActionKind::DoNothing);
        assert_eq!(decision.changes.len(), 1);
        assert_eq!(decision.changes[0].guardrail, Guardrail::CartNotAbandoned);

        let mut context = shopper();
        context.user_message_times = vec![afternoon() - Duration::hours(1); 3];
        let decision = apply_guardrails(proposal, &context, &config());
        assert_eq!(
            decision.changes.last().unwrap().guardrail,
            Guardrail::UserFrequencyCap
        );
        assert_eq!(decision.kind, ActionKind::DoNothing);

        let everyone_held_out = GuardrailSettings {
            holdout_share: 1.0,
            ..Default::default()
        }
        .validate()
        .unwrap();
        let decision = apply_guardrails(proposal, &shopper(), &everyone_held_out);
        assert_eq!(decision.changes[0].guardrail, Guardrail::Holdout);
        assert_eq!(decision.kind, ActionKind::DoNothing);
    }

    #[test]
    fn doing_nothing_needs_no_guardrail() {
        let mut context = shopper();
        context.cart_state = CartState::Purchased;
        let proposal = Proposal {
            kind: ActionKind::DoNothing,
            send_at: afternoon(),
        };
        assert!(!apply_guardrails(proposal, &context, &config()).was_changed());
    }
}
