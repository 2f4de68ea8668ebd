//! The streaming API: [`EventReader`] turns any `BufRead` in one [`Format`] into one
//! [`ParsedLine`] per non-blank input line, in constant memory.
//!
//! ```
//! use cartback_ingest::{EventReader, Format, ParseOptions};
//!
//! let input = "{\"type\":\"product_added\",\"timestamp\":\"2024-05-01T10:00:00Z\",\"user_id\":\"u1\",\
//!              \"items\":[{\"id\":\"p1\",\"price\":1999}],\"currency\":\"USD\"}\n\
//!              {\"type\":\"product_added\",\"timestamp\":\"2024-05-01T10:00:00Z\",\"user_id\":\"u1\",\
//!              \"items\":[{\"id\":\"p1\",\"price\":19.99}],\"currency\":\"USD\"}\n";
//! let reader = EventReader::new(Format::Ndjson, input.as_bytes(), ParseOptions::default())?;
//! let mut events = Vec::new();
//! let mut rejections = Vec::new();
//! for parsed in reader {
//!     let parsed = parsed?; // an Err means the input itself failed (I/O, wrong CSV header)
//!     events.extend(parsed.events);
//!     rejections.extend(parsed.rejections);
//! }
//! assert_eq!(events.len(), 1);
//! assert_eq!(
//!     rejections[0].to_string(),
//!     "line 2: items[0].price: expected integer minor units (e.g. 1999 for 19.99), got 19.99"
//! );
//! # Ok::<(), cartback_ingest::IngestError>(())
//! ```

use crate::format::Format;
use crate::limits::ParseOptions;
use crate::reader::{LineContent, LineReader};
use crate::rejection::{FieldError, IngestError, Rejection};
use crate::{ndjson, otto, rees46, segment};
use cartback_core::Event;
use std::io::BufRead;

/// What one input line produced. A line may yield several events (a Segment batch, an
/// OTTO session), several rejections (bad elements of a batch), and skipped records
/// (Segment calls that are not cart events, a repeated CSV header).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedLine {
    /// 1-based line number in the input.
    pub line: u64,
    pub events: Vec<Event>,
    pub rejections: Vec<Rejection>,
    /// Records understood but deliberately not imported (not counted as rejections).
    pub skipped: u32,
}

impl ParsedLine {
    pub(crate) fn new(line: u64) -> Self {
        ParsedLine {
            line,
            ..ParsedLine::default()
        }
    }

    pub(crate) fn reject(&mut self, error: FieldError) {
        self.rejections.push(error.at_line(self.line));
    }

    pub(crate) fn push(&mut self, result: Result<Event, FieldError>) {
        match result {
            Ok(event) => self.events.push(event),
            Err(error) => self.reject(error),
        }
    }
}

/// The per-format state a reader keeps between lines.
enum LineParser {
    Ndjson,
    Segment,
    Rees46(Box<rees46::Rees46Parser>),
    Otto,
}

/// Reads one format from any `BufRead`, yielding a [`ParsedLine`] per non-blank line.
///
/// Memory stays constant whatever the input size: one line buffer of at most
/// `max_line_bytes`; longer lines become a rejection without being held in memory. Blank
/// lines are skipped (but counted in line numbers), CRLF line ends and a leading UTF-8 BOM
/// are accepted. The iterator yields `Err` only when reading cannot go on (an I/O error,
/// a REES46 file whose header names other columns) and ends after it.
pub struct EventReader<R> {
    lines: LineReader<R>,
    parser: LineParser,
    format: Format,
    options: ParseOptions,
    finished: bool,
}

impl<R: BufRead> EventReader<R> {
    /// Validates `options` and prepares to read `input` as `format`.
    pub fn new(format: Format, input: R, options: ParseOptions) -> Result<Self, IngestError> {
        options.validate()?;
        let parser = match format {
            Format::Ndjson => LineParser::Ndjson,
            Format::Segment => LineParser::Segment,
            Format::Rees46 => LineParser::Rees46(Box::new(rees46::Rees46Parser::new())),
            Format::Otto => LineParser::Otto,
        };
        Ok(EventReader {
            lines: LineReader::new(input, options.max_line_bytes),
            parser,
            format,
            options,
            finished: false,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of lines read so far, blank lines included.
    pub fn lines_read(&self) -> u64 {
        self.lines.line_number()
    }

    /// Reads the next non-blank line into `parsed`, replacing what it held but keeping its
    /// buffers: a caller that drains `parsed.events` and reuses `parsed` allocates nothing
    /// per line for it (the [`Iterator`] returns a new [`ParsedLine`] each time). Returns
    /// `Ok(false)` at the end of the input; after an error, reading is over.
    pub fn read_into(&mut self, parsed: &mut ParsedLine) -> Result<bool, IngestError> {
        parsed.events.clear();
        parsed.rejections.clear();
        parsed.skipped = 0;
        if self.finished {
            return Ok(false);
        }
        match self.read_next(parsed) {
            Ok(true) => Ok(true),
            other => {
                self.finished = true;
                other
            }
        }
    }

    /// Fills the cleared `parsed` from the next line; `Ok(false)` at the end of the input.
    fn read_next(&mut self, parsed: &mut ParsedLine) -> Result<bool, IngestError> {
        let failing_line = self.lines.line_number() + 1;
        let next = self.lines.next_line().map_err(|source| IngestError::Io {
            line: failing_line,
            source,
        })?;
        let Some((line, content)) = next else {
            return Ok(false);
        };
        parsed.line = line;
        let bytes = match content {
            LineContent::TooLong { bytes } => {
                let message = format!(
                    "line is {bytes} bytes long; the limit is {} (max_line_bytes)",
                    self.options.max_line_bytes
                );
                if let LineParser::Rees46(parser) = &self.parser {
                    parser.check_not_header(line, &message)?;
                }
                parsed.reject(FieldError::whole(message));
                return Ok(true);
            }
            LineContent::Text(bytes) => bytes,
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                let message = format!("invalid UTF-8 at byte {}", err.valid_up_to() + 1);
                if let LineParser::Rees46(parser) = &self.parser {
                    parser.check_not_header(line, &String::from_utf8_lossy(bytes))?;
                }
                parsed.reject(FieldError::whole(message));
                return Ok(true);
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        match &mut self.parser {
            LineParser::Ndjson => parsed.push(ndjson::parse_line(text, &self.options)),
            LineParser::Segment => segment::parse_line(text, &self.options, parsed),
            LineParser::Rees46(parser) => parser.parse_line(text, &self.options, parsed)?,
            LineParser::Otto => otto::parse_line(text, &self.options, parsed),
        }
        Ok(true)
    }
}

impl<R: BufRead> Iterator for EventReader<R> {
    type Item = Result<ParsedLine, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut parsed = ParsedLine::default();
        match self.read_into(&mut parsed) {
            Ok(true) => Some(Ok(parsed)),
            Ok(false) => None,
            Err(err) => Some(Err(err)),
        }
    }
}
