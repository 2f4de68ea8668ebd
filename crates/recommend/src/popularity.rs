//! The popularity baseline: items ranked by how many users interacted with them. Also the
//! last fallback for anonymous shoppers and empty carts, and buildable from plain counts so
//! the live engine can recommend before any model is trained.

use crate::matrix::SparseMatrix;
use serde::{Deserialize, Serialize};

/// Item popularity scores over dense item indices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PopularityModel {
    scores: Vec<f64>,
}

impl PopularityModel {
    /// Number of distinct users per item.
    pub fn fit(user_items: &SparseMatrix) -> Self {
        PopularityModel {
            scores: user_items
                .column_counts()
                .into_iter()
                .map(f64::from)
                .collect(),
        }
    }

    /// From any per-item score (e.g. counts of orders in the last 30 days).
    pub fn from_scores(scores: Vec<f64>) -> Self {
        PopularityModel { scores }
    }

    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    pub fn score(&self, item: u32) -> f64 {
        self.scores.get(item as usize).copied().unwrap_or(0.0)
    }
}
