//! Load benchmark of `cartback serve` on loopback with SQLite. Starts the server as a child
//! process (this example re-executes itself) on a temporary database, then measures
//! (1) sustained events/s for batched ingest: concurrent clients posting JSON arrays, each
//! sending its next request when the last is answered; (2) p50/p99 latency of single-event
//! requests sent open-loop at a fixed rate (latency counted from each request's scheduled
//! time, so queueing in the client or the server is not hidden).
//!
//! `cargo run --release -p cartback-server --example loadgen -- [SECONDS] [RATE] [BATCH] [CLIENTS]`
//! (defaults 10 s, 2000 requests/s, 500 events per batch, 4 clients).
//!
//! `LOADGEN_PHASES=batched` or `=single` runs one phase only (default both, batched first,
//! on the same database); `LOADGEN_TIMELINE=1` adds, for the single-event phase, the
//! request count, p99 and maximum latency of every 500 ms window of scheduled send times,
//! which shows whether the tail is periodic (timers, checkpoints) or spread out.
//!
//! Beside wall-clock figures it prints the CPU time the server process used in each phase
//! (from `/proc`), which stays meaningful on a machine shared with other work, and the load
//! average at the start. The targets of issue 5 are ≥ 20,000 events/s batched and
//! p99 < 20 ms at 2,000 single-event requests/s.

use cartback_server::config::ApiKeyConfig;
use cartback_server::{ServerConfig, SystemClock};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The allocator of the `cartback` binary, so the server measured is the one that ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEY: &str = "loadgen-key";
/// Set in the child process: where to write the server's address.
const CHILD_ENV: &str = "CARTBACK_LOADGEN_ADDR_FILE";

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn event(user: u64, n: u64, now_ms: i64) -> serde_json::Value {
    serde_json::json!({
        "id": format!("e{user}-{n}"), "type": "product_added", "timestamp": now_ms, "user_id": format!("u{user}"),
        "currency": "EUR", "items": [{"id": format!("p{}", n % 50), "price": 1999, "quantity": 1}]
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// User + system CPU seconds of a process so far (`/proc/PID/stat`, in clock ticks of
/// 1/100 s, the value of USER_HZ on Linux).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// Seconds the threads of a process spent runnable but waiting for a CPU
/// (`/proc/PID/task/*/schedstat`, second field, ns): how much the machine's other work
/// delayed it.
fn run_queue_wait_seconds(pid: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return f64::NAN;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().nth(1)?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

/// The child: runs the server until killed.
fn run_server(addr_file: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: dir.path().join("load.db").display().to_string(),
        rate_limit_per_key: 1_000_000,
        max_body_bytes: 16 << 20,
        ..ServerConfig::default()
    };
    config.auth.keys = vec![ApiKeyConfig {
        name: "load".into(),
        hash: cartback_server::auth::hash_key(KEY),
        scopes: vec!["ingest".into()],
    }];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = cartback_server::start(config, Arc::new(SystemClock))
            .await
            .unwrap();
        let tmp = addr_file.with_extension("tmp");
        std::fs::write(&tmp, server.addr.to_string()).unwrap();
        std::fs::rename(&tmp, addr_file).unwrap();
        std::future::pending::<()>().await;
    });
}

struct ChildServer(Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(dir: &Path) -> (ChildServer, String) {
    let addr_file: PathBuf = dir.join("server.addr");
    let child = ChildServer(
        Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, &addr_file)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(addr) = std::fs::read_to_string(&addr_file) {
            return (child, addr);
        }
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    if let Some(addr_file) = std::env::var_os(CHILD_ENV) {
        run_server(Path::new(&addr_file));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = spawn_server(dir.path());
    let server_pid = server.0.id().to_string();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "server pid {server_pid} on {addr}; load average at start: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    // reqwest is built without a TLS provider (the server installs ring at start-up).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(bench(format!("http://{addr}/v1/events"), server_pid));
    drop(server);
}

async fn bench(url: String, server_pid: String) {
    let seconds = arg(1, 10);
    let rate = arg(2, 2_000);
    let batch = arg(3, 500);
    let clients = arg(4, 4);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();

    let phases = std::env::var("LOADGEN_PHASES").unwrap_or_default();
    if phases != "single" {
        batched_phase(&client, &url, &server_pid, seconds, batch, clients).await;
    }
    if phases != "batched" {
        single_event_phase(&client, &url, &server_pid, seconds, rate).await;
    }
}

/// (1) Batched ingest, closed loop: `clients` clients each post `batch` events per request
/// for `seconds`.
async fn batched_phase(
    client: &reqwest::Client,
    url: &str,
    server_pid: &str,
    seconds: u64,
    batch: u64,
    clients: u64,
) {
    let accepted = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let (cpu_server, cpu_self) = (cpu_seconds(server_pid), cpu_seconds("self"));
    let waited = run_queue_wait_seconds(server_pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..clients {
        let (client, url) = (client.clone(), url.to_string());
        let (accepted, failed) = (accepted.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                let ts = now_ms();
                let body: Vec<_> = (0..batch)
                    .map(|i| {
                        event(
                            worker * 1_000_000 + (n * batch + i) % 20_000,
                            n * batch + i,
                            ts,
                        )
                    })
                    .collect();
                let body = serde_json::to_vec(&body).unwrap();
                n += 1;
                let sent = client
                    .post(&url)
                    .bearer_auth(KEY)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let outcome = match sent {
                    Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                    _ => None,
                };
                match outcome.and_then(|o| o["accepted"].as_u64()) {
                    Some(n) => accepted.fetch_add(n, Ordering::Relaxed),
                    None => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = accepted.load(Ordering::Relaxed);
    let server_cpu = cpu_seconds(server_pid) - cpu_server;
    let waited = run_queue_wait_seconds(server_pid) - waited;
    println!(
        "batched ingest: {total} events in {elapsed:.1} s = {:.0} events/s ({clients} clients, {batch} events per request, {} failed requests)",
        total as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    );
    println!(
        "  CPU: server {server_cpu:.2} s ({:.1} µs per event, {:.0} events per server CPU second), load generator {:.2} s; server threads waited {waited:.2} s for a CPU",
        server_cpu * 1e6 / total.max(1) as f64,
        total as f64 / server_cpu,
        cpu_seconds("self") - cpu_self,
    );
}

/// (2) Single events at a fixed rate, open loop, for `seconds`.
async fn single_event_phase(
    client: &reqwest::Client,
    url: &str,
    server_pid: &str,
    seconds: u64,
    rate: u64,
) {
    let requests = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let (cpu_server, cpu_self) = (cpu_seconds(server_pid), cpu_seconds("self"));
    let waited = run_queue_wait_seconds(server_pid);
    let begin = Instant::now();
    let mut tasks = Vec::with_capacity(requests as usize);
    for i in 0..requests {
        let scheduled = begin + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let body = event(5_000_000 + i % 20_000, 10_000_000 + i, now_ms());
            let sent = client.post(&url).bearer_auth(KEY).json(&body).send().await;
            let ok = match sent {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            ok.then(|| scheduled.elapsed().as_secs_f64() * 1_000.0)
        }));
    }
    // The rate the requests actually went out at (the client may fall behind).
    let achieved = requests as f64 / begin.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut failures = 0;
    // Latencies by 500 ms window of scheduled send time.
    let per_window = (rate / 2).max(1) as usize;
    let mut windows: Vec<Vec<f64>> = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Some(ms) => {
                latencies.push(ms);
                if windows.len() <= i / per_window {
                    windows.resize(i / per_window + 1, Vec::new());
                }
                windows[i / per_window].push(ms);
            }
            None => failures += 1,
        }
    }
    let server_cpu = cpu_seconds(server_pid) - cpu_server;
    let waited = run_queue_wait_seconds(server_pid) - waited;
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "single events at {rate}/s target ({achieved:.0}/s achieved, {requests} requests, {failures} failed): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "  CPU: server {server_cpu:.2} s ({:.1} µs per request), load generator {:.2} s; server threads waited {waited:.2} s for a CPU",
        server_cpu * 1e6 / requests.max(1) as f64,
        cpu_seconds("self") - cpu_self,
    );
    if std::env::var_os("LOADGEN_TIMELINE").is_some() {
        for (index, window) in windows.iter_mut().enumerate() {
            window.sort_by(|a, b| a.total_cmp(b));
            println!(
                "  {:>5.1} s: {:>5} requests, p99 {:>7.2} ms, max {:>7.2} ms",
                index as f64 * 0.5,
                window.len(),
                percentile(window, 0.99),
                window.last().copied().unwrap_or(f64::NAN),
            );
        }
    }
}
