//! `cartback serve`: runs the live engine (HTTP API, abandonment detection, dispatcher)
//! from a TOML configuration file with `CARTBACK_*` environment overrides.

use anyhow::Context;
use cartback_server::{DEFAULT_CONFIG_TOML, ServerConfig, SystemClock};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Configuration file (TOML); see `--print-config` for every field.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on; overrides the file and CARTBACK_LISTEN.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// SQLite file or postgres:// URL; overrides the file and CARTBACK_DB.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<String>,
    /// Print the full default configuration file, every field commented, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Print the `sha256:…` hash of KEY for `[[auth.keys]]` and exit.
    #[arg(long, value_name = "KEY")]
    pub hash_key: Option<String>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.print_config {
        print!("{DEFAULT_CONFIG_TOML}");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(key) = &args.hash_key {
        println!("{}", cartback_server::auth::hash_key(key));
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = ServerConfig::load(args.config.as_deref()).context("loading the configuration")?;
    config
        .apply_env(|name| std::env::var(name).ok())
        .context("applying environment overrides")?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(db) = args.db {
        config.db = db;
    }
    cartback_server::run::init_logging();
    let db = config.db.clone();
    cartback_server::run::serve_until_signal(
        config,
        Arc::new(SystemClock),
        |server| {
            eprintln!("cartback listening on http://{} (store: {db})", server.addr);
            if let Some(key) = &server.generated_key {
                eprintln!(
                    "no API keys configured: generated admin key (shown once, not stored):\n  {key}\n\
                     configure [[auth.keys]] with `cartback serve --hash-key KEY` to keep one."
                );
            }
        },
        |_, _| async {},
    )
    .context("running the server")?;
    Ok(ExitCode::SUCCESS)
}
