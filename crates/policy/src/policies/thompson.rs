//! Linear Thompson sampling: one Bayesian ridge model of a step's net revenue per action;
//! draws coefficients from each posterior `N(θ̂, v² A⁻¹)` and picks the best draw, with an
//! ε floor. The probability of each action is estimated from a fixed number of posterior
//! draws seeded by the state, so [`distribution`](Policy::distribution) is a pure function
//! and the logged propensity is the one the choice was drawn from.

use super::features::{FEATURE_DIMENSION as D, feature_vector};
use super::linear_model::RidgeRegression;
use super::linucb::{REWARD_SCALE, check_params};
use super::{ActionDistribution, N_ACTIONS, Observation, Policy, PolicyError, allowed_actions};
use crate::actions::ActionKind;
use crate::simulator::{OnlineLearner, Transition};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearThompsonParams {
    /// Posterior scale `v`.
    pub scale: f64,
    pub epsilon: f64,
    pub ridge: f64,
    /// Posterior draws used to estimate the action probabilities.
    pub draws: usize,
}

impl Default for LinearThompsonParams {
    fn default() -> Self {
        LinearThompsonParams {
            scale: 0.3,
            epsilon: 0.05,
            ridge: 1.0,
            draws: 32,
        }
    }
}

impl LinearThompsonParams {
    pub fn validate(self) -> Result<LinearThompson, PolicyError> {
        check_params(self.scale, self.epsilon, self.ridge)?;
        if self.draws == 0 {
            return Err(PolicyError::Parameter {
                name: "draws",
                message: "must be at least 1".into(),
            });
        }
        Ok(LinearThompson {
            params: self,
            models: std::array::from_fn(|_| RidgeRegression::new(self.ridge)),
            greedy: false,
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinearThompson {
    params: LinearThompsonParams,
    models: [RidgeRegression; N_ACTIONS],
    /// Act on the posterior means, without sampling or exploration floor (absent from
    /// state files written before it existed: sampling).
    #[serde(default)]
    greedy: bool,
}

impl LinearThompson {
    /// The same posteriors acting greedily on their means (for evaluation after training).
    pub fn greedy(mut self) -> Self {
        self.greedy = true;
        self
    }
}

/// Lower-triangular `L` with `L Lᵀ = m` (a tiny jitter keeps it defined for PSD input).
fn cholesky(m: &[[f64; D]; D]) -> [[f64; D]; D] {
    let mut l = [[0.0; D]; D];
    for i in 0..D {
        for j in 0..=i {
            let sum = m[i][j]
                - l[i][..j]
                    .iter()
                    .zip(&l[j][..j])
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            if i == j {
                l[i][j] = (sum + 1e-12).max(0.0).sqrt();
            } else if l[j][j] > 0.0 {
                l[i][j] = sum / l[j][j];
            }
        }
    }
    l
}

fn state_seed(x: &[f64; D]) -> u64 {
    x.iter().fold(0xcbf2_9ce4_8422_2325, |h, v| {
        (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Policy for LinearThompson {
    fn name(&self) -> &str {
        "thompson"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let x = feature_vector(&observation.state);
        let allowed = allowed_actions(&observation.state);
        if self.greedy {
            let mut means = [f64::NEG_INFINITY; N_ACTIONS];
            let mut best = ActionKind::DoNothing;
            for kind in ActionKind::ALL {
                if allowed[kind.index()] {
                    means[kind.index()] = self.models[kind.index()].predict(&x);
                    if means[kind.index()] > means[best.index()] {
                        best = kind;
                    }
                }
            }
            return ActionDistribution::certain(
                best,
                means,
                format!(
                    "Thompson sampling (greedy): {best} has the highest posterior mean ({:.2})",
                    means[best.index()]
                ),
            );
        }
        let mut rng = SmallRng::seed_from_u64(state_seed(&x));
        // For each action: mean θ̂ᵀx and the factor giving the draw's spread along x.
        let mut means = [0.0; N_ACTIONS];
        let mut directions = [[0.0; D]; N_ACTIONS];
        for kind in ActionKind::ALL {
            if !allowed[kind.index()] {
                continue;
            }
            let model = &self.models[kind.index()];
            means[kind.index()] = model.predict(&x);
            // θᵀx with θ = θ̂ + v L z has spread v (Lᵀx)·z.
            let l = cholesky(model.inverse());
            let mut ltx = [0.0; D];
            for (k, value) in ltx.iter_mut().enumerate() {
                *value = (k..D).map(|i| l[i][k] * x[i]).sum::<f64>() * self.params.scale;
            }
            directions[kind.index()] = ltx;
        }
        let mut wins = [0usize; N_ACTIONS];
        for _ in 0..self.params.draws {
            let z: [f64; D] = std::array::from_fn(|_| StandardNormal.sample(&mut rng));
            let mut best = ActionKind::DoNothing;
            let mut best_value = f64::NEG_INFINITY;
            for kind in ActionKind::ALL {
                if !allowed[kind.index()] {
                    continue;
                }
                let draw = means[kind.index()]
                    + directions[kind.index()]
                        .iter()
                        .zip(&z)
                        .map(|(a, b)| a * b)
                        .sum::<f64>();
                if draw > best_value {
                    best_value = draw;
                    best = kind;
                }
            }
            wins[best.index()] += 1;
        }
        let n_allowed = allowed.iter().filter(|&&a| a).count().max(1) as f64;
        let mut probabilities = [0.0; N_ACTIONS];
        for kind in ActionKind::ALL {
            if allowed[kind.index()] {
                probabilities[kind.index()] = (1.0 - self.params.epsilon)
                    * wins[kind.index()] as f64
                    / self.params.draws as f64
                    + self.params.epsilon / n_allowed;
            }
        }
        let mut distribution = ActionDistribution {
            probabilities,
            scores: means,
            reason: String::new(),
        };
        let mode = distribution.mode();
        distribution.reason = format!(
            "Thompson sampling: {mode} wins {:.0} % of posterior draws (mean {:.2})",
            100.0 * wins[mode.index()] as f64 / self.params.draws as f64,
            means[mode.index()]
        );
        distribution
    }
}

impl OnlineLearner for LinearThompson {
    fn learn(&mut self, transition: &Transition) {
        let x = feature_vector(&transition.state);
        self.models[transition.action.index()].update(&x, transition.reward_minor / REWARD_SCALE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs_the_matrix() {
        let mut m = [[0.0; D]; D];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if i == j {
                    2.0 + i as f64
                } else {
                    0.3 / (1.0 + (i + j) as f64)
                };
            }
        }
        let l = cholesky(&m);
        for i in 0..D {
            for j in 0..D {
                let v: f64 = (0..D).map(|k| l[i][k] * l[j][k]).sum();
                assert!((v - m[i][j]).abs() < 1e-9);
            }
        }
    }
}
