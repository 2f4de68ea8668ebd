//! Measures parse throughput of the streaming reader: synthetic cartback NDJSON built in
//! memory (with and without ids), and the REES46 sample when it is present.
//!
//! `cargo run --release -p cartback-ingest --example parse_throughput -- [EVENTS]`

use cartback_ingest::{EventReader, Format, ParseOptions};
use std::time::Instant;

fn synthetic_ndjson(events: usize, with_ids: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(events * 260);
    for n in 0..events {
        let id = if with_ids {
            format!("\"id\":\"{:032x}\",", n as u128 * 0x9e37_79b9_7f4a_7c15)
        } else {
            String::new()
        };
        let line = format!(
            "{{{id}\"type\":\"product_added\",\"timestamp\":{},\"user_id\":\"u{}\",\"session_id\":\"s{}\",\"cart_id\":\"c{}\",\"items\":[{{\"id\":\"p{}\",\"category\":\"shoes\",\"price\":{},\"quantity\":1}}],\"currency\":\"USD\",\"device\":\"mobile\"}}\n",
            1_714_557_600_000_i64 + n as i64 * 1_000,
            n % 50_000,
            n % 90_000,
            n % 70_000,
            n % 5_000,
            500 + n % 20_000
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// CPU time of this thread in seconds (Linux), so a busy shared machine does not distort
/// the figure; `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn measure(label: &str, format: Format, input: &[u8]) {
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    let (mut events, mut rejections) = (0usize, 0usize);
    for parsed in EventReader::new(format, input, ParseOptions::default()).expect("valid options") {
        let parsed = parsed.expect("in-memory input cannot fail");
        events += parsed.events.len();
        rejections += parsed.rejections.len();
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => format!(
            ", CPU {:.2} s = {:.0} events per CPU-second",
            b - a,
            events as f64 / (b - a)
        ),
        _ => String::new(),
    };
    println!(
        "{label}: {events} events, {rejections} rejections, wall {:.3} s = {:.0} events/s, {:.1} MB/s{cpu}",
        seconds,
        events as f64 / seconds,
        input.len() as f64 / seconds / 1e6
    );
}

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("EVENTS must be a number"))
        .unwrap_or(500_000);
    measure(
        "ndjson with ids",
        Format::Ndjson,
        &synthetic_ndjson(events, true),
    );
    measure(
        "ndjson, ids derived",
        Format::Ndjson,
        &synthetic_ndjson(events, false),
    );
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/rees46-2019-Oct-head.csv"
    );
    match std::fs::read(sample) {
        Ok(bytes) => measure("rees46 sample", Format::Rees46, &bytes),
        Err(_) => println!("rees46 sample absent ({sample}): skipped"),
    }
}
