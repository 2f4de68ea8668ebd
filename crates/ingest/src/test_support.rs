//! Helpers shared by the unit tests of every format.

use crate::{EventReader, Format, ParseOptions, Rejection};
use cartback_core::{Event, Timestamp};

/// 2024-06-01T00:00:00Z: the clock the tests run at.
pub(crate) const NOW: Timestamp = Timestamp(1_717_200_000_000);

pub(crate) fn options() -> ParseOptions {
    ParseOptions::at(NOW)
}

/// Everything a whole input produced.
pub(crate) struct Outcome {
    pub(crate) events: Vec<Event>,
    pub(crate) rejections: Vec<Rejection>,
    pub(crate) skipped: u32,
    pub(crate) lines: usize,
}

pub(crate) fn read_with(format: Format, input: &[u8], options: ParseOptions) -> Outcome {
    let mut outcome = Outcome {
        events: Vec::new(),
        rejections: Vec::new(),
        skipped: 0,
        lines: 0,
    };
    for parsed in EventReader::new(format, input, options).unwrap() {
        let parsed = parsed.unwrap();
        outcome.lines += 1;
        outcome.events.extend(parsed.events);
        outcome.rejections.extend(parsed.rejections);
        outcome.skipped += parsed.skipped;
    }
    outcome
}

pub(crate) fn read(format: Format, input: &str) -> Outcome {
    read_with(format, input.as_bytes(), options())
}

/// The single rejection of an input, as displayed.
pub(crate) fn only_rejection(format: Format, input: &str) -> String {
    let outcome = read(format, input);
    assert!(
        outcome.events.is_empty(),
        "unexpected events: {:?}",
        outcome.events
    );
    assert_eq!(outcome.rejections.len(), 1, "{:?}", outcome.rejections);
    outcome.rejections[0].to_string()
}
