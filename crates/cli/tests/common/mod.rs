//! What the CLI's end-to-end tests share: running the built `cartback` binary with a clean
//! environment, reading its `--json` answer, and the bundled REES46 sample.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `cartback ARGS` without the variables that would change its defaults
/// (`CARTBACK_DB`, `CARTBACK_PSEUDONYMISE_KEY`); `env` sets others.
pub fn cartback_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cartback"));
    command
        .args(args)
        .env_remove("CARTBACK_DB")
        .env_remove("CARTBACK_PSEUDONYMISE_KEY");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("cartback runs")
}

/// [`cartback_with`] and no variables.
pub fn cartback(args: &[&str]) -> Output {
    cartback_with(args, &[])
}

/// The JSON a successful command printed (the test fails with its stderr otherwise).
pub fn ok_json(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The REES46 sample of `testdata/` (events of October 2019).
pub fn rees46_sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rees46-2019-Oct-head.csv")
}

/// `cartback import --format rees46 <the sample> --db DB --json` with `env` set (e.g. a
/// pseudonymisation key).
pub fn import_sample_with(db: &str, env: &[(&str, &str)]) -> Output {
    let sample = rees46_sample();
    cartback_with(
        &[
            "import",
            "--format",
            "rees46",
            sample.to_str().unwrap(),
            "--db",
            db,
            "--json",
        ],
        env,
    )
}

/// [`import_sample_with`] and no variables.
pub fn import_sample(db: &str) -> Output {
    import_sample_with(db, &[])
}
