//! Probability calibration fitted on held-out scores: Platt scaling (a logistic curve on the
//! log-odds) and isotonic regression (pool-adjacent-violators, linear between blocks).

use crate::error::{MlError, Result};
use crate::linear::sigmoid;
use serde::{Deserialize, Serialize};

/// Which calibration to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    Platt,
    Isotonic,
}

/// A fitted map from raw probability to calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    /// p' = σ(slope · logit(p) + intercept).
    Platt { slope: f64, intercept: f64 },
    /// Piecewise-linear through (raw, calibrated) knots, constant beyond the ends.
    Isotonic { raw: Vec<f64>, calibrated: Vec<f64> },
}

fn logit(probability: f64) -> f64 {
    let clipped = probability.clamp(1e-12, 1.0 - 1e-12);
    (clipped / (1.0 - clipped)).ln()
}

fn check(labels: &[f64], probabilities: &[f64]) -> Result<()> {
    if labels.len() != probabilities.len() || labels.is_empty() {
        return Err(MlError::InvalidData(format!(
            "calibration needs as many probabilities as labels, and at least one ({} vs {})",
            probabilities.len(),
            labels.len()
        )));
    }
    let positives = labels.iter().filter(|&&label| label >= 0.5).count();
    if positives == 0 || positives == labels.len() {
        return Err(MlError::InvalidData(
            "calibration needs both classes".to_string(),
        ));
    }
    Ok(())
}

impl Calibrator {
    /// Fits a calibrator of the given method to held-out probabilities and outcomes.
    pub fn fit(method: CalibrationMethod, labels: &[f64], probabilities: &[f64]) -> Result<Self> {
        check(labels, probabilities)?;
        match method {
            CalibrationMethod::Platt => Ok(Self::fit_platt(labels, probabilities)),
            CalibrationMethod::Isotonic => Ok(Self::fit_isotonic(labels, probabilities)),
        }
    }

    fn fit_platt(labels: &[f64], probabilities: &[f64]) -> Self {
        let scores: Vec<f64> = probabilities.iter().map(|&p| logit(p)).collect();
        let (mut slope, mut intercept) = (1.0, 0.0);
        for _ in 0..100 {
            let (mut g_slope, mut g_intercept, mut h_ss, mut h_si, mut h_ii) =
                (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (&score, &label) in scores.iter().zip(labels) {
                let p = sigmoid(slope * score + intercept);
                let residual = p - label;
                let curvature = p * (1.0 - p);
                g_slope += residual * score;
                g_intercept += residual;
                h_ss += curvature * score * score;
                h_si += curvature * score;
                h_ii += curvature;
            }
            let determinant = h_ss * h_ii - h_si * h_si;
            if determinant.abs() < 1e-300 {
                break;
            }
            let step_slope = (h_ii * g_slope - h_si * g_intercept) / determinant;
            let step_intercept = (h_ss * g_intercept - h_si * g_slope) / determinant;
            slope -= step_slope;
            intercept -= step_intercept;
            if step_slope.abs().max(step_intercept.abs()) < 1e-10 {
                break;
            }
        }
        Calibrator::Platt { slope, intercept }
    }

    fn fit_isotonic(labels: &[f64], probabilities: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
        // Blocks of (sum of labels, count, sum of raw probabilities).
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        let mut index = 0;
        while index < order.len() {
            let value = probabilities[order[index]];
            let mut block = (0.0, 0.0, 0.0);
            while index < order.len() && probabilities[order[index]] == value {
                block.0 += labels[order[index]];
                block.1 += 1.0;
                block.2 += value;
                index += 1;
            }
            blocks.push(block);
            while blocks.len() >= 2 {
                let last = blocks[blocks.len() - 1];
                let previous = blocks[blocks.len() - 2];
                if previous.0 / previous.1 >= last.0 / last.1 {
                    blocks.pop();
                    let merged = blocks.last_mut().expect("two blocks");
                    merged.0 += last.0;
                    merged.1 += last.1;
                    merged.2 += last.2;
                } else {
                    break;
                }
            }
        }
        Calibrator::Isotonic {
            raw: blocks.iter().map(|block| block.2 / block.1).collect(),
            calibrated: blocks.iter().map(|block| block.0 / block.1).collect(),
        }
    }

    /// The calibrated probability of a raw one.
    pub fn apply(&self, probability: f64) -> f64 {
        match self {
            Calibrator::Platt { slope, intercept } => {
                sigmoid(slope * logit(probability) + intercept)
            }
            Calibrator::Isotonic { raw, calibrated } => {
                let upper = raw.partition_point(|&knot| knot < probability);
                if upper == 0 {
                    calibrated[0]
                } else if upper == raw.len() {
                    calibrated[raw.len() - 1]
                } else {
                    let (x0, x1) = (raw[upper - 1], raw[upper]);
                    let (y0, y1) = (calibrated[upper - 1], calibrated[upper]);
                    y0 + (y1 - y0) * (probability - x0) / (x1 - x0)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_adjacent_violators() {
        // Sorted by p: labels 1,0,1,1 → blocks {0.1}:1 pooled with {0.2}:0 → 0.5, then 1, 1 → 1.
        let calibrator = Calibrator::fit(
            CalibrationMethod::Isotonic,
            &[1.0, 0.0, 1.0, 1.0],
            &[0.1, 0.2, 0.3, 0.4],
        )
        .unwrap();
        match &calibrator {
            Calibrator::Isotonic { raw, calibrated } => {
                assert_eq!(calibrated, &vec![0.5, 1.0]);
                assert!((raw[0] - 0.15).abs() < 1e-12 && (raw[1] - 0.35).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(calibrator.apply(0.0), 0.5);
        assert!((calibrator.apply(0.25) - 0.75).abs() < 1e-12);
        assert_eq!(calibrator.apply(0.9), 1.0);
    }

    #[test]
    fn platt_corrects_overconfident_scores() {
        // True probability is σ(z / 2) but the model says σ(z): Platt should find slope ≈ 0.5.
        let mut labels = Vec::new();
        let mut probabilities = Vec::new();
        for step in 0..500 {
            let z = -6.0 + 12.0 * step as f64 / 500.0;
            let truth = sigmoid(z / 2.0);
            // Deterministic "sampling": 1,000 rows at each z with round(1000·truth) positives.
            let positives = (truth * 1_000.0).round() as usize;
            for draw in 0..1_000 {
                labels.push(if draw < positives { 1.0 } else { 0.0 });
                probabilities.push(sigmoid(z));
            }
        }
        match Calibrator::fit(CalibrationMethod::Platt, &labels, &probabilities).unwrap() {
            Calibrator::Platt { slope, intercept } => {
                assert!(
                    (slope - 0.5).abs() < 0.02 && intercept.abs() < 0.02,
                    "{slope} {intercept}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(Calibrator::fit(CalibrationMethod::Platt, &[1.0, 1.0], &[0.2, 0.3]).is_err());
    }
}
