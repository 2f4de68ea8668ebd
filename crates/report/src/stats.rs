//! Confidence intervals for the report's comparisons: a proportion (Wilson score), the
//! difference of two proportions (Newcombe's hybrid score interval) and the difference of two
//! means (Welch, normal approximation). All at 95 %.

use serde::Serialize;

/// The standard normal quantile of 97.5 %: two-sided 95 % intervals.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A point estimate with its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Estimate {
    /// Whether the interval excludes zero (the difference is significant at 5 %).
    pub fn excludes_zero(&self) -> bool {
        self.ci_low > 0.0 || self.ci_high < 0.0
    }

    /// The estimate and its interval multiplied by `factor` (≥ 0).
    pub fn scaled(&self, factor: f64) -> Estimate {
        Estimate {
            value: self.value * factor,
            ci_low: self.ci_low * factor,
            ci_high: self.ci_high * factor,
        }
    }
}

/// Wilson's score interval for `successes` out of `n`; `None` when `n` is 0.
pub fn wilson(successes: u64, n: u64) -> Option<Estimate> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 or n successes the bound is exactly 0 or 1 (not a rounding error away from it).
    Some(Estimate {
        value: p,
        ci_low: if successes == 0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        ci_high: if successes as f64 == n {
            1.0
        } else {
            (centre + half).min(1.0)
        },
    })
}

/// Newcombe's hybrid score interval (method 10 of Newcombe 1998) for p₁ − p₂, from the two
/// Wilson intervals; `None` when either group is empty.
pub fn proportion_difference(s1: u64, n1: u64, s2: u64, n2: u64) -> Option<Estimate> {
    let a = wilson(s1, n1)?;
    let b = wilson(s2, n2)?;
    let d = a.value - b.value;
    let low = d - ((a.value - a.ci_low).powi(2) + (b.ci_high - b.value).powi(2)).sqrt();
    let high = d + ((a.ci_high - a.value).powi(2) + (b.value - b.ci_low).powi(2)).sqrt();
    Some(Estimate {
        value: d,
        ci_low: low,
        ci_high: high,
    })
}

/// Running mean and variance (Welford), for one group's per-abandonment values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    /// The mean; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// The sample variance (n − 1); 0 with fewer than two values.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// The mean with a normal-approximation interval; `None` when empty.
    pub fn mean_estimate(&self) -> Option<Estimate> {
        let mean = self.mean()?;
        let half = Z_95 * (self.variance() / self.n as f64).sqrt();
        Some(Estimate {
            value: mean,
            ci_low: mean - half,
            ci_high: mean + half,
        })
    }
}

/// Welch's interval for mean₁ − mean₂ with the normal quantile (the groups the report
/// compares hold hundreds of abandonments or more; below 30 a group is flagged as too small);
/// `None` when either group is empty.
pub fn mean_difference(a: &Moments, b: &Moments) -> Option<Estimate> {
    let d = a.mean()? - b.mean()?;
    let se = (a.variance() / a.n as f64 + b.variance() / b.n as f64).sqrt();
    Some(Estimate {
        value: d,
        ci_low: d - Z_95 * se,
        ci_high: d + Z_95 * se,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) {
        assert!((a - b).abs() < tolerance, "{a} vs {b}");
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), table I, example (a): 81/263 → 0.2553 – 0.3662.
        let e = wilson(81, 263).unwrap();
        close(e.ci_low, 0.2553, 5e-5);
        close(e.ci_high, 0.3662, 5e-5);
        // Example (e): 0/10 → 0 – 0.2775.
        let e = wilson(0, 10).unwrap();
        assert_eq!(e.ci_low, 0.0);
        assert_eq!(wilson(12, 12).unwrap().ci_high, 1.0);
        assert_eq!(wilson(0, 12).unwrap().ci_low, 0.0);
        close(e.ci_high, 0.2775, 5e-5);
        assert!(wilson(0, 0).is_none());
    }

    #[test]
    fn newcombe_difference_matches_the_published_example() {
        // Newcombe (1998), table II, example (a): 56/70 − 48/80 = 0.2000, method 10:
        // 0.0524 – 0.3339.
        let e = proportion_difference(56, 70, 48, 80).unwrap();
        close(e.value, 0.2, 1e-12);
        close(e.ci_low, 0.0524, 5e-5);
        close(e.ci_high, 0.3339, 5e-5);
        // Example (d): 5/56 − 0/29 = 0.0893: −0.0381 – 0.1926.
        let e = proportion_difference(5, 56, 0, 29).unwrap();
        close(e.ci_low, -0.0381, 5e-5);
        close(e.ci_high, 0.1926, 5e-5);
        assert!(proportion_difference(1, 2, 0, 0).is_none());
    }

    #[test]
    fn moments_and_welch_agree_with_direct_formulas() {
        let xs = [3.0, 7.0, 7.0, 19.0];
        let ys = [1.0, 2.0, 3.0];
        let (mut a, mut b) = (Moments::default(), Moments::default());
        xs.iter().for_each(|&x| a.push(x));
        ys.iter().for_each(|&y| b.push(y));
        assert_eq!(a.mean(), Some(9.0));
        close(a.variance(), (36.0 + 4.0 + 4.0 + 100.0) / 3.0, 1e-12);
        close(b.variance(), 1.0, 1e-12);
        let d = mean_difference(&a, &b).unwrap();
        close(d.value, 7.0, 1e-12);
        let se = (48.0 / 4.0 + 1.0 / 3.0_f64).sqrt();
        close(d.ci_high - d.value, Z_95 * se, 1e-12);
        assert!(d.excludes_zero() == (d.ci_low > 0.0));
        assert!(mean_difference(&a, &Moments::default()).is_none());
    }
}
