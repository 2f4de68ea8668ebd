//! Ranking metrics at k, defined as the `implicit` library's `ranking_metrics_at_k` does so
//! figures compare: precision = Σ hits / Σ min(k, |held out|) over users, MAP and NDCG with
//! the ideal ranking truncated at min(k, |held out|); plus recall (mean hits / |held out|)
//! and catalogue coverage (share of items recommended to anyone).

use serde::{Deserialize, Serialize};

/// Averages over the evaluated users.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RankingMetrics {
    pub k: usize,
    pub users: usize,
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    pub map: f64,
    pub coverage: f64,
}

/// Collects one user's ranking at a time.
#[derive(Clone, Debug)]
pub struct MetricsAccumulator {
    k: usize,
    hits: f64,
    precision_denominator: f64,
    recall_sum: f64,
    ndcg_sum: f64,
    ap_sum: f64,
    users: usize,
    recommended: Vec<bool>,
}

impl MetricsAccumulator {
    pub fn new(k: usize, items: usize) -> Self {
        MetricsAccumulator {
            k,
            hits: 0.0,
            precision_denominator: 0.0,
            recall_sum: 0.0,
            ndcg_sum: 0.0,
            ap_sum: 0.0,
            users: 0,
            recommended: vec![false; items],
        }
    }

    /// Adds one user: `ranking` best first (only the first k count), `relevant` sorted.
    /// Users with nothing held out are skipped.
    pub fn add(&mut self, ranking: &[u32], relevant: &[u32]) {
        if relevant.is_empty() {
            return;
        }
        let ideal = self.k.min(relevant.len());
        let idcg: f64 = (0..ideal).map(discount).sum();
        let (mut hits, mut ap, mut dcg) = (0usize, 0.0, 0.0);
        for (position, item) in ranking.iter().take(self.k).enumerate() {
            if let Some(seen) = self.recommended.get_mut(*item as usize) {
                *seen = true;
            }
            if relevant.binary_search(item).is_ok() {
                hits += 1;
                ap += hits as f64 / (position + 1) as f64;
                dcg += discount(position);
            }
        }
        self.hits += hits as f64;
        self.precision_denominator += ideal as f64;
        self.recall_sum += hits as f64 / relevant.len() as f64;
        self.ndcg_sum += dcg / idcg;
        self.ap_sum += ap / ideal as f64;
        self.users += 1;
    }

    pub fn finish(&self) -> RankingMetrics {
        let users = self.users.max(1) as f64;
        RankingMetrics {
            k: self.k,
            users: self.users,
            precision: if self.precision_denominator > 0.0 {
                self.hits / self.precision_denominator
            } else {
                0.0
            },
            recall: self.recall_sum / users,
            ndcg: self.ndcg_sum / users,
            map: self.ap_sum / users,
            coverage: self.recommended.iter().filter(|&&r| r).count() as f64
                / self.recommended.len().max(1) as f64,
        }
    }
}

fn discount(position: usize) -> f64 {
    1.0 / ((position + 2) as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_implicit_definitions() {
        let mut acc = MetricsAccumulator::new(3, 10);
        // User 1: held out {2, 5}; ranking hits at positions 2 and 3.
        acc.add(&[0, 2, 5, 7], &[2, 5]);
        // User 2: held out {9} (plus nothing else); miss.
        acc.add(&[1, 3, 4], &[9]);
        // Skipped: nothing held out.
        acc.add(&[1], &[]);
        let m = acc.finish();
        assert_eq!(m.users, 2);
        assert!(
            (m.precision - 2.0 / 3.0).abs() < 1e-12,
            "hits 2 / (min(3,2) + min(3,1))"
        );
        assert!((m.recall - 0.5).abs() < 1e-12);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg - dcg / idcg / 2.0).abs() < 1e-12);
        let ap = (1.0 / 2.0 + 2.0 / 3.0) / 2.0;
        assert!((m.map - ap / 2.0).abs() < 1e-12);
        assert!(
            (m.coverage - 6.0 / 10.0).abs() < 1e-12,
            "items 0,2,5,1,3,4 of 10"
        );
    }
}
