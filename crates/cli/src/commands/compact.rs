//! `cartback compact`: rewrites a SQLite store compactly, optionally with another page size.

use anyhow::{Context, Result};
use cartback_store::SqliteStore;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct CompactArgs {
    /// The SQLite database file (PostgreSQL manages its own storage: use VACUUM there).
    #[arg(long, env = "CARTBACK_DB", default_value = "cartback.db")]
    db: String,
    /// Page size of the rewritten file, in bytes: 4096 for a file the live engine will
    /// serve from (small transactions), 16384 for bulk imports. Default: keep the file's.
    #[arg(long)]
    page_size: Option<u32>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CompactArgs) -> Result<ExitCode> {
    if cartback_store::is_postgres_url(&args.db) {
        anyhow::bail!("`compact` rewrites SQLite files; {} is PostgreSQL", args.db);
    }
    let bytes = |path: &str| -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{path}{suffix}")).ok())
            .map(|m| m.len())
            .sum()
    };
    let before_bytes = bytes(&args.db);
    let (before, after) = SqliteStore::rebuild(&args.db, args.page_size)
        .with_context(|| format!("cannot compact {}", args.db))?;
    let after_bytes = bytes(&args.db);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "db": args.db,
                "page_size_before": before,
                "page_size_after": after,
                "bytes_before": before_bytes,
                "bytes_after": after_bytes,
            })
        );
    } else {
        println!(
            "{}: {before_bytes} → {after_bytes} bytes, pages of {before} → {after} bytes",
            args.db
        );
    }
    Ok(ExitCode::SUCCESS)
}
