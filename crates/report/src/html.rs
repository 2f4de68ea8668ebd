//! The dashboard page: owns turning a [`Report`] into one self-contained HTML page (inline
//! CSS and SVG, no scripts, fonts or external resources, so it works offline and can be
//! saved or mailed as one file).
//!
//! Every figure is formatted here, in Rust, into a [`serde`]-serialisable view of strings;
//! the minijinja template (`dashboard.html.j2`, embedded at compile time) only lays them
//! out. The template's name ends in `.html.j2`, so minijinja escapes every value for HTML;
//! only the charts' SVG (drawn by [`crate::charts`]) is inserted as is (`|safe`).

use crate::charts::{ChartError, DashboardCharts, dashboard_charts};
use crate::format::{NONE, percent, percent_ci, points_ci};
use crate::off_policy::OffPolicy;
use crate::report::{ActionRow, DayRow, GroupOutcome, MessageKpis, Report, utc_day};
use crate::stats::Estimate;
use cartback_core::Timestamp;
use minijinja::Environment;
use serde::Serialize;
use std::collections::BTreeMap;

/// The page's title.
pub const TITLE: &str = "cartback — what was won back";

const TEMPLATE_NAME: &str = "dashboard.html.j2";
const TEMPLATE: &str = include_str!("dashboard.html.j2");

/// The dashboard could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("the dashboard template failed: {0}")]
    Template(#[from] minijinja::Error),
}

/// The report as one self-contained HTML page.
pub fn render_html(report: &Report) -> Result<String, HtmlError> {
    let charts = dashboard_charts(report)?;
    let view = View::new(report, charts);
    let mut env = Environment::new();
    env.add_template(TEMPLATE_NAME, TEMPLATE)?;
    Ok(env.get_template(TEMPLATE_NAME)?.render(&view)?)
}

/// What the template shows, every figure already text.
#[derive(Serialize)]
struct View {
    title: &'static str,
    period: String,
    generated_at: String,
    currency: String,
    mixed_currencies: bool,
    verdict: String,
    measurable: bool,
    significant: bool,
    headline: Vec<Figure>,
    charts: Charts,
    carts: Vec<Row>,
    groups: Vec<GroupRow>,
    channels: Vec<MessageRow>,
    actions: Vec<MessageRow>,
    first_actions: Vec<FirstActionRow>,
    days: Vec<DayView>,
    off_policy: Option<OffPolicyView>,
}

/// The off-policy section: its verdict, the logged policy's value, one row per first touch.
#[derive(Serialize)]
struct OffPolicyView {
    verdict: String,
    rounds: String,
    skipped_without_state: String,
    flow_steps: String,
    logged: Option<String>,
    policies: Vec<OffPolicyRow>,
    holdout_check: Option<HoldoutCheckView>,
    bootstrap_samples: String,
}

#[derive(Serialize)]
struct OffPolicyRow {
    first_touch: String,
    snipw: String,
    dr: String,
    effective_sample_size: String,
    mean_weight: String,
    note: String,
}

#[derive(Serialize)]
struct HoldoutCheckView {
    verdict: String,
    agrees: Option<bool>,
    estimate: String,
    holdout: String,
    difference: String,
}

#[derive(Serialize)]
struct Charts {
    lift: String,
    daily_recoveries: String,
    message_funnel: String,
    daily_volume: String,
}

/// A headline figure: its name, its value, the interval or comparison under it.
#[derive(Serialize)]
struct Figure {
    label: &'static str,
    value: String,
    detail: String,
}

#[derive(Serialize)]
struct Row {
    label: &'static str,
    value: String,
}

/// One line of the treated vs holdout table.
#[derive(Serialize)]
struct GroupRow {
    label: &'static str,
    treated: String,
    holdout: String,
    difference: String,
}

#[derive(Serialize)]
struct MessageRow {
    name: String,
    messages: String,
    sent: String,
    pending: String,
    failed: String,
    cancelled: String,
    open_rate: String,
    click_through_rate: String,
    click_to_open_rate: String,
    unsubscribe_rate: String,
    attributed: String,
}

#[derive(Serialize)]
struct FirstActionRow {
    action: String,
    settled: String,
    recovered: String,
    recovery_rate: String,
    net_per_abandonment: String,
    messages_sent: String,
}

#[derive(Serialize)]
struct DayView {
    day: String,
    carts: String,
    orders: String,
    treated_abandonments: String,
    treated_recovered: String,
    holdout_abandonments: String,
    holdout_recovered: String,
    recovered_revenue: String,
    messages_sent: String,
}

impl View {
    fn new(report: &Report, charts: DashboardCharts) -> View {
        let lift = &report.lift;
        View {
            title: TITLE,
            period: period(report),
            generated_at: date_time(report.generated_at),
            currency: report
                .currency
                .clone()
                .unwrap_or_else(|| "unknown (amounts in minor units)".into()),
            mixed_currencies: report.mixed_currencies,
            verdict: lift.verdict.clone(),
            measurable: lift.measurable,
            significant: lift.significant,
            headline: headline(report),
            charts: Charts {
                lift: charts.lift,
                daily_recoveries: charts.daily_recoveries,
                message_funnel: charts.message_funnel,
                daily_volume: charts.daily_volume,
            },
            carts: cart_rows(report),
            groups: group_rows(report),
            channels: message_rows(&report.messages_by_channel),
            actions: message_rows(&report.messages_by_action),
            first_actions: report
                .first_actions
                .iter()
                .map(|row| first_action_row(report, row))
                .collect(),
            days: report.daily.iter().map(|d| day_view(report, d)).collect(),
            off_policy: report
                .off_policy
                .as_ref()
                .map(|section| off_policy_view(report, section)),
        }
    }
}

fn off_policy_view(report: &Report, section: &OffPolicy) -> OffPolicyView {
    let money_ci = |e: Option<Estimate>| report.money_ci(e);
    OffPolicyView {
        verdict: section.verdict.clone(),
        rounds: section.rounds.to_string(),
        skipped_without_state: section.skipped_without_state.to_string(),
        flow_steps: section
            .flow_steps
            .map_or_else(|| NONE.into(), |n| n.to_string()),
        logged: section.logged.map(|e| money_ci(Some(e))),
        policies: section
            .policies
            .iter()
            .map(|p| OffPolicyRow {
                first_touch: p.first_touch.clone(),
                snipw: money_ci(p.snipw),
                dr: money_ci(p.dr),
                effective_sample_size: format!("{:.1}", p.effective_sample_size),
                mean_weight: format!("{:.2}", p.mean_weight),
                // The figures behind it are in the row's ESS and mean weight cells, the
                // thresholds in the caption.
                note: if p.verdict == "ok" {
                    String::new()
                } else {
                    "little overlap".into()
                },
            })
            .collect(),
        holdout_check: section
            .holdout_check
            .as_ref()
            .map(|check| HoldoutCheckView {
                verdict: check.verdict.clone(),
                agrees: check.agrees,
                estimate: money_ci(check.estimate),
                holdout: money_ci(check.holdout),
                difference: signed_money_ci(report, check.difference),
            }),
        bootstrap_samples: section.bootstrap_samples.to_string(),
    }
}

fn headline(report: &Report) -> Vec<Figure> {
    let lift = &report.lift;
    let (treated, holdout) = (&lift.treated, &lift.holdout);
    let money_range = |e: Estimate| {
        format!(
            "95 % CI {} to {}",
            report.money(e.ci_low),
            report.money(e.ci_high)
        )
    };
    let net = match lift.incremental_net_revenue_minor {
        Some(e) => Figure {
            label: "Incremental net revenue",
            value: signed_money(report, e.value),
            detail: format!(
                "{} over {} treated abandonments",
                money_range(e),
                treated.settled
            ),
        },
        None => Figure {
            label: "Incremental net revenue",
            value: NONE.into(),
            detail: "not measurable yet".into(),
        },
    };
    let per_1000 = Figure {
        label: "Per 1,000 abandoned carts",
        value: lift
            .incremental_net_revenue_per_1000_minor
            .map_or_else(|| NONE.into(), |e| signed_money(report, e.value)),
        detail: lift
            .incremental_net_revenue_per_1000_minor
            .map_or_else(|| "not measurable yet".into(), money_range),
    };
    let recoveries = Figure {
        label: "Incremental recoveries",
        value: lift
            .incremental_recoveries
            .map_or_else(|| NONE.into(), |e| format!("{:+.1}", e.value)),
        detail: lift.incremental_recoveries.map_or_else(
            || "not measurable yet".into(),
            |e| format!("95 % CI {:+.1} to {:+.1}", e.ci_low, e.ci_high),
        ),
    };
    let attributed = Figure {
        label: "Attributed recoveries (last touch)",
        value: treated.attributed.to_string(),
        detail: "every recovery after one of our messages, including shoppers who would \
                 have bought anyway; the incremental recoveries are what the messages changed"
            .into(),
    };
    let rates = Figure {
        label: "Recovery rate, treated vs holdout",
        value: format!(
            "{} vs {}",
            percent(treated.recovery_rate.map(|e| e.value)),
            percent(holdout.recovery_rate.map(|e| e.value))
        ),
        detail: format!(
            "treated {}; holdout {}; difference {}{}",
            percent_ci(treated.recovery_rate),
            percent_ci(holdout.recovery_rate),
            points_ci(lift.recovery_rate_difference),
            lift.relative_recovery_lift
                .map_or_else(String::new, |r| format!(" ({:+.0} % relative)", r * 100.0))
        ),
    };
    vec![net, per_1000, recoveries, attributed, rates]
}

fn cart_rows(report: &Report) -> Vec<Row> {
    let k = &report.carts;
    let money = |minor: i64| report.money(minor as f64);
    vec![
        Row {
            label: "Carts",
            value: k.carts.to_string(),
        },
        Row {
            label: "Abandonment rate (abandoned / decided carts)",
            value: percent(k.abandonment_rate),
        },
        Row {
            label: "Conversion rate (orders / decided carts)",
            value: percent(k.conversion_rate),
        },
        Row {
            label: "Orders",
            value: k.orders.to_string(),
        },
        Row {
            label: "Cancelled orders",
            value: k.cancelled_orders.to_string(),
        },
        Row {
            label: "Revenue (orders not cancelled)",
            value: money(k.revenue_minor),
        },
        Row {
            label: "Average order value",
            value: k
                .average_order_value_minor
                .map_or_else(|| NONE.into(), |v| report.money(v)),
        },
        Row {
            label: "Recovered orders",
            value: k.recovered_orders.to_string(),
        },
        Row {
            label: "Recovered revenue",
            value: money(k.recovered_revenue_minor),
        },
        Row {
            label: "Recovery rate (recovered / closed abandoned carts)",
            value: percent(k.recovery_rate),
        },
        Row {
            label: "Abandoned carts still open",
            value: k.abandoned_open.to_string(),
        },
    ]
}

fn group_rows(report: &Report) -> Vec<GroupRow> {
    let lift = &report.lift;
    let (t, h) = (&lift.treated, &lift.holdout);
    let row = |label, f: &dyn Fn(&GroupOutcome) -> String| GroupRow {
        label,
        treated: f(t),
        holdout: f(h),
        difference: String::new(),
    };
    let money = |minor: f64| report.money(minor);
    let money_ci = |e: Option<Estimate>| report.money_ci(e);
    vec![
        row("Abandonments", &|g| g.abandonments.to_string()),
        row("Still open (left out)", &|g| g.open.to_string()),
        row("Settled", &|g| g.settled.to_string()),
        row("Recovered", &|g| g.recovered.to_string()),
        GroupRow {
            difference: points_ci(lift.recovery_rate_difference),
            ..row("Recovery rate [95 % CI]", &|g| percent_ci(g.recovery_rate))
        },
        row("Revenue", &|g| money(g.revenue_minor as f64)),
        row("Discounts", &|g| money(g.discount_minor as f64)),
        row("Message costs", &|g| money(g.message_cost_minor)),
        row("Unsubscribe losses", &|g| money(g.unsubscribe_loss_minor)),
        row("Net revenue", &|g| money(g.net_revenue_minor)),
        GroupRow {
            difference: signed_money_ci(report, lift.net_per_abandonment_difference_minor),
            ..row("Net per abandonment [95 % CI]", &|g| {
                money_ci(g.net_per_abandonment_minor)
            })
        },
        row("Messages per abandonment", &|g| {
            g.messages_per_abandonment
                .map_or_else(|| NONE.into(), |m| format!("{m:.2}"))
        }),
        row("Unsubscribed", &|g| g.unsubscribed.to_string()),
        row("Attributed recoveries (last touch)", &|g| {
            g.attributed.to_string()
        }),
    ]
}

fn message_rows(by: &BTreeMap<String, MessageKpis>) -> Vec<MessageRow> {
    by.iter()
        .map(|(name, k)| MessageRow {
            name: name.clone(),
            messages: k.messages.to_string(),
            sent: k.sent.to_string(),
            pending: k.pending.to_string(),
            failed: k.failed.to_string(),
            cancelled: k.cancelled.to_string(),
            open_rate: percent(k.open_rate),
            click_through_rate: percent(k.click_through_rate),
            click_to_open_rate: percent(k.click_to_open_rate),
            unsubscribe_rate: percent(k.unsubscribe_rate),
            attributed: k.attributed.to_string(),
        })
        .collect()
}

fn first_action_row(report: &Report, row: &ActionRow) -> FirstActionRow {
    FirstActionRow {
        action: row.action.clone(),
        settled: row.settled.to_string(),
        recovered: row.recovered.to_string(),
        recovery_rate: percent_ci(row.recovery_rate),
        net_per_abandonment: row
            .net_per_abandonment_minor
            .map_or_else(|| NONE.into(), |v| report.money(v)),
        messages_sent: row.messages_sent.to_string(),
    }
}

fn day_view(report: &Report, d: &DayRow) -> DayView {
    DayView {
        day: d.day.clone(),
        carts: d.carts.to_string(),
        orders: d.orders.to_string(),
        treated_abandonments: d.treated_abandonments.to_string(),
        treated_recovered: d.treated_recovered.to_string(),
        holdout_abandonments: d.holdout_abandonments.to_string(),
        holdout_recovered: d.holdout_recovered.to_string(),
        recovered_revenue: report.money(d.recovered_revenue_minor as f64),
        messages_sent: d.messages_sent.to_string(),
    }
}

/// The period as UTC dates: `until` is exclusive, so its last day is the one before it.
fn period(report: &Report) -> String {
    let last_day = |until: Timestamp| utc_day(Timestamp(until.0.saturating_sub(1)));
    match (report.period.since, report.period.until) {
        (None, None) => "all time".into(),
        (Some(since), None) => format!("since {} (UTC)", utc_day(since)),
        (None, Some(until)) => format!("up to {} (UTC)", last_day(until)),
        (Some(since), Some(until)) => {
            format!("{} to {} (UTC)", utc_day(since), last_day(until))
        }
    }
}

fn date_time(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.0).map_or_else(
        || "out of range".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A difference with its interval, each signed: `+12.00 EUR [+9.00 EUR, +15.00 EUR]`; the
/// dash when there is none.
fn signed_money_ci(report: &Report, estimate: Option<Estimate>) -> String {
    estimate.map_or_else(
        || NONE.into(),
        |e| {
            format!(
                "{} [{}, {}]",
                signed_money(report, e.value),
                signed_money(report, e.ci_low),
                signed_money(report, e.ci_high)
            )
        },
    )
}

fn signed_money(report: &Report, minor: f64) -> String {
    let text = report.money(minor);
    if minor.round() > 0.0 {
        format!("+{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::tests::{MONDAY, sample_report};
    use crate::report::{Period, ReportBuilder};
    use minijinja::HtmlEscape;

    fn escaped(text: &str) -> String {
        HtmlEscape(text).to_string()
    }

    #[test]
    fn the_page_shows_the_verdict_the_lift_and_the_charts() {
        let report = sample_report();
        let html = render_html(&report).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(&escaped(TITLE)), "the title");
        let verdict = &report.lift.verdict;
        assert!(verdict.contains("EUR"), "{verdict}");
        assert!(html.contains(&escaped(verdict)), "the verdict");
        let net = report.lift.incremental_net_revenue_minor.unwrap();
        assert!(net.value > 0.0, "{net:?}");
        let shown = format!(
            "<div class=\"value\">+{}</div>",
            escaped(&report.money(net.value))
        );
        assert!(html.contains(&shown), "{shown} in the headline");
        let interval = format!(
            "95 % CI {} to {} over 60 treated abandonments",
            report.money(net.ci_low),
            report.money(net.ci_high)
        );
        assert!(html.contains(&escaped(&interval)), "{interval}");
        assert_eq!(html.matches("<svg ").count(), 4);
        assert_eq!(html.matches("</svg>").count(), 4);
        assert!(!html.contains("no data yet"));
        // 18/60 treated, 5/50 holdout, as printed rates in the headline and tables.
        assert!(html.contains("30.0 % vs 10.0 %"), "headline rates");
        assert!(
            html.contains("<td class=\"num\">30.0 % ["),
            "treated rate in the table"
        );
        assert!(
            html.contains("<td class=\"num\">10.0 % ["),
            "holdout rate in the table"
        );
        assert!(html.contains(">+20.0 points ["), "the difference");
        // Attributed recoveries next to the incremental ones.
        let attributed = report.lift.treated.attributed;
        assert!(attributed > 0);
        assert!(html.contains(&format!("<div class=\"value\">{attributed}</div>")));
        assert!(html.contains("would have bought anyway"));
        assert!(html.contains("Period: all time"));
        assert!(html.contains("generated 2024-03-08 00:00 UTC"));
        assert!(!html.contains("Mixed currencies"));
        // Both channels and both actions in the message tables, opens only for e-mail.
        for name in [
            "email",
            "webhook",
            "reminder_email",
            "discount_10",
            "holdout",
        ] {
            assert!(
                html.contains(&format!("<th scope=\"row\">{name}</th>")),
                "{name}"
            );
        }
        assert!(html.contains("only observed for e-mail"));
        assert!(html.contains("not the actions' effects"));
        assert!(html.contains("<details>") && html.contains("2024-03-06"));
        assert!(html.contains("Newcombe") && html.contains("Welch"));
        // Self-contained: nothing loaded from elsewhere.
        for external in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn text_is_escaped_and_only_the_charts_are_inserted_raw() {
        let mut report = sample_report();
        report.lift.verdict = "<script>alert('won')</script> & more".into();
        report
            .messages_by_action
            .insert("<b>bold</b>".into(), MessageKpis::default());
        let html = render_html(&report).unwrap();
        assert!(!html.contains("<script"), "raw script");
        assert!(
            html.contains("&lt;script&gt;alert(&#x27;won&#x27;)&lt;&#x2f;script&gt; &amp; more")
        );
        assert!(!html.contains("<b>bold</b>"));
        assert!(html.contains("&lt;b&gt;bold&lt;&#x2f;b&gt;"));
        // The SVG is markup, not text.
        assert!(!html.contains("&lt;svg"));
    }

    #[test]
    fn the_empty_report_renders_with_no_data_charts() {
        let report = ReportBuilder::new(Period::default()).finish(Timestamp(0));
        let html = render_html(&report).unwrap();
        assert_eq!(html.matches("<svg ").count(), 4);
        assert_eq!(html.matches(">no data yet</text>").count(), 4);
        assert!(html.contains(&escaped(&report.lift.verdict)));
        assert!(html.contains("No messages yet."));
        assert!(html.contains("No settled abandonment yet."));
        assert!(html.contains("<div class=\"value\">—</div>"));
        assert!(html.contains("unknown (amounts in minor units)"));
        assert!(html.contains("generated 1970-01-01 00:00 UTC"));
    }

    #[test]
    fn period_dates_and_the_mixed_currency_warning() {
        let mut report = sample_report();
        report.period = Period {
            since: Some(Timestamp(MONDAY)),
            until: Some(Timestamp(MONDAY + 7 * 86_400_000)),
        };
        report.mixed_currencies = true;
        let html = render_html(&report).unwrap();
        assert!(html.contains("Period: 2024-03-04 to 2024-03-10 (UTC)"));
        assert!(html.contains("Mixed currencies"));
        report.period.until = None;
        assert_eq!(period(&report), "since 2024-03-04 (UTC)");
        report.period = Period {
            since: None,
            until: Some(Timestamp(MONDAY + 1)),
        };
        assert_eq!(period(&report), "up to 2024-03-04 (UTC)");
    }
}
