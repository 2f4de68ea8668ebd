//! Non-parametric bootstrap confidence intervals over per-round rewards, as obp's
//! `estimate_confidence_interval_by_bootstrap`: resample the rounds with replacement,
//! take the mean of each resample, and read the `alpha/2` and `1 - alpha/2` percentiles
//! (numpy's linear interpolation) of those means.
//!
//! Several estimators are resampled with the same draws (one index stream for all), which
//! costs one random number per round and replicate whatever the number of estimators.

use super::error::OpeError;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// User-facing settings of the bootstrap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootstrapParams {
    /// Number of resamples (obp's `n_bootstrap_samples`).
    pub n_samples: usize,
    /// Significance level: `0.05` gives a 95 % interval.
    pub alpha: f64,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for BootstrapParams {
    fn default() -> Self {
        BootstrapParams {
            n_samples: 1_000,
            alpha: 0.05,
            seed: 12_345,
        }
    }
}

impl BootstrapParams {
    /// Validates the settings into a [`Bootstrap`].
    pub fn validate(self) -> Result<Bootstrap, OpeError> {
        if self.n_samples == 0 {
            return Err(OpeError::Parameter {
                name: "n_samples".into(),
                message: "must be at least 1".into(),
            });
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(OpeError::Parameter {
                name: "alpha".into(),
                message: format!("must be in (0, 1), got {}", self.alpha),
            });
        }
        Ok(Bootstrap { params: self })
    }
}

/// A validated bootstrap procedure.
#[derive(Clone, Copy, Debug)]
pub struct Bootstrap {
    params: BootstrapParams,
}

/// A bootstrap interval: the mean of the resampled means and the two percentiles.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ConfidenceInterval {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

impl Bootstrap {
    pub fn params(&self) -> BootstrapParams {
        self.params
    }

    /// Interval for one series of per-round rewards.
    pub fn interval(&self, samples: &[f64]) -> Result<ConfidenceInterval, OpeError> {
        Ok(self.intervals(&[samples])?[0])
    }

    /// Intervals for several series of the same length, resampled with the same draws.
    pub fn intervals(&self, series: &[&[f64]]) -> Result<Vec<ConfidenceInterval>, OpeError> {
        let Some(first) = series.first() else {
            return Ok(Vec::new());
        };
        let n = first.len();
        if n == 0 {
            return Err(OpeError::EmptyLog);
        }
        if let Some(other) = series.iter().find(|s| s.len() != n) {
            return Err(OpeError::Parameter {
                name: "series".into(),
                message: format!("lengths differ: {n} and {}", other.len()),
            });
        }
        let k = series.len();
        // Round-major copy: a draw reads its round's k values from one place instead of
        // one cache miss per series (the sums, and so the intervals, are unchanged).
        let mut rows = Vec::with_capacity(n * k);
        for index in 0..n {
            rows.extend(series.iter().map(|values| values[index]));
        }
        let mut rng = SmallRng::seed_from_u64(self.params.seed);
        let mut means = vec![Vec::with_capacity(self.params.n_samples); k];
        let mut sums = vec![0.0; k];
        for _ in 0..self.params.n_samples {
            sums.iter_mut().for_each(|s| *s = 0.0);
            for _ in 0..n {
                let index = rng.random_range(0..n);
                for (sum, value) in sums.iter_mut().zip(&rows[index * k..(index + 1) * k]) {
                    *sum += value;
                }
            }
            for (resampled, sum) in means.iter_mut().zip(&sums) {
                resampled.push(sum / n as f64);
            }
        }
        Ok(means
            .into_iter()
            .map(|mut resampled| {
                resampled.sort_by(f64::total_cmp);
                ConfidenceInterval {
                    mean: resampled.iter().sum::<f64>() / resampled.len() as f64,
                    low: percentile_sorted(&resampled, 100.0 * self.params.alpha / 2.0),
                    high: percentile_sorted(&resampled, 100.0 * (1.0 - self.params.alpha / 2.0)),
                }
            })
            .collect())
    }
}

/// numpy's default (`linear`) percentile of sorted values, `q` in `[0, 100]`.
pub(crate) fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let rank = q / 100.0 * (sorted.len() - 1) as f64;
    let below = rank.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = rank - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear_interpolation() {
        // np.percentile([1, 2, 3, 4], [0, 2.5, 50, 97.5, 100]) = [1, 1.075, 2.5, 3.925, 4]
        let v = [1.0, 2.0, 3.0, 4.0];
        for (q, want) in [
            (0.0, 1.0),
            (2.5, 1.075),
            (50.0, 2.5),
            (97.5, 3.925),
            (100.0, 4.0),
        ] {
            assert!((percentile_sorted(&v, q) - want).abs() < 1e-12, "q={q}");
        }
    }

    #[test]
    fn interval_covers_the_mean_and_is_reproducible() {
        let samples: Vec<f64> = (0..500).map(|i| (i % 10) as f64).collect();
        let bootstrap = BootstrapParams {
            n_samples: 400,
            alpha: 0.05,
            seed: 7,
        }
        .validate()
        .unwrap();
        let a = bootstrap.interval(&samples).unwrap();
        let b = bootstrap.interval(&samples).unwrap();
        assert_eq!(a, b);
        assert!(a.low < 4.5 && 4.5 < a.high, "{a:?}");
        // Standard error of the mean is sqrt(8.25 / 500) = 0.128: the 95 % interval is
        // about ±0.25 wide, certainly not ±1.
        assert!(a.high - a.low > 0.3 && a.high - a.low < 0.8, "{a:?}");
        assert!((a.mean - 4.5).abs() < 0.05);
    }

    #[test]
    fn several_series_get_the_means_of_resampling_each_directly() {
        // The round-major copy must not change which rounds a draw picks: the means of every
        // resample equal those of drawing indices and reading each series in place.
        let a: Vec<f64> = (0..50).map(|i| f64::from(i * i % 17)).collect();
        let b: Vec<f64> = (0..50).map(|i| f64::from(i % 7) - 3.0).collect();
        let params = BootstrapParams {
            n_samples: 40,
            alpha: 0.1,
            seed: 7,
        };
        let intervals = params.validate().unwrap().intervals(&[&a, &b]).unwrap();
        let mut rng = SmallRng::seed_from_u64(params.seed);
        let mut means = [Vec::new(), Vec::new()];
        for _ in 0..params.n_samples {
            let (mut sum_a, mut sum_b) = (0.0, 0.0);
            for _ in 0..a.len() {
                let index = rng.random_range(0..a.len());
                sum_a += a[index];
                sum_b += b[index];
            }
            means[0].push(sum_a / a.len() as f64);
            means[1].push(sum_b / b.len() as f64);
        }
        for (interval, mut resampled) in intervals.into_iter().zip(means) {
            resampled.sort_by(f64::total_cmp);
            assert_eq!(interval.low, percentile_sorted(&resampled, 5.0));
            assert_eq!(interval.high, percentile_sorted(&resampled, 95.0));
        }
    }

    #[test]
    fn constant_series_has_a_zero_width_interval() {
        let bootstrap = BootstrapParams::default().validate().unwrap();
        let ci = bootstrap.interval(&[3.0; 50]).unwrap();
        assert_eq!((ci.low, ci.high), (3.0, 3.0));
    }

    #[test]
    fn invalid_params_are_rejected_by_name() {
        let err = BootstrapParams {
            n_samples: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("n_samples"));
        let err = BootstrapParams {
            alpha: 1.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("alpha"));
    }
}
