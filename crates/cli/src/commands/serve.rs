//! `cartback serve`: runs the live engine (HTTP API, abandonment detection, dispatcher)
//! from a TOML configuration file with `CARTBACK_*` environment overrides; `--demo` adds a
//! demo shop replaying real REES46 events time-compressed with simulated shoppers.

use anyhow::Context;
use cartback_server::demo::{BUNDLED_SAMPLE_NAME, Demo, load_bundled_events, load_events};
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
    /// Run a demo shop: replay REES46 events time-compressed, with simulated shoppers who
    /// open, click and buy (log channel; a fresh temporary database unless --db is given).
    #[arg(long)]
    pub demo: bool,
    /// A REES46 CSV file for the demo to replay instead of the bundled sample (three night
    /// hours of a real shop, testdata/rees46-2019-Oct-head.csv, compiled in).
    #[arg(long, value_name = "PATH")]
    pub demo_file: Option<PathBuf>,
    /// How many times faster than real time the demo's clock runs.
    #[arg(long, value_name = "FACTOR", default_value_t = 180.0)]
    pub demo_speed: f64,
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
    let mut config =
        ServerConfig::load(args.config.as_deref()).context("loading the configuration")?;
    config
        .apply_env(|name| std::env::var(name).ok())
        .context("applying environment overrides")?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let demo_db = args.db.is_none() && args.demo;
    if let Some(db) = args.db {
        config.db = db;
    }
    cartback_server::run::init_logging();
    if !args.demo {
        let db = config.db.clone();
        cartback_server::run::serve_until_signal(
            config,
            Arc::new(SystemClock),
            Vec::new(),
            |server| announce(server, &db),
            |_| async {},
        )
        .context("running the server")?;
        return Ok(ExitCode::SUCCESS);
    }

    let (events, replayed) = match &args.demo_file {
        Some(path) => (load_events(path), path.display().to_string()),
        None => (load_bundled_events(), BUNDLED_SAMPLE_NAME.to_string()),
    };
    let events = events.context("loading the demo events")?;
    if demo_db {
        let path = std::env::temp_dir().join(format!("cartback-demo-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        config.db = path.display().to_string();
    }
    // Log channel, decision steps 10/40/90 shop-minutes after abandonment, no quiet hours
    // (the sample is from the night, UTC), a fast tick: see `demo::configure`.
    let demo = Demo::new(events, args.demo_speed, &mut config).context("preparing the demo")?;
    let db = config.db.clone();
    eprintln!(
        "demo: replaying {} REES46 events from {} at {}× speed, with simulated shoppers \
         (carts are abandoned after {} of shop time idle = {:.0} s; reminders 10 min later)",
        demo.replayed_events(),
        replayed,
        args.demo_speed,
        cartback_core::tracker::duration_text::format(config.tracker.idle_timeout),
        config.tracker.idle_timeout.as_secs_f64() / args.demo_speed,
    );
    cartback_server::run::serve_until_signal(
        config,
        demo.clock(),
        demo.channels(),
        |server| announce(server, &db),
        move |server| demo.run(server),
    )
    .context("running the demo")?;
    Ok(ExitCode::SUCCESS)
}

fn announce(server: &cartback_server::RunningServer, db: &str) {
    eprintln!("cartback listening on http://{} (store: {db})", server.addr);
    eprintln!(
        "dashboard: http://{}/dashboard (a read or admin key as the password, any user name)",
        server.addr
    );
    if let Some(key) = &server.generated_key {
        eprintln!(
            "no API keys configured: generated admin key (shown once, not stored):\n  {key}\n\
             configure [[auth.keys]] with `cartback serve --hash-key KEY` to keep one."
        );
    }
}
