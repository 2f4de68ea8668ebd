//! Reads cartback's own decision log: newline-delimited JSON, one decision a line, as the
//! engine writes it (every decision records the probability with which its policy chose
//! the action):
//!
//! ```json
//! {"action": "reminder_email", "propensity": 0.25, "reward": 31.5}
//! {"action": 4, "propensity": 0.05, "reward": 0.0, "position": 0}
//! ```
//!
//! `action` is an [`ActionKind`](crate::actions::ActionKind) name or its index
//! (`ActionKind::ALL` order); `reward` is the outcome credited to the decision (net revenue
//! or a 0/1 recovery); `position` is optional (0 when absent). Other fields are ignored.

use super::error::OpeError;
use super::logged_feedback::{LoggedFeedback, LoggedRound};
use crate::actions::ActionKind;
use serde::Deserialize;
use serde_json::Value;
use std::io::BufRead;

#[derive(Deserialize)]
struct DecisionLine {
    action: Value,
    propensity: f64,
    reward: f64,
    #[serde(default)]
    position: usize,
}

/// Parses a decision log. Errors name the field and the line (counted from 1).
pub fn read_decision_log<R: BufRead>(reader: R) -> Result<LoggedFeedback, OpeError> {
    let mut rounds = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let text = line.map_err(|e| OpeError::File {
            what: "decision log".into(),
            message: format!("line {line_number}: {e}"),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let decision: DecisionLine = serde_json::from_str(&text).map_err(|e| {
            let message = e.to_string();
            let field = ["action", "propensity", "reward", "position"]
                .into_iter()
                .find(|f| message.contains(&format!("`{f}`")))
                .unwrap_or("(line)");
            OpeError::Field {
                line: line_number,
                field: field.to_string(),
                message,
            }
        })?;
        let action = match &decision.action {
            Value::String(name) => ActionKind::from_name(name)
                .ok_or_else(|| OpeError::Field {
                    line: line_number,
                    field: "action".into(),
                    message: format!("unknown action `{name}`"),
                })?
                .index(),
            Value::Number(number) => {
                number
                    .as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| OpeError::Field {
                        line: line_number,
                        field: "action".into(),
                        message: format!("`{number}` is not an action index"),
                    })?
            }
            other => {
                return Err(OpeError::Field {
                    line: line_number,
                    field: "action".into(),
                    message: format!("`{other}` is neither a name nor an index"),
                });
            }
        };
        if !(decision.propensity > 0.0 && decision.propensity <= 1.0) {
            return Err(OpeError::Field {
                line: line_number,
                field: "propensity".into(),
                message: format!("{} is not in (0, 1]", decision.propensity),
            });
        }
        rounds.push(LoggedRound {
            action,
            position: decision.position,
            reward: decision.reward,
            propensity: decision.propensity,
        });
    }
    LoggedFeedback::new(rounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_and_indices() {
        let text = "{\"action\": \"reminder_email\", \"propensity\": 0.25, \"reward\": 31.5}\n\n{\"action\": 4, \"propensity\": 0.05, \"reward\": 0, \"position\": 1, \"extra\": true}\n";
        let log = read_decision_log(text.as_bytes()).unwrap();
        assert_eq!(log.rounds()[0].action, ActionKind::ReminderEmail.index());
        assert_eq!(log.rounds()[0].reward, 31.5);
        assert_eq!(log.rounds()[1].action, 4);
        assert_eq!(log.rounds()[1].position, 1);
    }

    #[test]
    fn errors_name_field_and_line() {
        let text = "{\"action\": 1, \"propensity\": 0.5, \"reward\": 1}\n{\"action\": \"fax\", \"propensity\": 0.5, \"reward\": 1}\n";
        let err = read_decision_log(text.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: field `action`: unknown action `fax`"
        );
        let err = read_decision_log("{\"action\": 1, \"reward\": 1}".as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with("line 1: field `propensity`"),
            "{err}"
        );
        let err = read_decision_log("{\"action\": 1, \"propensity\": 2, \"reward\": 1}".as_bytes())
            .unwrap_err();
        assert!(err.to_string().contains("not in (0, 1]"), "{err}");
    }
}
