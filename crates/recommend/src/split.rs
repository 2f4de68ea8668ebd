//! Train/test splits for offline evaluation: each user's last basket, a global time
//! cut-off, or one held-out item per user. Vocabularies are kept whole so indices in the
//! training log and in the held-out sets agree.

use crate::dataset::{Interaction, InteractionLog};
use crate::error::RecommendError;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;

/// How interactions are held out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitMethod {
    /// Each user's last basket (largest timestamp, else largest order number) is held out;
    /// users with a single basket stay in training only.
    LastBasket,
    /// Interactions after the `1 − test_fraction` quantile of time are held out.
    Time { test_fraction: f64 },
    /// One item per user with at least two items: the latest when times are known, else
    /// one drawn with the seed.
    LeaveOneOut,
}

impl SplitMethod {
    pub fn parse(text: &str, test_fraction: f64) -> Result<Self, RecommendError> {
        match text {
            "last-basket" => Ok(SplitMethod::LastBasket),
            "time" => {
                if !(test_fraction > 0.0 && test_fraction < 1.0) {
                    return Err(RecommendError::invalid(
                        "test-fraction",
                        format!("{test_fraction} must be within (0, 1)"),
                    ));
                }
                Ok(SplitMethod::Time { test_fraction })
            }
            "leave-one-out" => Ok(SplitMethod::LeaveOneOut),
            other => Err(RecommendError::invalid(
                "split",
                format!("`{other}` is not last-basket, time or leave-one-out"),
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SplitMethod::LastBasket => "last-basket",
            SplitMethod::Time { .. } => "time",
            SplitMethod::LeaveOneOut => "leave-one-out",
        }
    }
}

/// A training log and, per test user, the distinct held-out items (sorted).
#[derive(Debug)]
pub struct Split {
    pub train: InteractionLog,
    /// `(user, held-out items)`, users ascending; every test user has training data.
    pub test: Vec<(u32, Vec<u32>)>,
}

impl Split {
    pub fn held_out_interactions(&self) -> usize {
        self.test.iter().map(|(_, items)| items.len()).sum()
    }
}

/// Splits `log`. Fails when the method needs information the log lacks, or when no user
/// ends up with both training and held-out interactions.
pub fn split(
    log: &InteractionLog,
    method: SplitMethod,
    seed: u64,
) -> Result<Split, RecommendError> {
    let held_out: Vec<bool> = match method {
        SplitMethod::LastBasket => last_basket_mask(log)?,
        SplitMethod::Time { test_fraction } => time_mask(log, test_fraction)?,
        SplitMethod::LeaveOneOut => leave_one_out_mask(log, seed),
    };
    let mut train = Vec::new();
    let mut test: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (record, &hold) in log.records.iter().zip(&held_out) {
        if hold {
            test.entry(record.user).or_default().push(record.item);
        } else {
            train.push(*record);
        }
    }
    let mut has_training = vec![false; log.users.len()];
    for r in &train {
        has_training[r.user as usize] = true;
    }
    let test: Vec<(u32, Vec<u32>)> = test
        .into_iter()
        .filter(|(user, _)| has_training[*user as usize])
        .map(|(user, mut items)| {
            items.sort_unstable();
            items.dedup();
            (user, items)
        })
        .collect();
    if test.is_empty() {
        return Err(RecommendError::Split(format!(
            "the {} split leaves no user with both training and held-out interactions{}",
            method.name(),
            match method {
                SplitMethod::LastBasket =>
                    " (every user has a single basket; use --split leave-one-out)",
                _ => "",
            }
        )));
    }
    Ok(Split {
        train: log.with_records(train),
        test,
    })
}

fn by_user(log: &InteractionLog) -> Vec<Vec<usize>> {
    let mut users = vec![Vec::new(); log.users.len()];
    for (index, r) in log.records.iter().enumerate() {
        users[r.user as usize].push(index);
    }
    users
}

fn last_basket_mask(log: &InteractionLog) -> Result<Vec<bool>, RecommendError> {
    let times = log.has_times();
    let baskets = log.has_baskets();
    if !times && !baskets {
        return Err(RecommendError::Split(
            "last-basket needs a timestamp or an order/basket column in every row".into(),
        ));
    }
    // A basket's key: its basket id when known, else its timestamp.
    let basket_of = |r: &Interaction| -> i64 {
        match r.basket {
            Some(b) if baskets => i64::from(b),
            _ => r.time.unwrap_or_default(),
        }
    };
    let mut mask = vec![false; log.records.len()];
    for records in by_user(log) {
        // Order of each basket: latest time in it, else the log's basket order.
        let mut order: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for &index in &records {
            let r = &log.records[index];
            let key = basket_of(r);
            let rank = match (times, r.basket) {
                (true, _) => r.time.unwrap_or_default(),
                (false, Some(b)) => log.basket_order(b),
                (false, None) => key,
            };
            let entry = order.entry(key).or_insert((rank, key));
            entry.0 = entry.0.max(rank);
        }
        if order.len() < 2 {
            continue;
        }
        let last = order.values().max().map(|&(_, key)| key);
        for &index in &records {
            mask[index] = Some(basket_of(&log.records[index])) == last;
        }
    }
    Ok(mask)
}

fn time_mask(log: &InteractionLog, test_fraction: f64) -> Result<Vec<bool>, RecommendError> {
    if !log.has_times() {
        return Err(RecommendError::Split(
            "the time split needs a timestamp column in every row".into(),
        ));
    }
    let mut times: Vec<i64> = log.records.iter().filter_map(|r| r.time).collect();
    times.sort_unstable();
    let position = ((times.len() as f64) * (1.0 - test_fraction)).floor() as usize;
    let cutoff = times[position.min(times.len() - 1)];
    Ok(log
        .records
        .iter()
        .map(|r| r.time.is_some_and(|t| t > cutoff))
        .collect())
}

fn leave_one_out_mask(log: &InteractionLog, seed: u64) -> Vec<bool> {
    let times = log.has_times();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut mask = vec![false; log.records.len()];
    for records in by_user(log) {
        let mut items: Vec<u32> = records.iter().map(|&i| log.records[i].item).collect();
        items.sort_unstable();
        items.dedup();
        if items.len() < 2 {
            continue;
        }
        let chosen = if times {
            records
                .iter()
                .max_by_key(|&&i| (log.records[i].time, i))
                .map(|&i| log.records[i].item)
                .unwrap_or(items[0])
        } else {
            items[rng.random_range(0..items.len())]
        };
        for &index in &records {
            mask[index] = log.records[index].item == chosen;
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::InteractionKind::Purchase;

    #[test]
    fn last_basket_holds_out_the_latest_order_by_number() {
        let mut log = InteractionLog::new();
        log.push("u", "a", 1.0, Purchase, None, Some("10"));
        log.push("u", "b", 1.0, Purchase, None, Some("2"));
        log.push("u", "c", 1.0, Purchase, None, Some("10"));
        log.push("v", "a", 1.0, Purchase, None, Some("3"));
        let s = split(&log, SplitMethod::LastBasket, 0).unwrap();
        assert_eq!(s.test, vec![(0, vec![0, 2])]);
        assert_eq!(
            s.train.records.len(),
            2,
            "v's only basket stays in training"
        );
    }

    #[test]
    fn last_basket_uses_times_over_numbers() {
        let mut log = InteractionLog::new();
        log.push("u", "a", 1.0, Purchase, Some(500), Some("10"));
        log.push("u", "b", 1.0, Purchase, Some(900), Some("2"));
        let s = split(&log, SplitMethod::LastBasket, 0).unwrap();
        assert_eq!(s.test, vec![(0, vec![1])]);
    }

    #[test]
    fn leave_one_out_keeps_training_items_and_single_item_users() {
        let mut log = InteractionLog::new();
        for (user, item) in [
            ("u", "a"),
            ("u", "b"),
            ("u", "c"),
            ("v", "a"),
            ("w", "b"),
            ("w", "b"),
        ] {
            log.push(user, item, 1.0, Purchase, None, None);
        }
        let s = split(&log, SplitMethod::LeaveOneOut, 1).unwrap();
        assert_eq!(s.test.len(), 1);
        assert_eq!(s.test[0].1.len(), 1);
        assert_eq!(s.train.records.len(), 5);
        let again = split(&log, SplitMethod::LeaveOneOut, 1).unwrap();
        assert_eq!(s.test, again.test, "same seed, same split");
    }

    #[test]
    fn impossible_splits_say_why() {
        let mut log = InteractionLog::new();
        log.push("u", "a", 1.0, Purchase, None, Some("1"));
        log.push("u", "b", 1.0, Purchase, None, Some("1"));
        let err = split(&log, SplitMethod::LastBasket, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("single basket"), "{err}");
        assert!(split(&log, SplitMethod::Time { test_fraction: 0.2 }, 0).is_err());
    }
}
