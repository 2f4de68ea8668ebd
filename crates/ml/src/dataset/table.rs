//! Reading a CSV file into typed columns: a column stays numeric while every non-empty cell
//! parses as a number, otherwise it becomes text (dictionary-encoded). Handles quoting and CRLF
//! line ends (via the `csv` crate) and keeps each row's line number for error messages.

use crate::error::{MlError, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One column of a [`CsvTable`].
#[derive(Debug, Clone, PartialEq)]
pub enum RawColumn {
    /// Every non-empty cell parsed as a number; empty cells are `NaN`.
    Numeric(Vec<f64>),
    /// At least one cell was not a number (or the caller asked for text). `codes[row]` indexes
    /// `dictionary`; an empty cell is the empty string.
    Text {
        codes: Vec<u32>,
        dictionary: Vec<String>,
    },
}

/// A CSV file held as typed columns.
#[derive(Debug, Clone)]
pub struct CsvTable {
    headers: Vec<String>,
    columns: Vec<RawColumn>,
    line_numbers: Vec<u64>,
}

/// Normalises a text cell so that `1`, `1.0` and `01` name the same category when the
/// cell is a number, while other strings are kept as they are (trimmed).
pub fn category_key(cell: &str) -> String {
    let trimmed = cell.trim();
    match trimmed.parse::<f64>() {
        Ok(number) if number.is_finite() => format!("{number}"),
        _ => trimmed.to_string(),
    }
}

fn parse_number(cell: &str) -> Option<f64> {
    let trimmed = cell.trim();
    if trimmed.is_empty() {
        return Some(f64::NAN);
    }
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
}

enum ColumnBuilder {
    Numeric(Vec<f64>),
    Text {
        codes: Vec<u32>,
        dictionary: Vec<String>,
        index: HashMap<String, u32>,
    },
}

impl ColumnBuilder {
    fn push_text(
        codes: &mut Vec<u32>,
        dictionary: &mut Vec<String>,
        index: &mut HashMap<String, u32>,
        key: String,
    ) {
        let next = dictionary.len() as u32;
        let code = *index.entry(key.clone()).or_insert_with(|| {
            dictionary.push(key);
            next
        });
        codes.push(code);
    }

    fn push(&mut self, cell: &str) {
        match self {
            ColumnBuilder::Numeric(values) => match parse_number(cell) {
                Some(value) => values.push(value),
                None => {
                    let mut codes = Vec::with_capacity(values.capacity());
                    let mut dictionary = Vec::new();
                    let mut index = HashMap::new();
                    for value in values.iter() {
                        let key = if value.is_nan() {
                            String::new()
                        } else {
                            format!("{value}")
                        };
                        Self::push_text(&mut codes, &mut dictionary, &mut index, key);
                    }
                    Self::push_text(&mut codes, &mut dictionary, &mut index, category_key(cell));
                    *self = ColumnBuilder::Text {
                        codes,
                        dictionary,
                        index,
                    };
                }
            },
            ColumnBuilder::Text {
                codes,
                dictionary,
                index,
            } => Self::push_text(codes, dictionary, index, category_key(cell)),
        }
    }

    fn finish(self) -> RawColumn {
        match self {
            ColumnBuilder::Numeric(values) => RawColumn::Numeric(values),
            ColumnBuilder::Text {
                codes, dictionary, ..
            } => RawColumn::Text { codes, dictionary },
        }
    }
}

impl CsvTable {
    /// Reads a CSV file with a header row. Columns named in `text_columns` are kept as text
    /// even when every cell is a number (integer-coded categories such as a region id).
    pub fn from_path(path: &Path, text_columns: &[String]) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| MlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(
            std::io::BufReader::with_capacity(1 << 20, file),
            path,
            text_columns,
        )
    }

    /// Reads CSV from any reader; `source_name` is used in error messages.
    pub fn from_reader<R: std::io::Read>(
        reader: R,
        source_name: &Path,
        text_columns: &[String],
    ) -> Result<Self> {
        let csv_error = |error: csv::Error| {
            let line = error
                .position()
                .map(|position| position.line())
                .unwrap_or(0);
            MlError::Csv {
                path: source_name.to_path_buf(),
                line,
                message: error.to_string(),
            }
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers: Vec<String> = reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(|header| header.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let mut seen = HashSet::new();
        for header in &headers {
            if header.is_empty() {
                return Err(MlError::InvalidData(format!(
                    "{}: an empty column name in the header",
                    source_name.display()
                )));
            }
            if !seen.insert(header.as_str()) {
                return Err(MlError::InvalidData(format!(
                    "{}: column `{header}` appears twice in the header",
                    source_name.display()
                )));
            }
        }
        for wanted in text_columns {
            if !seen.contains(wanted.as_str()) {
                return Err(MlError::MissingColumn {
                    column: wanted.clone(),
                    context: format!(" from {} (named as categorical)", source_name.display()),
                });
            }
        }
        let mut builders: Vec<ColumnBuilder> = headers
            .iter()
            .map(|header| {
                if text_columns.contains(header) {
                    ColumnBuilder::Text {
                        codes: Vec::new(),
                        dictionary: Vec::new(),
                        index: HashMap::new(),
                    }
                } else {
                    ColumnBuilder::Numeric(Vec::new())
                }
            })
            .collect();
        let mut line_numbers = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            let more = reader.read_record(&mut record).map_err(|error| {
                // As below: never report a line before "header + rows read + 1".
                let counted = line_numbers.len() as u64 + 2;
                match csv_error(error) {
                    MlError::Csv {
                        path,
                        line,
                        message,
                    } => MlError::Csv {
                        path,
                        line: line.max(counted),
                        message,
                    },
                    other => other,
                }
            })?;
            if !more {
                break;
            }
            // The csv crate reports a CRLF file's lines one low (the '\n' of the previous
            // record is counted late), so take at least "header + rows so far + 1".
            let counted = line_numbers.len() as u64 + 2;
            let line = record
                .position()
                .map_or(counted, |position| position.line().max(counted));
            if record.len() == 1 && record[0].trim().is_empty() && headers.len() > 1 {
                continue;
            }
            for (builder, cell) in builders.iter_mut().zip(record.iter()) {
                builder.push(cell);
            }
            line_numbers.push(line);
        }
        Ok(Self {
            headers,
            columns: builders.into_iter().map(ColumnBuilder::finish).collect(),
            line_numbers,
        })
    }

    /// Reads only the header row of a CSV file.
    pub fn read_headers(path: &Path) -> Result<Vec<String>> {
        let file = std::fs::File::open(path).map_err(|source| MlError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(file);
        let headers = reader.headers().map_err(|error| MlError::Csv {
            path: path.to_path_buf(),
            line: 1,
            message: error.to_string(),
        })?;
        Ok(headers
            .iter()
            .map(|header| header.trim().trim_start_matches('\u{feff}').to_string())
            .collect())
    }

    /// Builds a table from columns already in memory (tests, generated data).
    pub fn from_columns(headers: Vec<String>, columns: Vec<RawColumn>) -> Result<Self> {
        if headers.len() != columns.len() {
            return Err(MlError::InvalidData(format!(
                "{} headers for {} columns",
                headers.len(),
                columns.len()
            )));
        }
        let rows = columns.first().map(RawColumn::len).unwrap_or(0);
        if let Some(position) = columns.iter().position(|column| column.len() != rows) {
            return Err(MlError::InvalidData(format!(
                "column `{}` has {} rows, the first column {rows}",
                headers[position],
                columns[position].len()
            )));
        }
        Ok(Self {
            headers,
            columns,
            line_numbers: (0..rows as u64).map(|row| row + 2).collect(),
        })
    }

    /// The column names in file order.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.line_numbers.len()
    }

    /// The file line of data row `row` (the header is line 1).
    pub fn line_of(&self, row: usize) -> u64 {
        self.line_numbers[row]
    }

    /// The column called `name`, if present.
    pub fn column(&self, name: &str) -> Option<&RawColumn> {
        self.headers
            .iter()
            .position(|header| header == name)
            .map(|index| &self.columns[index])
    }

    /// The column called `name`, or an error naming it.
    pub fn require_column(&self, name: &str, context: &str) -> Result<&RawColumn> {
        self.column(name).ok_or_else(|| MlError::MissingColumn {
            column: name.to_string(),
            context: context.to_string(),
        })
    }

    /// Reads the label column as 0/1: accepts true/false, yes/no, 1/0 (any case).
    pub fn binary_labels(&self, label: &str) -> Result<Vec<f64>> {
        let column = self.require_column(label, " (the label column)")?;
        let parse = |value: &str| -> Option<f64> {
            match value.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "1.0" => Some(1.0),
                "false" | "no" | "0" | "0.0" => Some(0.0),
                _ => None,
            }
        };
        let bad = |row: usize, value: String| MlError::BadValue {
            column: label.to_string(),
            line: self.line_of(row),
            value,
            message: "a label must be true/false, yes/no or 1/0".to_string(),
        };
        match column {
            RawColumn::Numeric(values) => values
                .iter()
                .enumerate()
                .map(|(row, &value)| {
                    if value == 0.0 || value == 1.0 {
                        Ok(value)
                    } else {
                        Err(bad(
                            row,
                            if value.is_nan() {
                                String::new()
                            } else {
                                value.to_string()
                            },
                        ))
                    }
                })
                .collect(),
            RawColumn::Text { codes, dictionary } => {
                let decoded: Vec<Option<f64>> =
                    dictionary.iter().map(|value| parse(value)).collect();
                codes
                    .iter()
                    .enumerate()
                    .map(|(row, &code)| {
                        decoded[code as usize]
                            .ok_or_else(|| bad(row, dictionary[code as usize].clone()))
                    })
                    .collect()
            }
        }
    }

    /// Values to order rows by time: numbers as they are, text (ISO 8601 timestamps sort
    /// correctly as text) by rank of the sorted distinct strings.
    pub fn ordering_values(&self, column_name: &str) -> Result<Vec<f64>> {
        let column = self.require_column(column_name, " (the time column)")?;
        match column {
            RawColumn::Numeric(values) => {
                if let Some(row) = values.iter().position(|value| value.is_nan()) {
                    return Err(MlError::BadValue {
                        column: column_name.to_string(),
                        line: self.line_of(row),
                        value: String::new(),
                        message: "the time column must not be empty".to_string(),
                    });
                }
                Ok(values.clone())
            }
            RawColumn::Text { codes, dictionary } => {
                let mut order: Vec<usize> = (0..dictionary.len()).collect();
                order.sort_by(|&a, &b| dictionary[a].cmp(&dictionary[b]));
                let mut rank = vec![0.0; dictionary.len()];
                for (position, &code) in order.iter().enumerate() {
                    rank[code] = position as f64;
                }
                if let Some(row) = codes
                    .iter()
                    .position(|&code| dictionary[code as usize].is_empty())
                {
                    return Err(MlError::BadValue {
                        column: column_name.to_string(),
                        line: self.line_of(row),
                        value: String::new(),
                        message: "the time column must not be empty".to_string(),
                    });
                }
                Ok(codes.iter().map(|&code| rank[code as usize]).collect())
            }
        }
    }
}

impl RawColumn {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            RawColumn::Numeric(values) => values.len(),
            RawColumn::Text { codes, .. } => codes.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, text_columns: &[&str]) -> CsvTable {
        let names: Vec<String> = text_columns.iter().map(|name| name.to_string()).collect();
        CsvTable::from_reader(text.as_bytes(), Path::new("test.csv"), &names).unwrap()
    }

    #[test]
    fn reads_crlf_and_types_columns() {
        let table = read("a,b,Revenue\r\n1,x,TRUE\r\n2.5,y,FALSE\r\n,x,true\r\n", &[]);
        assert_eq!(table.n_rows(), 3);
        match table.column("a").unwrap() {
            RawColumn::Numeric(values) => {
                assert_eq!(values[..2], [1.0, 2.5]);
                assert!(values[2].is_nan());
            }
            other => panic!("expected numeric, got {other:?}"),
        }
        match table.column("b").unwrap() {
            RawColumn::Text { codes, dictionary } => {
                assert_eq!(dictionary, &["x", "y"]);
                assert_eq!(codes, &[0, 1, 0]);
            }
            other => panic!("expected text, got {other:?}"),
        }
        assert_eq!(table.binary_labels("Revenue").unwrap(), vec![1.0, 0.0, 1.0]);
        assert_eq!((table.line_of(0), table.line_of(2)), (2, 4));
    }

    #[test]
    fn a_late_non_number_turns_the_column_into_text() {
        let table = read("a\n1\n2\nthree\n", &[]);
        match table.column("a").unwrap() {
            RawColumn::Text { dictionary, codes } => {
                assert_eq!(dictionary, &["1", "2", "three"]);
                assert_eq!(codes, &[0, 1, 2]);
            }
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn named_text_columns_stay_text_and_numbers_share_keys() {
        let table = read("region\n1\n1.0\n2\n", &["region"]);
        match table.column("region").unwrap() {
            RawColumn::Text { dictionary, codes } => {
                assert_eq!(dictionary, &["1", "2"]);
                assert_eq!(codes, &[0, 0, 1]);
            }
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn bad_label_names_column_and_line() {
        let table = read("x,y\n1,TRUE\n2,maybe\n", &[]);
        let error = table.binary_labels("y").unwrap_err().to_string();
        assert!(
            error.contains("`y`") && error.contains("line 3") && error.contains("maybe"),
            "{error}"
        );
        let missing = table.binary_labels("label").unwrap_err().to_string();
        assert!(missing.contains("`label` is missing"), "{missing}");
    }

    #[test]
    fn a_short_row_names_its_line_in_a_crlf_file() {
        let names: Vec<String> = Vec::new();
        let error =
            CsvTable::from_reader("a,b\r\n1,2\r\n3\r\n".as_bytes(), Path::new("t.csv"), &names)
                .unwrap_err();
        assert!(error.to_string().contains("line 3"), "{error}");
    }

    #[test]
    fn duplicate_header_is_rejected() {
        let names: Vec<String> = Vec::new();
        let error =
            CsvTable::from_reader("a,a\n1,2\n".as_bytes(), Path::new("t.csv"), &names).unwrap_err();
        assert!(error.to_string().contains("appears twice"));
    }
}
