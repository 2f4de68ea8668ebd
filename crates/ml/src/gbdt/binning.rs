//! Quantile binning of features for histogram-based tree growing: at most 255 bins a
//! feature, bin edges at midpoints between distinct values, stored column by column as one
//! byte a cell (so a histogram pass reads one column sequentially).

use crate::dataset::FeatureMatrix;
use rayon::prelude::*;

/// Upper edges of the bins of every feature: a value `x` falls in bin `i` when `i` edges are
/// below it, so `x <= edges[b]` holds exactly for bins `0..=b`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinEdges {
    pub edges: Vec<Vec<f64>>,
}

/// Column-major matrix of bin indices: `bins[column * n_rows + row]`.
#[derive(Debug, Clone)]
pub struct BinnedMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub bins: Vec<u8>,
}

impl BinnedMatrix {
    /// The bins of one column, indexed by row.
    pub fn column(&self, column: usize) -> &[u8] {
        &self.bins[column * self.n_rows..(column + 1) * self.n_rows]
    }
}

/// Largest number of rows looked at to place the edges.
const EDGE_SAMPLE_ROWS: usize = 200_000;

fn edges_of(mut values: Vec<f64>, max_bins: usize) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for value in values.iter().copied() {
        match distinct.last_mut() {
            Some((last, count)) if *last == value => *count += 1,
            _ => distinct.push((value, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct
            .windows(2)
            .map(|pair| (pair[0].0 + pair[1].0) / 2.0)
            .collect();
    }
    let total = values.len() as f64;
    let mut edges = Vec::with_capacity(max_bins - 1);
    let mut accumulated = 0usize;
    for index in 0..distinct.len() - 1 {
        accumulated += distinct[index].1;
        let wanted_edges_so_far = ((accumulated as f64 / total) * max_bins as f64).floor() as usize;
        if wanted_edges_so_far > edges.len() && edges.len() < max_bins - 1 {
            edges.push((distinct[index].0 + distinct[index + 1].0) / 2.0);
        }
    }
    edges
}

impl BinEdges {
    /// Places at most `max_bins` bins per column at quantiles of `rows` of `features`.
    pub fn fit(features: &FeatureMatrix, rows: &[usize], max_bins: usize) -> Self {
        let stride = rows.len().div_ceil(EDGE_SAMPLE_ROWS).max(1);
        let sample: Vec<usize> = rows.iter().copied().step_by(stride).collect();
        let edges = (0..features.n_cols)
            .into_par_iter()
            .map(|column| {
                let values: Vec<f64> = sample
                    .iter()
                    .map(|&row| features.values[row * features.n_cols + column])
                    .collect();
                edges_of(values, max_bins)
            })
            .collect();
        Self { edges }
    }

    /// The bin of `value` in column `column`.
    pub fn bin_of(&self, column: usize, value: f64) -> u8 {
        self.edges[column].partition_point(|&edge| edge < value) as u8
    }

    /// Number of bins of every column.
    pub fn bin_counts(&self) -> Vec<usize> {
        self.edges.iter().map(|edges| edges.len() + 1).collect()
    }

    /// Bins the given rows of `features`, in that order.
    pub fn transform(&self, features: &FeatureMatrix, rows: &[usize]) -> BinnedMatrix {
        let n_cols = features.n_cols;
        let mut bins = vec![0u8; rows.len() * n_cols];
        if !rows.is_empty() {
            bins.par_chunks_mut(rows.len())
                .enumerate()
                .for_each(|(column, out)| {
                    for (bin, &row) in out.iter_mut().zip(rows) {
                        *bin = self.bin_of(column, features.values[row * n_cols + column]);
                    }
                });
        }
        BinnedMatrix {
            n_rows: rows.len(),
            n_cols,
            bins,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let features = FeatureMatrix::new(5, 1, vec![3.0, 1.0, 2.0, 1.0, 3.0]).unwrap();
        let edges = BinEdges::fit(&features, &[0, 1, 2, 3, 4], 255);
        assert_eq!(edges.edges[0], vec![1.5, 2.5]);
        let binned = edges.transform(&features, &[0, 1, 2]);
        assert_eq!(binned.bins, vec![2, 0, 1]);
        assert_eq!(edges.bin_of(0, 2.5), 1, "a value on an edge goes left");
    }

    #[test]
    fn many_values_are_capped_at_max_bins_with_even_counts() {
        let values: Vec<f64> = (0..10_000).map(|value| value as f64).collect();
        let features = FeatureMatrix::new(10_000, 1, values).unwrap();
        let rows: Vec<usize> = (0..10_000).collect();
        let edges = BinEdges::fit(&features, &rows, 16);
        assert_eq!(edges.bin_counts(), vec![16]);
        let binned = edges.transform(&features, &rows);
        let mut counts = [0usize; 16];
        for &bin in &binned.bins {
            counts[bin as usize] += 1;
        }
        assert!(
            counts.iter().all(|&count| (600..=650).contains(&count)),
            "{counts:?}"
        );
    }
}
