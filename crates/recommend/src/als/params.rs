//! The user-facing settings of implicit ALS and their validation into [`ValidAlsParams`],
//! the only thing that can be fitted.

use crate::error::RecommendError;
use crate::weighting::Weighting;
use serde::{Deserialize, Serialize};

/// How each least-squares row problem is solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Solver {
    /// A few conjugate-gradient steps warm-started from the previous factors, as the
    /// `implicit` library does (Takács et al.); `steps` = 3 there.
    ConjugateGradient { steps: usize },
    /// The exact solution by Cholesky factorisation of the `factors × factors` system.
    Cholesky,
}

/// How a raw interaction weight `r` becomes a confidence `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// `c = 1 + alpha·r`, as in Hu, Koren and Volinsky (2008).
    #[default]
    OnePlusAlpha,
    /// `c = alpha·r`, as the `implicit` library does.
    Alpha,
}

/// Settings of an implicit-feedback ALS fit. Validate with [`AlsParams::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlsParams {
    /// Number of latent factors.
    pub factors: usize,
    /// L2 penalty λ on every user and item vector.
    pub regularization: f64,
    /// Confidence scale α.
    pub alpha: f64,
    /// Full sweeps (users then items).
    pub iterations: usize,
    pub solver: Solver,
    pub confidence: Confidence,
    pub weighting: Weighting,
    /// Seed of the random initial factors.
    pub seed: u64,
    /// Worker threads; 0 uses every core. The fit is identical for any thread count.
    pub threads: usize,
    /// Computes the training loss after every iteration (one extra pass over the data).
    pub track_loss: bool,
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 64,
            regularization: 0.05,
            alpha: 10.0,
            iterations: 15,
            solver: Solver::ConjugateGradient { steps: 3 },
            confidence: Confidence::OnePlusAlpha,
            weighting: Weighting::None,
            seed: 42,
            threads: 0,
            track_loss: false,
        }
    }
}

/// Parameters that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidAlsParams(pub(crate) AlsParams);

impl ValidAlsParams {
    pub fn params(&self) -> &AlsParams {
        &self.0
    }
}

impl AlsParams {
    pub fn validate(&self) -> Result<ValidAlsParams, RecommendError> {
        if !(1..=1024).contains(&self.factors) {
            return Err(RecommendError::invalid(
                "factors",
                format!("{} must be within 1..=1024", self.factors),
            ));
        }
        if !(self.regularization.is_finite() && self.regularization > 0.0) {
            return Err(RecommendError::invalid(
                "regularization",
                format!("{} must be > 0", self.regularization),
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(RecommendError::invalid(
                "alpha",
                format!("{} must be > 0", self.alpha),
            ));
        }
        if !(1..=10_000).contains(&self.iterations) {
            return Err(RecommendError::invalid(
                "iterations",
                format!("{} must be within 1..=10000", self.iterations),
            ));
        }
        if let Solver::ConjugateGradient { steps } = self.solver
            && !(1..=1024).contains(&steps)
        {
            return Err(RecommendError::invalid(
                "cg-steps",
                format!("{steps} must be within 1..=1024"),
            ));
        }
        if self.threads > 1024 {
            return Err(RecommendError::invalid(
                "threads",
                format!("{} must be at most 1024", self.threads),
            ));
        }
        self.weighting.validate()?;
        Ok(ValidAlsParams(self.clone()))
    }

    /// The confidence of a raw weight.
    pub fn confidence_of(&self, weight: f64) -> f64 {
        match self.confidence {
            Confidence::OnePlusAlpha => 1.0 + self.alpha * weight,
            Confidence::Alpha => self.alpha * weight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_name_their_field() {
        let bad = |p: AlsParams| p.validate().unwrap_err().to_string();
        assert!(
            bad(AlsParams {
                factors: 0,
                ..Default::default()
            })
            .contains("`factors`")
        );
        assert!(
            bad(AlsParams {
                regularization: -1.0,
                ..Default::default()
            })
            .contains("`regularization`")
        );
        assert!(
            bad(AlsParams {
                alpha: f64::NAN,
                ..Default::default()
            })
            .contains("`alpha`")
        );
        assert!(
            bad(AlsParams {
                iterations: 0,
                ..Default::default()
            })
            .contains("`iterations`")
        );
        assert!(
            bad(AlsParams {
                solver: Solver::ConjugateGradient { steps: 0 },
                ..Default::default()
            })
            .contains("`cg-steps`")
        );
        assert!(AlsParams::default().validate().is_ok());
    }
}
