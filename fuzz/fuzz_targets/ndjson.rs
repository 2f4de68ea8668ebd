//! Fuzzes the ndjson parser: arbitrary bytes through `EventReader` and `parse_json_payload`.
#![no_main]

mod common;

use cartback_ingest::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::drive(Format::Ndjson, data);
});
