//! Instants and spans of time as integer milliseconds since the Unix epoch, UTC.
//!
//! cartback keeps time as plain integers inside: cheap to compare, hash, store and
//! replay. Parsing and formatting of human time formats lives in `cartback-ingest`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// An instant in UTC, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// A span of time in milliseconds (may be negative when subtracting instants).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Duration(pub i64);

impl Duration {
    pub const ZERO: Duration = Duration(0);
    pub const fn millis(ms: i64) -> Self {
        Duration(ms)
    }
    pub const fn seconds(s: i64) -> Self {
        Duration(s * 1_000)
    }
    pub const fn minutes(m: i64) -> Self {
        Duration(m * 60_000)
    }
    pub const fn hours(h: i64) -> Self {
        Duration(h * 3_600_000)
    }
    pub const fn days(d: i64) -> Self {
        Duration(d * 86_400_000)
    }
    pub const fn as_millis(self) -> i64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }
}

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub const fn as_millis(self) -> i64 {
        self.0
    }
    /// Hour of the day in UTC, 0..=23.
    pub fn hour_utc(self) -> u32 {
        (self.0.rem_euclid(86_400_000) / 3_600_000) as u32
    }
    /// Day of the week in UTC, Monday = 0 … Sunday = 6.
    pub fn weekday_utc(self) -> u32 {
        // 1970-01-01 was a Thursday (= 3 when Monday = 0).
        ((self.0.div_euclid(86_400_000) + 3).rem_euclid(7)) as u32
    }
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0 + rhs.0)
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0 - rhs.0)
    }
}

impl Sub for Timestamp {
    type Output = Duration;
    fn sub(self, rhs: Timestamp) -> Duration {
        Duration(self.0 - rhs.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields_in_utc() {
        // 2019-10-01T00:00:00Z was a Tuesday.
        let t = Timestamp(1_569_888_000_000);
        assert_eq!(t.weekday_utc(), 1);
        assert_eq!(t.hour_utc(), 0);
        assert_eq!((t + Duration::hours(25)).hour_utc(), 1);
        assert_eq!((t + Duration::hours(25)).weekday_utc(), 2);
        // Before the epoch: 1969-12-31T23:00:00Z was a Wednesday.
        assert_eq!(Timestamp(-3_600_000).weekday_utc(), 2);
        assert_eq!(Timestamp(-3_600_000).hour_utc(), 23);
    }
}
