//! Reads the Open Bandit Dataset CSV (`item_id`, `position`, `click`, `propensity_score`
//! columns; positions numbered from 1) into a [`LoggedFeedback`]: action = item,
//! position = CSV position - 1, reward = click, propensity = propensity score.

use super::error::OpeError;
use super::logged_feedback::{LoggedFeedback, LoggedRound};
use std::io::Read;

/// Parses an OBD log. Errors name the field and the line (the header is line 1).
pub fn read_obd_csv<R: Read>(reader: R) -> Result<LoggedFeedback, OpeError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| OpeError::File {
            what: "OBD CSV header".into(),
            message: e.to_string(),
        })?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| OpeError::Field {
                line: 1,
                field: name.to_string(),
                message: "column missing from the header".into(),
            })
    };
    let item_column = column("item_id")?;
    let position_column = column("position")?;
    let click_column = column("click")?;
    let propensity_column = column("propensity_score")?;
    let mut rounds = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = csv.read_record(&mut record).map_err(|e| OpeError::File {
            what: "OBD CSV".into(),
            message: e.to_string(),
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |index: usize, name: &str| {
            record.get(index).ok_or_else(|| OpeError::Field {
                line,
                field: name.to_string(),
                message: "missing".into(),
            })
        };
        let parse_error = |name: &str, text: &str| OpeError::Field {
            line,
            field: name.to_string(),
            message: format!("`{text}` is not a number"),
        };
        let item_text = field(item_column, "item_id")?;
        let action: usize = item_text
            .trim()
            .parse()
            .map_err(|_| parse_error("item_id", item_text))?;
        let position_text = field(position_column, "position")?;
        let position: usize = position_text
            .trim()
            .parse()
            .map_err(|_| parse_error("position", position_text))?;
        if position == 0 {
            return Err(OpeError::Field {
                line,
                field: "position".into(),
                message: "positions are numbered from 1".into(),
            });
        }
        let click_text = field(click_column, "click")?;
        let reward: f64 = click_text
            .trim()
            .parse()
            .map_err(|_| parse_error("click", click_text))?;
        let propensity_text = field(propensity_column, "propensity_score")?;
        let propensity: f64 = propensity_text
            .trim()
            .parse()
            .map_err(|_| parse_error("propensity_score", propensity_text))?;
        if !(propensity > 0.0 && propensity <= 1.0) {
            return Err(OpeError::Field {
                line,
                field: "propensity_score".into(),
                message: format!("{propensity} is not in (0, 1]"),
            });
        }
        rounds.push(LoggedRound {
            action,
            position: position - 1,
            reward,
            propensity,
        });
    }
    LoggedFeedback::new(rounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = ",timestamp,item_id,position,click,propensity_score,user_feature_0\n";

    #[test]
    fn reads_rounds_with_zero_based_positions() {
        let text = format!(
            "{HEADER}0,2019-11-24 00:00:34+00:00,14,3,0,0.0125,ab\n1,2019-11-24 00:00:35+00:00,2,1,1,0.5,cd\n"
        );
        let log = read_obd_csv(text.as_bytes()).unwrap();
        assert_eq!(
            log.rounds(),
            &[
                LoggedRound {
                    action: 14,
                    position: 2,
                    reward: 0.0,
                    propensity: 0.0125
                },
                LoggedRound {
                    action: 2,
                    position: 0,
                    reward: 1.0,
                    propensity: 0.5
                }
            ]
        );
    }

    #[test]
    fn errors_name_field_and_line() {
        let text = format!("{HEADER}0,t,14,3,0,0.0125,ab\n1,t,x,1,1,0.5,cd\n");
        let err = read_obd_csv(text.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: field `item_id`: `x` is not a number"
        );
        let text = format!("{HEADER}0,t,14,0,0,0.0125,ab\n");
        let err = read_obd_csv(text.as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with("line 2: field `position`"),
            "{err}"
        );
        let text = format!("{HEADER}0,t,14,1,0,0,ab\n");
        let err = read_obd_csv(text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("propensity_score"), "{err}");
        let err = read_obd_csv("a,b\n1,2\n".as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: field `item_id`: column missing from the header"
        );
    }
}
