//! One training row: [`Episode`] (bookkeeping, outcome and label) with its
//! [`EpisodeFeatures`], the CSV column names ([`Episode::COLUMNS`]) and the text of each
//! value ([`Episode::values`]). Every column is documented in `docs/episodes.md`.

use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the decision point of an episode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The cart's first abandonment.
    Abandonment,
    /// The order of a cart that was never abandoned.
    Order,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Abandonment => "abandonment",
            DecisionKind::Order => "order",
        }
    }
}

/// How an episode's cart ended (as of the end of the data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Ordered without a recovery: never abandoned, or ordered after the window closed.
    Purchased,
    /// Ordered inside the attribution window after abandonment.
    Recovered,
    /// The window passed without an order.
    Expired,
    /// Abandoned and not yet closed when the data ended.
    AbandonedOpen,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Purchased => "purchased",
            Outcome::Recovered => "recovered",
            Outcome::Expired => "expired",
            Outcome::AbandonedOpen => "abandoned_open",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Model inputs, computed only from events strictly before the decision point.
/// Money is in minor units of the episode's currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeFeatures {
    pub cart_value: i64,
    pub cart_units: u32,
    pub cart_lines: u32,
    pub cart_categories: u32,
    pub max_item_price: i64,
    /// Cart value ÷ units with a known price, rounded to whole minor units.
    pub mean_item_price: i64,
    pub adds: u32,
    pub removes: u32,
    pub cart_views: u32,
    pub checkout_started: bool,
    pub seconds_since_cart_created: f64,
    pub session_events: u32,
    pub session_views: u32,
    pub session_products_viewed: u32,
    pub session_length_seconds: f64,
    pub session_dwell_seconds: f64,
    pub hour_utc: u32,
    pub weekday_utc: u32,
    pub returning_user: bool,
    pub past_sessions: u32,
    pub past_orders: u32,
    pub past_abandonments: u32,
    pub past_recoveries: u32,
    /// `None` when the user had no earlier order (written as `-1`).
    pub days_since_last_order: Option<f64>,
    pub has_email: bool,
    pub channel: Option<String>,
    pub device: Option<String>,
    pub timezone: Option<String>,
}

/// One cart episode that reached a decision point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// 0-based position in (decision_time, cart_id) order.
    pub episode_id: u64,
    pub cart_id: String,
    pub user_id: String,
    pub decision: DecisionKind,
    pub decision_time: Timestamp,
    pub outcome: Outcome,
    /// When the outcome was reached (order or expiry); `None` while abandoned and open.
    pub outcome_time: Option<Timestamp>,
    /// The attribution window had not elapsed by the end of the data: a label 0 is not final.
    pub censored: bool,
    /// 1 = ordered within the attribution window of the decision point.
    pub label: u8,
    /// Value of the cart's order in minor units (all rows of the order), when ordered.
    pub order_value: Option<i64>,
    pub currency: Option<Currency>,
    pub features: EpisodeFeatures,
}

impl Episode {
    /// CSV header, in the order of [`values`](Self::values).
    pub const COLUMNS: &'static [&'static str] = &[
        "episode_id",
        "cart_id",
        "user_id",
        "decision",
        "decision_time",
        "decision_time_ms",
        "outcome",
        "outcome_time_ms",
        "censored",
        "label",
        "order_value",
        "currency",
        "cart_value",
        "cart_units",
        "cart_lines",
        "cart_categories",
        "max_item_price",
        "mean_item_price",
        "adds",
        "removes",
        "cart_views",
        "checkout_started",
        "seconds_since_cart_created",
        "session_events",
        "session_views",
        "session_products_viewed",
        "session_length_seconds",
        "session_dwell_seconds",
        "hour_utc",
        "weekday_utc",
        "returning_user",
        "past_sessions",
        "past_orders",
        "past_abandonments",
        "past_recoveries",
        "days_since_last_order",
        "has_email",
        "channel",
        "device",
        "timezone",
    ];

    /// The row as text, one value per [`COLUMNS`](Self::COLUMNS) entry: money in major
    /// units of `currency` (exact decimal text), booleans as `0`/`1`, absent values empty
    /// (except `days_since_last_order`, which is `-1`).
    pub fn values(&self) -> Vec<String> {
        let f = &self.features;
        let money = |minor: i64| major_units(minor, self.currency);
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        vec![
            self.episode_id.to_string(),
            self.cart_id.clone(),
            self.user_id.clone(),
            self.decision.as_str().to_string(),
            rfc3339_utc(self.decision_time),
            self.decision_time.as_millis().to_string(),
            self.outcome.as_str().to_string(),
            self.outcome_time
                .map(|t| t.as_millis().to_string())
                .unwrap_or_default(),
            flag(self.censored),
            self.label.to_string(),
            self.order_value.map(money).unwrap_or_default(),
            self.currency
                .map(|c| c.code().to_string())
                .unwrap_or_default(),
            money(f.cart_value),
            f.cart_units.to_string(),
            f.cart_lines.to_string(),
            f.cart_categories.to_string(),
            money(f.max_item_price),
            money(f.mean_item_price),
            f.adds.to_string(),
            f.removes.to_string(),
            f.cart_views.to_string(),
            flag(f.checkout_started),
            f.seconds_since_cart_created.to_string(),
            f.session_events.to_string(),
            f.session_views.to_string(),
            f.session_products_viewed.to_string(),
            f.session_length_seconds.to_string(),
            f.session_dwell_seconds.to_string(),
            f.hour_utc.to_string(),
            f.weekday_utc.to_string(),
            flag(f.returning_user),
            f.past_sessions.to_string(),
            f.past_orders.to_string(),
            f.past_abandonments.to_string(),
            f.past_recoveries.to_string(),
            f.days_since_last_order
                .map_or_else(|| "-1".to_string(), |d| format!("{d:.4}")),
            flag(f.has_email),
            text(&f.channel),
            text(&f.device),
            text(&f.timezone),
        ]
    }
}

/// Minor units as exact decimal text in major units; two decimals when the currency is
/// unknown (only happens when no price was ever seen, so the amount is 0).
fn major_units(minor: i64, currency: Option<Currency>) -> String {
    currency.unwrap_or(Currency::USD).format_minor(minor)
}

/// Formats an instant as RFC 3339 in UTC with milliseconds: `2019-10-01T00:00:00.000Z`.
pub fn rfc3339_utc(t: Timestamp) -> String {
    let ms = t.as_millis();
    let secs = ms.div_euclid(1_000);
    let millis = ms.rem_euclid(1_000);
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}
