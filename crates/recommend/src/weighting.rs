//! Optional re-weighting of the users × items matrix before ALS, as the `implicit` library
//! offers it: BM25 (`bm25_weight`, K1 = 100, B = 0.8 by default) and TF-IDF
//! (`tfidf_weight`). Users play the role of documents and items the role of terms, so
//! very common items are damped and long histories are length-normalised.

use crate::error::RecommendError;
use crate::matrix::SparseMatrix;
use serde::{Deserialize, Serialize};

/// How raw interaction weights are transformed before fitting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Weighting {
    /// Weights as loaded.
    #[default]
    None,
    /// Okapi BM25 with term saturation `k1` and length normalisation `b`.
    Bm25 { k1: f64, b: f64 },
    /// `sqrt(weight) · idf(item)`.
    TfIdf,
}

impl Weighting {
    /// BM25 with `implicit`'s defaults.
    pub const BM25_DEFAULT: Weighting = Weighting::Bm25 { k1: 100.0, b: 0.8 };

    pub fn parse(text: &str) -> Result<Self, RecommendError> {
        match text {
            "none" => Ok(Weighting::None),
            "bm25" => Ok(Weighting::BM25_DEFAULT),
            "tfidf" => Ok(Weighting::TfIdf),
            other => Err(RecommendError::invalid(
                "weighting",
                format!("`{other}` is not none, bm25 or tfidf"),
            )),
        }
    }

    pub fn validate(&self) -> Result<(), RecommendError> {
        if let Weighting::Bm25 { k1, b } = *self {
            if !(k1.is_finite() && k1 > 0.0) {
                return Err(RecommendError::invalid(
                    "bm25.k1",
                    format!("{k1} must be > 0"),
                ));
            }
            if !(0.0..=1.0).contains(&b) {
                return Err(RecommendError::invalid(
                    "bm25.b",
                    format!("{b} must be within [0, 1]"),
                ));
            }
        }
        Ok(())
    }

    /// Applies the weighting to a users × items matrix. Items present for nearly every user
    /// get an idf ≤ 0 and are dropped, as a stop word would be.
    pub fn apply(&self, user_items: &SparseMatrix) -> SparseMatrix {
        let documents = user_items.rows() as f64;
        let idf: Vec<f64> = user_items
            .column_counts()
            .iter()
            .map(|&df| documents.ln() - f64::from(df).ln_1p())
            .collect();
        match *self {
            Weighting::None => user_items.clone(),
            Weighting::TfIdf => user_items.map_values(|_, item, w| w.sqrt() * idf[item as usize]),
            Weighting::Bm25 { k1, b } => {
                let lengths = user_items.row_sums();
                let mean_length = lengths.iter().sum::<f64>() / documents.max(1.0);
                user_items.map_values(|user, item, w| {
                    let norm = (1.0 - b) + b * lengths[user as usize] / mean_length;
                    w * (k1 + 1.0) / (k1 * norm + w) * idf[item as usize]
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bm25_damps_ubiquitous_items_and_keeps_rare_ones() {
        // Item 0 is in every row, item 1 in one of four.
        let m = SparseMatrix::from_triples(
            4,
            2,
            [
                (0, 0, 1.0),
                (1, 0, 1.0),
                (2, 0, 1.0),
                (3, 0, 1.0),
                (0, 1, 1.0),
            ],
        );
        let w = Weighting::BM25_DEFAULT.apply(&m);
        assert_eq!(
            w.column_counts(),
            vec![0, 1],
            "idf of an item everyone has is ≤ 0"
        );
        let expected_idf = 4f64.ln() - 2f64.ln();
        let value = w.row(0).1[0];
        assert!(value > 0.0 && value < 2.0 * expected_idf, "{value}");
        let t = Weighting::TfIdf.apply(&m);
        assert!((t.row(0).1[0] - expected_idf).abs() < 1e-12);
        assert!(Weighting::Bm25 { k1: 1.0, b: 2.0 }.validate().is_err());
    }
}
