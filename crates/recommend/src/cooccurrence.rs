//! The item–item co-occurrence baseline: how many users (or baskets) hold both items.
//! A context (a cart, a user's history) scores every other item by the summed counts with
//! the context's items. It is the first cold-start fallback: it needs no user factors.

use crate::matrix::SparseMatrix;
use serde::{Deserialize, Serialize};

/// Symmetric item × item co-occurrence counts, stored sparse (no diagonal).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CooccurrenceModel {
    counts: SparseMatrix,
}

impl CooccurrenceModel {
    /// Counts, for every pair of items, the users whose rows hold both. Rows longer than
    /// `max_row_items` (bots, wholesale buyers) are skipped: their pairs are quadratic in
    /// number and carry little signal.
    pub fn fit(user_items: &SparseMatrix, max_row_items: usize) -> Self {
        let mut pairs: Vec<(u32, u32, f64)> = Vec::new();
        for user in 0..user_items.rows() {
            let items = user_items.row_indices(user);
            if items.len() < 2 || items.len() > max_row_items {
                continue;
            }
            for (a, &i) in items.iter().enumerate() {
                for &j in &items[a + 1..] {
                    pairs.push((i, j, 1.0));
                    pairs.push((j, i, 1.0));
                }
            }
            // Keep memory bounded on large logs by compacting as we go.
            if pairs.len() > 8_000_000 {
                let compact = SparseMatrix::from_triples(
                    user_items.cols(),
                    user_items.cols(),
                    pairs.drain(..),
                );
                pairs.extend(compact.triples());
            }
        }
        CooccurrenceModel {
            counts: SparseMatrix::from_triples(user_items.cols(), user_items.cols(), pairs),
        }
    }

    /// Adds `weight · count(i, j)` to `scores[j]` for every context item `i`.
    pub fn score_context(&self, context: &[(u32, f64)], scores: &mut [f64]) {
        for &(item, weight) in context {
            if (item as usize) >= self.counts.rows() {
                continue;
            }
            let (others, counts) = self.counts.row(item as usize);
            for (&other, &count) in others.iter().zip(counts) {
                if let Some(score) = scores.get_mut(other as usize) {
                    *score += weight * count;
                }
            }
        }
    }

    /// Number of users holding both items.
    pub fn count(&self, a: u32, b: u32) -> f64 {
        if (a as usize) >= self.counts.rows() {
            return 0.0;
        }
        let (others, counts) = self.counts.row(a as usize);
        others.binary_search(&b).map_or(0.0, |p| counts[p])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pairs_and_scores_a_context() {
        let m = SparseMatrix::from_triples(
            3,
            4,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, 1.0),
                (1, 2, 1.0),
                (2, 3, 1.0),
            ],
        );
        let model = CooccurrenceModel::fit(&m, 100);
        assert_eq!(model.count(0, 1), 2.0);
        assert_eq!(model.count(1, 2), 1.0);
        assert_eq!(model.count(0, 3), 0.0);
        let mut scores = vec![0.0; 4];
        model.score_context(&[(0, 1.0)], &mut scores);
        assert_eq!(scores, vec![0.0, 2.0, 1.0, 0.0]);
        let capped = CooccurrenceModel::fit(&m, 2);
        assert_eq!(capped.count(1, 2), 0.0);
        assert_eq!(capped.count(0, 1), 1.0);
    }
}
