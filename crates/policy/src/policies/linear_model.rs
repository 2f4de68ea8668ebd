//! Ridge regression kept in inverse form, updated one observation at a time with the
//! Sherman–Morrison formula: the shared core of LinUCB, linear Thompson sampling and the
//! uplift-greedy policy's per-action reward models.

use super::features::FEATURE_DIMENSION as D;
use serde::{Deserialize, Serialize};

/// Serde: a learned policy's state file (`cartback policy train`) stores its models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RidgeRegression {
    /// `(λI + Σ x xᵀ)⁻¹`, row-major.
    inverse: [[f64; D]; D],
    /// `Σ r x`.
    weighted_sum: [f64; D],
    /// `inverse · weighted_sum`.
    coefficients: [f64; D],
    observations: u64,
}

impl RidgeRegression {
    /// `ridge` > 0 is the prior precision λ.
    pub fn new(ridge: f64) -> Self {
        let mut inverse = [[0.0; D]; D];
        for (i, row) in inverse.iter_mut().enumerate() {
            row[i] = 1.0 / ridge;
        }
        RidgeRegression {
            inverse,
            weighted_sum: [0.0; D],
            coefficients: [0.0; D],
            observations: 0,
        }
    }

    pub fn update(&mut self, x: &[f64; D], reward: f64) {
        let mut ax = [0.0; D];
        for (i, row) in self.inverse.iter().enumerate() {
            ax[i] = row.iter().zip(x).map(|(a, b)| a * b).sum();
        }
        let denominator = 1.0 + x.iter().zip(&ax).map(|(a, b)| a * b).sum::<f64>();
        for i in 0..D {
            for j in 0..D {
                self.inverse[i][j] -= ax[i] * ax[j] / denominator;
            }
        }
        for (s, xi) in self.weighted_sum.iter_mut().zip(x) {
            *s += reward * xi;
        }
        for i in 0..D {
            self.coefficients[i] = self.inverse[i]
                .iter()
                .zip(&self.weighted_sum)
                .map(|(a, b)| a * b)
                .sum();
        }
        self.observations += 1;
    }

    pub fn predict(&self, x: &[f64; D]) -> f64 {
        self.coefficients.iter().zip(x).map(|(a, b)| a * b).sum()
    }

    /// `xᵀ A⁻¹ x`: the squared width of the confidence ellipsoid along `x`.
    pub fn uncertainty(&self, x: &[f64; D]) -> f64 {
        let mut total = 0.0;
        for (i, row) in self.inverse.iter().enumerate() {
            total += x[i] * row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        }
        total.max(0.0)
    }

    pub fn coefficients(&self) -> &[f64; D] {
        &self.coefficients
    }

    pub fn inverse(&self) -> &[[f64; D]; D] {
        &self.inverse
    }

    pub fn observations(&self) -> u64 {
        self.observations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_linear_function() {
        let mut model = RidgeRegression::new(1e-3);
        let truth: [f64; D] = std::array::from_fn(|i| i as f64 * 0.5 - 2.0);
        // Pseudo-random inputs (a cyclic pattern of 23 values is nearly singular once the
        // feature vector has 22 entries).
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for _ in 0..400 {
            let x: [f64; D] = std::array::from_fn(|_| rng.random_range(-1.5..1.5));
            let y: f64 = truth.iter().zip(&x).map(|(a, b)| a * b).sum();
            model.update(&x, y);
        }
        for (got, want) in model.coefficients().iter().zip(&truth) {
            assert!((got - want).abs() < 1e-3, "{got} vs {want}");
        }
        let x = [1.0; D];
        assert!(model.uncertainty(&x) < RidgeRegression::new(1e-3).uncertainty(&x));
        assert_eq!(model.observations(), 400);
    }
}
