//! `cartback pseudonym`: the pseudonym the store keeps a shopper under, given the shop's id,
//! or (`--reveal`) the shop's id behind a pseudonym seen in a report, an export, a log line
//! or a model file. The key is the one `serve` and `import` pseudonymise with
//! (`CARTBACK_PSEUDONYMISE_KEY`); the logic is `cartback_ingest::Pseudonymiser`.

use anyhow::{Context, Result};
use cartback_ingest::Pseudonymiser;
use clap::Args;
use std::io::{BufRead, Write};
use std::process::ExitCode;

#[derive(Args)]
pub struct PseudonymArgs {
    /// Shop user ids (or, with --reveal, pseudonyms); none: one per line on standard input.
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Turn pseudonyms back into the shop's ids instead.
    #[arg(long)]
    reveal: bool,
    /// The secret ids are pseudonymised with (`[privacy] pseudonymise_key`). Prefer the
    /// environment variable: a command line is visible to the machine's other users.
    #[arg(
        long,
        env = "CARTBACK_PSEUDONYMISE_KEY",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pseudonymise_key: String,
    /// Print the key's fingerprint (what the store records) and nothing else.
    #[arg(long, conflicts_with_all = ["ids", "reveal"])]
    fingerprint: bool,
}

pub fn run(args: PseudonymArgs) -> Result<ExitCode> {
    let pseudonymiser = Pseudonymiser::new(&args.pseudonymise_key)
        .context("--pseudonymise-key (CARTBACK_PSEUDONYMISE_KEY)")?;
    let mut out = std::io::stdout().lock();
    if args.fingerprint {
        writeln!(out, "{}", pseudonymiser.fingerprint())?;
        return Ok(ExitCode::SUCCESS);
    }
    let ids: Vec<String> = if args.ids.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .context("reading ids from standard input")?
    } else {
        args.ids
    };
    let mut failed = 0;
    for (line, id) in ids.iter().enumerate() {
        if args.reveal {
            match pseudonymiser.reveal(id.trim()) {
                Ok(shop_id) => writeln!(out, "{shop_id}")?,
                Err(error) => {
                    writeln!(out)?;
                    eprintln!("id {}: {error}", line + 1);
                    failed += 1;
                }
            }
        } else {
            writeln!(out, "{}", pseudonymiser.pseudonym(id))?;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
