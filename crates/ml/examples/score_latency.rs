//! Latency of scoring one cart in-process, as percentiles of single calls (criterion, in
//! `benches/score_one_cart.rs`, reports means). For 200-tree GBDTs (depth ≤ 6 / ≤ 31 leaves
//! and depth ≤ 4 / ≤ 15 leaves) trained on the UCI online-shoppers data in `testdata/`, it
//! times three things per call, over `--calls` calls (default 100,000):
//!
//! - `encode`: the schema transform of one raw row (a one-row table of typed cells →
//!   standardised numbers and one-hot categories);
//! - `explain`: encoded row → probability + exact TreeSHAP contributions per column;
//! - `full`: both, raw row → probability + explanation.
//!
//! Each call is timed twice: wall clock (`Instant`) and the thread's CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`, which leaves out time the thread was not running — on a loaded
//! machine the wall-clock tail is mostly the scheduler). Trained models are cached as model
//! files under `--models DIR` so that later runs (and valgrind runs) only load them.
//!
//! ```sh
//! cargo run --release -p cartback-ml --example score_latency -- [--calls N] [--models DIR]
//! # instructions per call: run once with --calls 0 and once with --calls N, subtract
//! valgrind --tool=callgrind target/release/examples/score_latency --untimed \
//!     --model depth6 --part explain --calls 2000
//! ```

// Shared with the criterion bench; the logistic model there is not measured here.
#[allow(dead_code)]
#[path = "../benches/support/shoppers.rs"]
mod shoppers;

use cartback_ml::PropensityModel;
use cartback_ml::model::ExplainScratch;
use shoppers::{encode, raw_rows};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The models measured: (file stem, description, max depth, max leaves).
const MODELS: [(&str, &str, usize, usize); 2] = [
    ("depth6", "GBDT 200 trees, depth ≤ 6, ≤ 31 leaves", 6, 31),
    ("depth4", "GBDT 200 trees, depth ≤ 4, ≤ 15 leaves", 4, 15),
];

struct Options {
    calls: usize,
    models: PathBuf,
    only_model: Option<String>,
    part: Part,
    untimed: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Encode,
    Explain,
    Full,
    All,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        calls: 100_000,
        models: std::env::temp_dir().join("cartback-score-latency"),
        only_model: None,
        part: Part::All,
        untimed: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--calls" => {
                let text = value("--calls")?;
                options.calls = text
                    .parse()
                    .map_err(|_| format!("--calls: `{text}` is not a count"))?;
            }
            "--models" => options.models = PathBuf::from(value("--models")?),
            "--model" => {
                let name = value("--model")?;
                if !MODELS.iter().any(|model| model.0 == name) {
                    return Err(format!("--model: `{name}` is not depth6 or depth4"));
                }
                options.only_model = Some(name);
            }
            "--part" => {
                options.part = match value("--part")?.as_str() {
                    "encode" => Part::Encode,
                    "explain" => Part::Explain,
                    "full" => Part::Full,
                    "all" => Part::All,
                    other => {
                        return Err(format!(
                            "--part: `{other}` is not encode, explain, full or all"
                        ));
                    }
                }
            }
            "--untimed" => options.untimed = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

/// Loads `DIR/<stem>.json`, or trains the model on online shoppers and saves it there.
fn model(directory: &Path, stem: &str, max_depth: usize, max_leaves: usize) -> PropensityModel {
    let path = directory.join(format!("{stem}.json"));
    if let Ok(model) = PropensityModel::load(&path) {
        return model;
    }
    let model = shoppers::gbdt_200_trees(&shoppers::table(), max_depth, max_leaves);
    std::fs::create_dir_all(directory).expect("creating the models directory");
    model.save(&path).expect("saving the model");
    model
}

#[cfg(unix)]
fn thread_cpu_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant Linux knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// No per-thread CPU clock here: the CPU column reads 0.
#[cfg(not(unix))]
fn thread_cpu_nanos() -> u64 {
    0
}

fn report(label: &str, mut wall: Vec<u64>, mut cpu: Vec<u64>) {
    if wall.is_empty() {
        return;
    }
    wall.sort_unstable();
    cpu.sort_unstable();
    let at = |sorted: &[u64], q: f64| {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1_000.0
    };
    let mean = |values: &[u64]| values.iter().sum::<u64>() as f64 / values.len() as f64 / 1e3;
    println!(
        "{label:<10} wall: p50 {:>7.2} µs  p99 {:>8.2} µs  p99.9 {:>8.2} µs  mean {:>7.2} µs | \
         thread CPU: p50 {:>7.2} µs  p99 {:>7.2} µs  p99.9 {:>8.2} µs",
        at(&wall, 0.5),
        at(&wall, 0.99),
        at(&wall, 0.999),
        mean(&wall),
        at(&cpu, 0.5),
        at(&cpu, 0.99),
        at(&cpu, 0.999),
    );
}

/// Times `calls` single calls of `call(i)`; returns (wall, thread CPU) nanoseconds per call.
fn time_calls(calls: usize, mut call: impl FnMut(usize)) -> (Vec<u64>, Vec<u64>) {
    let mut wall = Vec::with_capacity(calls);
    let mut cpu = Vec::with_capacity(calls);
    for index in 0..calls {
        let cpu_start = thread_cpu_nanos();
        let started = Instant::now();
        call(index);
        let elapsed = started.elapsed().as_nanos() as u64;
        let cpu_elapsed = thread_cpu_nanos() - cpu_start;
        wall.push(elapsed);
        cpu.push(cpu_elapsed);
    }
    (wall, cpu)
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("score_latency: {message}");
            std::process::exit(2);
        }
    };
    let raw = raw_rows(&shoppers::table(), 1_000);
    for (stem, description, max_depth, max_leaves) in MODELS {
        if options
            .only_model
            .as_deref()
            .is_some_and(|only| only != stem)
        {
            continue;
        }
        let model = model(&options.models, stem, max_depth, max_leaves);
        let encoded: Vec<Vec<f64>> = raw.iter().map(|row| encode(&model, row)).collect();
        let sources = model.schema.input_sources();
        let mut scratch = ExplainScratch::default();
        // Warm up: builds the explainer once and brings the model into cache.
        for row in &encoded {
            black_box(model.explain(row, &sources, &mut scratch));
        }
        let parts: &[Part] = match options.part {
            Part::All => &[Part::Encode, Part::Explain, Part::Full],
            ref part => std::slice::from_ref(part),
        };
        if !options.untimed {
            println!(
                "{description}: {} inputs, {} calls per part",
                sources.len(),
                options.calls
            );
        }
        for &part in parts {
            let mut call = |index: usize| match part {
                Part::Encode => {
                    black_box(encode(&model, black_box(&raw[index % raw.len()])));
                }
                Part::Explain => {
                    black_box(model.explain(
                        black_box(&encoded[index % encoded.len()]),
                        &sources,
                        &mut scratch,
                    ));
                }
                Part::Full | Part::All => {
                    let row = encode(&model, black_box(&raw[index % raw.len()]));
                    black_box(model.explain(&row, &sources, &mut scratch));
                }
            };
            if options.untimed {
                (0..options.calls).for_each(&mut call);
            } else {
                let (wall, cpu) = time_calls(options.calls, call);
                let label = match part {
                    Part::Encode => "encode",
                    Part::Explain => "explain",
                    _ => "full",
                };
                report(label, wall, cpu);
            }
        }
    }
}
