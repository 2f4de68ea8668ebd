//! Reading interaction logs: CSV interaction files (cartback's own columns, REES46 and
//! similar exports), basket-per-line files (the Groceries data) and canonical cart events
//! (from the event store). Every bad line is reported with its line number and field.

use crate::dataset::{EventWeights, InteractionKind, InteractionLog};
use crate::error::RecommendError;
use cartback_core::{Event, EventKind};
use std::path::Path;

/// The two file layouts `recommend train` and `recommend evaluate` read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// CSV with a header naming `user_id`, `item_id` and optionally `event_type` or
    /// `weight`, and `timestamp` or an order / basket column.
    Interactions,
    /// One basket a line, items comma-separated; each basket is its own user.
    Baskets,
}

impl std::str::FromStr for DataFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "interactions" => Ok(DataFormat::Interactions),
            "baskets" => Ok(DataFormat::Baskets),
            other => Err(format!(
                "unknown format `{other}` (expected interactions or baskets)"
            )),
        }
    }
}

/// Loads a file in the given format.
pub fn load(
    path: &Path,
    format: DataFormat,
    weights: &EventWeights,
) -> Result<InteractionLog, RecommendError> {
    match format {
        DataFormat::Interactions => load_interactions_csv(path, weights),
        DataFormat::Baskets => load_baskets(path),
    }
}

const USER_COLUMNS: &[&str] = &["user_id", "user", "customer_id", "visitor_id", "visitorid"];
const ITEM_COLUMNS: &[&str] = &["item_id", "product_id", "item", "aid", "sku", "itemid"];
const TYPE_COLUMNS: &[&str] = &["event_type", "type", "event"];
const WEIGHT_COLUMNS: &[&str] = &["weight", "count", "value"];
const TIME_COLUMNS: &[&str] = &["timestamp", "event_time", "time", "ts", "date"];
const BASKET_COLUMNS: &[&str] = &[
    "order_id",
    "order_number",
    "basket_id",
    "basket",
    "transaction_id",
    "user_session",
    "session_id",
    "session",
];

fn find_column(headers: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|name| {
        headers.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    })
}

/// Reads an interactions CSV. Rows with an event type that carries no preference
/// (`remove_from_cart`, …) are an error only when the type is unknown altogether.
pub fn load_interactions_csv(
    path: &Path,
    weights: &EventWeights,
) -> Result<InteractionLog, RecommendError> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|source| RecommendError::Csv {
            path: path.to_owned(),
            cause: source,
        })?;
    let headers = reader
        .headers()
        .map_err(|source| RecommendError::Csv {
            path: path.to_owned(),
            cause: source,
        })?
        .clone();
    let missing = |what: &str, names: &[&str]| RecommendError::BadInput {
        path: shown.clone(),
        reason: format!(
            "no {what} column in the header (looked for {})",
            names.join(", ")
        ),
    };
    let user_col =
        find_column(&headers, USER_COLUMNS).ok_or_else(|| missing("user", USER_COLUMNS))?;
    let item_col =
        find_column(&headers, ITEM_COLUMNS).ok_or_else(|| missing("item", ITEM_COLUMNS))?;
    let type_col = find_column(&headers, TYPE_COLUMNS);
    let weight_col = find_column(&headers, WEIGHT_COLUMNS);
    let time_col = find_column(&headers, TIME_COLUMNS);
    let basket_col = find_column(&headers, BASKET_COLUMNS);

    let mut log = InteractionLog::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(source) => {
                return Err(RecommendError::Csv {
                    path: path.to_owned(),
                    cause: source,
                });
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let bad = |field: usize, reason: String| RecommendError::BadRecord {
            path: shown.clone(),
            line,
            field: headers.get(field).unwrap_or("?").to_owned(),
            reason,
        };
        let field = |col: usize| -> Result<&str, RecommendError> {
            record
                .get(col)
                .map(str::trim)
                .ok_or_else(|| bad(col, "missing".into()))
        };
        let user = field(user_col)?;
        let item = field(item_col)?;
        if user.is_empty() {
            return Err(bad(user_col, "empty".into()));
        }
        if item.is_empty() {
            return Err(bad(item_col, "empty".into()));
        }
        let kind = match type_col {
            Some(col) => {
                let text = field(col)?;
                match text.parse::<InteractionKind>() {
                    Ok(kind) => kind,
                    Err(_) if is_neutral_event(text) => continue,
                    Err(reason) => return Err(bad(col, reason)),
                }
            }
            None => InteractionKind::Purchase,
        };
        let weight = match weight_col {
            Some(col) => {
                let text = field(col)?;
                let weight: f64 = text
                    .parse()
                    .map_err(|_| bad(col, format!("`{text}` is not a number")))?;
                if !weight.is_finite() || weight < 0.0 {
                    return Err(bad(col, format!("`{text}` must be a finite number ≥ 0")));
                }
                weight
            }
            None => weights.weight(kind),
        };
        if weight == 0.0 {
            continue;
        }
        let time =
            match time_col {
                Some(col) => {
                    let text = field(col)?;
                    Some(parse_time(text).ok_or_else(|| {
                        bad(col, format!("`{text}` is not a number or a date-time"))
                    })?)
                }
                None => None,
            };
        let basket = match basket_col {
            Some(col) => Some(field(col)?).filter(|b| !b.is_empty()),
            None => None,
        };
        log.push(user, item, weight, kind, time, basket);
    }
    if log.records.is_empty() {
        return Err(RecommendError::BadInput {
            path: shown,
            reason: "no interactions".into(),
        });
    }
    Ok(log)
}

/// Event types that exist in shop logs but say nothing about preference.
fn is_neutral_event(text: &str) -> bool {
    let key = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    matches!(
        key.as_str(),
        "remove_from_cart"
            | "product_removed"
            | "cart_viewed"
            | "checkout_started"
            | "order_cancelled"
            | "removefromcart"
    )
}

/// Parses an integer or decimal number (any monotone unit) or a date-time into milliseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    if let Ok(x) = text.parse::<f64>() {
        return x.is_finite().then_some((x * 1000.0) as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let naive = text.strip_suffix(" UTC").unwrap_or(text);
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(naive, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    chrono::NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Reads one basket a line, items comma-separated (CSV quoting allowed). Basket `n`
/// (counting from 1) becomes user `basket-n`; every item is a purchase of weight 1.
pub fn load_baskets(path: &Path) -> Result<InteractionLog, RecommendError> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|source| RecommendError::Csv {
            path: path.to_owned(),
            cause: source,
        })?;
    let mut log = InteractionLog::new();
    let mut record = csv::StringRecord::new();
    let mut basket_number = 0u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(source) => {
                return Err(RecommendError::Csv {
                    path: path.to_owned(),
                    cause: source,
                });
            }
        }
        let items: Vec<&str> = record
            .iter()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .collect();
        if items.is_empty() {
            continue;
        }
        basket_number += 1;
        let user = format!("basket-{basket_number}");
        let basket = basket_number.to_string();
        for item in items {
            log.push(
                &user,
                item,
                1.0,
                InteractionKind::Purchase,
                None,
                Some(&basket),
            );
        }
    }
    if log.records.is_empty() {
        return Err(RecommendError::BadInput {
            path: shown,
            reason: "no baskets".into(),
        });
    }
    Ok(log)
}

/// Turns canonical cart events into interactions: product views, cart adds and completed
/// orders (one per line item, weighted by `weights`); other events carry no preference.
/// The basket is the order id, else the cart id, else the session id.
#[derive(Debug, Default)]
pub struct EventInteractions {
    pub weights: EventWeights,
    pub log: InteractionLog,
}

impl EventInteractions {
    pub fn new(weights: EventWeights) -> Self {
        EventInteractions {
            weights,
            log: InteractionLog::new(),
        }
    }

    pub fn observe(&mut self, event: &Event) {
        let kind = match event.kind {
            EventKind::ProductViewed => InteractionKind::View,
            EventKind::ProductAdded => InteractionKind::Cart,
            EventKind::OrderCompleted => InteractionKind::Purchase,
            _ => return,
        };
        let weight = self.weights.weight(kind);
        if weight <= 0.0 || event.user_id.is_empty() {
            return;
        }
        let basket = event
            .order_id
            .as_deref()
            .or(event.cart_id.as_deref())
            .or(event.session_id.as_deref());
        for item in &event.items {
            self.log.push(
                &event.user_id,
                &item.id,
                weight,
                kind,
                Some(event.timestamp.0),
                basket,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_rees46_columns_with_type_weights() {
        let f = write(
            "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n\
             2019-10-01 00:00:00 UTC,view,1,9,,b,1.0,7,s1\n\
             2019-10-01 00:00:05 UTC,cart,1,9,,b,1.0,7,s1\n\
             2019-10-01 00:01:00 UTC,remove_from_cart,1,9,,b,1.0,7,s1\n\
             2019-10-01 00:02:00 UTC,purchase,2,9,,b,1.0,8,s2\n",
        );
        let log = load_interactions_csv(f.path(), &EventWeights::default()).unwrap();
        assert_eq!(log.records.len(), 3);
        assert_eq!(log.users.len(), 2);
        assert_eq!(log.records[1].weight, 4.0);
        assert_eq!(log.records[2].kind, InteractionKind::Purchase);
        assert_eq!(log.records[0].time, Some(1_569_888_000_000));
        assert!(log.has_baskets() && log.has_times());
    }

    #[test]
    fn bad_lines_name_line_and_field() {
        let f = write("user_id,item_id,weight\nu1,i1,1\nu2,i2,lots\n");
        let err = load_interactions_csv(f.path(), &EventWeights::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("`weight`"), "{err}");
        let f = write("customer,item_id\nu1,i1\n");
        let err = load_interactions_csv(f.path(), &EventWeights::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no user column"), "{err}");
        let f = write("user_id,item_id,event_type\nu1,i1,teleport\n");
        let err = load_interactions_csv(f.path(), &EventWeights::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("`event_type`"),
            "{err}"
        );
    }

    #[test]
    fn baskets_become_users() {
        let f = write("milk,bread\n\n\"rolls/buns\",milk, soda\n");
        let log = load_baskets(f.path()).unwrap();
        assert_eq!(log.users.len(), 2);
        assert_eq!(log.items.len(), 4);
        assert_eq!(log.records.len(), 5);
        assert_eq!(log.users.name(1), "basket-2");
    }

    #[test]
    fn event_weights_parse_and_reject() {
        let w = EventWeights::parse("view=0.5, purchase=10").unwrap();
        assert_eq!((w.view, w.cart, w.purchase), (0.5, 4.0, 10.0));
        assert!(EventWeights::parse("view=-1").is_err());
        assert!(EventWeights::parse("fly=1").is_err());
    }
}
