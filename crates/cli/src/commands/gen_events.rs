//! `cartback gen-events`: writes realistic synthetic shop traffic as cartback NDJSON.

use anyhow::{Context, Result};
use cartback_generator::GeneratorConfig;
use clap::Args;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct GenEventsArgs {
    /// Number of events to write.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Random seed: the same seed writes the same events.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Distinct shoppers (default: one per 25 events).
    #[arg(long)]
    users: Option<u64>,
    /// Share of carts bought in the session they were filled in (1 − abandonment rate).
    #[arg(long, default_value_t = 0.30)]
    purchase_rate: f64,
    /// Where to write (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

pub fn run(args: GenEventsArgs) -> Result<ExitCode> {
    let config = GeneratorConfig {
        events: args.events,
        seed: args.seed,
        users: args.users.unwrap_or(0),
        purchase_rate: args.purchase_rate,
        ..GeneratorConfig::default()
    };
    let generator = config.build().context("invalid generator settings")?;
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    for event in generator {
        serde_json::to_writer(&mut out, &event)?;
        out.write_all(b"\n")?;
    }
    out.flush().context("cannot write events")?;
    Ok(ExitCode::SUCCESS)
}
