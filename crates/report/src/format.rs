//! Figures as text, shared by the terminal summary and the dashboard: rates as percentages,
//! intervals in brackets, "—" for a figure that does not exist.

use crate::stats::Estimate;

/// What a missing figure shows.
pub const NONE: &str = "—";

/// `0.123` → `"12.3 %"`.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| NONE.into(), |r| format!("{:.1} %", r * 100.0))
}

/// A rate with its interval: `"12.3 % [10.1, 14.6]"`.
pub fn percent_ci(e: Option<Estimate>) -> String {
    e.map_or_else(
        || NONE.into(),
        |e| {
            format!(
                "{:.1} % [{:.1}, {:.1}]",
                e.value * 100.0,
                e.ci_low * 100.0,
                e.ci_high * 100.0
            )
        },
    )
}

/// A difference of rates in percentage points: `"+2.0 points [+0.4, +3.6]"`.
pub fn points_ci(e: Option<Estimate>) -> String {
    e.map_or_else(
        || NONE.into(),
        |e| {
            format!(
                "{:+.1} points [{:+.1}, {:+.1}]",
                e.value * 100.0,
                e.ci_low * 100.0,
                e.ci_high * 100.0
            )
        },
    )
}

/// A count with its interval: `"+30.0 [+12.5, +47.5]"`.
pub fn count_ci(e: Option<Estimate>) -> String {
    e.map_or_else(
        || NONE.into(),
        |e| format!("{:+.1} [{:+.1}, {:+.1}]", e.value, e.ci_low, e.ci_high),
    )
}
