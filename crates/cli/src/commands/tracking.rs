//! Command-line settings of the cart tracker, shared by every command that folds events.

use cartback_core::tracker::duration_text;
use cartback_core::{Duration, TrackerConfig};
use clap::Args;

/// Tracker settings; durations are written like `30m`, `7d`, `90s`, `1h30m`.
#[derive(Args, Clone, Debug)]
pub struct TrackerArgs {
    /// Time without cart activity after which a cart is idle.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration_text::parse)]
    pub idle_after: Duration,
    /// Time without cart activity after which a cart with items is abandoned.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = duration_text::parse)]
    pub idle_timeout: Duration,
    /// An order this long after abandonment still counts as a recovery.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = duration_text::parse)]
    pub attribution_window: Duration,
    /// How far out of time order events may arrive and still be folded in order.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration_text::parse)]
    pub lateness: Duration,
}

impl TrackerArgs {
    pub fn config(&self) -> TrackerConfig {
        TrackerConfig {
            idle_after: self.idle_after,
            idle_timeout: self.idle_timeout,
            attribution_window: self.attribution_window,
            lateness: self.lateness,
        }
    }
}
