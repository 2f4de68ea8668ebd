//! Stock levels: the `item_stock` table (migration 8), what [`Store::upsert_stock`] reports,
//! and the part of writing levels both backends share — the newest level per item of a
//! batch, in item order, and the refusal of item ids PostgreSQL cannot store.
//!
//! Stock is not personal data: erasure and retention leave `item_stock` alone.
//!
//! [`Store::upsert_stock`]: crate::Store::upsert_stock

use crate::StoreError;
use crate::engine::check_texts;
use cartback_core::StockLevel;
use serde::Serialize;
use std::collections::BTreeMap;

/// What one [`Store::upsert_stock`](crate::Store::upsert_stock) call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StockReport {
    /// Levels written (new items, or newer than or as new as the level kept).
    pub applied: u64,
    /// Levels ignored: older than the level kept, or than another level of the same item in
    /// the same batch.
    pub stale: u64,
}

/// The newest level of each item in `levels` (of two with the same `updated_at`, the later
/// one in the slice), sorted by item id (so concurrent writers lock rows in one order), and
/// how many were superseded inside the batch. Refuses the whole batch when an item id holds
/// U+0000, which PostgreSQL cannot store.
pub(crate) fn newest_per_item(
    levels: &[StockLevel],
) -> Result<(Vec<&StockLevel>, u64), StoreError> {
    let mut newest: BTreeMap<&str, &StockLevel> = BTreeMap::new();
    for level in levels {
        check_texts(
            "stock level",
            &level.item_id,
            &[("item_id", Some(&level.item_id))],
        )?;
        newest
            .entry(&level.item_id)
            .and_modify(|kept| {
                if level.updated_at >= kept.updated_at {
                    *kept = level;
                }
            })
            .or_insert(level);
    }
    let superseded = (levels.len() - newest.len()) as u64;
    Ok((newest.into_values().collect(), superseded))
}

/// The item ids of `item_ids` once each, in order (the read's keys).
pub(crate) fn distinct_ids(item_ids: &[String]) -> Vec<&str> {
    let mut ids: Vec<&str> = item_ids.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::Timestamp;

    fn level(item: &str, available: i64, at: i64) -> StockLevel {
        StockLevel {
            item_id: item.into(),
            available,
            updated_at: Timestamp(at),
        }
    }

    #[test]
    fn a_batch_keeps_the_newest_level_of_each_item_in_item_order() {
        let batch = [
            level("b", 1, 200),
            level("a", 5, 100),
            level("b", 2, 300),
            level("b", 3, 250),
            level("a", 6, 100),
        ];
        let (newest, superseded) = newest_per_item(&batch).unwrap();
        assert_eq!(newest, vec![&batch[4], &batch[2]], "a: the later of a tie");
        assert_eq!(superseded, 3);
        assert!(matches!(
            newest_per_item(&[level("a", 1, 0), level("x\0", 1, 0)]),
            Err(StoreError::Unstorable { field, .. }) if field == "item_id"
        ));
        let ids = ["b".to_string(), "a".into(), "b".into()];
        assert_eq!(distinct_ids(&ids), ["a", "b"]);
    }
}
