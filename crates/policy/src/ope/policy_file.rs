//! Reads the evaluation policy and the reward model from JSON files.
//!
//! Both are tables named by a field of a JSON object, so one file can hold both (like the
//! obp reference file `obp_reference_all.json`):
//! - `evaluation_action_dist`: probabilities `[action][position]` shared by every round, or
//!   `[round][action][position]` one block per logged round;
//! - `reward_model_table`: expected rewards in the same two shapes.
//!
//! A policy with a single slot writes `[[p0], [p1], …]` (one position).

use super::error::OpeError;
use super::tables::{ActionTable, EvaluationPolicy, RewardModel};
use serde_json::Value;

/// Reads `evaluation_action_dist` from a JSON document.
pub fn read_evaluation_policy(json: &str) -> Result<EvaluationPolicy, OpeError> {
    EvaluationPolicy::new(read_table(json, "evaluation_action_dist")?)
}

/// Reads `reward_model_table` from a JSON document.
pub fn read_reward_model(json: &str) -> Result<RewardModel, OpeError> {
    Ok(RewardModel::new(read_table(json, "reward_model_table")?))
}

fn read_table(json: &str, field: &str) -> Result<ActionTable, OpeError> {
    let document: Value = serde_json::from_str(json).map_err(|e| OpeError::File {
        what: format!("JSON file with `{field}`"),
        message: e.to_string(),
    })?;
    let value = document.get(field).ok_or_else(|| OpeError::Table {
        field: field.to_string(),
        message: "missing from the file".into(),
    })?;
    let depth = nesting_depth(value);
    match depth {
        2 => ActionTable::shared(field, matrix(field, value)?),
        3 => {
            let rounds = value
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(round, block)| matrix(&format!("{field}[{round}]"), block))
                .collect::<Result<Vec<_>, _>>()?;
            ActionTable::per_round(field, rounds)
        }
        _ => Err(OpeError::Table {
            field: field.to_string(),
            message: format!(
                "must be an array [action][position] or [round][action][position] of numbers, found nesting depth {depth}"
            ),
        }),
    }
}

fn nesting_depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.first().map_or(0, nesting_depth),
        _ => 0,
    }
}

fn matrix(field: &str, value: &Value) -> Result<Vec<Vec<f64>>, OpeError> {
    let not_matrix = |message: String| OpeError::Table {
        field: field.to_string(),
        message,
    };
    value
        .as_array()
        .ok_or_else(|| not_matrix("is not an array".into()))?
        .iter()
        .enumerate()
        .map(|(action, row)| {
            row.as_array()
                .ok_or_else(|| not_matrix(format!("action {action} is not an array")))?
                .iter()
                .enumerate()
                .map(|(position, cell)| {
                    cell.as_f64().ok_or_else(|| {
                        not_matrix(format!(
                            "value at action {action}, position {position} is not a number"
                        ))
                    })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_serves_as_policy_and_reward_model() {
        let json = r#"{"evaluation_action_dist": [[0.25, 1.0], [0.75, 0.0]],
                       "reward_model_table": [[0.1, 0.2], [0.3, 0.4]]}"#;
        let policy = read_evaluation_policy(json).unwrap();
        let model = read_reward_model(json).unwrap();
        assert_eq!(policy.table().get(0, 1, 0), 0.75);
        assert_eq!(model.table().get(3, 1, 1), 0.4);
        assert_eq!(policy.table().n_rounds(), None);
    }

    #[test]
    fn per_round_tables_are_read_from_three_levels() {
        let json = r#"{"evaluation_action_dist": [[[1.0], [0.0]], [[0.5], [0.5]]]}"#;
        let policy = read_evaluation_policy(json).unwrap();
        assert_eq!(policy.table().n_rounds(), Some(2));
        assert_eq!(policy.table().get(1, 1, 0), 0.5);
    }

    #[test]
    fn errors_name_the_field() {
        let err = read_reward_model(r#"{"x": 1}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`reward_model_table`: missing from the file"
        );
        let err = read_reward_model(r#"{"reward_model_table": [[0.1, "a"]]}"#).unwrap_err();
        assert!(
            err.to_string().contains("position 1 is not a number"),
            "{err}"
        );
        let err = read_reward_model(r#"{"reward_model_table": [0.1]}"#).unwrap_err();
        assert!(err.to_string().contains("nesting depth 1"), "{err}");
        assert!(read_reward_model("{").is_err());
    }
}
