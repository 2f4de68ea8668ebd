//! Tables indexed by (round, action, position): the evaluation policy's action
//! distribution and the reward model's estimates. A table is either shared by every round
//! (a context-free policy or model) or given round by round.

use super::error::OpeError;

/// Values per (action, position), the same for every round or one block per round.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionTable {
    n_actions: usize,
    n_positions: usize,
    /// `None` when one block serves every round.
    n_rounds: Option<usize>,
    /// Row-major: round, then action, then position.
    values: Vec<f64>,
}

impl ActionTable {
    /// One `[action][position]` table used for every round. `field` names the table in errors.
    pub fn shared(field: &str, rows: Vec<Vec<f64>>) -> Result<Self, OpeError> {
        let (n_actions, n_positions, values) = flatten_block(field, rows)?;
        Ok(ActionTable {
            n_actions,
            n_positions,
            n_rounds: None,
            values,
        })
    }

    /// One `[action][position]` table per round.
    pub fn per_round(field: &str, rounds: Vec<Vec<Vec<f64>>>) -> Result<Self, OpeError> {
        if rounds.is_empty() {
            return Err(table_error(field, "has no rounds"));
        }
        let n_rounds = rounds.len();
        let mut values = Vec::new();
        let mut shape = None;
        for (round, block) in rounds.into_iter().enumerate() {
            let (a, p, block_values) = flatten_block(&format!("{field}[{round}]"), block)?;
            match shape {
                None => shape = Some((a, p)),
                Some(s) if s != (a, p) => {
                    return Err(table_error(
                        field,
                        &format!("round {round} is {a}x{p} but round 0 is {}x{}", s.0, s.1),
                    ));
                }
                Some(_) => {}
            }
            values.extend(block_values);
        }
        let (n_actions, n_positions) = shape.unwrap_or((0, 0));
        Ok(ActionTable {
            n_actions,
            n_positions,
            n_rounds: Some(n_rounds),
            values,
        })
    }

    /// One `[action][position]` table per round, given flat (row-major: round, then action,
    /// then position): what [`per_round`](Self::per_round) builds, without a heap block per
    /// round and action.
    pub fn per_round_flat(
        field: &str,
        n_actions: usize,
        n_positions: usize,
        values: Vec<f64>,
    ) -> Result<Self, OpeError> {
        let block = n_actions * n_positions;
        if block == 0 {
            return Err(table_error(field, "has no actions or no positions"));
        }
        if values.is_empty() {
            return Err(table_error(field, "has no rounds"));
        }
        if !values.len().is_multiple_of(block) {
            return Err(table_error(
                field,
                &format!(
                    "has {} values, not a whole number of {n_actions}x{n_positions} rounds",
                    values.len()
                ),
            ));
        }
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            let (round, within) = (at / block, at % block);
            return Err(table_error(
                &format!("{field}[{round}]"),
                &format!(
                    "value at action {}, position {} is not finite",
                    within / n_positions,
                    within % n_positions
                ),
            ));
        }
        Ok(ActionTable {
            n_actions,
            n_positions,
            n_rounds: Some(values.len() / block),
            values,
        })
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    pub fn n_positions(&self) -> usize {
        self.n_positions
    }

    /// Number of rounds for a per-round table, `None` for a shared one.
    pub fn n_rounds(&self) -> Option<usize> {
        self.n_rounds
    }

    /// The value for `action` at `position` in `round`. Indices must be in range (checked
    /// once by [`OpeInput::new`](super::OpeInput::new)).
    #[inline]
    pub fn get(&self, round: usize, action: usize, position: usize) -> f64 {
        let block = if self.n_rounds.is_some() { round } else { 0 };
        self.values[(block * self.n_actions + action) * self.n_positions + position]
    }

    fn blocks(&self) -> usize {
        self.n_rounds.unwrap_or(1)
    }
}

fn table_error(field: &str, message: &str) -> OpeError {
    OpeError::Table {
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn flatten_block(field: &str, rows: Vec<Vec<f64>>) -> Result<(usize, usize, Vec<f64>), OpeError> {
    if rows.is_empty() {
        return Err(table_error(field, "has no actions"));
    }
    let n_positions = rows[0].len();
    if n_positions == 0 {
        return Err(table_error(field, "action 0 has no positions"));
    }
    let n_actions = rows.len();
    let mut values = Vec::with_capacity(n_actions * n_positions);
    for (action, row) in rows.into_iter().enumerate() {
        if row.len() != n_positions {
            return Err(table_error(
                field,
                &format!(
                    "action {action} has {} positions, action 0 has {n_positions}",
                    row.len()
                ),
            ));
        }
        for (position, value) in row.into_iter().enumerate() {
            if !value.is_finite() {
                return Err(table_error(
                    field,
                    &format!("value at action {action}, position {position} is not finite"),
                ));
            }
            values.push(value);
        }
    }
    Ok((n_actions, n_positions, values))
}

/// The evaluation policy: for every round and position, a probability distribution over
/// actions (`pi_e(action | round, position)`).
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationPolicy {
    table: ActionTable,
}

impl EvaluationPolicy {
    /// Checks that probabilities lie in `[0, 1]` and sum to 1 over actions for every round
    /// and position (within 1e-6, like numpy's `allclose`).
    pub fn new(table: ActionTable) -> Result<Self, OpeError> {
        for block in 0..table.blocks() {
            for position in 0..table.n_positions {
                let mut sum = 0.0;
                for action in 0..table.n_actions {
                    let p = table.get(block, action, position);
                    if !(0.0..=1.0).contains(&p) {
                        return Err(table_error(
                            "evaluation_action_dist",
                            &format!(
                                "probability {p} at round {block}, action {action}, position {position} is not in [0, 1]"
                            ),
                        ));
                    }
                    sum += p;
                }
                if (sum - 1.0).abs() > 1e-6 {
                    return Err(table_error(
                        "evaluation_action_dist",
                        &format!(
                            "probabilities at round {block}, position {position} sum to {sum}, not 1"
                        ),
                    ));
                }
            }
        }
        Ok(EvaluationPolicy { table })
    }

    pub fn table(&self) -> &ActionTable {
        &self.table
    }
}

/// The reward model: estimated expected reward `q(round, action, position)`.
#[derive(Clone, Debug, PartialEq)]
pub struct RewardModel {
    table: ActionTable,
}

impl RewardModel {
    pub fn new(table: ActionTable) -> Self {
        RewardModel { table }
    }

    pub fn table(&self) -> &ActionTable {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_per_round_table_is_the_nested_one() {
        let nested = ActionTable::per_round(
            "t",
            vec![vec![vec![0.1], vec![0.9]], vec![vec![0.6], vec![0.4]]],
        )
        .unwrap();
        let flat = ActionTable::per_round_flat("t", 2, 1, vec![0.1, 0.9, 0.6, 0.4]).unwrap();
        assert_eq!(flat, nested);
        let error = ActionTable::per_round_flat("t", 2, 1, vec![0.1, 0.9, 0.6, f64::NAN])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("t[1]") && error.contains("action 1, position 0"),
            "{error}"
        );
        assert!(ActionTable::per_round_flat("t", 2, 1, vec![0.1, 0.9, 0.6]).is_err());
    }

    #[test]
    fn shared_and_per_round_tables_index_the_same_way() {
        let shared = ActionTable::shared("t", vec![vec![0.1, 0.2], vec![0.9, 0.8]]).unwrap();
        assert_eq!(shared.get(7, 1, 0), 0.9);
        assert_eq!(shared.get(0, 0, 1), 0.2);
        let per_round = ActionTable::per_round(
            "t",
            vec![vec![vec![0.1], vec![0.9]], vec![vec![0.6], vec![0.4]]],
        )
        .unwrap();
        assert_eq!(per_round.get(1, 0, 0), 0.6);
        assert_eq!(per_round.get(0, 1, 0), 0.9);
        assert_eq!(per_round.n_rounds(), Some(2));
    }

    #[test]
    fn ragged_tables_and_bad_distributions_are_rejected() {
        let err = ActionTable::shared("q", vec![vec![0.1, 0.2], vec![0.9]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`q`: action 1 has 1 positions, action 0 has 2"
        );
        let table = ActionTable::shared("p", vec![vec![0.5], vec![0.6]]).unwrap();
        let err = EvaluationPolicy::new(table).unwrap_err();
        assert!(err.to_string().contains("sum to 1.1"), "{err}");
        let table = ActionTable::shared("p", vec![vec![-0.5], vec![1.5]]).unwrap();
        assert!(EvaluationPolicy::new(table).is_err());
        let table = ActionTable::shared("p", vec![vec![0.25], vec![0.75]]).unwrap();
        assert!(EvaluationPolicy::new(table).is_ok());
    }
}
