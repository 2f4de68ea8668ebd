//! Whole HTTP bodies: [`parse_json_payload`] reads one request body in any [`Format`] and
//! returns everything it produced at once.

use crate::format::Format;
use crate::limits::ParseOptions;
use crate::rejection::{FieldError, IngestError, Rejection};
use crate::stream::{EventReader, ParsedLine};
use crate::{ndjson, segment};
use cartback_core::Event;
use serde_json::Value;

/// Everything one payload produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedBatch {
    pub events: Vec<Event>,
    pub rejections: Vec<Rejection>,
    /// Records understood but deliberately not imported (e.g. Segment `identify` calls).
    pub skipped: u32,
}

impl ParsedBatch {
    fn absorb(&mut self, parsed: ParsedLine) {
        self.events.extend(parsed.events);
        self.rejections.extend(parsed.rejections);
        self.skipped += parsed.skipped;
    }
}

/// Parses one HTTP request body.
///
/// - `ndjson`: one event object, a JSON array of events (rejections then name the element,
///   e.g. `[3].items[0].price`, on line 1), or NDJSON lines.
/// - `segment`: one call, a `{"batch": […]}`, a JSON array of calls, or one document per
///   line.
/// - `rees46`, `otto`: the body is read like a file.
///
/// Errors only where a file would stop (a REES46 body without its header, invalid
/// options); bad records become rejections.
pub fn parse_json_payload(
    format: Format,
    body: &[u8],
    options: &ParseOptions,
) -> Result<ParsedBatch, IngestError> {
    options.validate()?;
    let mut batch = ParsedBatch::default();
    if matches!(format, Format::Ndjson | Format::Segment) {
        let trimmed = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
        // One JSON document (possibly pretty-printed over many lines) or an array.
        if let Ok(document) = serde_json::from_slice::<Value>(trimmed) {
            let mut parsed = ParsedLine::new(1);
            match document {
                Value::Array(elements) => {
                    for (index, element) in elements.into_iter().enumerate() {
                        let path = format!("[{index}]");
                        parse_element(format, element, &path, options, &mut parsed);
                    }
                }
                other => parse_element(format, other, "", options, &mut parsed),
            }
            batch.absorb(parsed);
            return Ok(batch);
        }
    }
    for parsed in EventReader::new(format, body, options.clone())? {
        batch.absorb(parsed?);
    }
    Ok(batch)
}

fn parse_element(
    format: Format,
    value: Value,
    path: &str,
    options: &ParseOptions,
    out: &mut ParsedLine,
) {
    match format {
        Format::Ndjson => {
            out.push(ndjson::parse_value(value, options).map_err(|e: FieldError| e.within(path)))
        }
        _ => segment::parse_value(&value, path, options, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::options;

    const VIEW: &str = r#"{"type":"product_viewed","timestamp":"2024-05-01T10:00:00Z","user_id":"u1","items":[{"id":"p1"}]}"#;

    #[test]
    fn ndjson_bodies_may_be_one_event_an_array_or_lines() {
        let one = parse_json_payload(Format::Ndjson, VIEW.as_bytes(), &options()).unwrap();
        assert_eq!((one.events.len(), one.rejections.len()), (1, 0));
        let array = format!("[{VIEW}, {}, 7]", VIEW.replace("\"p1\"", "\"\""));
        let batch = parse_json_payload(Format::Ndjson, array.as_bytes(), &options()).unwrap();
        assert_eq!(batch.events.len(), 1);
        let shown: Vec<String> = batch.rejections.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "line 1: [1].items[0].id: must not be empty",
                "line 1: [2]: expected a cartback event object (one JSON object per line)"
            ]
        );
        let lines = format!("{VIEW}\r\n\r\n{VIEW}\n{{\"type\":");
        let batch = parse_json_payload(Format::Ndjson, lines.as_bytes(), &options()).unwrap();
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.rejections[0].line, 4);
        let empty = parse_json_payload(Format::Ndjson, b"  \n", &options()).unwrap();
        assert_eq!(empty, ParsedBatch::default());
    }

    #[test]
    fn csv_and_jsonl_bodies_read_like_files() {
        let csv = format!(
            "{}\n2019-10-01 00:00:00 UTC,view,1,2,,,1.00,7,s\n",
            crate::REES46_HEADER
        );
        let batch = parse_json_payload(Format::Rees46, csv.as_bytes(), &options()).unwrap();
        assert_eq!(batch.events.len(), 1);
        let err = parse_json_payload(Format::Rees46, b"a,b\n", &options()).unwrap_err();
        assert!(matches!(err, IngestError::Rees46Header { .. }));
        let otto = br#"{"session":3,"events":[{"aid":1,"ts":1659304800000,"type":"carts"}]}"#;
        let batch = parse_json_payload(Format::Otto, otto, &options()).unwrap();
        assert_eq!(batch.events[0].kind, cartback_core::EventKind::ProductAdded);
    }
}
