//! cartback's reports: what the shop's carts did, what the engine's messages did, and what
//! its decisions added against the randomised holdout, with 95 % confidence intervals.
//!
//! Pure: [`ReportBuilder`] folds plain records ([`Cart`](cartback_core::Cart),
//! [`AbandonmentOutcome`], [`MessageOutcome`]) into a [`Report`]; `cartback-server` reads
//! the records from the store and serves the report as JSON and as the dashboard (HTML with
//! inline SVG charts, [`html`]); `cartback report` prints it.
//!
//! - `records.rs`: the input records;
//! - `report.rs`: the builder and the report (KPIs, lift, per channel/action/day);
//! - `off_policy.rs`: off-policy estimates of other first touches from the decision log's
//!   first-touch rounds, checked against the holdout;
//! - `stats.rs`: Wilson, Newcombe and Welch intervals;
//! - `format.rs`: figures as text (percentages, intervals);
//! - `text.rs`: the terminal summary;
//! - `html.rs`, `charts.rs`: the dashboard page and its charts.

pub mod charts;
pub mod format;
pub mod html;
pub mod off_policy;
pub mod records;
pub mod report;
pub mod stats;
pub mod text;

pub use off_policy::{FirstTouchRound, HoldoutCheck, OffPolicy, PolicyEstimate};
pub use records::{AbandonmentOutcome, MessageOutcome};
pub use report::{
    ActionRow, CartKpis, DayRow, FilterError, GroupOutcome, Lift, MessageKpis, Period, Report,
    ReportBuilder, format_money, parse_currency, parse_instant, utc_day,
};
pub use stats::Estimate;
