//! The randomised-experiment view of a table: which rows are treated, which are controls (rows
//! of any other arm are left out), their binary outcomes, and splits stratified by the four
//! (treatment, outcome) cells so that every side keeps the arms' sizes and response rates.

use crate::dataset::table::category_key;
use crate::dataset::{CsvTable, RawColumn, Split, seeded_rng};
use crate::error::{MlError, Result, invalid_parameter};
use rand::seq::SliceRandom;

/// The treated and control rows of an experiment table.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentData {
    /// The table rows (0-based data rows, header excluded) of the two arms, ascending.
    pub rows: Vec<usize>,
    /// Whether each kept row is treated (false: control).
    pub treated: Vec<bool>,
    /// The 0/1 outcome of each kept row.
    pub outcome: Vec<f64>,
}

/// Which columns and values define the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSpec {
    pub treatment_column: String,
    pub treated_value: String,
    pub control_value: String,
    pub outcome_column: String,
}

fn decode_binary(value: &str) -> Option<f64> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "1.0" => Some(1.0),
        "false" | "no" | "0" | "0.0" => Some(0.0),
        _ => None,
    }
}

impl ExperimentData {
    /// Picks the treated and control rows of `table` and reads their outcomes. Errors name
    /// the column and value: an unknown column, an arm without rows (listing the values the
    /// column holds), an outcome that is not 0/1, true/false or yes/no (with its line).
    pub fn from_table(table: &CsvTable, spec: &ExperimentSpec) -> Result<Self> {
        if spec.treatment_column == spec.outcome_column {
            return Err(invalid_parameter(
                "outcome",
                format!(
                    "the outcome column `{}` cannot also be the treatment column",
                    spec.outcome_column
                ),
            ));
        }
        let (treated_key, control_key) = (
            category_key(&spec.treated_value),
            category_key(&spec.control_value),
        );
        if treated_key == control_key {
            return Err(invalid_parameter(
                "control",
                format!(
                    "the treated and control values are both `{}`",
                    spec.treated_value
                ),
            ));
        }
        let treatment = table.require_column(&spec.treatment_column, " (the treatment column)")?;
        // The key of every row's treatment cell, compared as `category_key` normalises them.
        let keys: Vec<String> = match treatment {
            RawColumn::Numeric(values) => values
                .iter()
                .map(|value| {
                    if value.is_nan() {
                        String::new()
                    } else {
                        format!("{value}")
                    }
                })
                .collect(),
            RawColumn::Text { codes, dictionary } => codes
                .iter()
                .map(|&code| dictionary[code as usize].clone())
                .collect(),
        };
        let mut rows = Vec::new();
        let mut treated = Vec::new();
        for (row, key) in keys.iter().enumerate() {
            if *key == treated_key || *key == control_key {
                rows.push(row);
                treated.push(*key == treated_key);
            }
        }
        let treated_rows = treated.iter().filter(|&&flag| flag).count();
        for (count, value, role) in [
            (treated_rows, &spec.treated_value, "treated"),
            (rows.len() - treated_rows, &spec.control_value, "control"),
        ] {
            if count == 0 {
                let mut seen: Vec<&str> = keys.iter().map(String::as_str).collect();
                seen.sort_unstable();
                seen.dedup();
                let listed = seen.len().min(20);
                return Err(MlError::InvalidData(format!(
                    "no row has the {role} value `{value}` in column `{}` (its values: {}{})",
                    spec.treatment_column,
                    seen[..listed]
                        .iter()
                        .map(|value| format!("`{value}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if seen.len() > listed { ", …" } else { "" }
                )));
            }
        }
        let outcome_column = table.require_column(&spec.outcome_column, " (the outcome column)")?;
        let bad = |row: usize, value: String| MlError::BadValue {
            column: spec.outcome_column.clone(),
            line: table.line_of(row),
            value,
            message: "the outcome must be binary: 1/0, true/false or yes/no".to_string(),
        };
        let outcome = rows
            .iter()
            .map(|&row| match outcome_column {
                RawColumn::Numeric(values) => match values[row] {
                    value if value == 0.0 || value == 1.0 => Ok(value),
                    value if value.is_nan() => Err(bad(row, String::new())),
                    value => Err(bad(row, value.to_string())),
                },
                RawColumn::Text { codes, dictionary } => {
                    let value = &dictionary[codes[row] as usize];
                    decode_binary(value).ok_or_else(|| bad(row, value.clone()))
                }
            })
            .collect::<Result<Vec<f64>>>()?;
        Ok(Self {
            rows,
            treated,
            outcome,
        })
    }

    /// The stratum of every kept row: 2·treated + outcome (0 control non-responder, 1 control
    /// responder, 2 treated non-responder, 3 treated responder).
    pub fn strata(&self) -> Vec<usize> {
        self.treated
            .iter()
            .zip(&self.outcome)
            .map(|(&treated, &outcome)| 2 * usize::from(treated) + usize::from(outcome >= 0.5))
            .collect()
    }
}

/// The positions of each stratum (0..n_strata), each shuffled by one generator seeded with
/// `seed`, strata in ascending order.
fn shuffled_strata(strata: &[usize], seed: u64) -> Vec<Vec<usize>> {
    let n_strata = strata.iter().copied().max().map_or(0, |max| max + 1);
    let mut members = vec![Vec::new(); n_strata];
    for (position, &stratum) in strata.iter().enumerate() {
        members[stratum].push(position);
    }
    let mut rng = seeded_rng(seed);
    for group in &mut members {
        group.shuffle(&mut rng);
    }
    members
}

/// A hold-out stratified by `strata`: the positions of each stratum (in ascending order) are
/// shuffled (Fisher–Yates, one Xoshiro256++ generator seeded with `seed`, strata taken in
/// ascending order) and the first round(n × `test_fraction`) of each go to the test side.
/// Returns positions into `strata`, both sides sorted.
pub fn stratified_holdout_by(strata: &[usize], test_fraction: f64, seed: u64) -> Result<Split> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(invalid_parameter(
            "test_fraction",
            format!("must be strictly between 0 and 1, got {test_fraction}"),
        ));
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for group in shuffled_strata(strata, seed) {
        let n_test = ((group.len() as f64) * test_fraction).round() as usize;
        test.extend_from_slice(&group[..n_test]);
        train.extend_from_slice(&group[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    if train.is_empty() || test.is_empty() {
        return Err(invalid_parameter(
            "test_fraction",
            "leaves one side of the split empty",
        ));
    }
    Ok(Split { train, test })
}

/// The fold (0..folds) of every position: each stratum is shuffled as in
/// [`stratified_holdout_by`] and dealt round-robin, continuing the count across strata, so
/// every fold holds each stratum's share within one row.
pub fn stratified_folds_by(strata: &[usize], folds: usize, seed: u64) -> Result<Vec<usize>> {
    if folds < 2 {
        return Err(invalid_parameter(
            "folds",
            format!("needs at least 2 folds, got {folds}"),
        ));
    }
    if strata.len() < folds {
        return Err(invalid_parameter(
            "folds",
            format!(
                "{folds} folds need at least {folds} rows, got {}",
                strata.len()
            ),
        ));
    }
    let mut fold_of = vec![0; strata.len()];
    let mut dealt = 0;
    for group in shuffled_strata(strata, seed) {
        for position in group {
            fold_of[position] = dealt % folds;
            dealt += 1;
        }
    }
    Ok(fold_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn table(text: &str) -> CsvTable {
        CsvTable::from_reader(text.as_bytes(), Path::new("t.csv"), &[]).unwrap()
    }

    fn spec(treatment: &str, treated: &str, control: &str, outcome: &str) -> ExperimentSpec {
        ExperimentSpec {
            treatment_column: treatment.into(),
            treated_value: treated.into(),
            control_value: control.into(),
            outcome_column: outcome.into(),
        }
    }

    #[test]
    fn keeps_the_two_arms_and_reads_outcomes() {
        let data = table("x,arm,visit\n1,A,1\n2,B,0\n3,C,yes\n4,A,false\n5,B,TRUE\n");
        let experiment =
            ExperimentData::from_table(&data, &spec("arm", "A", "B", "visit")).unwrap();
        assert_eq!(experiment.rows, vec![0, 1, 3, 4]);
        assert_eq!(experiment.treated, vec![true, false, true, false]);
        assert_eq!(experiment.outcome, vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(experiment.strata(), vec![3, 0, 2, 1]);
        // A numeric treatment column matches "1" and "1.0" alike.
        let numeric = table("t,y\n1,0\n0,1\n1.0,1\n2,0\n");
        let experiment = ExperimentData::from_table(&numeric, &spec("t", "1.0", "0", "y")).unwrap();
        assert_eq!(experiment.rows, vec![0, 1, 2]);
        assert_eq!(experiment.treated, vec![true, false, true]);
    }

    #[test]
    fn errors_name_the_column_and_value() {
        let data = table("arm,visit,spend\nA,1,3\nB,0,4\nC,2,5\n");
        let missing = ExperimentData::from_table(&data, &spec("group", "A", "B", "visit"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("`group`") && missing.contains("treatment"),
            "{missing}"
        );
        let no_rows = ExperimentData::from_table(&data, &spec("arm", "Z", "B", "visit"))
            .unwrap_err()
            .to_string();
        assert!(
            no_rows.contains("treated value `Z`") && no_rows.contains("`A`, `B`, `C`"),
            "{no_rows}"
        );
        let no_control = ExperimentData::from_table(&data, &spec("arm", "A", "Q", "visit"))
            .unwrap_err()
            .to_string();
        assert!(no_control.contains("control value `Q`"), "{no_control}");
        let not_binary = ExperimentData::from_table(&data, &spec("arm", "A", "B", "spend"))
            .unwrap_err()
            .to_string();
        assert!(
            not_binary.contains("`spend`")
                && not_binary.contains("line 2")
                && not_binary.contains("`3`"),
            "{not_binary}"
        );
        // Row C has outcome 2, but it is in neither arm: it is left out, not an error.
        assert!(ExperimentData::from_table(&data, &spec("arm", "A", "B", "visit")).is_ok());
        let same = ExperimentData::from_table(&data, &spec("arm", "A", "A", "visit"))
            .unwrap_err()
            .to_string();
        assert!(same.contains("both `A`"), "{same}");
        let outcome_is_treatment = ExperimentData::from_table(&data, &spec("arm", "A", "B", "arm"))
            .unwrap_err()
            .to_string();
        assert!(
            outcome_is_treatment.contains("cannot also be"),
            "{outcome_is_treatment}"
        );
    }

    #[test]
    fn splits_keep_every_stratum_share_and_are_seeded() {
        let strata: Vec<usize> = (0..1_000)
            .map(|row| [0, 0, 0, 1, 2, 2, 2, 3, 0, 2][row % 10])
            .collect();
        let split = stratified_holdout_by(&strata, 0.5, 42).unwrap();
        assert_eq!(split.test.len() + split.train.len(), 1_000);
        for stratum in 0..4 {
            let total = strata.iter().filter(|&&s| s == stratum).count();
            let in_test = split.test.iter().filter(|&&p| strata[p] == stratum).count();
            assert_eq!(
                in_test,
                ((total as f64) * 0.5).round() as usize,
                "stratum {stratum}"
            );
        }
        assert_eq!(split, stratified_holdout_by(&strata, 0.5, 42).unwrap());
        assert_ne!(split, stratified_holdout_by(&strata, 0.5, 43).unwrap());
        assert!(stratified_holdout_by(&strata, 1.0, 42).is_err());

        let folds = stratified_folds_by(&strata, 5, 7).unwrap();
        for fold in 0..5 {
            for stratum in 0..4 {
                let total = strata.iter().filter(|&&s| s == stratum).count();
                let count = (0..1_000)
                    .filter(|&p| folds[p] == fold && strata[p] == stratum)
                    .count();
                assert!(
                    count.abs_diff(total / 5) <= 1,
                    "fold {fold} stratum {stratum}: {count}"
                );
            }
        }
        assert!(stratified_folds_by(&strata, 1, 7).is_err());
    }
}
