//! Limited-memory BFGS for smooth unconstrained minimisation: two-loop recursion over the
//! last `memory` curvature pairs, a backtracking line search with the Armijo condition, and
//! curvature pairs skipped when sᵀy is not positive (so the inverse-Hessian model stays
//! positive definite).

use crate::error::{Result, invalid_parameter};

/// Settings of the minimiser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsParams {
    /// Number of curvature pairs kept.
    pub memory: usize,
    /// Stop when the largest gradient component is at most this.
    pub gradient_tolerance: f64,
    /// Stop after this many iterations even if not converged.
    pub max_iterations: usize,
}

impl Default for LbfgsParams {
    fn default() -> Self {
        Self {
            memory: 10,
            gradient_tolerance: 1e-6,
            max_iterations: 1000,
        }
    }
}

impl LbfgsParams {
    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        if self.memory == 0 {
            return Err(invalid_parameter("memory", "must be at least 1"));
        }
        if self.gradient_tolerance.is_nan() || self.gradient_tolerance <= 0.0 {
            return Err(invalid_parameter("gradient_tolerance", "must be positive"));
        }
        if self.max_iterations == 0 {
            return Err(invalid_parameter("max_iterations", "must be at least 1"));
        }
        Ok(())
    }
}

/// Where the minimiser stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct LbfgsOutcome {
    pub point: Vec<f64>,
    pub value: f64,
    pub iterations: usize,
    /// True when the gradient tolerance was met (or no further decrease was possible).
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0, |max, value| max.max(value.abs()))
}

/// Minimises `objective`, which returns f(x) and writes ∇f(x) into its second argument.
pub fn minimize<F>(mut objective: F, start: Vec<f64>, params: &LbfgsParams) -> Result<LbfgsOutcome>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    params.validate()?;
    let dimension = start.len();
    let mut point = start;
    let mut gradient = vec![0.0; dimension];
    let mut value = objective(&point, &mut gradient);
    if !value.is_finite() {
        return Err(invalid_parameter(
            "start",
            "the objective is not finite at the starting point",
        ));
    }
    let mut steps: Vec<Vec<f64>> = Vec::with_capacity(params.memory);
    let mut gradient_changes: Vec<Vec<f64>> = Vec::with_capacity(params.memory);
    let mut inverse_curvatures: Vec<f64> = Vec::with_capacity(params.memory);
    let mut direction = vec![0.0; dimension];
    let mut alphas = vec![0.0; params.memory];
    let mut trial = vec![0.0; dimension];
    let mut trial_gradient = vec![0.0; dimension];
    for iteration in 0..params.max_iterations {
        if max_abs(&gradient) <= params.gradient_tolerance {
            return Ok(LbfgsOutcome {
                point,
                value,
                iterations: iteration,
                converged: true,
            });
        }
        // Two-loop recursion: direction = −H·g.
        direction
            .iter_mut()
            .zip(&gradient)
            .for_each(|(d, g)| *d = -g);
        for index in (0..steps.len()).rev() {
            alphas[index] = inverse_curvatures[index] * dot(&steps[index], &direction);
            direction
                .iter_mut()
                .zip(&gradient_changes[index])
                .for_each(|(d, y)| *d -= alphas[index] * y);
        }
        let initial_scale = match (steps.last(), gradient_changes.last()) {
            (Some(step), Some(change)) => dot(step, change) / dot(change, change),
            _ => 1.0 / max_abs(&gradient).max(1.0),
        };
        direction.iter_mut().for_each(|d| *d *= initial_scale);
        for index in 0..steps.len() {
            let beta = inverse_curvatures[index] * dot(&gradient_changes[index], &direction);
            direction
                .iter_mut()
                .zip(&steps[index])
                .for_each(|(d, s)| *d += (alphas[index] - beta) * s);
        }
        let mut slope = dot(&gradient, &direction);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart from steepest descent.
            steps.clear();
            gradient_changes.clear();
            inverse_curvatures.clear();
            direction
                .iter_mut()
                .zip(&gradient)
                .for_each(|(d, g)| *d = -g / max_abs(&gradient).max(1.0));
            slope = dot(&gradient, &direction);
        }
        // Backtracking line search with the Armijo condition.
        let mut step_length = 1.0;
        let mut accepted = None;
        for _ in 0..50 {
            trial
                .iter_mut()
                .zip(point.iter().zip(&direction))
                .for_each(|(t, (x, d))| *t = x + step_length * d);
            let trial_value = objective(&trial, &mut trial_gradient);
            if trial_value.is_finite() && trial_value <= value + 1e-4 * step_length * slope {
                accepted = Some(trial_value);
                break;
            }
            step_length *= 0.5;
        }
        let Some(trial_value) = accepted else {
            // No decrease possible along a descent direction: at machine precision.
            return Ok(LbfgsOutcome {
                point,
                value,
                iterations: iteration,
                converged: true,
            });
        };
        let step: Vec<f64> = trial.iter().zip(&point).map(|(t, x)| t - x).collect();
        let change: Vec<f64> = trial_gradient
            .iter()
            .zip(&gradient)
            .map(|(t, g)| t - g)
            .collect();
        let curvature = dot(&step, &change);
        if curvature > 1e-12 * dot(&change, &change).sqrt() * dot(&step, &step).sqrt() {
            if steps.len() == params.memory {
                steps.remove(0);
                gradient_changes.remove(0);
                inverse_curvatures.remove(0);
            }
            steps.push(step);
            gradient_changes.push(change);
            inverse_curvatures.push(1.0 / curvature);
        }
        let decrease = value - trial_value;
        std::mem::swap(&mut point, &mut trial);
        std::mem::swap(&mut gradient, &mut trial_gradient);
        value = trial_value;
        if decrease <= f64::EPSILON * value.abs().max(1.0)
            && max_abs(&gradient) <= params.gradient_tolerance.sqrt()
        {
            return Ok(LbfgsOutcome {
                point,
                value,
                iterations: iteration + 1,
                converged: true,
            });
        }
    }
    let converged = max_abs(&gradient) <= params.gradient_tolerance;
    Ok(LbfgsOutcome {
        point,
        value,
        iterations: params.max_iterations,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_the_rosenbrock_function() {
        let rosenbrock = |x: &[f64], gradient: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            gradient[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            gradient[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let outcome = minimize(rosenbrock, vec![-1.2, 1.0], &LbfgsParams::default()).unwrap();
        assert!(outcome.converged);
        assert!(
            (outcome.point[0] - 1.0).abs() < 1e-5 && (outcome.point[1] - 1.0).abs() < 1e-5,
            "{:?}",
            outcome.point
        );
    }

    #[test]
    fn rejects_bad_settings() {
        let params = LbfgsParams {
            memory: 0,
            ..LbfgsParams::default()
        };
        assert!(minimize(|_, _| 0.0, vec![0.0], &params).is_err());
    }
}
