//! Validation limits shared by every parser, and [`ParseOptions`], the settings a caller
//! passes to a reader (the clock used for the "too far in the future" check, the longest
//! accepted line).

use crate::rejection::IngestError;
use cartback_core::{Duration, Timestamp};

/// Longest accepted input line by default: 1 MiB. Longer lines are rejected without being
/// buffered.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Largest accepted unit price or total, in minor units (10¹⁰: a hundred million dollars in
/// cents). Anything larger in a cart is a unit mix-up.
pub const MAX_PRICE_MINOR_UNITS: i64 = 10_000_000_000;
/// Largest accepted quantity of one line item.
pub const MAX_QUANTITY: i64 = 10_000;
/// Most line items accepted in one event.
pub const MAX_ITEMS: usize = 1_000;
/// Longest accepted text value (ids, names, e-mail, …), in bytes of UTF-8.
pub const MAX_STRING_BYTES: usize = 1_024;
/// Earliest accepted event time: 2000-01-01T00:00:00Z.
pub const EARLIEST_TIMESTAMP: Timestamp = Timestamp(946_684_800_000);
/// Latest accepted event time whatever the clock says: 2100-01-01T00:00:00Z. Catches
/// microseconds or nanoseconds given where milliseconds are expected.
pub const LATEST_TIMESTAMP: Timestamp = Timestamp(4_102_444_800_000);
/// How far after [`ParseOptions::now`] an event may be stamped by default (clock skew).
pub const DEFAULT_MAX_FUTURE: Duration = Duration::days(1);

/// Settings for every parser. Build with [`ParseOptions::default`] or
/// [`ParseOptions::at`], adjust the fields, and hand it to a reader, which validates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// The current time. Events stamped more than [`max_future`](Self::max_future) after it
    /// are rejected. `None` disables that check (only [`LATEST_TIMESTAMP`] applies), which
    /// keeps parsing a pure function of the input; the CLI and the server pass the clock.
    pub now: Option<Timestamp>,
    /// Allowed clock skew after `now` (default one day).
    pub max_future: Duration,
    /// Longest accepted line in bytes, without its line end (default 1 MiB).
    pub max_line_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            now: None,
            max_future: DEFAULT_MAX_FUTURE,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl ParseOptions {
    /// Default options with the clock set to `now`.
    pub fn at(now: Timestamp) -> Self {
        ParseOptions {
            now: Some(now),
            ..ParseOptions::default()
        }
    }

    /// Default options with the clock read from the system (for the CLI and the server).
    pub fn at_system_time() -> Self {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        ParseOptions::at(Timestamp(millis))
    }

    /// Checks the settings themselves; readers call this before reading anything.
    pub fn validate(&self) -> Result<(), IngestError> {
        if self.max_line_bytes == 0 {
            return Err(IngestError::InvalidOptions(
                "max_line_bytes must be at least 1".into(),
            ));
        }
        if self.max_future.as_millis() < 0 {
            return Err(IngestError::InvalidOptions(format!(
                "max_future must not be negative, got {} ms",
                self.max_future.as_millis()
            )));
        }
        Ok(())
    }

    /// The latest event time these options accept.
    pub fn latest_accepted(&self) -> Timestamp {
        match self.now {
            Some(now) => now.saturating_add(self.max_future).min(LATEST_TIMESTAMP),
            None => LATEST_TIMESTAMP,
        }
    }
}
