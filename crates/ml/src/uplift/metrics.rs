//! Uplift metrics exactly as scikit-uplift 0.5.1 (`sklift.metrics`) defines them: the uplift
//! and Qini curves over the rows ranked by predicted uplift, their perfect (oracle) curves,
//! the normalised areas `uplift_auc_score` (AUUC) and `qini_auc_score` (Qini coefficient),
//! and `uplift_at_k` with the `overall` strategy.
//!
//! With rows sorted by descending predicted uplift and, at the end of each run of tied scores
//! (n rows so far; nₜ, n꜀ treated and control among them; yₜ, y꜀ their responders):
//! - Qini curve: Q(n) = yₜ − y꜀ · nₜ / n꜀ (y꜀ term 0 while n꜀ = 0);
//! - uplift curve: U(n) = (yₜ / nₜ − y꜀ / n꜀) · n (each ratio 0 while its count is 0);
//! - both start at (0, 0);
//! - score = (area(model) − area(random)) / (area(perfect) − area(random)), areas by the
//!   trapezoid rule, the random line joining (0, 0) to the perfect curve's last point;
//! - perfect Qini ranks treated responders first and control responders last (negative
//!   effects included); perfect uplift ranks by 2·[y = t] + (y if control responders outnumber
//!   treated non-responders, else t);
//! - uplift@k: the first ⌊k·N⌋ rows of the ranking (ties broken as NumPy's reversed stable
//!   sort: later rows first), treated response rate minus control response rate among them.

use crate::error::{MlError, Result};
use serde::Serialize;

/// Points of a curve: `targeted[i]` rows targeted, `value[i]` the curve there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub targeted: Vec<f64>,
    pub value: Vec<f64>,
}

impl Curve {
    /// The area under the curve by the trapezoid rule.
    pub fn area(&self) -> f64 {
        self.targeted
            .windows(2)
            .zip(self.value.windows(2))
            .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
            .sum()
    }

    /// The curve's value after targeting `rows` rows, interpolated linearly between points.
    pub fn value_at(&self, rows: f64) -> f64 {
        let position = self.targeted.partition_point(|&targeted| targeted < rows);
        if position == 0 {
            return self.value[0];
        }
        if position == self.targeted.len() {
            return *self.value.last().expect("a curve has points");
        }
        let (x0, x1) = (self.targeted[position - 1], self.targeted[position]);
        let (y0, y1) = (self.value[position - 1], self.value[position]);
        y0 + (y1 - y0) * (rows - x0) / (x1 - x0)
    }
}

fn check_inputs(outcome: &[f64], uplift: &[f64], treatment: &[f64]) -> Result<()> {
    if outcome.len() != uplift.len() || outcome.len() != treatment.len() {
        return Err(MlError::InvalidData(format!(
            "{} outcomes, {} uplift scores and {} treatment flags",
            outcome.len(),
            uplift.len(),
            treatment.len()
        )));
    }
    if outcome.is_empty() {
        return Err(MlError::InvalidData("no rows to evaluate".to_string()));
    }
    for (name, values) in [("outcome", outcome), ("treatment", treatment)] {
        if let Some(position) = values.iter().position(|&v| v != 0.0 && v != 1.0) {
            return Err(MlError::InvalidData(format!(
                "{name} of row {position} is {}, not 0 or 1",
                values[position]
            )));
        }
    }
    if let Some(position) = uplift.iter().position(|score| !score.is_finite()) {
        return Err(MlError::InvalidData(format!(
            "uplift score of row {position} is not finite"
        )));
    }
    Ok(())
}

/// Row indices by descending score, ties with the later row first (NumPy's
/// `argsort(kind="mergesort")[::-1]`, which scikit-uplift uses).
fn ranking(uplift: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..uplift.len()).collect();
    order.sort_by(|&a, &b| {
        uplift[b]
            .partial_cmp(&uplift[a])
            .expect("finite scores")
            .then(b.cmp(&a))
    });
    order
}

/// Cumulative counts at the end of every run of tied scores: (n, nₜ, yₜ, y꜀).
fn cumulative_at_thresholds(
    outcome: &[f64],
    uplift: &[f64],
    treatment: &[f64],
) -> Vec<(f64, f64, f64, f64)> {
    let order = ranking(uplift);
    let mut points = Vec::new();
    let (mut treated, mut treated_responders, mut control_responders) = (0.0, 0.0, 0.0);
    for (position, &row) in order.iter().enumerate() {
        if treatment[row] == 1.0 {
            treated += 1.0;
            treated_responders += outcome[row];
        } else {
            control_responders += outcome[row];
        }
        let last_of_run = position + 1 == order.len() || uplift[order[position + 1]] != uplift[row];
        if last_of_run {
            points.push((
                (position + 1) as f64,
                treated,
                treated_responders,
                control_responders,
            ));
        }
    }
    points
}

fn curve_from(points: Vec<(f64, f64)>) -> Curve {
    let (mut targeted, mut value) = (vec![0.0], vec![0.0]);
    for (x, y) in points {
        targeted.push(x);
        value.push(y);
    }
    Curve { targeted, value }
}

/// The Qini curve of a ranking (`sklift.metrics.qini_curve`).
pub fn qini_curve(outcome: &[f64], uplift: &[f64], treatment: &[f64]) -> Result<Curve> {
    check_inputs(outcome, uplift, treatment)?;
    Ok(curve_from(
        cumulative_at_thresholds(outcome, uplift, treatment)
            .into_iter()
            .map(|(all, treated, treated_responders, control_responders)| {
                let control = all - treated;
                let ratio = if control != 0.0 {
                    treated / control
                } else {
                    0.0
                };
                (all, treated_responders - control_responders * ratio)
            })
            .collect(),
    ))
}

/// The uplift curve of a ranking (`sklift.metrics.uplift_curve`).
pub fn uplift_curve(outcome: &[f64], uplift: &[f64], treatment: &[f64]) -> Result<Curve> {
    check_inputs(outcome, uplift, treatment)?;
    Ok(curve_from(
        cumulative_at_thresholds(outcome, uplift, treatment)
            .into_iter()
            .map(|(all, treated, treated_responders, control_responders)| {
                let control = all - treated;
                let treated_rate = if treated != 0.0 {
                    treated_responders / treated
                } else {
                    0.0
                };
                let control_rate = if control != 0.0 {
                    control_responders / control
                } else {
                    0.0
                };
                (all, (treated_rate - control_rate) * all)
            })
            .collect(),
    ))
}

/// The best possible Qini curve, negative effects included (`perfect_qini_curve`).
pub fn perfect_qini_curve(outcome: &[f64], treatment: &[f64]) -> Result<Curve> {
    let oracle: Vec<f64> = outcome
        .iter()
        .zip(treatment)
        .map(|(&y, &t)| y * t - y * (1.0 - t))
        .collect();
    qini_curve(outcome, &oracle, treatment)
}

/// The best possible uplift curve (`perfect_uplift_curve`).
pub fn perfect_uplift_curve(outcome: &[f64], treatment: &[f64]) -> Result<Curve> {
    let count = |y: f64, t: f64| {
        outcome
            .iter()
            .zip(treatment)
            .filter(|&(&yy, &tt)| yy == y && tt == t)
            .count()
    };
    let use_outcome = count(1.0, 0.0) > count(0.0, 1.0);
    let oracle: Vec<f64> = outcome
        .iter()
        .zip(treatment)
        .map(|(&y, &t)| 2.0 * f64::from(u8::from(y == t)) + if use_outcome { y } else { t })
        .collect();
    uplift_curve(outcome, &oracle, treatment)
}

fn normalised_area(actual: &Curve, perfect: &Curve, name: &str) -> Result<f64> {
    let (last_x, last_y) = (
        *perfect.targeted.last().expect("a curve has points"),
        *perfect.value.last().expect("a curve has points"),
    );
    let random = last_x * last_y / 2.0;
    let perfect_gain = perfect.area() - random;
    if perfect_gain == 0.0 || !perfect_gain.is_finite() {
        return Err(MlError::InvalidData(format!(
            "{name} is undefined: the perfect curve has no area above the random one"
        )));
    }
    Ok((actual.area() - random) / perfect_gain)
}

/// The Qini coefficient: area between the Qini curve and the random line, over the same for
/// the perfect Qini curve (`sklift.metrics.qini_auc_score`, `negative_effect=True`).
pub fn qini_auc_score(outcome: &[f64], uplift: &[f64], treatment: &[f64]) -> Result<f64> {
    let actual = qini_curve(outcome, uplift, treatment)?;
    let perfect = perfect_qini_curve(outcome, treatment)?;
    normalised_area(&actual, &perfect, "the Qini coefficient")
}

/// The normalised area under the uplift curve (`sklift.metrics.uplift_auc_score`).
pub fn uplift_auc_score(outcome: &[f64], uplift: &[f64], treatment: &[f64]) -> Result<f64> {
    let actual = uplift_curve(outcome, uplift, treatment)?;
    let perfect = perfect_uplift_curve(outcome, treatment)?;
    normalised_area(&actual, &perfect, "AUUC")
}

/// Uplift among the top `k` (a share in (0, 1)) of all rows ranked by predicted uplift:
/// treated response rate minus control response rate there (`uplift_at_k`, strategy
/// `overall`). An error when the top rows hold no treated or no control row.
pub fn uplift_at_k(outcome: &[f64], uplift: &[f64], treatment: &[f64], k: f64) -> Result<f64> {
    check_inputs(outcome, uplift, treatment)?;
    if !(k > 0.0 && k < 1.0) {
        return Err(MlError::InvalidParameter {
            name: "k",
            message: format!("must be a share strictly between 0 and 1, got {k}"),
        });
    }
    let treated_total = treatment.iter().filter(|&&t| t == 1.0).count();
    if treated_total == 0 || treated_total == treatment.len() {
        return Err(MlError::InvalidData(
            "uplift@k needs treated and control rows".to_string(),
        ));
    }
    let top = (outcome.len() as f64 * k) as usize;
    let (mut treated, mut treated_responders, mut control, mut control_responders) =
        (0usize, 0.0, 0usize, 0.0);
    for &row in ranking(uplift).iter().take(top) {
        if treatment[row] == 1.0 {
            treated += 1;
            treated_responders += outcome[row];
        } else {
            control += 1;
            control_responders += outcome[row];
        }
    }
    if treated == 0 || control == 0 {
        return Err(MlError::InvalidData(format!(
            "the top {top} rows (k = {k}) hold {treated} treated and {control} control rows: \
             uplift@k needs both"
        )));
    }
    Ok(treated_responders / treated as f64 - control_responders / control as f64)
}

/// The metrics `cartback uplift` reports for a test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpliftMetrics {
    pub uplift_at_10: f64,
    pub uplift_at_20: f64,
    pub uplift_at_30: f64,
    /// Qini coefficient (`qini_auc_score`).
    pub qini: f64,
    /// Normalised area under the uplift curve (`uplift_auc_score`).
    pub auuc: f64,
}

impl UpliftMetrics {
    /// Every metric of one ranking.
    pub fn evaluate(outcome: &[f64], uplift: &[f64], treatment: &[f64]) -> Result<Self> {
        Ok(Self {
            uplift_at_10: uplift_at_k(outcome, uplift, treatment, 0.1)?,
            uplift_at_20: uplift_at_k(outcome, uplift, treatment, 0.2)?,
            uplift_at_30: uplift_at_k(outcome, uplift, treatment, 0.3)?,
            qini: qini_auc_score(outcome, uplift, treatment)?,
            auuc: uplift_auc_score(outcome, uplift, treatment)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A fixed example of 12 rows with tied scores.
    const OUTCOME: [f64; 12] = [1., 0., 1., 1., 0., 0., 1., 0., 1., 0., 0., 1.];
    const TREATMENT: [f64; 12] = [1., 1., 0., 1., 0., 1., 0., 0., 1., 1., 0., 0.];
    const UPLIFT: [f64; 12] = [0.9, 0.1, -0.2, 0.9, 0.3, 0.5, 0.0, 0.1, 0.7, 0.3, -0.5, 0.1];

    #[test]
    fn qini_curve_by_hand() {
        // Ranked (ties grouped): 0.9 {0: t1 y1, 3: t1 y1} → n 2, nₜ 2, yₜ 2, y꜀ 0 → Q 2;
        // 0.7 {8: t1 y1} → 3, 3, 3, 0 → 3; 0.5 {5: t1 y0} → 4, 4, 3, 0 → 3;
        // 0.3 {4: t0 y0, 9: t1 y0} → 6, 5, 3, 0 → 3;
        // 0.1 {1: t1 y0, 7: t0 y0, 11: t0 y1} → 9, 6, 3, 1 → 3 − 1·6/3 = 1;
        // 0.0 {6: t0 y1} → 10, 6, 3, 2 → 3 − 2·6/4 = 0;
        // −0.2 {2: t0 y1} → 11, 6, 3, 3 → 3 − 3·6/5 = −0.6; −0.5 {10: t0 y0} → 12, 6, 3, 3 → 0.
        let curve = qini_curve(&OUTCOME, &UPLIFT, &TREATMENT).unwrap();
        assert_eq!(curve.targeted, vec![0., 2., 3., 4., 6., 9., 10., 11., 12.]);
        let expected = [0., 2., 3., 3., 3., 1., 0., -0.6, 0.];
        for (got, want) in curve.value.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{:?}", curve.value);
        }
        // Area: 2 + 2.5 + 3 + 6 + 6 + 0.5 − 0.3 − 0.3 = 19.4; the random line ends at 0.
        assert!((curve.area() - 19.4).abs() < 1e-12);
        assert!((curve.value_at(5.0) - 3.0).abs() < 1e-12);
        assert!((curve.value_at(1.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn uplift_at_k_by_hand() {
        // Ranking with ties broken later-row-first: 3, 0, 8, 5, 9, 4, 11, 7, 1, 6, 2, 10.
        // k = 0.3 → ⌊3.6⌋ = 3 rows: all treated → no control: an error, as sklift gives NaN.
        assert!(uplift_at_k(&OUTCOME, &UPLIFT, &TREATMENT, 0.3).is_err());
        // k = 0.5 → 6 rows {3, 0, 8, 5, 9, 4}: treated 5 (3 responders), control 1 (0) → 0.6.
        let value = uplift_at_k(&OUTCOME, &UPLIFT, &TREATMENT, 0.5).unwrap();
        assert!((value - 0.6).abs() < 1e-12, "{value}");
        // k = 0.75 → 9 rows, adding 11 (t0 y1), 7 (t0 y0), 1 (t1 y0): 3/6 − 1/3.
        let value = uplift_at_k(&OUTCOME, &UPLIFT, &TREATMENT, 0.75).unwrap();
        assert!((value - (0.5 - 1.0 / 3.0)).abs() < 1e-12, "{value}");
        // A tie straddling the cut: k = 8/12 takes 11 and 7 but not 1 (the later row first).
        let value = uplift_at_k(&OUTCOME, &UPLIFT, &TREATMENT, 8.0 / 12.0 + 1e-9).unwrap();
        assert!((value - (3.0 / 5.0 - 1.0 / 3.0)).abs() < 1e-12, "{value}");
        assert!(uplift_at_k(&OUTCOME, &UPLIFT, &TREATMENT, 1.0).is_err());
    }

    /// Values printed by scikit-uplift 0.5.1 (scikit-learn 1.9.1, NumPy 2.4.6) for the
    /// arrays above and for a 40-row example, with:
    /// ```python
    /// from sklift.metrics import qini_auc_score, uplift_auc_score, uplift_at_k
    /// print(repr(qini_auc_score(y, u, t)), repr(uplift_auc_score(y, u, t)),
    ///       repr(uplift_at_k(y, u, t, strategy="overall", k=0.5)))
    /// ```
    /// where the 40-row example is y = [(i * 7 + 3) % 5 < 2], t = [(i * 3) % 7 < 4],
    /// u = [((i * 11) % 13 - 6) / 4] for i = 0..40.
    #[test]
    fn matches_scikit_uplift() {
        let qini = qini_auc_score(&OUTCOME, &UPLIFT, &TREATMENT).unwrap();
        let auuc = uplift_auc_score(&OUTCOME, &UPLIFT, &TREATMENT).unwrap();
        assert!((qini - SKLIFT_SMALL[0]).abs() < 1e-12, "qini {qini}");
        assert!((auuc - SKLIFT_SMALL[1]).abs() < 1e-12, "auuc {auuc}");
        let y: Vec<f64> = (0..40)
            .map(|i| f64::from(u8::from((i * 7 + 3) % 5 < 2)))
            .collect();
        let t: Vec<f64> = (0..40)
            .map(|i| f64::from(u8::from((i * 3) % 7 < 4)))
            .collect();
        let u: Vec<f64> = (0..40)
            .map(|i| f64::from((i * 11) % 13 - 6) / 4.0)
            .collect();
        let got = [
            qini_auc_score(&y, &u, &t).unwrap(),
            uplift_auc_score(&y, &u, &t).unwrap(),
            uplift_at_k(&y, &u, &t, 0.5).unwrap(),
            uplift_at_k(&y, &u, &t, 0.3).unwrap(),
        ];
        for (got, want) in got.iter().zip(SKLIFT_LARGE) {
            assert!((got - want).abs() < 1e-12, "{got:?} vs {SKLIFT_LARGE:?}");
        }
    }

    const SKLIFT_SMALL: [f64; 2] = [0.7185185185185184, 0.528395061728395];
    const SKLIFT_LARGE: [f64; 4] = [
        -0.018002542405883674,
        -0.0173774472363815,
        -0.04395604395604391,
        0.125,
    ];

    #[test]
    fn perfect_and_random_rankings() {
        let perfect_scores: Vec<f64> = OUTCOME
            .iter()
            .zip(&TREATMENT)
            .map(|(&y, &t)| y * t - y * (1.0 - t))
            .collect();
        let qini = qini_auc_score(&OUTCOME, &perfect_scores, &TREATMENT).unwrap();
        assert!((qini - 1.0).abs() < 1e-12);
        // All scores tied: the curve is the random line itself.
        let tied = vec![0.0; 12];
        assert!(qini_auc_score(&OUTCOME, &tied, &TREATMENT).unwrap().abs() < 1e-12);
        assert!(uplift_auc_score(&OUTCOME, &tied, &TREATMENT).unwrap().abs() < 1e-12);
        // The reversed perfect ranking is below the random line.
        let reversed: Vec<f64> = perfect_scores.iter().map(|s| -s).collect();
        assert!(qini_auc_score(&OUTCOME, &reversed, &TREATMENT).unwrap() < 0.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(qini_auc_score(&[1.0, 2.0], &[0.0, 0.0], &[1.0, 0.0]).is_err());
        assert!(qini_auc_score(&[1.0, 0.0], &[0.0, f64::NAN], &[1.0, 0.0]).is_err());
        assert!(qini_auc_score(&[1.0], &[0.0, 0.0], &[1.0, 0.0]).is_err());
        assert!(uplift_at_k(&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0], 0.5).is_err());
    }
}
