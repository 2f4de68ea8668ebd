//! Quiet hours in the shopper's own time zone: a message due inside the local window
//! `[start, end)` (which may wrap past midnight, e.g. 21:00–08:00) is postponed to the
//! window's end, local time. Daylight-saving changes are handled through the IANA database
//! (`chrono-tz`): the end time is resolved in the zone on the day it falls on; a local time
//! skipped by a spring-forward jump moves to the first valid instant after it, and a time
//! repeated in autumn takes its first occurrence.

use super::Verdict;
use cartback_core::Timestamp;
use chrono::{
    DateTime, Duration as ChronoDuration, LocalResult, NaiveDateTime, TimeZone, Timelike,
};
use chrono_tz::Tz;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    start_hour: u32,
    end_hour: u32,
}

impl QuietHours {
    /// Hours in `0..24`, different from each other.
    pub fn new(start_hour: u32, end_hour: u32) -> Result<Self, String> {
        if start_hour >= 24 || end_hour >= 24 {
            return Err(format!(
                "hours must be in 0..24, got {start_hour} and {end_hour}"
            ));
        }
        if start_hour == end_hour {
            return Err("start and end must differ".into());
        }
        Ok(QuietHours {
            start_hour,
            end_hour,
        })
    }

    fn contains_local_hour(&self, hour: u32) -> bool {
        if self.start_hour < self.end_hour {
            (self.start_hour..self.end_hour).contains(&hour)
        } else {
            hour >= self.start_hour || hour < self.end_hour
        }
    }

    /// The first instant at or after `send_at` outside the quiet hours in `zone`.
    pub fn next_allowed(&self, send_at: Timestamp, zone: Tz) -> Timestamp {
        let Some(utc) = DateTime::from_timestamp_millis(send_at.as_millis()) else {
            return send_at;
        };
        let local = utc.with_timezone(&zone);
        if !self.contains_local_hour(local.hour()) {
            return send_at;
        }
        let mut date = local.date_naive();
        if self.start_hour > self.end_hour && local.hour() >= self.start_hour {
            date = date.succ_opt().unwrap_or(date);
        }
        let Some(end) = date.and_hms_opt(self.end_hour, 0, 0) else {
            return send_at;
        };
        resolve_local(zone, end).map_or(send_at, |t| Timestamp(t.timestamp_millis()))
    }
}

/// The instant of a local wall-clock time; skipped times move forward minute by minute to
/// the first one that exists, repeated times take the earlier instant.
fn resolve_local(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Tz>> {
    let mut candidate = local;
    for _ in 0..=180 {
        match zone.from_local_datetime(&candidate) {
            LocalResult::Single(t) => return Some(t),
            LocalResult::Ambiguous(earlier, _) => return Some(earlier),
            LocalResult::None => candidate += ChronoDuration::minutes(1),
        }
    }
    None
}

pub fn check_quiet_hours(send_at: Timestamp, zone: Tz, quiet: &QuietHours) -> Verdict {
    let allowed = quiet.next_allowed(send_at, zone);
    if allowed == send_at {
        Verdict::Allow
    } else {
        Verdict::Postpone {
            until: allowed,
            reason: format!(
                "quiet hours {:02}:00–{:02}:00 in {}",
                quiet.start_hour,
                quiet.end_hour,
                zone.name()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        Timestamp(
            Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
                .unwrap()
                .timestamp_millis(),
        )
    }

    #[test]
    fn night_in_berlin_waits_for_eight_local_in_winter_and_summer() {
        let quiet = QuietHours::new(21, 8).unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-01-15 22:30 UTC = 23:30 CET → 2026-01-16 08:00 CET = 07:00 UTC.
        assert_eq!(
            quiet.next_allowed(utc(2026, 1, 15, 22, 30), berlin),
            utc(2026, 1, 16, 7, 0)
        );
        // 2026-07-15 03:00 UTC = 05:00 CEST → 08:00 CEST = 06:00 UTC.
        assert_eq!(
            quiet.next_allowed(utc(2026, 7, 15, 3, 0), berlin),
            utc(2026, 7, 15, 6, 0)
        );
        // 12:00 UTC is afternoon in Berlin: allowed as is.
        let noon = utc(2026, 7, 15, 12, 0);
        assert_eq!(check_quiet_hours(noon, berlin, &quiet), Verdict::Allow);
    }

    #[test]
    fn dst_switch_nights_use_the_new_offset() {
        let quiet = QuietHours::new(21, 8).unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        // Spring forward: night of 28→29 March 2026. 22:00 UTC on the 28th = 23:00 CET;
        // 08:00 on the 29th is CEST (UTC+2) = 06:00 UTC.
        assert_eq!(
            quiet.next_allowed(utc(2026, 3, 28, 22, 0), berlin),
            utc(2026, 3, 29, 6, 0)
        );
        // Fall back: night of 24→25 October 2026; 08:00 on the 25th is CET = 07:00 UTC.
        assert_eq!(
            quiet.next_allowed(utc(2026, 10, 24, 21, 0), berlin),
            utc(2026, 10, 25, 7, 0)
        );
        // New York sprang forward at 07:00 UTC on 8 March 2026: 08:30 UTC is 04:30 EDT →
        // 08:00 EDT = 12:00 UTC.
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            quiet.next_allowed(utc(2026, 3, 8, 8, 30), ny),
            utc(2026, 3, 8, 12, 0)
        );
    }

    #[test]
    fn window_inside_one_day_and_a_skipped_end_time() {
        // Quiet 00:00–02:00 in Berlin; on 29 March 2026 02:00 does not exist (02:00→03:00):
        // 01:30 CET (00:30 UTC) waits until 03:00 CEST = 01:00 UTC.
        let quiet = QuietHours::new(0, 2).unwrap();
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            quiet.next_allowed(utc(2026, 3, 29, 0, 30), berlin),
            utc(2026, 3, 29, 1, 0)
        );
        assert!(QuietHours::new(5, 5).is_err());
        assert!(QuietHours::new(24, 5).is_err());
    }
}
