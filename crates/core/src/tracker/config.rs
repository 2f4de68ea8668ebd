//! The user-facing settings of the cart tracker: [`TrackerConfig`] and its validation.
//!
//! Durations are written in configuration files either as integer milliseconds or as text
//! with units (`"90s"`, `"5m"`, `"30m"`, `"7d"`, `"1h30m"`); unknown fields are refused so
//! a typo never silently falls back to a default.

use crate::time::Duration;
use serde::{Deserialize, Serialize};

/// Longest accepted duration for any knob (400 days): beyond that a value is a unit mix-up.
pub const MAX_CONFIG_DURATION: Duration = Duration::days(400);

/// Timeouts and windows of the cart state machine.
///
/// Defaults: `idle_after` 5 min, `idle_timeout` 30 min, `attribution_window` 7 days,
/// `lateness` 5 min. Build a tracker with [`CartTracker::new`](super::CartTracker::new),
/// which validates the settings first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Time without cart activity after which an active cart is idle.
    #[serde(with = "duration_text")]
    pub idle_after: Duration,
    /// Time without cart activity after which a cart with units in it is abandoned (an
    /// empty one expires). Also the gap that ends a session without a session id.
    #[serde(with = "duration_text")]
    pub idle_timeout: Duration,
    /// An order within this time after the first abandonment is a recovery; an abandoned
    /// cart expires when it has passed.
    #[serde(with = "duration_text")]
    pub attribution_window: Duration,
    /// How late (behind the newest timestamp seen) an event may arrive and still be folded
    /// in timestamp order.
    #[serde(with = "duration_text")]
    pub lateness: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            idle_after: Duration::minutes(5),
            idle_timeout: Duration::minutes(30),
            attribution_window: Duration::days(7),
            lateness: Duration::minutes(5),
        }
    }
}

/// Why a [`TrackerConfig`] was refused. Every variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerConfigError {
    #[error("`{field}` must be positive (got {millis} ms)")]
    NotPositive { field: &'static str, millis: i64 },
    #[error("`lateness` must not be negative (got {millis} ms)")]
    NegativeLateness { millis: i64 },
    #[error("`{field}` is longer than 400 days (got {millis} ms)")]
    TooLong { field: &'static str, millis: i64 },
    #[error(
        "`idle_after` ({idle_after_ms} ms) must be shorter than `idle_timeout` ({idle_timeout_ms} ms)"
    )]
    IdleAfterNotBeforeTimeout {
        idle_after_ms: i64,
        idle_timeout_ms: i64,
    },
}

impl TrackerConfig {
    /// Checks every knob: all durations positive (lateness may be zero), none longer than
    /// [`MAX_CONFIG_DURATION`], and `idle_after < idle_timeout`.
    pub fn validate(&self) -> Result<(), TrackerConfigError> {
        let knobs = [
            ("idle_after", self.idle_after),
            ("idle_timeout", self.idle_timeout),
            ("attribution_window", self.attribution_window),
        ];
        for (field, value) in knobs {
            if value.as_millis() <= 0 {
                return Err(TrackerConfigError::NotPositive {
                    field,
                    millis: value.as_millis(),
                });
            }
        }
        if self.lateness.as_millis() < 0 {
            return Err(TrackerConfigError::NegativeLateness {
                millis: self.lateness.as_millis(),
            });
        }
        for (field, value) in knobs.into_iter().chain([("lateness", self.lateness)]) {
            if value > MAX_CONFIG_DURATION {
                return Err(TrackerConfigError::TooLong {
                    field,
                    millis: value.as_millis(),
                });
            }
        }
        if self.idle_after >= self.idle_timeout {
            return Err(TrackerConfigError::IdleAfterNotBeforeTimeout {
                idle_after_ms: self.idle_after.as_millis(),
                idle_timeout_ms: self.idle_timeout.as_millis(),
            });
        }
        Ok(())
    }
}

/// Serde for durations: integer milliseconds, or text such as `"30m"`, `"7d"`, `"1h30m"`,
/// `"250ms"`. Serialises as text in the largest units that are exact.
pub mod duration_text {
    use crate::time::Duration;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    const UNITS: [(&str, i64); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];

    /// Parses `"30m"`, `"1h30m"`, `"7d"`, `"250ms"` or a bare integer (milliseconds).
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty duration".into());
        }
        if let Ok(ms) = t.parse::<i64>() {
            return Ok(Duration::millis(ms));
        }
        let mut total: i64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(format!(
                    "`{text}` is not a duration (expected e.g. 30m, 7d, 1h30m)"
                ));
            }
            let number: i64 = rest[..digits]
                .parse()
                .map_err(|_| format!("`{text}`: number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let scale = UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, scale)| *scale)
                .ok_or_else(|| format!("`{text}`: unknown unit `{unit}` (use ms, s, m, h or d)"))?;
            total = number
                .checked_mul(scale)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("`{text}`: duration too large"))?;
        }
        Ok(Duration::millis(total))
    }

    /// Formats a duration in the largest exact units (`1800000` → `"30m"`).
    pub fn format(d: Duration) -> String {
        let ms = d.as_millis();
        if ms == 0 {
            return "0s".into();
        }
        let (name, scale) = UNITS
            .iter()
            .find(|(_, scale)| ms % scale == 0)
            .copied()
            .unwrap_or(("ms", 1));
        format!("{}{name}", ms / scale)
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("milliseconds or a duration such as \"30m\" or \"7d\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Ok(Duration::millis(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                i64::try_from(v)
                    .map(Duration::millis)
                    .map_err(|_| E::custom("duration too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(DurationVisitor)
    }
}
