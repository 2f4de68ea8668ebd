//! The file and HTTP body formats cartback reads, with their command-line names.

use crate::rejection::IngestError;
use std::fmt;
use std::str::FromStr;

/// An input format that [`EventReader`](crate::EventReader) and
/// [`parse_json_payload`](crate::parse_json_payload) understand. Shopify webhooks are not
/// a stream format; they arrive one at a time through [`parse_shopify`](crate::parse_shopify).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// cartback's own NDJSON: one canonical event per line.
    Ndjson,
    /// Segment e-commerce spec v2 `track` calls, single or `{"batch": […]}`, one JSON
    /// document per line.
    Segment,
    /// REES46 e-commerce behaviour CSV with its header line.
    Rees46,
    /// OTTO RecSys JSONL: one session with its clicks, carts and orders per line.
    Otto,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Ndjson,
        Format::Segment,
        Format::Rees46,
        Format::Otto,
    ];

    /// The command-line name: `ndjson`, `segment`, `rees46` or `otto`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Segment => "segment",
            Format::Rees46 => "rees46",
            Format::Otto => "otto",
        }
    }
}

impl FromStr for Format {
    type Err = IngestError;
    fn from_str(s: &str) -> Result<Self, IngestError> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| IngestError::UnknownFormat(s.to_string()))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_command_line_names() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>().unwrap(), format);
            assert_eq!(format.to_string(), format.name());
        }
        assert_eq!("REES46".parse::<Format>().unwrap(), Format::Rees46);
        let err = "csv".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("unknown format `csv`"), "{err}");
    }
}
