//! Solving one row of ALS: given the other side's factors `Y`, their regularised Gram
//! matrix `G = YᵀY + λI` and one user's (or item's) observed confidences `c_i`, find
//! `x = (G + Σ (c_i − 1) y_i y_iᵀ)⁻¹ Σ c_i y_i` — by conjugate gradient without forming
//! the matrix (as `implicit` does) or exactly by Cholesky. Also the row's share of the loss.

use crate::matrix::{Factors, axpy, dot, mat_vec};

/// The observed entries of one row and the data shared by all rows.
pub(crate) struct RowProblem<'a> {
    /// `YᵀY + λI`, row-major `k × k`.
    pub regularised_gram: &'a [f64],
    pub other: &'a Factors,
    pub columns: &'a [u32],
    pub confidences: &'a [f64],
}

/// Reusable buffers for one worker.
pub(crate) struct Scratch {
    residual: Vec<f64>,
    direction: Vec<f64>,
    product: Vec<f64>,
    matrix: Vec<f64>,
}

impl Scratch {
    pub fn new(k: usize) -> Self {
        Scratch {
            residual: vec![0.0; k],
            direction: vec![0.0; k],
            product: vec![0.0; k],
            matrix: vec![0.0; k * k],
        }
    }
}

/// `out = A·v` with `A = G + Σ (c_i − 1) y_i y_iᵀ`, never formed.
fn apply_system(problem: &RowProblem<'_>, v: &[f64], out: &mut [f64]) {
    mat_vec(problem.regularised_gram, v, out);
    for (&col, &c) in problem.columns.iter().zip(problem.confidences) {
        let y = problem.other.row(col as usize);
        axpy((c - 1.0) * dot(y, v), y, out);
    }
}

/// Runs up to `steps` conjugate-gradient steps on the row system, starting from `x`.
pub(crate) fn solve_conjugate_gradient(
    problem: &RowProblem<'_>,
    x: &mut [f64],
    steps: usize,
    scratch: &mut Scratch,
) {
    let Scratch {
        residual: r,
        direction: p,
        product: ap,
        ..
    } = scratch;
    // r = b − A·x
    apply_system(problem, x, ap);
    r.iter_mut().zip(ap.iter()).for_each(|(r, a)| *r = -a);
    for (&col, &c) in problem.columns.iter().zip(problem.confidences) {
        axpy(c, problem.other.row(col as usize), r);
    }
    p.copy_from_slice(r);
    let mut rs_old = dot(r, r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..steps {
        apply_system(problem, p, ap);
        let curvature = dot(p, ap);
        if curvature <= 0.0 || !curvature.is_finite() {
            return;
        }
        let step = rs_old / curvature;
        axpy(step, p, x);
        axpy(-step, ap, r);
        let rs_new = dot(r, r);
        if rs_new < 1e-20 {
            return;
        }
        let beta = rs_new / rs_old;
        p.iter_mut()
            .zip(r.iter())
            .for_each(|(p, r)| *p = r + beta * *p);
        rs_old = rs_new;
    }
}

/// Solves the row system exactly. Returns false (leaving `x` as it was) when the system is
/// not positive definite.
pub(crate) fn solve_cholesky(
    problem: &RowProblem<'_>,
    x: &mut [f64],
    scratch: &mut Scratch,
) -> bool {
    let k = x.len();
    let Scratch {
        residual: b,
        matrix: a,
        ..
    } = scratch;
    a.copy_from_slice(problem.regularised_gram);
    b.iter_mut().for_each(|b| *b = 0.0);
    for (&col, &c) in problem.columns.iter().zip(problem.confidences) {
        let y = problem.other.row(col as usize);
        axpy(c, y, b);
        for (i, &yi) in y.iter().enumerate() {
            axpy((c - 1.0) * yi, y, &mut a[i * k..(i + 1) * k]);
        }
    }
    if !cholesky_in_place(a, k) {
        return false;
    }
    cholesky_solve(a, k, b);
    x.copy_from_slice(b);
    true
}

/// Factors a symmetric positive definite row-major matrix into `L` (lower triangle, in
/// place). Returns false when a pivot is not positive.
pub(crate) fn cholesky_in_place(a: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let mut diagonal = a[j * k + j];
        for m in 0..j {
            diagonal -= a[j * k + m] * a[j * k + m];
        }
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return false;
        }
        let pivot = diagonal.sqrt();
        a[j * k + j] = pivot;
        for i in j + 1..k {
            let mut value = a[i * k + j];
            for m in 0..j {
                value -= a[i * k + m] * a[j * k + m];
            }
            a[i * k + j] = value / pivot;
        }
    }
    true
}

/// Solves `L Lᵀ x = b` in place given the factor from [`cholesky_in_place`].
pub(crate) fn cholesky_solve(l: &[f64], k: usize, b: &mut [f64]) {
    for i in 0..k {
        let mut value = b[i];
        for m in 0..i {
            value -= l[i * k + m] * b[m];
        }
        b[i] = value / l[i * k + i];
    }
    for i in (0..k).rev() {
        let mut value = b[i];
        for m in i + 1..k {
            value -= l[m * k + i] * b[m];
        }
        b[i] = value / l[i * k + i];
    }
}

/// This row's share of the objective `Σ_i c_i (p_i − x·y_i)² + λ‖x‖²` over *all* columns
/// (unobserved ones with c = 1, p = 0), given the unregularised Gram matrix `YᵀY`.
pub(crate) fn row_loss(
    gram: &[f64],
    regularization: f64,
    problem: &RowProblem<'_>,
    x: &[f64],
    buffer: &mut [f64],
) -> f64 {
    mat_vec(gram, x, buffer);
    let mut loss = dot(x, buffer) + regularization * dot(x, x);
    for (&col, &c) in problem.columns.iter().zip(problem.confidences) {
        let s = dot(problem.other.row(col as usize), x);
        loss += (c - 1.0) * s * s - 2.0 * c * s + c;
    }
    loss
}
