//! Converts REES46 CSV lines into canonical events: checks the header once, splits each
//! line with `csv-core` (quoted fields allowed) and maps the columns.

use super::columns::{COLUMNS, HEADER, kind_for};
use crate::limits::ParseOptions;
use crate::rejection::{FieldError, IngestError};
use crate::stream::ParsedLine;
use crate::timestamp::{excerpt, parse_rees46_time};
use crate::validate;
use cartback_core::{Currency, Event, EventId, EventKind, Item};
use csv_core::ReadRecordResult;

/// Id namespace of REES46 lines.
const NAMESPACE: &str = "rees46";

/// Per-file state: whether the header was seen, and reusable CSV buffers.
pub(crate) struct Rees46Parser {
    header_seen: bool,
    csv: csv_core::Reader,
    fields: Vec<u8>,
}

impl Rees46Parser {
    pub(crate) fn new() -> Self {
        Rees46Parser {
            header_seen: false,
            csv: csv_core::Reader::new(),
            fields: Vec::new(),
        }
    }

    /// Fails when the header has not been seen yet: the first line of a REES46 file must
    /// be its header, so anything else there means the file is something else.
    pub(crate) fn check_not_header(&self, line: u64, found: &str) -> Result<(), IngestError> {
        if self.header_seen {
            Ok(())
        } else {
            Err(IngestError::Rees46Header {
                line,
                expected: HEADER,
                found: excerpt(found),
            })
        }
    }

    /// Parses one non-blank line. The first must be the header; a repeated header later
    /// (concatenated files) is skipped.
    pub(crate) fn parse_line(
        &mut self,
        text: &str,
        options: &ParseOptions,
        out: &mut ParsedLine,
    ) -> Result<(), IngestError> {
        let trimmed = text.trim();
        if trimmed == HEADER {
            if self.header_seen {
                out.skipped += 1;
            }
            self.header_seen = true;
            return Ok(());
        }
        self.check_not_header(out.line, trimmed)?;
        out.push(self.convert(trimmed, options));
        Ok(())
    }

    /// Splits a line into its fields (unquoted, `""` unescaped); returns field end offsets.
    fn split(
        &mut self,
        line: &str,
        ends: &mut [usize; COLUMNS.len() + 1],
    ) -> Result<usize, FieldError> {
        self.csv.reset();
        self.fields.clear();
        self.fields.resize(line.len() + 1, 0);
        let mut input = line.as_bytes();
        let mut written = 0;
        let mut count = 0;
        // Each call consumes the whole input or fills an output; a record needs at most a
        // call for the input and one more to end the record, so the bound is generous.
        for _ in 0..8 {
            let (result, read, wrote, ended) =
                self.csv
                    .read_record(input, &mut self.fields[written..], &mut ends[count..]);
            input = &input[read..];
            written += wrote;
            count += ended;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::Record | ReadRecordResult::End => return Ok(count),
                ReadRecordResult::OutputEndsFull => {
                    return Err(FieldError::whole(format!(
                        "more than {} columns; expected {HEADER}",
                        COLUMNS.len()
                    )));
                }
                ReadRecordResult::OutputFull => break,
            }
        }
        Err(FieldError::whole("the line does not parse as CSV"))
    }

    fn convert(&mut self, line: &str, options: &ParseOptions) -> Result<Event, FieldError> {
        let mut ends = [0usize; COLUMNS.len() + 1];
        let count = self.split(line, &mut ends)?;
        if count != COLUMNS.len() {
            return Err(FieldError::whole(format!(
                "expected {} comma-separated columns ({HEADER}), got {count}",
                COLUMNS.len()
            )));
        }
        let fields = &self.fields;
        let column = |index: usize| -> Result<&str, FieldError> {
            let start = if index == 0 { 0 } else { ends[index - 1] };
            std::str::from_utf8(&fields[start..ends[index]])
                .map(str::trim)
                .map_err(|_| FieldError::new(COLUMNS[index], "invalid UTF-8"))
        };
        let at = |index: usize, message: String| FieldError::new(COLUMNS[index], message);
        let present = |text: &str| (!text.is_empty()).then(|| text.to_string());

        let timestamp = parse_rees46_time(column(0)?).map_err(|m| at(0, m))?;
        let kind = kind_for(column(1)?).map_err(|m| at(1, m))?;
        let product_id = validate::id(column(2)?.to_string()).map_err(|m| at(2, m))?;
        let category = match (present(column(4)?), present(column(3)?)) {
            (Some(code), _) => Some(code),
            (None, category_id) => category_id,
        };
        let category = category
            .map(|c| validate::text(c).map_err(|m| at(4, m)))
            .transpose()?;
        let brand = present(column(5)?)
            .map(|b| validate::text(b).map_err(|m| at(5, m)))
            .transpose()?;
        let price = match column(6)? {
            "" => None,
            text => Some(
                Currency::USD
                    .parse_major(text)
                    .map_err(|e| e.to_string())
                    .and_then(validate::amount)
                    .map_err(|m| at(6, m))?,
            ),
        };
        let user_id = validate::id(column(7)?.to_string()).map_err(|m| at(7, m))?;
        let session = present(column(8)?)
            .map(|s| validate::id(s).map_err(|m| at(8, m)))
            .transpose()?;

        let event = Event {
            // Identical lines are the same event: the id hashes the line itself.
            id: EventId::derive(NAMESPACE, line.as_bytes()),
            kind,
            timestamp,
            user_id,
            anonymous_id: None,
            // All purchase rows of one session are one order.
            order_id: if kind == EventKind::OrderCompleted {
                session.clone()
            } else {
                None
            },
            session_id: session,
            cart_id: None,
            items: vec![Item {
                id: product_id,
                name: None,
                category,
                brand,
                price,
                quantity: 1,
            }],
            currency: price.map(|_| Currency::USD),
            total: None,
            email: None,
            timezone: None,
            channel: None,
            device: None,
            message_id: None,
            coupon_code: None,
            coupon_outcome: None,
            referrer: None,
        };
        validate::event(event, options, "product_id").map_err(|e| {
            if e.field.as_deref() == Some("timestamp") {
                FieldError {
                    field: Some(COLUMNS[0].into()),
                    ..e
                }
            } else {
                e
            }
        })
    }
}
