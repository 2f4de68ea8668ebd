//! The report itself: [`ReportBuilder`] folds carts, abandonments and messages (in any
//! order, each once) into a [`Report`] — the shop's cart KPIs, what the engine's messages
//! did, and **the lift against the randomised holdout**: what cartback's decisions added
//! over leaving abandoned carts alone, with 95 % confidence intervals.
//!
//! The lift compares every settled abandonment of shoppers outside the holdout (whatever the
//! policy then chose, doing nothing included: intention to treat) with those of the holdout
//! group, which the engine tracks and never contacts. Assignment is a hash of the user id,
//! so the two groups differ only by chance; last-touch attribution ("recovered after our
//! e-mail") counts shoppers who would have bought anyway, the difference does not.

use crate::off_policy::{FirstTouchRound, OffPolicy, off_policy_section};
use crate::records::{AbandonmentOutcome, MessageOutcome};
use crate::stats::{Estimate, Moments, mean_difference, proportion_difference, wilson};
use cartback_core::{Cart, CartState, Currency, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;

/// Below this many settled abandonments in either group the lift gets no interval.
pub const MIN_GROUP: u64 = 30;

/// The time span a report covers: carts by creation time, abandonments by their first
/// decision, messages by when they went out (or were due). Both ends optional; `until` is
/// exclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Period {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Period {
    /// A period from optional `since` / `until` texts (see [`parse_instant`]); `field`
    /// names in errors are `since` and `until`.
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Period, FilterError> {
        let bound = |field: &'static str, text: Option<&str>| {
            text.map(|t| {
                parse_instant(t).ok_or_else(|| FilterError::Unreadable {
                    field,
                    text: t.to_owned(),
                })
            })
            .transpose()
        };
        let period = Period {
            since: bound("since", since)?,
            until: bound("until", until)?,
        };
        if let (Some(since), Some(until)) = (period.since, period.until)
            && since >= until
        {
            return Err(FilterError::Empty);
        }
        Ok(period)
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.since.is_none_or(|since| at >= since) && self.until.is_none_or(|until| at < until)
    }
}

/// A period or currency that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("`{field}`: {text:?} is neither a date (YYYY-MM-DD, UTC) nor an RFC 3339 time")]
    Unreadable { field: &'static str, text: String },
    #[error("`until` must come after `since`")]
    Empty,
    #[error("`currency`: {text:?} is not an ISO 4217 currency code")]
    Currency { text: String },
}

impl FilterError {
    /// The parameter it is about.
    pub fn field(&self) -> &'static str {
        match self {
            FilterError::Unreadable { field, .. } => field,
            FilterError::Empty => "until",
            FilterError::Currency { .. } => "currency",
        }
    }
}

/// An ISO 4217 code (any case) as the report's currency filter (`"eur"` → `"EUR"`).
pub fn parse_currency(text: &str) -> Result<String, FilterError> {
    Currency::parse(&text.trim().to_ascii_uppercase())
        .map(|c| c.code().to_owned())
        .map_err(|_| FilterError::Currency {
            text: text.to_owned(),
        })
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time, as an instant.
pub fn parse_instant(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(Timestamp(time.timestamp_millis()));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(Timestamp(
        date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis(),
    ))
}

/// The shop's carts in the period, as the tracker folded them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CartKpis {
    pub carts: u64,
    /// Carts per state (`active`, `idle`, `abandoned`, `recovered`, `purchased`, `expired`).
    pub by_state: BTreeMap<String, u64>,
    /// Carts that were abandoned at least once.
    pub abandoned: u64,
    /// Carts whose fate is decided: ordered, or abandoned at least once.
    pub decided: u64,
    /// abandoned / decided.
    pub abandonment_rate: Option<f64>,
    /// Orders (purchased or recovered carts), cancelled ones included.
    pub orders: u64,
    pub cancelled_orders: u64,
    /// orders / decided.
    pub conversion_rate: Option<f64>,
    /// Value of the orders not cancelled, minor units.
    pub revenue_minor: i64,
    /// Average order value of the orders not cancelled, minor units.
    pub average_order_value_minor: Option<f64>,
    pub recovered_orders: u64,
    pub recovered_revenue_minor: i64,
    /// Recovered / abandoned carts whose outcome is known (recovered or expired).
    pub recovery_rate: Option<f64>,
    /// Abandoned carts still inside their attribution window.
    pub abandoned_open: u64,
}

/// What one group's settled abandonments came to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GroupOutcome {
    /// Abandonments with a first decision in the period.
    pub abandonments: u64,
    /// Of those, still open (excluded from everything below).
    pub open: u64,
    pub settled: u64,
    pub recovered: u64,
    /// recovered / settled, Wilson interval.
    pub recovery_rate: Option<Estimate>,
    pub revenue_minor: i64,
    pub discount_minor: i64,
    pub message_cost_minor: f64,
    pub unsubscribe_loss_minor: f64,
    /// revenue − discounts − message costs − unsubscribe losses.
    pub net_revenue_minor: f64,
    /// Net revenue per settled abandonment, normal interval.
    pub net_per_abandonment_minor: Option<Estimate>,
    pub messages_sent: u64,
    pub messages_per_abandonment: Option<f64>,
    pub unsubscribed: u64,
    /// Recoveries attributed to a message by last touch.
    pub attributed: u64,
}

/// What cartback's decisions added, against the holdout.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Lift {
    pub treated: GroupOutcome,
    pub holdout: GroupOutcome,
    /// The holdout's share of settled abandonments.
    pub holdout_share: Option<f64>,
    /// Recovery rate, treated − holdout (Newcombe's interval).
    pub recovery_rate_difference: Option<Estimate>,
    /// (treated − holdout) / holdout recovery rate.
    pub relative_recovery_lift: Option<f64>,
    /// Net revenue per settled abandonment, treated − holdout (Welch).
    pub net_per_abandonment_difference_minor: Option<Estimate>,
    /// Recoveries that would not have happened without the engine: the rate difference
    /// times the treated group's settled abandonments.
    pub incremental_recoveries: Option<Estimate>,
    /// Net revenue the engine added over the treated group's settled abandonments.
    pub incremental_net_revenue_minor: Option<Estimate>,
    /// The same per 1,000 abandoned carts (the simulator's unit).
    pub incremental_net_revenue_per_1000_minor: Option<Estimate>,
    /// Both groups have at least [`MIN_GROUP`] settled abandonments.
    pub measurable: bool,
    /// The incremental net revenue's interval excludes zero.
    pub significant: bool,
    /// One sentence saying what the figures mean.
    pub verdict: String,
}

/// The engine's messages per channel or per action.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MessageKpis {
    /// All messages the engine planned.
    pub messages: u64,
    pub sent: u64,
    pub pending: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub opened: u64,
    pub clicked: u64,
    pub unsubscribed: u64,
    pub attributed: u64,
    /// Sent messages that carry an open pixel, the only ones whose opens are observed:
    /// e-mails, and the `log` channel that stands in for e-mail in development and the demo
    /// (push/SMS through the `webhook` channel have none).
    pub pixel_sent: u64,
    /// opened / sent messages with a pixel.
    pub open_rate: Option<f64>,
    /// clicked / sent: the click-through rate.
    pub click_through_rate: Option<f64>,
    /// Clicks / opens, both among messages with a pixel.
    pub click_to_open_rate: Option<f64>,
    pub unsubscribe_rate: Option<f64>,
    /// attributed / sent.
    pub attributed_rate: Option<f64>,
}

/// Settled abandonments by the first decision's action (descriptive: the policy chose whom
/// to give each action, so these rates are not the actions' effects).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ActionRow {
    /// The action, or `holdout` for the holdout group.
    pub action: String,
    pub settled: u64,
    pub recovered: u64,
    pub recovery_rate: Option<Estimate>,
    pub net_per_abandonment_minor: Option<f64>,
    pub messages_sent: u64,
}

/// One UTC day. Carts and their orders are booked on the day the cart was created,
/// abandonments and their recoveries on the day of the first decision, messages on the day
/// they went out.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DayRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub carts: u64,
    /// Of the day's carts, those ordered (purchased or recovered).
    pub orders: u64,
    pub treated_abandonments: u64,
    pub holdout_abandonments: u64,
    /// Of the day's abandonments, those settled (the daily recovery rates' denominators).
    pub treated_settled: u64,
    pub holdout_settled: u64,
    /// Of the settled ones, those recovered.
    pub treated_recovered: u64,
    pub holdout_recovered: u64,
    /// Revenue kept from the day's recovered abandonments so far (settled or not), both
    /// groups.
    pub recovered_revenue_minor: i64,
    pub messages_sent: u64,
}

/// Everything a report says; serialised as `cartback report --json` and `/v1/report`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub generated_at: Timestamp,
    pub period: Period,
    /// The currency the report was restricted to (`--currency`, `?currency=`), if any.
    pub currency_filter: Option<String>,
    /// The currency the money figures are in (the filter's, else the most frequent one).
    pub currency: Option<String>,
    /// Carts in other currencies were summed in as if they were the same: the money figures
    /// are then meaningless (restrict the report to one currency).
    pub mixed_currencies: bool,
    pub carts: CartKpis,
    pub lift: Lift,
    pub messages: MessageKpis,
    pub messages_by_channel: BTreeMap<String, MessageKpis>,
    pub messages_by_action: BTreeMap<String, MessageKpis>,
    pub first_actions: Vec<ActionRow>,
    pub daily: Vec<DayRow>,
    /// Off-policy estimates from the first-touch rounds (absent when the report was built
    /// without the decision log's recorded states).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub off_policy: Option<OffPolicy>,
}

impl Report {
    /// `minor` in the report's currency as text (`1234.5` → `"12.35 EUR"`); plain minor
    /// units without a currency.
    pub fn money(&self, minor: f64) -> String {
        format_money(self.currency.as_deref(), minor)
    }

    /// An estimate in the report's currency with its interval, `12.00 EUR [9.00 EUR, 15.00
    /// EUR]`; the dash when there is none.
    pub fn money_ci(&self, estimate: Option<Estimate>) -> String {
        estimate.map_or_else(
            || crate::format::NONE.into(),
            |e| {
                format!(
                    "{} [{}, {}]",
                    self.money(e.value),
                    self.money(e.ci_low),
                    self.money(e.ci_high)
                )
            },
        )
    }
}

/// Money as text in `currency` (an ISO 4217 code).
pub fn format_money(currency: Option<&str>, minor: f64) -> String {
    match currency.and_then(|code| Currency::parse(code).ok()) {
        Some(c) => format!("{} {}", c.format_minor(minor.round() as i64), c.code()),
        None => format!("{} (minor units)", minor.round() as i64),
    }
}

#[derive(Default)]
struct GroupTally {
    outcome: GroupOutcome,
    net: Moments,
}

impl GroupTally {
    fn add(&mut self, a: &AbandonmentOutcome) {
        let o = &mut self.outcome;
        o.abandonments += 1;
        if !a.settled {
            o.open += 1;
            return;
        }
        o.settled += 1;
        o.recovered += u64::from(a.recovered);
        o.revenue_minor += a.revenue_minor();
        o.discount_minor += a.discount_given_minor();
        o.message_cost_minor += a.message_cost_minor;
        o.unsubscribe_loss_minor += a.unsubscribe_loss_minor;
        o.net_revenue_minor += a.net_minor();
        o.messages_sent += u64::from(a.messages_sent);
        o.unsubscribed += u64::from(a.unsubscribed);
        o.attributed += u64::from(a.attributed && a.recovered);
        self.net.push(a.net_minor());
    }

    fn finish(mut self) -> (GroupOutcome, Moments) {
        let o = &mut self.outcome;
        o.recovery_rate = wilson(o.recovered, o.settled);
        o.net_per_abandonment_minor = self.net.mean_estimate();
        o.messages_per_abandonment = ratio(o.messages_sent, o.settled);
        (self.outcome, self.net)
    }
}

#[derive(Default)]
struct MessageTally {
    kpis: MessageKpis,
    pixel_clicked: u64,
}

impl MessageTally {
    fn add(&mut self, m: &MessageOutcome) {
        let k = &mut self.kpis;
        k.messages += 1;
        match m.status.as_str() {
            "sent" => k.sent += 1,
            "failed" => k.failed += 1,
            "cancelled" => k.cancelled += 1,
            _ => k.pending += 1,
        }
        if m.is_sent() {
            if m.has_open_pixel() {
                k.pixel_sent += 1;
                k.opened += u64::from(m.opened);
                self.pixel_clicked += u64::from(m.clicked);
            }
            k.clicked += u64::from(m.clicked);
            k.unsubscribed += u64::from(m.unsubscribed);
            k.attributed += u64::from(m.attributed);
        }
    }

    fn finish(mut self) -> MessageKpis {
        let k = &mut self.kpis;
        k.open_rate = ratio(k.opened, k.pixel_sent);
        k.click_through_rate = ratio(k.clicked, k.sent);
        k.click_to_open_rate = ratio(self.pixel_clicked, k.opened);
        k.unsubscribe_rate = ratio(k.unsubscribed, k.sent);
        k.attributed_rate = ratio(k.attributed, k.sent);
        self.kpis
    }
}

#[derive(Default)]
struct ActionTally {
    settled: u64,
    recovered: u64,
    net: f64,
    messages_sent: u64,
}

/// Folds records into a [`Report`]; records outside the period are ignored.
#[derive(Default)]
pub struct ReportBuilder {
    period: Period,
    currency_filter: Option<String>,
    carts: CartKpis,
    kept_orders: u64,
    recovered_settled: u64,
    abandoned_settled: u64,
    treated: GroupTally,
    holdout: GroupTally,
    actions: BTreeMap<String, ActionTally>,
    messages: MessageTally,
    by_channel: BTreeMap<String, MessageTally>,
    by_action: BTreeMap<String, MessageTally>,
    daily: BTreeMap<String, DayRow>,
    currencies: BTreeMap<String, u64>,
    off_policy: Option<FirstTouchTally>,
}

/// The first-touch rounds of the period (and currency filter), for the off-policy section.
#[derive(Default)]
struct FirstTouchTally {
    rounds: Vec<FirstTouchRound>,
    without_state: u64,
}

impl ReportBuilder {
    pub fn new(period: Period) -> ReportBuilder {
        ReportBuilder {
            period,
            ..ReportBuilder::default()
        }
    }

    /// Keeps only carts, abandonments and messages in `currency` (an ISO 4217 code as
    /// [`parse_currency`] gives it; records without a known currency are left out too).
    pub fn with_currency(mut self, currency: Option<String>) -> ReportBuilder {
        self.currency_filter = currency;
        self
    }

    /// Gives the report its off-policy section ([`crate::off_policy`]), from the rounds
    /// [`add_first_touch`](Self::add_first_touch) collects (none yet: the section says so).
    pub fn with_off_policy(mut self) -> ReportBuilder {
        self.off_policy.get_or_insert_default();
        self
    }

    /// A settled first-touch round (the first decision step of a treated abandonment, with
    /// its recorded state) for the off-policy section.
    pub fn add_first_touch(&mut self, round: FirstTouchRound) {
        if !self.period.contains(round.decided_at) || self.other_currency(round.currency.as_deref())
        {
            return;
        }
        self.off_policy.get_or_insert_default().rounds.push(round);
    }

    /// A settled treated abandonment whose first decision has no (readable) recorded state:
    /// counted, not evaluated.
    pub fn add_first_touch_without_state(&mut self, decided_at: Timestamp, currency: Option<&str>) {
        if !self.period.contains(decided_at) || self.other_currency(currency) {
            return;
        }
        self.off_policy.get_or_insert_default().without_state += 1;
    }

    fn other_currency(&self, currency: Option<&str>) -> bool {
        self.currency_filter
            .as_deref()
            .is_some_and(|wanted| currency != Some(wanted))
    }

    fn day(&mut self, at: Timestamp) -> &mut DayRow {
        let day = utc_day(at);
        self.daily.entry(day.clone()).or_insert_with(|| DayRow {
            day,
            ..DayRow::default()
        })
    }

    pub fn add_cart(&mut self, cart: &Cart) {
        if !self.period.contains(cart.created_at)
            || self.other_currency(cart.currency.map(|c| c.code()))
        {
            return;
        }
        if let Some(currency) = cart.currency {
            *self
                .currencies
                .entry(currency.code().to_owned())
                .or_default() += 1;
        }
        let k = &mut self.carts;
        k.carts += 1;
        *k.by_state
            .entry(cart.state.as_str().to_owned())
            .or_default() += 1;
        let abandoned = cart.abandoned_at.is_some() || cart.abandonments > 0;
        let ordered = matches!(cart.state, CartState::Purchased | CartState::Recovered);
        k.abandoned += u64::from(abandoned);
        k.decided += u64::from(abandoned || ordered);
        if abandoned && cart.state == CartState::Recovered {
            self.recovered_settled += 1;
        }
        if abandoned && cart.state.is_terminal() {
            self.abandoned_settled += 1;
        }
        if abandoned && !cart.state.is_terminal() {
            k.abandoned_open += 1;
        }
        if ordered {
            k.orders += 1;
            let value = cart.order_value.filter(|&v| v > 0).unwrap_or(cart.value);
            if cart.order_cancelled {
                k.cancelled_orders += 1;
            } else {
                self.kept_orders += 1;
                k.revenue_minor += value;
                if cart.state == CartState::Recovered {
                    k.recovered_orders += 1;
                    k.recovered_revenue_minor += value;
                }
            }
        }
        let day = self.day(cart.created_at);
        day.carts += 1;
        day.orders += u64::from(ordered);
    }

    pub fn add_abandonment(&mut self, a: &AbandonmentOutcome) {
        if !self.period.contains(a.decided_at) || self.other_currency(a.currency.as_deref()) {
            return;
        }
        if let Some(currency) = &a.currency {
            *self.currencies.entry(currency.clone()).or_default() += 1;
        }
        if a.holdout {
            self.holdout.add(a);
        } else {
            self.treated.add(a);
        }
        let day = self.day(a.decided_at);
        // Recoveries of settled abandonments only, like the lift: a recovery is known before
        // its window closes, a loss only after.
        let recovered = u64::from(a.settled && a.recovered);
        if a.holdout {
            day.holdout_abandonments += 1;
            day.holdout_settled += u64::from(a.settled);
            day.holdout_recovered += recovered;
        } else {
            day.treated_abandonments += 1;
            day.treated_settled += u64::from(a.settled);
            day.treated_recovered += recovered;
        }
        day.recovered_revenue_minor += a.revenue_minor();
        if a.settled {
            let key = if a.holdout {
                "holdout".to_owned()
            } else {
                a.first_action.clone()
            };
            let row = self.actions.entry(key).or_default();
            row.settled += 1;
            row.recovered += u64::from(a.recovered);
            row.net += a.net_minor();
            row.messages_sent += u64::from(a.messages_sent);
        }
    }

    pub fn add_message(&mut self, m: &MessageOutcome) {
        if !self.period.contains(m.sent_at.unwrap_or(m.due_at))
            || self.other_currency(m.currency.as_deref())
        {
            return;
        }
        self.messages.add(m);
        self.by_channel.entry(m.channel.clone()).or_default().add(m);
        self.by_action.entry(m.action.clone()).or_default().add(m);
        if let Some(at) = m.sent_at.filter(|_| m.is_sent()) {
            self.day(at).messages_sent += 1;
        }
    }

    pub fn finish(self, generated_at: Timestamp) -> Report {
        let mut carts = self.carts;
        carts.abandonment_rate = ratio(carts.abandoned, carts.decided);
        carts.conversion_rate = ratio(carts.orders, carts.decided);
        carts.average_order_value_minor =
            (self.kept_orders > 0).then(|| carts.revenue_minor as f64 / self.kept_orders as f64);
        carts.recovery_rate = ratio(self.recovered_settled, self.abandoned_settled);
        let currency = self.currency_filter.clone().or_else(|| {
            self.currencies
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(code, _)| code.clone())
        });
        let lift = lift(self.treated, self.holdout, currency.as_deref());
        let off_policy = self.off_policy.map(|tally| {
            // In the report's currency only (it differs from the rounds' only when the
            // report mixes currencies and warns about it).
            let (rounds, other): (Vec<_>, Vec<_>) = tally
                .rounds
                .into_iter()
                .partition(|r| currency.is_none() || r.currency.as_deref() == currency.as_deref());
            off_policy_section(
                &rounds,
                tally.without_state,
                other.len() as u64,
                &lift.holdout,
                currency.as_deref(),
            )
        });
        let first_actions = self
            .actions
            .into_iter()
            .map(|(action, t)| ActionRow {
                action,
                settled: t.settled,
                recovered: t.recovered,
                recovery_rate: wilson(t.recovered, t.settled),
                net_per_abandonment_minor: (t.settled > 0).then(|| t.net / t.settled as f64),
                messages_sent: t.messages_sent,
            })
            .collect();
        let messages_by_channel = self
            .by_channel
            .into_iter()
            .map(|(channel, t)| (channel, t.finish()))
            .collect();
        let messages_by_action = self
            .by_action
            .into_iter()
            .map(|(action, t)| (action, t.finish()))
            .collect();
        Report {
            generated_at,
            period: self.period,
            currency_filter: self.currency_filter,
            mixed_currencies: self.currencies.len() > 1,
            currency,
            carts,
            lift,
            messages: self.messages.finish(),
            messages_by_channel,
            messages_by_action,
            first_actions,
            daily: self.daily.into_values().collect(),
            off_policy,
        }
    }
}

fn lift(treated: GroupTally, holdout: GroupTally, currency: Option<&str>) -> Lift {
    let (treated, treated_net) = treated.finish();
    let (holdout, holdout_net) = holdout.finish();
    let settled = treated.settled + holdout.settled;
    let measurable = treated.settled >= MIN_GROUP && holdout.settled >= MIN_GROUP;
    let mut lift = Lift {
        holdout_share: ratio(holdout.settled, settled),
        measurable,
        ..Lift::default()
    };
    if measurable {
        let n = treated.settled as f64;
        let rate = proportion_difference(
            treated.recovered,
            treated.settled,
            holdout.recovered,
            holdout.settled,
        );
        let net = mean_difference(&treated_net, &holdout_net);
        lift.relative_recovery_lift = match (&rate, &holdout.recovery_rate) {
            (Some(d), Some(h)) if h.value > 0.0 => Some(d.value / h.value),
            _ => None,
        };
        lift.incremental_recoveries = rate.map(|d| d.scaled(n));
        lift.incremental_net_revenue_minor = net.map(|d| d.scaled(n));
        lift.incremental_net_revenue_per_1000_minor = net.map(|d| d.scaled(1000.0));
        lift.recovery_rate_difference = rate;
        lift.net_per_abandonment_difference_minor = net;
        lift.significant = net.is_some_and(|d| d.excludes_zero());
    }
    lift.verdict = verdict(&lift, &treated, &holdout, currency);
    lift.treated = treated;
    lift.holdout = holdout;
    lift
}

fn verdict(
    lift: &Lift,
    treated: &GroupOutcome,
    holdout: &GroupOutcome,
    currency: Option<&str>,
) -> String {
    if treated.settled + holdout.settled == 0 {
        return "No settled abandonment yet: nothing to measure.".into();
    }
    if holdout.abandonments == 0 {
        return format!(
            "No holdout: set `holdout_fraction` (e.g. 0.1) to measure what the engine adds. \
             {} recoveries were attributed to its messages by last touch, which also counts \
             shoppers who would have bought anyway.",
            treated.attributed
        );
    }
    if !lift.measurable {
        return format!(
            "Too few settled abandonments to compare ({} treated, {} holdout; at least {} \
             each are needed).",
            treated.settled, holdout.settled, MIN_GROUP
        );
    }
    let (Some(total), Some(per_1000)) = (
        lift.incremental_net_revenue_minor,
        lift.incremental_net_revenue_per_1000_minor,
    ) else {
        return "The lift could not be computed.".into();
    };
    let money = |minor: f64| format_money(currency, minor);
    let figures = format!(
        "{} in net revenue over {} treated abandonments (95 % CI {} to {}; {} per 1,000 \
         abandoned carts)",
        money(total.value),
        treated.settled,
        money(total.ci_low),
        money(total.ci_high),
        money(per_1000.value)
    );
    if total.ci_low > 0.0 {
        format!("cartback's decisions added {figures}, against the holdout.")
    } else if total.ci_high < 0.0 {
        format!(
            "cartback's decisions lost {figures}, against the holdout: they cost more than \
             they won back. Review the policy and its costs."
        )
    } else {
        format!(
            "Not distinguishable from zero yet: {figures}. The interval narrows with more \
             settled abandonments or a larger holdout."
        )
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// `YYYY-MM-DD` of an instant, UTC.
pub fn utc_day(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.0)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_else(|| "out of range".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::Currency;

    const DAY: i64 = 86_400_000;
    /// 2026-06-01T00:00:00Z.
    const T0: i64 = 1_780_272_000_000;

    fn cart(id: &str, state: CartState, created: i64, value: i64) -> Cart {
        let abandoned = !matches!(state, CartState::Purchased | CartState::Active);
        Cart {
            id: id.into(),
            user_id: format!("u-{id}"),
            state,
            lines: Vec::new(),
            currency: Some(Currency::EUR),
            value,
            adds: 1,
            removes: 0,
            views: 1,
            checkout_started: false,
            coupons_entered: 0,
            created_at: Timestamp(created),
            last_activity: Timestamp(created),
            abandoned_at: abandoned.then_some(Timestamp(created + 1_800_000)),
            abandonments: u32::from(abandoned),
            closed_at: state.is_terminal().then_some(Timestamp(created + DAY)),
            order_id: None,
            order_value: None,
            order_coupon: None,
            email: None,
            timezone: None,
            direct_purchase: false,
            order_cancelled: false,
            referrers: Vec::new(),
            session_at_abandonment: None,
        }
    }

    fn abandonment(holdout: bool, recovered: bool, at: i64) -> AbandonmentOutcome {
        crate::records::test_abandonment(holdout, recovered, 10_000, Timestamp(at))
    }

    #[test]
    fn cart_kpis_count_orders_cancellations_and_open_carts() {
        let mut b = ReportBuilder::new(Period::default());
        b.add_cart(&cart("p1", CartState::Purchased, T0, 4_000));
        let mut p2 = cart("p2", CartState::Purchased, T0, 1_000);
        p2.order_value = Some(6_000); // the order's own total wins over the cart value
        b.add_cart(&p2);
        let mut cancelled = cart("p3", CartState::Purchased, T0, 9_999);
        cancelled.order_cancelled = true;
        b.add_cart(&cancelled);
        b.add_cart(&cart("r1", CartState::Recovered, T0, 5_000));
        b.add_cart(&cart("e1", CartState::Expired, T0, 2_000));
        b.add_cart(&cart("e2", CartState::Expired, T0, 2_000));
        b.add_cart(&cart("a1", CartState::Abandoned, T0 + DAY, 2_000));
        b.add_cart(&cart("x1", CartState::Active, T0 + DAY, 2_000));
        let r = b.finish(Timestamp(T0 + 2 * DAY));
        let c = &r.carts;
        assert_eq!(c.carts, 8);
        assert_eq!(c.by_state["purchased"], 3);
        // Abandoned at least once: r1, e1, e2, a1; decided: those and the 3 purchases.
        assert_eq!((c.abandoned, c.decided), (4, 7));
        assert_eq!(c.abandonment_rate, Some(4.0 / 7.0));
        assert_eq!((c.orders, c.cancelled_orders), (4, 1));
        assert_eq!(c.conversion_rate, Some(4.0 / 7.0));
        // Kept orders: 4,000 + 6,000 + 5,000 over three orders.
        assert_eq!(c.revenue_minor, 15_000);
        assert_eq!(c.average_order_value_minor, Some(5_000.0));
        assert_eq!((c.recovered_orders, c.recovered_revenue_minor), (1, 5_000));
        // a1 is still open: 1 recovered of the 3 settled abandoned carts.
        assert_eq!(c.abandoned_open, 1);
        assert_eq!(c.recovery_rate, Some(1.0 / 3.0));
        assert_eq!(r.currency.as_deref(), Some("EUR"));
        assert!(!r.mixed_currencies);
        assert_eq!(r.daily.len(), 2);
        assert_eq!((r.daily[0].carts, r.daily[0].orders), (6, 4));
        assert_eq!(r.daily[1].day, "2026-06-02");
    }

    #[test]
    fn the_lift_compares_settled_abandonments_with_the_holdout() {
        let mut b = ReportBuilder::new(Period::default());
        // Treated: 300 settled, 60 recovered (20 %); holdout: 100 settled, 10 recovered.
        for i in 0..300 {
            b.add_abandonment(&abandonment(false, i % 5 == 0, T0));
        }
        for i in 0..100 {
            b.add_abandonment(&abandonment(true, i % 10 == 0, T0));
        }
        // Open abandonments count apart and change nothing else, a recovered one included.
        let mut open = abandonment(false, false, T0);
        open.settled = false;
        b.add_abandonment(&open);
        let mut open_won = abandonment(false, true, T0);
        open_won.settled = false;
        b.add_abandonment(&open_won);
        // A cancelled recovery keeps no revenue and gives no coupon away.
        let mut cancelled = abandonment(false, true, T0);
        cancelled.order_cancelled = true;
        b.add_abandonment(&cancelled);
        let r = b.finish(Timestamp(T0));
        let lift = &r.lift;
        let (t, h) = (&lift.treated, &lift.holdout);
        assert_eq!(
            (t.abandonments, t.open, t.settled, t.recovered),
            (303, 2, 301, 61)
        );
        assert_eq!((h.settled, h.recovered), (100, 10));
        let day = &r.daily[0];
        assert_eq!(
            (
                day.treated_abandonments,
                day.treated_settled,
                day.treated_recovered
            ),
            (303, 301, 61)
        );
        assert_eq!(t.revenue_minor, 600_000);
        assert_eq!(t.discount_minor, 60_000);
        assert!((t.message_cost_minor - 30.1).abs() < 1e-9);
        assert!((t.net_revenue_minor - (540_000.0 - 30.1)).abs() < 1e-6);
        assert_eq!(t.attributed, 61);
        let d = lift.recovery_rate_difference.unwrap();
        assert!((d.value - (61.0 / 301.0 - 0.1)).abs() < 1e-12);
        assert!(d.ci_low > 0.0 && d.ci_low < d.value && d.ci_high > d.value);
        let inc = lift.incremental_recoveries.unwrap();
        assert!((inc.value - d.value * 301.0).abs() < 1e-9);
        // Net per abandonment: treated (540,000 − 30.1) / 301, holdout 100,000 / 100.
        let net = lift.net_per_abandonment_difference_minor.unwrap();
        assert!((net.value - ((540_000.0 - 30.1) / 301.0 - 1_000.0)).abs() < 1e-9);
        let total = lift.incremental_net_revenue_minor.unwrap();
        assert!((total.value - net.value * 301.0).abs() < 1e-6);
        assert!(lift.measurable);
        assert_eq!(lift.significant, total.ci_low > 0.0 || total.ci_high < 0.0);
        assert_eq!(lift.relative_recovery_lift, Some(d.value / 0.1));
        assert!(
            lift.verdict.starts_with("cartback's decisions added ")
                || lift.verdict.starts_with("Not distinguishable"),
            "{}",
            lift.verdict
        );
        assert!(lift.verdict.contains("EUR"), "{}", lift.verdict);
        let holdout_row = r
            .first_actions
            .iter()
            .find(|a| a.action == "holdout")
            .unwrap();
        assert_eq!((holdout_row.settled, holdout_row.recovered), (100, 10));
    }

    #[test]
    fn verdicts_say_why_there_is_no_figure() {
        let empty = ReportBuilder::new(Period::default()).finish(Timestamp(0));
        assert!(empty.lift.verdict.starts_with("No settled abandonment"));
        assert!(empty.lift.incremental_net_revenue_minor.is_none());

        let mut b = ReportBuilder::new(Period::default());
        for _ in 0..50 {
            b.add_abandonment(&abandonment(false, true, T0));
        }
        let r = b.finish(Timestamp(0));
        assert!(
            r.lift.verdict.starts_with("No holdout"),
            "{}",
            r.lift.verdict
        );
        assert!(r.lift.verdict.contains("50 recoveries were attributed"));

        let mut b = ReportBuilder::new(Period::default());
        for i in 0..50 {
            b.add_abandonment(&abandonment(false, true, T0));
            b.add_abandonment(&abandonment(true, i < 3, T0));
        }
        for _ in 0..30 {
            let mut open = abandonment(true, false, T0);
            open.settled = false;
            b.add_abandonment(&open);
        }
        let r = b.finish(Timestamp(0));
        assert!(r.lift.measurable);
        assert!(r.lift.significant);
        assert!(r.lift.verdict.starts_with("cartback's decisions added"));

        // Treated shoppers that recover less than the holdout: a loss, said as such.
        let mut b = ReportBuilder::new(Period::default());
        for i in 0..200 {
            b.add_abandonment(&abandonment(false, i < 5, T0));
            b.add_abandonment(&abandonment(true, i < 60, T0));
        }
        let r = b.finish(Timestamp(0));
        assert!(
            r.lift.verdict.starts_with("cartback's decisions lost"),
            "{}",
            r.lift.verdict
        );

        let mut b = ReportBuilder::new(Period::default());
        for _ in 0..10 {
            b.add_abandonment(&abandonment(false, true, T0));
            b.add_abandonment(&abandonment(true, true, T0));
        }
        let r = b.finish(Timestamp(0));
        assert!(!r.lift.measurable);
        assert!(
            r.lift
                .verdict
                .starts_with("Too few settled abandonments to compare (10 treated, 10 holdout")
        );
    }

    #[test]
    fn a_period_keeps_only_what_happened_inside_it() {
        let period = Period::parse(Some("2026-06-02"), Some("2026-06-03T00:00:00Z")).unwrap();
        assert_eq!(period.since, Some(Timestamp(T0 + DAY)));
        assert_eq!(period.until, Some(Timestamp(T0 + 2 * DAY)));
        let mut b = ReportBuilder::new(period);
        for day in 0..3 {
            b.add_cart(&cart(
                &format!("c{day}"),
                CartState::Expired,
                T0 + day * DAY,
                1,
            ));
            b.add_abandonment(&abandonment(day == 1, true, T0 + day * DAY + 5));
            b.add_message(&MessageOutcome {
                id: day,
                action: "reminder_email".into(),
                channel: "email".into(),
                status: "sent".into(),
                due_at: Timestamp(T0 + day * DAY),
                sent_at: Some(Timestamp(T0 + day * DAY + 1)),
                opened: true,
                clicked: day == 1,
                unsubscribed: false,
                attributed: false,
                currency: Some("EUR".into()),
            });
        }
        let r = b.finish(Timestamp(0));
        assert_eq!(r.carts.carts, 1);
        assert_eq!(
            (r.lift.treated.abandonments, r.lift.holdout.abandonments),
            (0, 1)
        );
        assert_eq!((r.messages.sent, r.messages.clicked), (1, 1));
        assert_eq!(r.daily.len(), 1);
        assert_eq!(r.daily[0].day, "2026-06-02");

        assert_eq!(
            Period::parse(Some("yesterday"), None),
            Err(FilterError::Unreadable {
                field: "since",
                text: "yesterday".into()
            })
        );
        assert_eq!(
            Period::parse(Some("2026-06-02"), Some("2026-06-02")),
            Err(FilterError::Empty)
        );
    }

    #[test]
    fn a_currency_filter_keeps_one_currency_and_mixed_currencies_are_flagged() {
        let add = |b: &mut ReportBuilder| {
            b.add_cart(&cart("e", CartState::Purchased, T0, 1_000));
            let mut usd = cart("u", CartState::Purchased, T0, 5_000);
            usd.currency = Some(Currency::USD);
            b.add_cart(&usd);
            let mut unknown = cart("x", CartState::Purchased, T0, 7_000);
            unknown.currency = None;
            b.add_cart(&unknown);
            let mut dollars = abandonment(false, true, T0);
            dollars.currency = Some("USD".into());
            b.add_abandonment(&dollars);
            b.add_abandonment(&abandonment(false, true, T0));
        };
        let mut all = ReportBuilder::new(Period::default());
        add(&mut all);
        let all = all.finish(Timestamp(0));
        assert!(all.mixed_currencies);
        assert_eq!((all.carts.carts, all.carts.revenue_minor), (3, 13_000));
        let mut euros = ReportBuilder::new(Period::default())
            .with_currency(Some(parse_currency(" eur").unwrap()));
        add(&mut euros);
        let euros = euros.finish(Timestamp(0));
        assert!(!euros.mixed_currencies);
        assert_eq!(euros.currency.as_deref(), Some("EUR"));
        assert_eq!(euros.currency_filter.as_deref(), Some("EUR"));
        assert_eq!((euros.carts.carts, euros.carts.revenue_minor), (1, 1_000));
        assert_eq!(euros.lift.treated.abandonments, 1);
        assert_eq!(
            parse_currency("euro"),
            Err(FilterError::Currency {
                text: "euro".into()
            })
        );
        assert_eq!(parse_currency("euro").unwrap_err().field(), "currency");
    }

    #[test]
    fn message_rates_are_per_sent_message_and_opens_only_for_email() {
        let mut b = ReportBuilder::new(Period::default());
        let message =
            |id: i64, channel: &str, status: &str, opened: bool, clicked: bool| MessageOutcome {
                id,
                action: "reminder_email".into(),
                channel: channel.into(),
                status: status.into(),
                due_at: Timestamp(T0),
                sent_at: (status == "sent").then_some(Timestamp(T0)),
                opened,
                clicked,
                unsubscribed: id == 3,
                attributed: id == 2,
                currency: None,
            };
        b.add_message(&message(1, "email", "sent", true, true));
        b.add_message(&message(2, "email", "sent", true, false));
        b.add_message(&message(3, "email", "sent", false, false));
        b.add_message(&message(4, "email", "sent", false, false));
        b.add_message(&message(5, "email", "failed", false, false));
        b.add_message(&message(6, "webhook", "sent", false, true));
        b.add_message(&message(7, "webhook", "pending", false, false));
        b.add_message(&message(8, "email", "cancelled", false, false));
        let r = b.finish(Timestamp(0));
        let email = &r.messages_by_channel["email"];
        assert_eq!(
            (email.messages, email.sent, email.failed, email.cancelled),
            (6, 4, 1, 1)
        );
        assert_eq!(email.open_rate, Some(0.5));
        assert_eq!(email.click_through_rate, Some(0.25));
        assert_eq!(email.click_to_open_rate, Some(0.5));
        assert_eq!(email.unsubscribe_rate, Some(0.25));
        assert_eq!(email.attributed_rate, Some(0.25));
        let webhook = &r.messages_by_channel["webhook"];
        assert_eq!((webhook.sent, webhook.pending), (1, 1));
        assert_eq!(webhook.open_rate, None);
        assert_eq!(webhook.click_through_rate, Some(1.0));
        assert_eq!(r.messages.sent, 5);
        assert_eq!(r.daily[0].messages_sent, 5);
        // Across channels, opens are still over sent e-mails only (they carry the pixel), and
        // click-to-open over e-mail clicks (the webhook's click is in the click-through rate
        // only).
        for all in [&r.messages, &r.messages_by_action["reminder_email"]] {
            assert_eq!((all.sent, all.pixel_sent, all.clicked), (5, 4, 2));
            assert_eq!(all.open_rate, Some(0.5));
            assert_eq!(all.click_through_rate, Some(0.4));
            assert_eq!(all.click_to_open_rate, Some(0.5));
        }
    }
}
