//! The three fitted models side by side over dense indices, and how each scores the
//! catalogue for a user and/or a cart. Shared by offline evaluation and live serving.

use crate::als::{AlsModel, AlsParams};
use crate::cooccurrence::CooccurrenceModel;
use crate::error::RecommendError;
use crate::matrix::SparseMatrix;
use crate::popularity::PopularityModel;
use crate::recommender::ModelKind;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Settings shared by all models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelOptions {
    pub als: AlsParams,
    /// Users with more distinct items than this are left out of co-occurrence counts.
    pub max_row_items: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            als: AlsParams::default(),
            max_row_items: 500,
        }
    }
}

/// What a score is asked for.
#[derive(Clone, Debug, Default)]
pub struct ScoringContext {
    /// The user's index when they were seen in training.
    pub user: Option<u32>,
    /// The user's training history `(item, raw weight)`.
    pub history: Vec<(u32, f64)>,
    /// Items in the current cart (known to the catalogue).
    pub cart: Vec<u32>,
    /// Weight of a cart item when folded into the user's factors.
    pub cart_weight: f64,
}

/// Popularity always; co-occurrence and ALS when they were fitted.
#[derive(Debug, Serialize, Deserialize)]
pub struct FittedModels {
    pub popularity: PopularityModel,
    pub cooccurrence: Option<CooccurrenceModel>,
    pub als: Option<AlsModel>,
    /// Seconds each model took to fit.
    pub fit_seconds: Vec<(ModelKind, f64)>,
}

impl FittedModels {
    /// Fits the requested kinds (popularity is always fitted: it is the last fallback).
    pub fn fit(
        user_items: &SparseMatrix,
        options: &ModelOptions,
        kinds: &[ModelKind],
    ) -> Result<Self, RecommendError> {
        let als_params = options.als.validate()?;
        let mut fit_seconds = Vec::new();
        let started = Instant::now();
        let popularity = PopularityModel::fit(user_items);
        fit_seconds.push((ModelKind::Popularity, started.elapsed().as_secs_f64()));
        let cooccurrence = kinds.contains(&ModelKind::Cooccurrence).then(|| {
            let started = Instant::now();
            let model = CooccurrenceModel::fit(user_items, options.max_row_items);
            fit_seconds.push((ModelKind::Cooccurrence, started.elapsed().as_secs_f64()));
            model
        });
        let als = if kinds.contains(&ModelKind::Als) {
            let started = Instant::now();
            let model = als_params.fit(user_items)?;
            fit_seconds.push((ModelKind::Als, started.elapsed().as_secs_f64()));
            Some(model)
        } else {
            None
        };
        Ok(FittedModels {
            popularity,
            cooccurrence,
            als,
            fit_seconds,
        })
    }

    pub fn has(&self, kind: ModelKind) -> bool {
        match kind {
            ModelKind::Als => self.als.is_some(),
            ModelKind::Cooccurrence => self.cooccurrence.is_some(),
            ModelKind::Popularity => true,
        }
    }

    pub fn fit_seconds(&self, kind: ModelKind) -> f64 {
        self.fit_seconds
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0.0, |(_, s)| *s)
    }

    /// Scores every item with `kind` into `scores`. Returns false when the model has no
    /// signal for this context (not fitted, unknown user, no co-occurring items), so the
    /// caller falls back to the next model.
    pub fn score(&self, kind: ModelKind, context: &ScoringContext, scores: &mut Vec<f64>) -> bool {
        let items = self.popularity.scores().len();
        scores.clear();
        match kind {
            ModelKind::Popularity => {
                scores.extend_from_slice(self.popularity.scores());
                scores.iter().any(|&s| s > 0.0)
            }
            ModelKind::Cooccurrence => {
                let Some(model) = &self.cooccurrence else {
                    return false;
                };
                scores.resize(items, 0.0);
                let mut context_items: Vec<(u32, f64)> = context
                    .history
                    .iter()
                    .map(|&(i, _)| (i, 1.0))
                    .chain(context.cart.iter().map(|&i| (i, 1.0)))
                    .collect();
                context_items.sort_unstable_by_key(|&(i, _)| i);
                context_items.dedup_by_key(|(i, _)| *i);
                model.score_context(&context_items, scores);
                scores.iter().any(|&s| s > 0.0)
            }
            ModelKind::Als => {
                let Some(model) = &self.als else { return false };
                let Some(user) = context.user.filter(|&u| (u as usize) < model.users()) else {
                    return false;
                };
                if context.cart.is_empty() {
                    model.score_user(user, scores);
                } else {
                    let folded: Vec<(u32, f64)> = context
                        .history
                        .iter()
                        .copied()
                        .chain(context.cart.iter().map(|&i| (i, context.cart_weight)))
                        .collect();
                    model.score_vector(&model.fold_in(&folded), scores);
                }
                true
            }
        }
    }
}
