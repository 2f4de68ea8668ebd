//! Binary-classification metrics for propensity scores: ROC-AUC (ties count one half),
//! PR-AUC as average precision, log-loss, Brier score, accuracy and F1 at a threshold and at
//! the F1-optimal threshold, and a 10-bin calibration table.

use crate::error::{MlError, Result};
use serde::{Deserialize, Serialize};

fn check_inputs(labels: &[f64], scores: &[f64]) -> Result<()> {
    if labels.len() != scores.len() {
        return Err(MlError::InvalidData(format!(
            "{} labels but {} scores",
            labels.len(),
            scores.len()
        )));
    }
    if labels.is_empty() {
        return Err(MlError::InvalidData("no rows to evaluate".to_string()));
    }
    if let Some(position) = scores.iter().position(|score| !score.is_finite()) {
        return Err(MlError::InvalidData(format!(
            "score {position} is not finite"
        )));
    }
    Ok(())
}

fn class_counts(labels: &[f64]) -> (usize, usize) {
    let positives = labels.iter().filter(|&&label| label >= 0.5).count();
    (positives, labels.len() - positives)
}

/// Row indices sorted by descending score.
fn descending_order(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (Mann–Whitney U with mid-ranks).
pub fn roc_auc(labels: &[f64], scores: &[f64]) -> Result<f64> {
    check_inputs(labels, scores)?;
    let (positives, negatives) = class_counts(labels);
    if positives == 0 || negatives == 0 {
        return Err(MlError::InvalidData(
            "ROC-AUC needs both classes".to_string(),
        ));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let mid_rank = (start + end) as f64 / 2.0 + 1.0;
        let tied_positives = order[start..=end]
            .iter()
            .filter(|&&row| labels[row] >= 0.5)
            .count();
        positive_rank_sum += mid_rank * tied_positives as f64;
        start = end + 1;
    }
    let positives = positives as f64;
    Ok((positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives as f64))
}

/// Area under the precision–recall curve as average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ over the
/// distinct score thresholds (as scikit-learn's `average_precision_score`).
pub fn average_precision(labels: &[f64], scores: &[f64]) -> Result<f64> {
    check_inputs(labels, scores)?;
    let (positives, _) = class_counts(labels);
    if positives == 0 {
        return Err(MlError::InvalidData(
            "PR-AUC needs at least one positive".to_string(),
        ));
    }
    let order = descending_order(scores);
    let (mut true_positives, mut predicted, mut previous_recall, mut area) =
        (0usize, 0usize, 0.0, 0.0);
    let mut index = 0;
    while index < order.len() {
        let threshold = scores[order[index]];
        while index < order.len() && scores[order[index]] == threshold {
            true_positives += usize::from(labels[order[index]] >= 0.5);
            predicted += 1;
            index += 1;
        }
        let recall = true_positives as f64 / positives as f64;
        let precision = true_positives as f64 / predicted as f64;
        area += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    Ok(area)
}

/// Mean negative log-likelihood; probabilities are clipped to [1e-15, 1 − 1e-15].
pub fn log_loss(labels: &[f64], probabilities: &[f64]) -> Result<f64> {
    check_inputs(labels, probabilities)?;
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&label, &probability)| {
            let clipped = probability.clamp(1e-15, 1.0 - 1e-15);
            if label >= 0.5 {
                -clipped.ln()
            } else {
                -(1.0 - clipped).ln()
            }
        })
        .sum();
    Ok(total / labels.len() as f64)
}

/// Mean squared difference between probability and outcome.
pub fn brier_score(labels: &[f64], probabilities: &[f64]) -> Result<f64> {
    check_inputs(labels, probabilities)?;
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(label, probability)| (probability - label).powi(2))
        .sum();
    Ok(total / labels.len() as f64)
}

/// Confusion counts when `score >= threshold` predicts positive.
fn confusion(labels: &[f64], scores: &[f64], threshold: f64) -> (usize, usize, usize, usize) {
    let (mut true_positive, mut false_positive, mut false_negative, mut true_negative) =
        (0, 0, 0, 0);
    for (&label, &score) in labels.iter().zip(scores) {
        match (score >= threshold, label >= 0.5) {
            (true, true) => true_positive += 1,
            (true, false) => false_positive += 1,
            (false, true) => false_negative += 1,
            (false, false) => true_negative += 1,
        }
    }
    (true_positive, false_positive, false_negative, true_negative)
}

fn f1_from(true_positive: usize, false_positive: usize, false_negative: usize) -> f64 {
    let denominator = 2 * true_positive + false_positive + false_negative;
    if denominator == 0 {
        0.0
    } else {
        2.0 * true_positive as f64 / denominator as f64
    }
}

/// Share of rows classified correctly when `score >= threshold` predicts positive.
pub fn accuracy_at(labels: &[f64], scores: &[f64], threshold: f64) -> Result<f64> {
    check_inputs(labels, scores)?;
    let (true_positive, _, _, true_negative) = confusion(labels, scores, threshold);
    Ok((true_positive + true_negative) as f64 / labels.len() as f64)
}

/// F1 score when `score >= threshold` predicts positive (0 when nothing is positive).
pub fn f1_at(labels: &[f64], scores: &[f64], threshold: f64) -> Result<f64> {
    check_inputs(labels, scores)?;
    let (true_positive, false_positive, false_negative, _) = confusion(labels, scores, threshold);
    Ok(f1_from(true_positive, false_positive, false_negative))
}

/// The threshold (one of the scores) with the highest F1, and that F1.
pub fn best_f1_threshold(labels: &[f64], scores: &[f64]) -> Result<(f64, f64)> {
    check_inputs(labels, scores)?;
    let (positives, _) = class_counts(labels);
    let order = descending_order(scores);
    let (mut true_positive, mut false_positive) = (0usize, 0usize);
    let (mut best_threshold, mut best_f1) = (f64::INFINITY, 0.0);
    let mut index = 0;
    while index < order.len() {
        let threshold = scores[order[index]];
        while index < order.len() && scores[order[index]] == threshold {
            if labels[order[index]] >= 0.5 {
                true_positive += 1;
            } else {
                false_positive += 1;
            }
            index += 1;
        }
        let f1 = f1_from(true_positive, false_positive, positives - true_positive);
        if f1 > best_f1 {
            best_f1 = f1;
            best_threshold = threshold;
        }
    }
    Ok((best_threshold, best_f1))
}

/// One bin of a calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// Predicted vs observed purchase rate in `bins` equal-width probability bins (empty bins
/// have zero count and zero means).
pub fn calibration_table(
    labels: &[f64],
    probabilities: &[f64],
    bins: usize,
) -> Result<Vec<CalibrationBin>> {
    check_inputs(labels, probabilities)?;
    if bins == 0 {
        return Err(crate::error::invalid_parameter(
            "bins",
            "must be at least 1",
        ));
    }
    let mut sums = vec![(0usize, 0.0, 0.0); bins];
    for (&label, &probability) in labels.iter().zip(probabilities) {
        let bin = ((probability.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[bin].0 += 1;
        sums[bin].1 += probability;
        sums[bin].2 += label;
    }
    Ok(sums
        .into_iter()
        .enumerate()
        .map(|(bin, (count, predicted, observed))| CalibrationBin {
            lower: bin as f64 / bins as f64,
            upper: (bin + 1) as f64 / bins as f64,
            count,
            mean_predicted: if count == 0 {
                0.0
            } else {
                predicted / count as f64
            },
            observed_rate: if count == 0 {
                0.0
            } else {
                observed / count as f64
            },
        })
        .collect())
}

/// Every headline metric of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryMetrics {
    pub rows: usize,
    pub positives: usize,
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub log_loss: f64,
    pub brier: f64,
    pub accuracy_at_half: f64,
    pub f1_at_half: f64,
    pub best_f1_threshold: f64,
    pub accuracy_at_best_f1: f64,
    pub best_f1: f64,
}

impl BinaryMetrics {
    /// Computes all metrics of probabilities against 0/1 labels.
    pub fn evaluate(labels: &[f64], probabilities: &[f64]) -> Result<Self> {
        let (best_f1_threshold, best_f1) = best_f1_threshold(labels, probabilities)?;
        Ok(Self {
            rows: labels.len(),
            positives: class_counts(labels).0,
            roc_auc: roc_auc(labels, probabilities)?,
            pr_auc: average_precision(labels, probabilities)?,
            log_loss: log_loss(labels, probabilities)?,
            brier: brier_score(labels, probabilities)?,
            accuracy_at_half: accuracy_at(labels, probabilities, 0.5)?,
            f1_at_half: f1_at(labels, probabilities, 0.5)?,
            best_f1_threshold,
            accuracy_at_best_f1: accuracy_at(labels, probabilities, best_f1_threshold)?,
            best_f1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: [f64; 4] = [0.0, 0.0, 1.0, 1.0];
    const SCORES: [f64; 4] = [0.1, 0.4, 0.35, 0.8];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn roc_auc_matches_hand_count_including_ties() {
        // Pairs (pos, neg): (0.35,0.1)=1 (0.35,0.4)=0 (0.8,0.1)=1 (0.8,0.4)=1 → 3/4.
        assert!(close(roc_auc(&LABELS, &SCORES).unwrap(), 0.75));
        // pos {0.5, 0.9} vs neg {0.5, 0.2}: 0.5 + 1 + 1 + 1 = 3.5 of 4.
        assert!(close(
            roc_auc(&[0.0, 1.0, 0.0, 1.0], &[0.5, 0.5, 0.2, 0.9]).unwrap(),
            0.875
        ));
        assert!(close(roc_auc(&[0.0, 1.0], &[0.3, 0.3]).unwrap(), 0.5));
        assert!(roc_auc(&[1.0, 1.0], &[0.2, 0.3]).is_err());
    }

    #[test]
    fn average_precision_matches_hand_computation() {
        // Descending: 0.8(+) P=1 R=.5; 0.4(−); 0.35(+) P=2/3 R=1 → .5·1 + .5·2/3 = 5/6.
        assert!(close(
            average_precision(&LABELS, &SCORES).unwrap(),
            5.0 / 6.0
        ));
        // A tie of one positive and one negative at the top: P=1/2 at R=1.
        assert!(close(
            average_precision(&[1.0, 0.0], &[0.7, 0.7]).unwrap(),
            0.5
        ));
    }

    #[test]
    fn log_loss_and_brier_match_hand_computation() {
        let expected = -(0.8f64.ln() + 0.7f64.ln()) / 2.0;
        assert!(close(log_loss(&[1.0, 0.0], &[0.8, 0.3]).unwrap(), expected));
        assert!(close(brier_score(&[1.0, 0.0], &[0.8, 0.3]).unwrap(), 0.065));
        assert!(log_loss(&[1.0], &[0.0]).unwrap().is_finite());
    }

    #[test]
    fn threshold_metrics_match_hand_computation() {
        assert!(close(accuracy_at(&LABELS, &SCORES, 0.5).unwrap(), 0.75));
        // Only 0.8 predicted positive: TP=1, FP=0, FN=1 → 2/3.
        assert!(close(f1_at(&LABELS, &SCORES, 0.5).unwrap(), 2.0 / 3.0));
        // At 0.35: TP=2, FP=1, FN=0 → 4/5, the best.
        let (threshold, f1) = best_f1_threshold(&LABELS, &SCORES).unwrap();
        assert!(close(threshold, 0.35) && close(f1, 0.8));
        let all = BinaryMetrics::evaluate(&LABELS, &SCORES).unwrap();
        assert!(close(all.accuracy_at_best_f1, 0.75));
        assert_eq!((all.rows, all.positives), (4, 2));
    }

    #[test]
    fn calibration_table_bins_by_probability() {
        let table = calibration_table(&[0.0, 1.0, 1.0, 0.0], &[0.05, 0.15, 0.95, 1.0], 10).unwrap();
        assert_eq!(table.len(), 10);
        assert_eq!(table[0].count, 1);
        assert!(close(table[1].observed_rate, 1.0) && close(table[1].mean_predicted, 0.15));
        assert_eq!(table[9].count, 2);
        assert!(close(table[9].mean_predicted, 0.975) && close(table[9].observed_rate, 0.5));
        assert_eq!(table[5].count, 0);
    }
}
