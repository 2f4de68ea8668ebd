//! Counters and latency histograms of the live engine, rendered in the Prometheus text
//! exposition format by `GET /metrics` together with gauges read at scrape time (carts by
//! state, decisions by action, messages by status).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let block = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{block} {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{block} {total}");
    }
}

#[derive(Default)]
pub struct Metrics {
    pub events_ingested: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_rejected: AtomicU64,
    pub requests_refused: AtomicU64,
    pub messages_sent: AtomicU64,
    pub messages_failed_attempts: AtomicU64,
    pub messages_cancelled: AtomicU64,
    /// Policy files reloaded after a change, and changes that did not load.
    pub policy_reloads: AtomicU64,
    pub policy_reload_failures: AtomicU64,
    /// Stock levels written (`PUT /v1/stock`, Shopify product webhooks), and those ignored
    /// as older than the level kept.
    pub stock_levels_applied: AtomicU64,
    pub stock_levels_stale: AtomicU64,
    pub ingest_latency: Histogram,
    pub send_latency: Histogram,
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
        value.load(Ordering::Relaxed)
    );
}

/// Gauges read from the engine's state at scrape time.
pub struct Snapshot {
    pub carts_by_state: Vec<(&'static str, u64)>,
    pub decisions_by_action: Vec<(String, u64)>,
    pub messages_by_status: Vec<(String, u64)>,
}

impl Metrics {
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        counter(
            &mut out,
            "cartback_events_ingested_total",
            "Events accepted and stored.",
            &self.events_ingested,
        );
        counter(
            &mut out,
            "cartback_events_duplicate_total",
            "Events received again and counted once.",
            &self.events_duplicate,
        );
        counter(
            &mut out,
            "cartback_events_rejected_total",
            "Records refused by validation.",
            &self.events_rejected,
        );
        counter(
            &mut out,
            "cartback_requests_refused_total",
            "Requests answered with a 4xx.",
            &self.requests_refused,
        );
        counter(
            &mut out,
            "cartback_policy_reloads_total",
            "Policy, model or cost files reloaded after a change.",
            &self.policy_reloads,
        );
        counter(
            &mut out,
            "cartback_policy_reload_failures_total",
            "Changed policy files that did not load (the previous version was kept).",
            &self.policy_reload_failures,
        );
        counter(
            &mut out,
            "cartback_messages_sent_total",
            "Messages handed to a channel successfully.",
            &self.messages_sent,
        );
        counter(
            &mut out,
            "cartback_message_send_failures_total",
            "Failed send attempts (retried or final).",
            &self.messages_failed_attempts,
        );
        counter(
            &mut out,
            "cartback_messages_cancelled_total",
            "Messages cancelled by a re-check at send time.",
            &self.messages_cancelled,
        );
        counter(
            &mut out,
            "cartback_stock_levels_applied_total",
            "Stock levels written.",
            &self.stock_levels_applied,
        );
        counter(
            &mut out,
            "cartback_stock_levels_stale_total",
            "Stock levels ignored as older than the level kept.",
            &self.stock_levels_stale,
        );
        let mut gauge = |name: &str, help: &str, label: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (value, count) in rows {
                let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
            }
        };
        gauge(
            "cartback_carts",
            "Carts the engine tracks, by state.",
            "state",
            snapshot
                .carts_by_state
                .iter()
                .map(|(s, c)| (s.to_string(), *c))
                .collect(),
        );
        gauge(
            "cartback_decisions",
            "Decisions taken, by action.",
            "action",
            snapshot.decisions_by_action.clone(),
        );
        gauge(
            "cartback_messages",
            "Outbox messages, by status.",
            "status",
            snapshot.messages_by_status.clone(),
        );
        self.ingest_latency.render(
            &mut out,
            "cartback_ingest_duration_seconds",
            "Time to parse, store and fold one ingest request.",
            "",
        );
        self.send_latency.render(
            &mut out,
            "cartback_send_duration_seconds",
            "Time of one channel send.",
            "",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_follows_the_exposition_format() {
        let metrics = Metrics::default();
        metrics.events_ingested.fetch_add(3, Ordering::Relaxed);
        metrics.ingest_latency.observe(0.002);
        let text = metrics.render(&Snapshot {
            carts_by_state: vec![("abandoned", 2)],
            decisions_by_action: vec![("none".into(), 1)],
            messages_by_status: vec![],
        });
        assert!(
            text.contains("cartback_events_ingested_total 3\n"),
            "{text}"
        );
        assert!(text.contains("cartback_carts{state=\"abandoned\"} 2\n"));
        assert!(text.contains("cartback_ingest_duration_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("cartback_ingest_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
        assert!(text.contains("cartback_ingest_duration_seconds_count 1\n"));
    }
}
