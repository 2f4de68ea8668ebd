//! Train/test splits: stratified k-fold, stratified hold-out and time-ordered hold-out. All are
//! deterministic given a seed (Xoshiro256++, a portable generator).

use crate::error::{Result, invalid_parameter};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

/// One train/test split as row indices (both sorted ascending).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// The generator every seeded step of this crate uses.
pub fn seeded_rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn shuffled_class_rows(labels: &[f64], seed: u64) -> [Vec<usize>; 2] {
    let mut rng = seeded_rng(seed);
    let mut negatives: Vec<usize> = (0..labels.len()).filter(|&row| labels[row] < 0.5).collect();
    let mut positives: Vec<usize> = (0..labels.len())
        .filter(|&row| labels[row] >= 0.5)
        .collect();
    negatives.shuffle(&mut rng);
    positives.shuffle(&mut rng);
    [negatives, positives]
}

/// The fold (0..k) of every row: each class is shuffled and dealt round-robin, so every fold
/// has the class ratio of the whole within one row.
pub fn stratified_fold_ids(labels: &[f64], folds: usize, seed: u64) -> Result<Vec<usize>> {
    if folds < 2 {
        return Err(invalid_parameter(
            "folds",
            format!("needs at least 2 folds, got {folds}"),
        ));
    }
    let [negatives, positives] = shuffled_class_rows(labels, seed);
    if positives.len() < folds || negatives.len() < folds {
        return Err(invalid_parameter(
            "folds",
            format!(
                "{folds} folds need at least {folds} rows of each class ({} positive, {} negative)",
                positives.len(),
                negatives.len()
            ),
        ));
    }
    let mut fold_of = vec![0; labels.len()];
    for (dealt, row) in positives.into_iter().chain(negatives).enumerate() {
        fold_of[row] = dealt % folds;
    }
    Ok(fold_of)
}

/// Stratified k-fold splits.
pub fn stratified_k_fold(labels: &[f64], folds: usize, seed: u64) -> Result<Vec<Split>> {
    let fold_of = stratified_fold_ids(labels, folds, seed)?;
    Ok((0..folds)
        .map(|fold| Split {
            train: (0..labels.len())
                .filter(|&row| fold_of[row] != fold)
                .collect(),
            test: (0..labels.len())
                .filter(|&row| fold_of[row] == fold)
                .collect(),
        })
        .collect())
}

fn check_fraction(test_fraction: f64) -> Result<()> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(invalid_parameter(
            "test_fraction",
            format!("must be strictly between 0 and 1, got {test_fraction}"),
        ));
    }
    Ok(())
}

/// A stratified random hold-out: `test_fraction` of each class goes to the test side.
pub fn stratified_holdout(labels: &[f64], test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let mut train = Vec::new();
    let mut test = Vec::new();
    for class_rows in shuffled_class_rows(labels, seed) {
        let n_test = ((class_rows.len() as f64) * test_fraction).round() as usize;
        test.extend_from_slice(&class_rows[..n_test]);
        train.extend_from_slice(&class_rows[n_test..]);
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

/// A time-ordered hold-out: the latest `test_fraction` of rows (by `times`) are the test side.
/// Ties at the boundary stay together on the train side.
pub fn time_holdout(times: &[f64], test_fraction: f64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]).then(a.cmp(&b)));
    let mut cut = times.len() - ((times.len() as f64) * test_fraction).round() as usize;
    while cut > 0 && cut < order.len() && times[order[cut]] == times[order[cut - 1]] {
        cut += 1;
    }
    let mut train = order[..cut.min(order.len())].to_vec();
    let mut test = order[cut.min(order.len())..].to_vec();
    train.sort_unstable();
    test.sort_unstable();
    if train.is_empty() || test.is_empty() {
        return Err(invalid_parameter(
            "test_fraction",
            "leaves one side of the time split empty",
        ));
    }
    Ok(Split { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_fold_is_stratified_disjoint_and_seeded() {
        let labels: Vec<f64> = (0..100)
            .map(|row| if row % 5 == 0 { 1.0 } else { 0.0 })
            .collect();
        let splits = stratified_k_fold(&labels, 5, 42).unwrap();
        let mut seen = vec![0; 100];
        for split in &splits {
            assert_eq!(split.test.len(), 20);
            assert_eq!(
                split.test.iter().filter(|&&row| labels[row] == 1.0).count(),
                4
            );
            assert_eq!(split.train.len() + split.test.len(), 100);
            for &row in &split.test {
                seen[row] += 1;
            }
        }
        assert!(seen.iter().all(|&count| count == 1));
        assert_eq!(splits, stratified_k_fold(&labels, 5, 42).unwrap());
        assert_ne!(splits, stratified_k_fold(&labels, 5, 7).unwrap());
    }

    #[test]
    fn holdouts_take_the_right_rows() {
        let labels: Vec<f64> = (0..10).map(|row| (row % 2) as f64).collect();
        let split = stratified_holdout(&labels, 0.2, 1).unwrap();
        assert_eq!(split.test.len(), 2);
        assert_eq!(
            split.test.iter().filter(|&&row| labels[row] == 1.0).count(),
            1
        );
        let times = [5.0, 1.0, 4.0, 2.0, 3.0];
        let by_time = time_holdout(&times, 0.4).unwrap();
        assert_eq!(by_time.test, vec![0, 2]);
        assert!(time_holdout(&times, 1.5).is_err());
        assert!(stratified_k_fold(&[1.0, 0.0, 0.0], 2, 0).is_err());
    }
}
