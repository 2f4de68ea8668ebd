//! Parsing and range-checking of event times: RFC 3339 text, epoch milliseconds, REES46's
//! `2019-10-01 00:00:00 UTC`, and formatting instants back to RFC 3339 for messages.

use crate::limits::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, ParseOptions};
use cartback_core::Timestamp;
use chrono::{DateTime, NaiveDateTime, SecondsFormat};

/// Parses an RFC 3339 / ISO 8601 instant with an offset, e.g. `2019-10-01T00:00:00Z` or
/// `2023-01-01T12:00:00.250-05:00`, into UTC milliseconds.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|dt| Timestamp(dt.timestamp_millis()))
        .map_err(|err| {
            format!(
                "`{}` is not an RFC 3339 time such as 2019-10-01T00:00:00Z ({err})",
                excerpt(text)
            )
        })
}

/// Parses REES46's `2019-10-01 00:00:00 UTC`.
pub fn parse_rees46_time(text: &str) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "`{}` is not a time like 2019-10-01 00:00:00 UTC",
            excerpt(text)
        )
    };
    let naive = text.trim().strip_suffix(" UTC").ok_or_else(bad)?;
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S")
        .map(|dt| Timestamp(dt.and_utc().timestamp_millis()))
        .map_err(|_| bad())
}

/// Formats an instant as RFC 3339 in UTC with milliseconds, e.g. `2019-10-01T00:00:00.000Z`.
pub fn format_rfc3339(at: Timestamp) -> String {
    match DateTime::from_timestamp_millis(at.as_millis()) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("{} ms since the epoch", at.as_millis()),
    }
}

/// Accepts an instant between 2000-01-01 and [`ParseOptions::latest_accepted`].
pub(crate) fn check_range(at: Timestamp, options: &ParseOptions) -> Result<Timestamp, String> {
    if at < EARLIEST_TIMESTAMP {
        return Err(format!(
            "{} is before {}; is it in seconds instead of milliseconds?",
            format_rfc3339(at),
            format_rfc3339(EARLIEST_TIMESTAMP)
        ));
    }
    let latest = options.latest_accepted();
    if at > latest {
        let reason = if latest == LATEST_TIMESTAMP {
            "is absurdly far in the future; is it in micro- or nanoseconds?".to_string()
        } else {
            format!(
                "is more than {} hours after now ({})",
                options.max_future.as_millis() / 3_600_000,
                format_rfc3339(options.now.unwrap_or(latest))
            )
        };
        return Err(format!("{} {reason}", format_rfc3339(at)));
    }
    Ok(at)
}

/// The first 64 characters of a value, for error messages about long input.
pub(crate) fn excerpt(text: &str) -> String {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::Duration;

    #[test]
    fn parses_rfc3339_with_offsets() {
        assert_eq!(
            parse_rfc3339("2019-10-01T00:00:00Z"),
            Ok(Timestamp(1_569_888_000_000))
        );
        assert_eq!(
            parse_rfc3339("2019-10-01T02:00:00.250+02:00"),
            Ok(Timestamp(1_569_888_000_250))
        );
        let err = parse_rfc3339("2019-10-01").unwrap_err();
        assert!(err.contains("not an RFC 3339 time"), "{err}");
    }

    #[test]
    fn parses_rees46_times() {
        assert_eq!(
            parse_rees46_time("2019-10-01 00:00:00 UTC"),
            Ok(Timestamp(1_569_888_000_000))
        );
        assert!(parse_rees46_time("2019-10-01 00:00:00").is_err());
        assert!(parse_rees46_time("2019-13-01 00:00:00 UTC").is_err());
    }

    #[test]
    fn checks_the_accepted_range() {
        let now = Timestamp(1_700_000_000_000);
        let options = ParseOptions::at(now);
        assert!(check_range(now + Duration::hours(23), &options).is_ok());
        let err = check_range(now + Duration::hours(25), &options).unwrap_err();
        assert!(err.contains("more than 24 hours after now"), "{err}");
        let err = check_range(Timestamp(1_569_888_000), &options).unwrap_err();
        assert!(err.contains("before 2000-01-01"), "{err}");
        let unbounded = ParseOptions::default();
        assert!(check_range(now + Duration::days(3650), &unbounded).is_ok());
        assert!(check_range(Timestamp(1_569_888_000_000_000), &unbounded).is_err());
        assert_eq!(
            format_rfc3339(Timestamp(1_569_888_000_000)),
            "2019-10-01T00:00:00.000Z"
        );
    }
}
