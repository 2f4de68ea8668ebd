//! The feature schema: which input columns a model uses and how each becomes model inputs
//! (numeric: standardised with the training mean and deviation, missing → mean; boolean: one
//! 0/1 input; categorical: one-hot, a category unseen in training → all zeros). It is fitted on
//! training rows only, saved inside the model file and re-applied to any table at scoring time.

use super::table::{CsvTable, RawColumn};
use crate::error::{MlError, Result};
use serde::{Deserialize, Serialize};

/// How one input column becomes model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnEncoding {
    /// `(x - mean) / std`; a missing cell becomes 0 (the mean).
    Numeric { mean: f64, std: f64 },
    /// true → 1, false → 0, missing → 0.
    Boolean,
    /// One input per category seen in training; unseen or missing → all zeros.
    Categorical { categories: Vec<String> },
}

/// One input column and its encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub encoding: ColumnEncoding,
}

/// All input columns of a model, in the order of its inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSchema {
    pub label: String,
    pub columns: Vec<ColumnSpec>,
}

/// Dense row-major matrix of encoded features.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub values: Vec<f64>,
}

impl FeatureMatrix {
    /// A matrix from row-major values; checks the length.
    pub fn new(n_rows: usize, n_cols: usize, values: Vec<f64>) -> Result<Self> {
        if values.len() != n_rows * n_cols {
            return Err(MlError::InvalidData(format!(
                "{} values for a {n_rows} × {n_cols} matrix",
                values.len()
            )));
        }
        Ok(Self {
            n_rows,
            n_cols,
            values,
        })
    }

    /// Row `row` as a slice.
    pub fn row(&self, row: usize) -> &[f64] {
        &self.values[row * self.n_cols..(row + 1) * self.n_cols]
    }

    /// A new matrix holding the given rows, in that order.
    pub fn select_rows(&self, rows: &[usize]) -> Self {
        let mut values = Vec::with_capacity(rows.len() * self.n_cols);
        for &row in rows {
            values.extend_from_slice(self.row(row));
        }
        Self {
            n_rows: rows.len(),
            n_cols: self.n_cols,
            values,
        }
    }
}

fn is_boolean_word(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

impl FeatureSchema {
    /// Fits the schema on `rows` of `table`: every column except the label and `excluded`
    /// becomes an input. Text columns whose values are only true/false become boolean.
    pub fn fit(table: &CsvTable, label: &str, excluded: &[String], rows: &[usize]) -> Result<Self> {
        table.require_column(label, " (the label column)")?;
        for name in excluded {
            table.require_column(name, " (named to be left out)")?;
        }
        if rows.is_empty() {
            return Err(MlError::InvalidData(
                "no rows to fit the feature schema on".to_string(),
            ));
        }
        let mut columns = Vec::new();
        for name in table.headers() {
            if name == label || excluded.contains(name) {
                continue;
            }
            let encoding = match table.column(name).expect("header names a column") {
                RawColumn::Numeric(values) => {
                    let present: Vec<f64> = rows
                        .iter()
                        .map(|&row| values[row])
                        .filter(|value| !value.is_nan())
                        .collect();
                    let count = present.len() as f64;
                    let mean = if present.is_empty() {
                        0.0
                    } else {
                        present.iter().sum::<f64>() / count
                    };
                    let variance = if present.is_empty() {
                        0.0
                    } else {
                        present
                            .iter()
                            .map(|value| (value - mean).powi(2))
                            .sum::<f64>()
                            / count
                    };
                    let std = variance.sqrt();
                    ColumnEncoding::Numeric {
                        mean,
                        std: if std > 1e-12 { std } else { 1.0 },
                    }
                }
                RawColumn::Text { codes, dictionary } => {
                    let mut seen = vec![false; dictionary.len()];
                    for &row in rows {
                        seen[codes[row] as usize] = true;
                    }
                    let mut categories: Vec<String> = dictionary
                        .iter()
                        .zip(&seen)
                        .filter(|(value, seen)| **seen && !value.is_empty())
                        .map(|(value, _)| value.clone())
                        .collect();
                    if !categories.is_empty()
                        && categories
                            .iter()
                            .all(|value| is_boolean_word(value).is_some())
                    {
                        ColumnEncoding::Boolean
                    } else {
                        categories.sort();
                        ColumnEncoding::Categorical { categories }
                    }
                }
            };
            columns.push(ColumnSpec {
                name: name.clone(),
                encoding,
            });
        }
        if columns.is_empty() {
            return Err(MlError::InvalidData(
                "no feature columns besides the label".to_string(),
            ));
        }
        Ok(Self {
            label: label.to_string(),
            columns,
        })
    }

    /// Names of the encoded inputs: `col` for numeric and boolean, `col=category` for one-hot.
    pub fn input_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for column in &self.columns {
            match &column.encoding {
                ColumnEncoding::Numeric { .. } | ColumnEncoding::Boolean => {
                    names.push(column.name.clone())
                }
                ColumnEncoding::Categorical { categories } => names.extend(
                    categories
                        .iter()
                        .map(|category| format!("{}={category}", column.name)),
                ),
            }
        }
        names
    }

    /// For every encoded input, the index of the schema column it comes from.
    pub fn input_sources(&self) -> Vec<usize> {
        let mut sources = Vec::new();
        for (index, column) in self.columns.iter().enumerate() {
            let width = match &column.encoding {
                ColumnEncoding::Categorical { categories } => categories.len(),
                _ => 1,
            };
            sources.extend(std::iter::repeat_n(index, width));
        }
        sources
    }

    /// Number of encoded inputs.
    pub fn n_inputs(&self) -> usize {
        self.input_sources().len()
    }

    /// Encodes every row of `table`. A missing column or a cell of the wrong type is an error
    /// naming the column (and line); unseen categories encode as all zeros.
    pub fn encode(&self, table: &CsvTable) -> Result<FeatureMatrix> {
        let rows: Vec<usize> = (0..table.n_rows()).collect();
        self.encode_rows(table, &rows)
    }

    /// Encodes the given rows of `table`, in that order.
    pub fn encode_rows(&self, table: &CsvTable, rows: &[usize]) -> Result<FeatureMatrix> {
        let n_cols = self.n_inputs();
        let mut values = vec![0.0; rows.len() * n_cols];
        let mut offset = 0;
        for spec in &self.columns {
            let column = table.require_column(&spec.name, " (the model was trained with it)")?;
            let bad = |row: usize, value: &str, message: &str| MlError::BadValue {
                column: spec.name.clone(),
                line: table.line_of(row),
                value: value.to_string(),
                message: message.to_string(),
            };
            match (&spec.encoding, column) {
                (ColumnEncoding::Numeric { mean, std }, RawColumn::Numeric(raw)) => {
                    for (out_row, &row) in rows.iter().enumerate() {
                        let value = raw[row];
                        values[out_row * n_cols + offset] = if value.is_nan() {
                            0.0
                        } else {
                            (value - mean) / std
                        };
                    }
                    offset += 1;
                }
                (ColumnEncoding::Numeric { .. }, RawColumn::Text { codes, dictionary }) => {
                    // The column became text because some cell is not a number: report the first.
                    let is_text = |code: u32| {
                        let value = &dictionary[code as usize];
                        !value.is_empty()
                            && value
                                .parse::<f64>()
                                .map_or(true, |number| !number.is_finite())
                    };
                    let row = (0..codes.len())
                        .find(|&row| is_text(codes[row]))
                        .unwrap_or(0);
                    let value = codes
                        .get(row)
                        .map(|&code| dictionary[code as usize].clone())
                        .unwrap_or_default();
                    return Err(bad(row, &value, "the model expects a number here"));
                }
                (ColumnEncoding::Boolean, column) => {
                    for (out_row, &row) in rows.iter().enumerate() {
                        let flag = match column {
                            RawColumn::Text { codes, dictionary } => {
                                let value = &dictionary[codes[row] as usize];
                                if value.is_empty() {
                                    false
                                } else {
                                    is_boolean_word(value).ok_or_else(|| {
                                        bad(row, value, "the model expects true or false here")
                                    })?
                                }
                            }
                            RawColumn::Numeric(raw) => match raw[row] {
                                value if value.is_nan() || value == 0.0 => false,
                                1.0 => true,
                                value => {
                                    return Err(bad(
                                        row,
                                        &value.to_string(),
                                        "the model expects true or false here",
                                    ));
                                }
                            },
                        };
                        values[out_row * n_cols + offset] = if flag { 1.0 } else { 0.0 };
                    }
                    offset += 1;
                }
                (ColumnEncoding::Categorical { categories }, column) => {
                    let position_of = |key: &str| {
                        categories
                            .binary_search_by(|category| category.as_str().cmp(key))
                            .ok()
                    };
                    match column {
                        RawColumn::Text { codes, dictionary } => {
                            let mapped: Vec<Option<usize>> =
                                dictionary.iter().map(|value| position_of(value)).collect();
                            for (out_row, &row) in rows.iter().enumerate() {
                                if let Some(position) = mapped[codes[row] as usize] {
                                    values[out_row * n_cols + offset + position] = 1.0;
                                }
                            }
                        }
                        RawColumn::Numeric(raw) => {
                            for (out_row, &row) in rows.iter().enumerate() {
                                let value = raw[row];
                                if value.is_nan() {
                                    continue;
                                }
                                if let Some(position) = position_of(&format!("{value}")) {
                                    values[out_row * n_cols + offset + position] = 1.0;
                                }
                            }
                        }
                    }
                    offset += categories.len();
                }
            }
        }
        FeatureMatrix::new(rows.len(), n_cols, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn table(text: &str) -> CsvTable {
        CsvTable::from_reader(text.as_bytes(), Path::new("t.csv"), &[]).unwrap()
    }

    #[test]
    fn standardises_one_hots_and_flags() {
        let train =
            table("amount,month,weekend,label\n1,Feb,TRUE,1\n3,Mar,FALSE,0\n,Feb,FALSE,0\n");
        let schema = FeatureSchema::fit(&train, "label", &[], &[0, 1, 2]).unwrap();
        assert_eq!(
            schema.input_names(),
            vec!["amount", "month=Feb", "month=Mar", "weekend"]
        );
        assert_eq!(
            schema.columns[0].encoding,
            ColumnEncoding::Numeric {
                mean: 2.0,
                std: 1.0
            }
        );
        let matrix = schema.encode(&train).unwrap();
        assert_eq!(matrix.row(0), &[-1.0, 1.0, 0.0, 1.0]);
        assert_eq!(matrix.row(1), &[1.0, 0.0, 1.0, 0.0]);
        assert_eq!(
            matrix.row(2),
            &[0.0, 1.0, 0.0, 0.0],
            "missing amount is the mean"
        );
    }

    #[test]
    fn unseen_category_encodes_as_zeros_and_schema_round_trips() {
        let train = table("month,label\nFeb,1\nMar,0\n");
        let schema = FeatureSchema::fit(&train, "label", &[], &[0, 1]).unwrap();
        let score = table("month\nDec\nMar\n");
        let matrix = schema.encode(&score).unwrap();
        assert_eq!(matrix.row(0), &[0.0, 0.0]);
        assert_eq!(matrix.row(1), &[0.0, 1.0]);
        let json = serde_json::to_string(&schema).unwrap();
        let back: FeatureSchema = serde_json::from_str(&json).unwrap();
        assert_eq!(back, schema);
    }

    #[test]
    fn missing_and_mistyped_columns_are_errors() {
        let train = table("amount,flag,label\n1,true,1\n2,false,0\n");
        let schema = FeatureSchema::fit(&train, "label", &[], &[0, 1]).unwrap();
        let missing = schema
            .encode(&table("flag\ntrue\n"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("`amount` is missing"), "{missing}");
        let mistyped = schema
            .encode(&table("amount,flag\n1,true\nlots,false\n"))
            .unwrap_err()
            .to_string();
        assert!(
            mistyped.contains("`amount`")
                && mistyped.contains("line 3")
                && mistyped.contains("lots"),
            "{mistyped}"
        );
        let bad_flag = schema
            .encode(&table("amount,flag\n1,perhaps\n"))
            .unwrap_err()
            .to_string();
        assert!(
            bad_flag.contains("`flag`") && bad_flag.contains("line 2"),
            "{bad_flag}"
        );
    }

    #[test]
    fn fit_uses_only_the_given_rows() {
        let train = table("x,c,label\n0,a,1\n10,b,0\n");
        let schema = FeatureSchema::fit(&train, "label", &[], &[0]).unwrap();
        assert_eq!(
            schema.columns[0].encoding,
            ColumnEncoding::Numeric {
                mean: 0.0,
                std: 1.0
            }
        );
        assert_eq!(
            schema.columns[1].encoding,
            ColumnEncoding::Categorical {
                categories: vec!["a".into()]
            }
        );
    }
}
