//! Compressed sparse row matrices (users × items and their transpose) and dense row-major
//! factor matrices: the two data layouts every model here works on.

use serde::{Deserialize, Serialize};

/// A sparse matrix in compressed sparse row form with `f64` values. Column indices within a
/// row are sorted and unique.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseMatrix {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f64>,
}

impl SparseMatrix {
    /// Builds a matrix from `(row, col, value)` triples; duplicates are summed. Triples with
    /// a row or column out of range are a programming error upstream and are skipped.
    pub fn from_triples(
        rows: usize,
        cols: usize,
        triples: impl IntoIterator<Item = (u32, u32, f64)>,
    ) -> Self {
        let mut entries: Vec<(u32, u32, f64)> = triples
            .into_iter()
            .filter(|&(r, c, _)| (r as usize) < rows && (c as usize) < cols)
            .collect();
        entries.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0usize; rows + 1];
        let mut indices = Vec::with_capacity(entries.len());
        let mut values: Vec<f64> = Vec::with_capacity(entries.len());
        let mut last: Option<(u32, u32)> = None;
        for (r, c, v) in entries {
            if last == Some((r, c)) {
                if let Some(sum) = values.last_mut() {
                    *sum += v;
                }
                continue;
            }
            last = Some((r, c));
            indptr[r as usize + 1] += 1;
            indices.push(c);
            values.push(v);
        }
        for r in 0..rows {
            indptr[r + 1] += indptr[r];
        }
        SparseMatrix {
            rows,
            cols,
            indptr,
            indices,
            values,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The column indices and values of one row.
    pub fn row(&self, row: usize) -> (&[u32], &[f64]) {
        let range = self.indptr[row]..self.indptr[row + 1];
        (&self.indices[range.clone()], &self.values[range])
    }

    /// Column indices of one row.
    pub fn row_indices(&self, row: usize) -> &[u32] {
        &self.indices[self.indptr[row]..self.indptr[row + 1]]
    }

    /// Iterates over `(row, col, value)`.
    pub fn triples(&self) -> impl Iterator<Item = (u32, u32, f64)> + '_ {
        (0..self.rows).flat_map(move |r| {
            let (cols, vals) = self.row(r);
            cols.iter().zip(vals).map(move |(&c, &v)| (r as u32, c, v))
        })
    }

    /// The transpose (items × users from users × items).
    pub fn transpose(&self) -> SparseMatrix {
        SparseMatrix::from_triples(
            self.cols,
            self.rows,
            self.triples().map(|(r, c, v)| (c, r, v)),
        )
    }

    /// Replaces every value by `f(row, col, value)`; entries mapped to a value ≤ 0 or not
    /// finite are dropped.
    pub fn map_values(&self, mut f: impl FnMut(u32, u32, f64) -> f64) -> SparseMatrix {
        let mapped: Vec<_> = self.triples().map(|(r, c, v)| (r, c, f(r, c, v))).collect();
        SparseMatrix::from_triples(
            self.rows,
            self.cols,
            mapped
                .into_iter()
                .filter(|&(_, _, v)| v.is_finite() && v > 0.0),
        )
    }

    /// Number of stored entries in each column.
    pub fn column_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.cols];
        for &c in &self.indices {
            counts[c as usize] += 1;
        }
        counts
    }

    /// Sum of the values in each row.
    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.rows).map(|r| self.row(r).1.iter().sum()).collect()
    }
}

/// A dense row-major matrix of latent factors: one row of `width` numbers per user or item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    width: usize,
    data: Vec<f64>,
}

impl Factors {
    pub fn zeros(rows: usize, width: usize) -> Self {
        Factors {
            width,
            data: vec![0.0; rows * width],
        }
    }

    /// Wraps row-major data; `data.len()` must be a multiple of `width`.
    pub fn from_rows(width: usize, data: Vec<f64>) -> Option<Self> {
        (width > 0 && data.len().is_multiple_of(width)).then_some(Factors { width, data })
    }

    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn row(&self, row: usize) -> &[f64] {
        &self.data[row * self.width..(row + 1) * self.width]
    }

    pub fn row_mut(&mut self, row: usize) -> &mut [f64] {
        &mut self.data[row * self.width..(row + 1) * self.width]
    }

    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// `FᵀF`, the `width × width` Gram matrix, row-major. Summed in fixed blocks so the
    /// result does not depend on the number of threads.
    pub fn gram(&self) -> Vec<f64> {
        use rayon::prelude::*;
        const BLOCK_ROWS: usize = 1024;
        let k = self.width;
        let partials: Vec<Vec<f64>> = self
            .data
            .par_chunks(BLOCK_ROWS * k)
            .map(|block| {
                let mut g = vec![0.0; k * k];
                for row in block.chunks_exact(k) {
                    for (a, &ra) in row.iter().enumerate() {
                        if ra != 0.0 {
                            axpy(ra, row, &mut g[a * k..(a + 1) * k]);
                        }
                    }
                }
                g
            })
            .collect();
        let mut gram = vec![0.0; k * k];
        for p in partials {
            for (g, v) in gram.iter_mut().zip(p) {
                *g += v;
            }
        }
        gram
    }
}

/// Dot product with four independent accumulators so the compiler can vectorise it.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let chunks_a = a.chunks_exact(4);
    let chunks_b = b.chunks_exact(4);
    let tail: f64 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        acc[0] += ca[0] * cb[0];
        acc[1] += ca[1] * cb[1];
        acc[2] += ca[2] * cb[2];
        acc[3] += ca[3] * cb[3];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `y += a·x`.
#[inline]
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `out = M·v` for a square row-major `k × k` matrix `M`.
#[inline]
pub fn mat_vec(m: &[f64], v: &[f64], out: &mut [f64]) {
    let k = v.len();
    for (o, row) in out.iter_mut().zip(m.chunks_exact(k)) {
        *o = dot(row, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_are_summed_sorted_and_transposed() {
        let m =
            SparseMatrix::from_triples(2, 3, [(1, 2, 1.0), (0, 1, 2.0), (1, 2, 3.0), (1, 0, 1.0)]);
        assert_eq!(m.nnz(), 3);
        assert_eq!(m.row(1), (&[0u32, 2][..], &[1.0, 4.0][..]));
        let t = m.transpose();
        assert_eq!((t.rows(), t.cols()), (3, 2));
        assert_eq!(t.row(2), (&[1u32][..], &[4.0][..]));
        assert_eq!(m.column_counts(), vec![1, 1, 1]);
    }

    #[test]
    fn gram_and_dot_agree_with_naive_sums() {
        let f = Factors::from_rows(3, vec![1.0, 2.0, 3.0, -1.0, 0.5, 2.0]).unwrap();
        let g = f.gram();
        assert_eq!(g[0], 2.0);
        assert_eq!(g[1], 1.5);
        assert_eq!(g[8], 13.0);
        let a: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(dot(&a, &a), (0..11).map(|x| f64::from(x * x)).sum::<f64>());
    }
}
