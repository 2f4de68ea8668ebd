//! Fuzzes the ndjson parser: arbitrary bytes through `EventReader` and `parse_json_payload`,
//! and every line through both line parsers: whatever the fast path accepts, the reference
//! parser must accept as the identical event.
#![no_main]

mod common;

use cartback_ingest::{Format, parse_line_both_ways};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::drive(Format::Ndjson, data);
    let options = common::options_for(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        let (fast, reference) = parse_line_both_ways(line, &options);
        if let Some(event) = fast {
            match reference {
                Ok(expected) => assert_eq!(
                    event, expected,
                    "fast and reference parsers differ on {line}"
                ),
                Err(message) => panic!(
                    "the fast path accepted {line} but the reference parser rejects it: {message}"
                ),
            }
        }
    }
});
