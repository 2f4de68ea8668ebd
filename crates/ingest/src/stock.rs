//! The body of `PUT /v1/stock`: the shop's stock levels,
//! `{"items": [{"item_id": "…", "available": N, "updated_at": "RFC 3339, optional"}]}`,
//! turned into [`StockLevel`]s with rejections that name the field and index
//! (`items[3].available: expected an integer, got 2.5`). Nothing is half-read: a body with
//! one bad item is refused whole, listing every bad field (up to [`MAX_STOCK_REJECTIONS`]).

use crate::json::{Object, describe, parse_document};
use crate::limits::ParseOptions;
use crate::rejection::{FieldError, Rejection};
use crate::timestamp::{check_range, parse_rfc3339};
use cartback_core::{StockLevel, Timestamp};
use serde_json::Value;

/// Most stock levels one body may carry.
pub const MAX_STOCK_ITEMS: usize = 10_000;
/// Most rejections listed for one refused body (the first ones, in item order).
pub const MAX_STOCK_REJECTIONS: usize = 100;

const ITEM_FIELDS: [&str; 3] = ["item_id", "available", "updated_at"];

/// Reads a stock body. An item without `updated_at` is stamped `options.now` (and refused
/// when the options have no clock). `updated_at` must lie between 2000-01-01 and
/// `options.max_future` after now, like an event's time. `available` is a whole number,
/// negative allowed (oversold). Unknown fields are refused (a typo would otherwise drop a
/// level silently). On failure returns at least one rejection, all on line 1.
pub fn parse_stock_levels(
    body: &[u8],
    options: &ParseOptions,
) -> Result<Vec<StockLevel>, Vec<Rejection>> {
    let one = |error: FieldError| vec![error.at_line(1)];
    options
        .validate()
        .map_err(|e| one(FieldError::whole(e.to_string())))?;
    let text = std::str::from_utf8(body).map_err(|e| {
        one(FieldError::whole(format!(
            "invalid UTF-8 at byte {}",
            e.valid_up_to() + 1
        )))
    })?;
    let document = parse_document(text).map_err(one)?;
    let Value::Object(map) = &document else {
        return Err(one(FieldError::whole(format!(
            "expected an object {{\"items\": [...]}}, got {}",
            describe(&document)
        ))));
    };
    if let Some(unknown) = map.keys().find(|k| k.as_str() != "items") {
        return Err(one(FieldError::new(
            unknown.clone(),
            "unknown field; expected `items`",
        )));
    }
    let body = Object::new(map, "");
    let items = body
        .array("items")
        .map_err(one)?
        .ok_or_else(|| one(FieldError::new("items", "is required")))?;
    if items.is_empty() {
        return Err(one(FieldError::new("items", "must list at least one item")));
    }
    if items.len() > MAX_STOCK_ITEMS {
        return Err(one(FieldError::new(
            "items",
            format!(
                "lists {} items; the limit is {MAX_STOCK_ITEMS} per request",
                items.len()
            ),
        )));
    }
    let mut levels = Vec::with_capacity(items.len());
    let mut rejections = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match stock_item(item, &format!("items[{index}]"), options) {
            Ok(level) => levels.push(level),
            Err(error) if rejections.len() < MAX_STOCK_REJECTIONS => {
                rejections.push(error.at_line(1));
            }
            Err(_) => {}
        }
    }
    if rejections.is_empty() {
        Ok(levels)
    } else {
        Err(rejections)
    }
}

/// One element of `items`, at `path`.
fn stock_item(item: &Value, path: &str, options: &ParseOptions) -> Result<StockLevel, FieldError> {
    let Value::Object(map) = item else {
        return Err(FieldError::new(
            path,
            format!("expected an object, got {}", describe(item)),
        ));
    };
    let item = Object::new(map, path);
    if let Some(unknown) = map.keys().find(|k| !ITEM_FIELDS.contains(&k.as_str())) {
        return Err(FieldError::new(
            item.field(unknown),
            "unknown field; expected item_id, available or updated_at",
        ));
    }
    let item_id = item
        .id("item_id")?
        .ok_or_else(|| FieldError::new(item.field("item_id"), "is required"))?;
    let available = match map.get("available") {
        None | Some(Value::Null) => {
            return Err(FieldError::new(item.field("available"), "is required"));
        }
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or_default(),
        Some(other) => {
            return Err(FieldError::new(
                item.field("available"),
                format!("expected an integer, got {}", describe(other)),
            ));
        }
    };
    let updated_at = match item.str("updated_at")? {
        Some(text) => {
            stamp(text, options).map_err(|m| FieldError::new(item.field("updated_at"), m))?
        }
        None => options.now.ok_or_else(|| {
            FieldError::new(
                item.field("updated_at"),
                "is required (no clock to stamp it)",
            )
        })?,
    };
    Ok(StockLevel {
        item_id,
        available,
        updated_at,
    })
}

/// An RFC 3339 instant inside the accepted range.
pub(crate) fn stamp(text: &str, options: &ParseOptions) -> Result<Timestamp, String> {
    parse_rfc3339(text).and_then(|at| check_range(at, options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{NOW, options};

    fn parse(body: &str) -> Result<Vec<StockLevel>, Vec<Rejection>> {
        parse_stock_levels(body.as_bytes(), &options())
    }

    fn refusals(body: &str) -> Vec<String> {
        parse(body)
            .unwrap_err()
            .iter()
            .map(Rejection::to_string)
            .collect()
    }

    #[test]
    fn reads_levels_stamped_or_not() {
        let levels = parse(
            r#"{"items":[
                {"item_id":"mug","available":12,"updated_at":"2024-05-31T12:00:00+02:00"},
                {"item_id":632910392,"available":-2},
                {"item_id":"cup","available":0,"updated_at":null}]}"#,
        )
        .unwrap();
        assert_eq!(
            levels,
            [
                StockLevel {
                    item_id: "mug".into(),
                    available: 12,
                    updated_at: Timestamp(1_717_149_600_000),
                },
                StockLevel {
                    item_id: "632910392".into(),
                    available: -2,
                    updated_at: NOW,
                },
                StockLevel {
                    item_id: "cup".into(),
                    available: 0,
                    updated_at: NOW,
                },
            ]
        );
    }

    #[test]
    fn every_bad_item_is_named_by_index_and_field() {
        let found = refusals(
            r#"{"items":[
                {"item_id":"ok","available":1},
                {"item_id":"a","available":2.5},
                {"item_id":"","available":1},
                {"item_id":"b","available":"7"},
                {"item_id":"c"},
                {"item_id":"d","available":1,"updated_at":"yesterday"},
                {"item_id":"e","available":1,"updated_at":"2031-01-01T00:00:00Z"},
                {"item_id":"f","availble":1},
                ["g", 1],
                {"item_id":"h\u0000","available":1},
                {"item_id":"i","available":18446744073709551615}]}"#,
        );
        let fields: Vec<&str> = found
            .iter()
            .map(|r| r.split(": ").nth(1).unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "items[1].available",
                "items[2].item_id",
                "items[3].available",
                "items[4].available",
                "items[5].updated_at",
                "items[6].updated_at",
                "items[7].availble",
                "items[8]",
                "items[9].item_id",
                "items[10].available",
            ],
            "{found:#?}"
        );
        assert_eq!(
            found[0],
            "line 1: items[1].available: expected an integer, got 2.5"
        );
        assert!(found[3].ends_with("is required"), "{}", found[3]);
        assert!(found[5].contains("after now"), "{}", found[5]);
        assert!(found[7].contains("expected an object"), "{}", found[7]);
    }

    #[test]
    fn the_body_as_a_whole_is_checked() {
        for (body, expected) in [
            ("", "malformed JSON"),
            ("[]", "expected an object"),
            ("{}", "items: is required"),
            (r#"{"items":[]}"#, "items: must list at least one item"),
            (r#"{"items":{}}"#, "items: expected an array"),
            (r#"{"items":[],"shop":"x"}"#, "shop: unknown field"),
        ] {
            let found = refusals(body);
            assert_eq!(found.len(), 1, "{body}");
            assert!(found[0].contains(expected), "{body}: {found:?}");
        }
        let many = format!(
            r#"{{"items":[{}]}}"#,
            vec![r#"{"item_id":"x","available":1}"#; MAX_STOCK_ITEMS + 1].join(",")
        );
        assert!(refusals(&many)[0].contains("the limit is 10000"));
        let bad = format!(
            r#"{{"items":[{}]}}"#,
            vec![r#"{"item_id":"x","available":"1"}"#; 500].join(",")
        );
        assert_eq!(refusals(&bad).len(), MAX_STOCK_REJECTIONS);
        let no_clock = parse_stock_levels(
            br#"{"items":[{"item_id":"x","available":1}]}"#,
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert!(no_clock[0].to_string().contains("no clock"), "{no_clock:?}");
    }
}
