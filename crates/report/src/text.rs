//! The terminal summary of a report (`cartback report` without `--json`): the verdict, the
//! lift with its intervals, the cart KPIs, the messages and the off-policy estimates, as
//! aligned plain text.

use crate::format::{NONE, count_ci, percent, percent_ci, points_ci};
use crate::off_policy::OffPolicy;
use crate::report::Report;
use crate::stats::Estimate;
use std::fmt::Write;

/// One aligned `label value` line.
fn row(out: &mut String, label: &str, value: String) {
    let _ = writeln!(out, "  {label:<38} {value}");
}

/// The report as plain text, for a terminal.
pub fn render_text(report: &Report) -> String {
    let money_ci = |e: Option<Estimate>| report.money_ci(e);
    let money_opt = |m: Option<f64>| m.map_or_else(|| NONE.into(), |m| report.money(m));
    let lift = &report.lift;
    let (t, h) = (&lift.treated, &lift.holdout);
    let mut out = String::new();
    let _ = writeln!(out, "{}", lift.verdict);
    if report.mixed_currencies {
        let _ = writeln!(
            out,
            "warning: carts in several currencies were summed as {} (restrict the report to one with --currency)",
            report.currency.as_deref().unwrap_or("one")
        );
    }
    out.push_str("\nAgainst the holdout (settled abandonments):\n");
    row(
        &mut out,
        "abandonments treated / holdout",
        format!(
            "{} / {} ({} / {} still open)",
            t.settled, h.settled, t.open, h.open
        ),
    );
    row(
        &mut out,
        "recovery rate treated",
        percent_ci(t.recovery_rate),
    );
    row(
        &mut out,
        "recovery rate holdout",
        percent_ci(h.recovery_rate),
    );
    row(
        &mut out,
        "difference",
        points_ci(lift.recovery_rate_difference),
    );
    row(
        &mut out,
        "incremental recoveries",
        count_ci(lift.incremental_recoveries),
    );
    row(
        &mut out,
        "recoveries attributed by last touch",
        t.attributed.to_string(),
    );
    row(
        &mut out,
        "net per abandonment treated",
        money_ci(t.net_per_abandonment_minor),
    );
    row(
        &mut out,
        "net per abandonment holdout",
        money_ci(h.net_per_abandonment_minor),
    );
    row(
        &mut out,
        "incremental net revenue",
        money_ci(lift.incremental_net_revenue_minor),
    );
    row(
        &mut out,
        "  per 1,000 abandoned carts",
        money_ci(lift.incremental_net_revenue_per_1000_minor),
    );
    row(
        &mut out,
        "discounts / message costs (treated)",
        format!(
            "{} / {}",
            report.money(t.discount_minor as f64),
            report.money(t.message_cost_minor)
        ),
    );
    let c = &report.carts;
    out.push_str("\nCarts:\n");
    row(
        &mut out,
        "carts",
        format!(
            "{} ({})",
            c.carts,
            c.by_state
                .iter()
                .map(|(state, n)| format!("{state} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    row(&mut out, "abandonment rate", percent(c.abandonment_rate));
    row(&mut out, "conversion rate", percent(c.conversion_rate));
    row(
        &mut out,
        "orders (cancelled)",
        format!("{} ({})", c.orders, c.cancelled_orders),
    );
    row(&mut out, "revenue", report.money(c.revenue_minor as f64));
    row(
        &mut out,
        "average order value",
        money_opt(c.average_order_value_minor),
    );
    row(
        &mut out,
        "recovered orders / revenue",
        format!(
            "{} / {}",
            c.recovered_orders,
            report.money(c.recovered_revenue_minor as f64)
        ),
    );
    row(&mut out, "recovery rate", percent(c.recovery_rate));
    let m = &report.messages;
    out.push_str("\nMessages:\n");
    row(
        &mut out,
        "planned / sent",
        format!(
            "{} / {} ({} pending, {} failed, {} cancelled)",
            m.messages, m.sent, m.pending, m.failed, m.cancelled
        ),
    );
    for (channel, k) in &report.messages_by_channel {
        row(
            &mut out,
            &format!("{channel}: open rate / CTR / unsubscribes"),
            format!(
                "{} / {} / {}",
                percent(k.open_rate),
                percent(k.click_through_rate),
                percent(k.unsubscribe_rate)
            ),
        );
    }
    row(
        &mut out,
        "orders attributed to a message",
        format!("{} ({})", m.attributed, percent(m.attributed_rate)),
    );
    if let Some(off_policy) = &report.off_policy {
        off_policy_text(&mut out, report, off_policy, &money_ci);
    }
    out
}

/// The off-policy section: the verdict, the logged policy's realised value, one line per
/// alternative first touch, and the holdout check.
fn off_policy_text(
    out: &mut String,
    report: &Report,
    section: &OffPolicy,
    money_ci: &dyn Fn(Option<Estimate>) -> String,
) {
    out.push_str("\nOff-policy estimates (first touch, net per settled abandonment):\n");
    let _ = writeln!(out, "  {}", section.verdict);
    if section.skipped_other_currency > 0 {
        let _ = writeln!(
            out,
            "  ({} rounds in other currencies than {} left out)",
            section.skipped_other_currency,
            report.currency.as_deref().unwrap_or("the report's")
        );
    }
    let Some(logged) = section.logged else {
        return;
    };
    row(out, "logged policy, realised", money_ci(Some(logged)));
    let _ = writeln!(
        out,
        "  {:<26} {:>36} {:>36} {:>8}",
        "first touch", "SNIPW [95 % CI]", "DR [95 % CI]", "ESS"
    );
    for policy in &section.policies {
        let (snipw, dr) = match (policy.snipw, policy.dr) {
            (Some(_), Some(_)) => (money_ci(policy.snipw), money_ci(policy.dr)),
            _ => ("little overlap".to_owned(), String::new()),
        };
        let _ = writeln!(
            out,
            "  {:<26} {snipw:>36} {dr:>36} {:>8.1}",
            policy.first_touch, policy.effective_sample_size
        );
    }
    if let Some(check) = &section.holdout_check {
        let _ = writeln!(out, "  holdout check: {}", check.verdict);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::AbandonmentOutcome;
    use crate::report::{Period, ReportBuilder};
    use cartback_core::Timestamp;

    fn outcome(holdout: bool, recovered: bool, value: i64) -> AbandonmentOutcome {
        crate::records::test_abandonment(holdout, recovered, value, Timestamp(1_780_000_000_000))
    }

    #[test]
    fn the_text_names_the_lift_and_its_interval() {
        let mut builder = ReportBuilder::new(Period::default());
        for i in 0..200 {
            builder.add_abandonment(&outcome(false, i % 5 == 0, 5_000));
            builder.add_abandonment(&outcome(true, i % 20 == 0, 5_000));
        }
        let report = builder.finish(Timestamp(0));
        let text = render_text(&report);
        assert!(text.starts_with("cartback's decisions added"), "{text}");
        assert!(text.contains("20.0 % ["), "{text}");
        assert!(text.contains("5.0 % ["), "{text}");
        assert!(text.contains("+15.0 points"), "{text}");
        assert!(
            text.contains("incremental recoveries                 +30.0 ["),
            "{text}"
        );
        assert!(
            text.contains("recoveries attributed by last touch    40"),
            "{text}"
        );
    }
}
