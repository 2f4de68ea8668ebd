//! `cartback purge`: data retention by hand — removes from the store what is older than
//! `--older-than` (events, closed carts and their decisions, messages and tracking; open carts
//! and consent stay). The logic is `cartback_store::Store::purge_before`; the minimum is the
//! server's (`cartback_server::retention::MIN_RETENTION`).

use anyhow::{Context, Result, bail};
use cartback_core::Duration;
use cartback_core::episodes::rfc3339_utc;
use cartback_core::tracker::duration_text;
use cartback_server::retention::{MIN_RETENTION, cutoff};
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
#[command(
    long_about = "Remove from the store what is older than --older-than (GDPR storage \
    limitation): every event before the cutoff, every cart closed (recovered, purchased, \
    expired) before it, and those carts' decisions, outbox messages and tracking. Open carts \
    are kept whatever their age, and consent records always (they prove consent or its \
    withdrawal). One transaction. `cartback serve` does the same daily with [privacy] \
    retention; a server running on the store keeps what this removes in memory until it \
    restarts, so let the server purge instead."
)]
pub struct PurgeArgs {
    /// Remove what is older than this (e.g. 400d); at least 8d, so an order inside the
    /// attribution window (7 days) still finds its cart.
    #[arg(long, value_name = "DURATION", value_parser = duration_text::parse)]
    older_than: Duration,
    /// The store: a SQLite file or a postgres:// URL.
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "CARTBACK_DB",
        default_value = "cartback.db"
    )]
    db: String,
    /// Print one JSON object instead of sentences.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PurgeArgs) -> Result<ExitCode> {
    if args.older_than < MIN_RETENTION {
        bail!(
            "--older-than {}: keep data at least {} (the attribution window of 7 days and a \
             margin), e.g. --older-than 400d",
            duration_text::format(args.older_than),
            duration_text::format(MIN_RETENTION)
        );
    }
    let cutoff = cutoff(super::decisions::wall_clock()?, args.older_than);
    let mut store =
        cartback_store::open(&args.db).with_context(|| format!("opening store {}", args.db))?;
    let report = store
        .purge_before(cutoff)
        .with_context(|| format!("purging {}", args.db))?;
    if args.json {
        let mut object = serde_json::to_value(report)?;
        object["db"] = args.db.clone().into();
        object["older_than"] = duration_text::format(args.older_than).into();
        object["cutoff"] = rfc3339_utc(cutoff).into();
        println!("{object}");
    } else {
        println!(
            "{}: removed what is older than {} (before {}):\n  \
             {} events, {} carts, {} decisions, {} messages, {} tracking events",
            args.db,
            duration_text::format(args.older_than),
            rfc3339_utc(cutoff),
            report.events,
            report.carts,
            report.decisions,
            report.messages,
            report.tracking_events
        );
    }
    Ok(ExitCode::SUCCESS)
}
