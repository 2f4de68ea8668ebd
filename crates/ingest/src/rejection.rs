//! What goes wrong while reading input: a [`Rejection`] of one line (or one element of a
//! batch) that the caller records and skips, and an [`IngestError`] that stops reading
//! altogether (I/O failure, a REES46 file with the wrong columns, invalid options).

use serde::{Deserialize, Serialize};
use std::fmt;

/// One refused input record: where it was, which field, and why.
///
/// Displays as `line 12: items[0].price: expected integer minor units (e.g. 1999 for
/// 19.99), got 19.99`, or `line 3: malformed JSON at column 17: …` when no single field is
/// to blame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// 1-based line number in the input (1 for a single HTTP document).
    pub line: u64,
    /// Path of the offending field, e.g. `items[0].price` or `batch[3].properties.price`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in words a shop engineer can act on.
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {}: {}", self.line, field, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// A problem found while converting one record, before its line number is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

impl FieldError {
    /// A problem with the named field.
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A problem with the record as a whole (malformed JSON, wrong column count, …).
    pub(crate) fn whole(message: impl Into<String>) -> Self {
        FieldError {
            field: None,
            message: message.into(),
        }
    }

    /// Puts a prefix such as `batch[3]` in front of the field path.
    pub(crate) fn within(mut self, prefix: &str) -> Self {
        if prefix.is_empty() {
            return self;
        }
        self.field = Some(match self.field.take() {
            Some(field) if field.starts_with('[') => format!("{prefix}{field}"),
            Some(field) => format!("{prefix}.{field}"),
            None => prefix.to_string(),
        });
        self
    }

    /// Attaches the line number. Field paths and messages that quote huge input (a
    /// megabyte-long unknown key, say) are shortened so reject files stay readable.
    pub(crate) fn at_line(self, line: u64) -> Rejection {
        Rejection {
            line,
            field: self.field.map(|f| shorten(f, MAX_FIELD_CHARS)),
            message: shorten(self.message, MAX_MESSAGE_CHARS),
        }
    }
}

/// Longest field path kept in a rejection, in characters.
const MAX_FIELD_CHARS: usize = 256;
/// Longest message kept in a rejection, in characters.
const MAX_MESSAGE_CHARS: usize = 1_024;

fn shorten(text: String, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Joins a path prefix and a key: `("properties", "price")` → `properties.price`.
pub(crate) fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// An error that stops reading (as opposed to a [`Rejection`], which skips one record).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("reading input failed at line {line}: {source}")]
    Io {
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}: not a REES46 file: expected the header `{expected}`, found `{found}`")]
    Rees46Header {
        line: u64,
        expected: &'static str,
        found: String,
    },
    #[error("invalid parse options: {0}")]
    InvalidOptions(String),
    #[error("unknown format `{0}` (expected one of ndjson, segment, rees46, otto)")]
    UnknownFormat(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_line_field_and_message() {
        let with_field =
            FieldError::new("price", "must not be negative, got -1").within("items[0]");
        assert_eq!(
            with_field.at_line(12).to_string(),
            "line 12: items[0].price: must not be negative, got -1"
        );
        let whole = FieldError::whole("bad").within("batch[2]");
        assert_eq!(whole.at_line(3).to_string(), "line 3: batch[2]: bad");
        let indexed = FieldError::new("[1].id", "x").within("batch");
        assert_eq!(indexed.field.as_deref(), Some("batch[1].id"));
    }

    #[test]
    fn huge_quotes_are_shortened() {
        let rejection = FieldError::new("k".repeat(5_000), "é".repeat(5_000)).at_line(1);
        assert_eq!(
            rejection.field.unwrap().chars().count(),
            MAX_FIELD_CHARS + 1
        );
        assert_eq!(rejection.message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
