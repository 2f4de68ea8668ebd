//! `cartback report`: what the shop's carts did, what the engine's messages did, and what its
//! decisions added against the randomised holdout, with 95 % confidence intervals — as text,
//! JSON, or the dashboard's HTML page. The logic is `cartback_server::report` (reading the
//! store) and `cartback_report` (the figures, text and HTML).

use anyhow::{Context, Result};
use cartback_report::{Period, html::render_html, parse_currency, text::render_text};
use cartback_server::ServerConfig;
use cartback_server::outcomes::Booking;
use cartback_server::report::build_report;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(
    long_about = "Report what the shop's carts did, what the engine's messages did, and \
    what its decisions added against the randomised holdout.\n\n\
    The lift compares every settled abandonment of shoppers outside the holdout (whatever the \
    policy chose, doing nothing included) with the holdout's, which the engine never contacts: \
    recovery rates (Wilson and Newcombe intervals) and net revenue per abandonment (order value \
    less coupons, message costs and unsubscribe losses of the server configuration's [costs]; \
    Welch interval). Abandonments count once their attribution window (the configuration's \
    tracker.attribution_window) has closed. Last-touch attributed recoveries are shown next to the incremental ones."
)]
pub struct ReportArgs {
    /// The store: a SQLite file or a postgres:// URL (the server's `db`; default: the
    /// configuration's, `cartback.db`).
    #[arg(long, value_name = "PATH|URL", env = "CARTBACK_DB")]
    pub db: Option<String>,
    /// The server's configuration (TOML), for `[costs]`, `tracker.attribution_window` and
    /// `db`; defaults without it.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// First day (YYYY-MM-DD, UTC) or instant (RFC 3339) included.
    #[arg(long)]
    pub since: Option<String>,
    /// First day or instant no longer included.
    #[arg(long)]
    pub until: Option<String>,
    /// Only carts in this currency (ISO 4217, e.g. EUR): a shop selling in several
    /// currencies reports each on its own.
    #[arg(long)]
    pub currency: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also write the dashboard page (HTML with charts, self-contained) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let config = ServerConfig::load(args.config.as_deref()).context("loading the configuration")?;
    let db = args.db.unwrap_or(config.db);
    let period = Period::parse(args.since.as_deref(), args.until.as_deref())?;
    let mut store = cartback_store::open(&db).with_context(|| format!("opening store {db}"))?;
    let booking = Booking {
        costs: config.costs,
        attribution_window: config.tracker.attribution_window,
        as_of: super::decisions::wall_clock()?,
    };
    let currency = args.currency.as_deref().map(parse_currency).transpose()?;
    let report = build_report(&mut *store, &booking, period, currency)
        .with_context(|| format!("reading the records of {db}"))?;
    if let Some(path) = &args.html {
        let page = render_html(&report).context("rendering the dashboard")?;
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render_text(&report));
        if let Some(path) = &args.html {
            println!("\ndashboard written to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
