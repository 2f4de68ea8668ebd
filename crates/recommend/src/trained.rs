//! [`TrainedRecommender`]: the model file `recommend train` writes and the live engine
//! loads. It holds the vocabularies, each user's training history and purchases, the three
//! fitted models and the one validation picked, and answers [`RecommendationRequest`]s
//! with the picked model first, then co-occurrence with the cart, then popularity.

use crate::als::AlsParams;
use crate::dataset::{InteractionLog, Vocabulary};
use crate::error::RecommendError;
use crate::evaluate::{EvaluationConfig, Selection, select_by_validation};
use crate::matrix::SparseMatrix;
use crate::models::{FittedModels, ModelOptions, ScoringContext};
use crate::recommender::{
    ExclusionPolicy, ModelKind, Recommendation, RecommendationRequest, Recommender, top_k,
};
use crate::split::SplitMethod;
use serde::{Deserialize, Serialize};
use std::io::{BufReader, BufWriter};
use std::path::Path;

const FORMAT_VERSION: u32 = 1;

/// How `recommend train` fits and picks.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub models: ModelOptions,
    pub policy: ExclusionPolicy,
    /// The split used to pick the model; `None` keeps `default_model`.
    pub selection_split: Option<SplitMethod>,
    pub default_model: ModelKind,
    pub k: usize,
    pub seed: u64,
    /// Weight of a cart item when folded into the user's ALS factors.
    pub cart_weight: f64,
    /// Tune ALS on the validation split before the final fit.
    pub tune_als: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            models: ModelOptions::default(),
            policy: ExclusionPolicy::default(),
            selection_split: None,
            default_model: ModelKind::Als,
            k: 10,
            seed: 42,
            cart_weight: 4.0,
            tune_als: false,
        }
    }
}

/// How the serving model was chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionRecord {
    pub selected: ModelKind,
    /// `"validation"` or why no validation was possible.
    pub how: String,
    /// `(model, validation NDCG@k)`.
    pub validation_ndcg: Vec<(ModelKind, f64)>,
    /// The ALS settings of the final fit.
    pub als: AlsParams,
}

/// A trained recommender, ready to save, load and serve.
#[derive(Debug, Serialize, Deserialize)]
pub struct TrainedRecommender {
    format_version: u32,
    users: Vocabulary,
    items: Vocabulary,
    history: SparseMatrix,
    purchases: SparseMatrix,
    models: FittedModels,
    policy: ExclusionPolicy,
    cart_weight: f64,
    selection: SelectionRecord,
}

impl TrainedRecommender {
    /// Picks a model on a validation split (when configured and possible), then fits all
    /// models on the whole log.
    pub fn fit(log: &InteractionLog, config: &TrainConfig) -> Result<Self, RecommendError> {
        if log.records.is_empty() {
            return Err(RecommendError::invalid(
                "data",
                "no interactions to train on",
            ));
        }
        if !(config.cart_weight.is_finite() && config.cart_weight > 0.0) {
            return Err(RecommendError::invalid(
                "cart-weight",
                format!("{} must be > 0", config.cart_weight),
            ));
        }
        let selection = match config.selection_split {
            None => SelectionRecord {
                selected: config.default_model,
                how: "chosen by the user".into(),
                validation_ndcg: vec![],
                als: config.models.als.clone(),
            },
            Some(method) => {
                let mut evaluation =
                    EvaluationConfig::new(config.models.clone(), config.k, method)?;
                evaluation.seed = config.seed;
                evaluation.consumables = config.policy.consumables;
                evaluation.tune_als = config.tune_als;
                match select_by_validation(log, &evaluation) {
                    Ok(Selection {
                        selected,
                        validation,
                        als,
                        ..
                    }) => SelectionRecord {
                        als,
                        selected,
                        how: format!("validation ({} split, ndcg@{})", method.name(), config.k),
                        validation_ndcg: validation
                            .iter()
                            .map(|e| (e.model, e.metrics.ndcg))
                            .collect(),
                    },
                    Err(RecommendError::Split(reason)) => SelectionRecord {
                        selected: config.default_model,
                        how: format!("default, no validation possible: {reason}"),
                        validation_ndcg: vec![],
                        als: config.models.als.clone(),
                    },
                    Err(other) => return Err(other),
                }
            }
        };
        let history = log.user_item_matrix();
        let options = ModelOptions {
            als: selection.als.clone(),
            ..config.models.clone()
        };
        let models = FittedModels::fit(&history, &options, &ModelKind::ALL)?;
        Ok(TrainedRecommender {
            format_version: FORMAT_VERSION,
            users: log.users.clone(),
            items: log.items.clone(),
            purchases: log.purchase_matrix(),
            history,
            models,
            policy: config.policy,
            cart_weight: config.cart_weight,
            selection,
        })
    }

    pub fn selection(&self) -> &SelectionRecord {
        &self.selection
    }

    pub fn models(&self) -> &FittedModels {
        &self.models
    }

    pub fn users(&self) -> usize {
        self.users.len()
    }

    pub fn items(&self) -> usize {
        self.items.len()
    }

    pub fn save(&self, path: &Path) -> Result<(), RecommendError> {
        let file = std::fs::File::create(path).map_err(|source| RecommendError::Io {
            path: path.to_owned(),
            cause: source,
        })?;
        serde_json::to_writer(BufWriter::new(file), self).map_err(|source| {
            RecommendError::ModelFile {
                path: path.to_owned(),
                cause: source,
            }
        })
    }

    pub fn load(path: &Path) -> Result<Self, RecommendError> {
        let file = std::fs::File::open(path).map_err(|source| RecommendError::Io {
            path: path.to_owned(),
            cause: source,
        })?;
        let model: TrainedRecommender =
            serde_json::from_reader(BufReader::new(file)).map_err(|source| {
                RecommendError::ModelFile {
                    path: path.to_owned(),
                    cause: source,
                }
            })?;
        if model.format_version != FORMAT_VERSION {
            return Err(RecommendError::ModelVersion {
                path: path.to_owned(),
                found: model.format_version,
                expected: FORMAT_VERSION,
            });
        }
        Ok(model)
    }
}

impl Recommender for TrainedRecommender {
    fn recommend(
        &self,
        request: &RecommendationRequest,
    ) -> Result<Vec<Recommendation>, RecommendError> {
        let items = self.items.len();
        let user = request.user_id.as_deref().and_then(|u| self.users.get(u));
        let mut excluded = vec![false; items];
        let mut exclude = |id: &str| {
            if let Some(i) = self.items.get(id) {
                excluded[i as usize] = true;
            }
        };
        request.cart.iter().for_each(|id| exclude(id));
        request.out_of_stock.iter().for_each(|id| exclude(id));
        if !self.policy.consumables {
            request.bought.iter().for_each(|id| exclude(id));
            if let Some(u) = user {
                for &i in self.purchases.row_indices(u as usize) {
                    excluded[i as usize] = true;
                }
            }
        }
        let history = user.map_or_else(Vec::new, |u| {
            let (columns, weights) = self.history.row(u as usize);
            columns
                .iter()
                .copied()
                .zip(weights.iter().copied())
                .collect()
        });
        let context = ScoringContext {
            user,
            history,
            cart: request
                .cart
                .iter()
                .filter_map(|id| self.items.get(id))
                .collect(),
            cart_weight: self.cart_weight,
        };
        let mut chain = vec![self.selection.selected];
        for fallback in [ModelKind::Cooccurrence, ModelKind::Popularity] {
            if !chain.contains(&fallback) {
                chain.push(fallback);
            }
        }
        let mut answer: Vec<Recommendation> = Vec::with_capacity(request.k);
        let mut scores = Vec::new();
        for kind in chain {
            if answer.len() >= request.k {
                break;
            }
            if !self.models.score(kind, &context, &mut scores) {
                continue;
            }
            let wanted = request.k - answer.len();
            let require_positive = kind != ModelKind::Als;
            for (item, score) in top_k(
                &scores,
                self.models.popularity.scores(),
                wanted,
                |i| excluded[i as usize],
                require_positive,
            ) {
                excluded[item as usize] = true;
                answer.push(Recommendation {
                    item_id: self.items.name(item).to_owned(),
                    score,
                    source: kind,
                });
            }
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::als::AlsParams;
    use crate::dataset::InteractionKind::{Purchase, View};

    /// Two taste groups: fruit buyers and baking buyers, plus one anonymous-looking user.
    fn shop() -> InteractionLog {
        let mut log = InteractionLog::new();
        let fruit = ["apple", "banana", "cherry", "grape"];
        let baking = ["flour", "sugar", "yeast", "butter"];
        for u in 0..12 {
            let (group, name) = if u % 2 == 0 {
                (&fruit, format!("f{u}"))
            } else {
                (&baking, format!("b{u}"))
            };
            for (j, item) in group.iter().enumerate() {
                if (u + j) % 4 != 0 {
                    log.push(&name, item, 1.0, Purchase, None, Some(&format!("{u}")));
                }
            }
        }
        // A view is not a purchase: it never excludes the item.
        log.push("f0", "apple", 1.0, View, None, Some("0"));
        log
    }

    fn trained(consumables: bool) -> TrainedRecommender {
        let config = TrainConfig {
            models: ModelOptions {
                als: AlsParams {
                    factors: 2,
                    iterations: 10,
                    alpha: 1.0,
                    ..Default::default()
                },
                max_row_items: 100,
            },
            policy: ExclusionPolicy { consumables },
            ..Default::default()
        };
        TrainedRecommender::fit(&shop(), &config).unwrap()
    }

    fn ids(recs: &[Recommendation]) -> Vec<&str> {
        recs.iter().map(|r| r.item_id.as_str()).collect()
    }

    #[test]
    fn exclusions_are_respected() {
        let model = trained(false);
        let mut request = RecommendationRequest::for_cart(vec!["banana".into()], 8);
        request.user_id = Some("f0".into());
        request.out_of_stock.insert("grape".into());
        request.bought.push("butter".into());
        let recs = model.recommend(&request).unwrap();
        let got = ids(&recs);
        for forbidden in ["banana", "grape", "butter"] {
            assert!(!got.contains(&forbidden), "{forbidden} in {got:?}");
        }
        // f0 bought banana, cherry and grape in training (apple skipped by (u+j)%4).
        assert!(
            !got.contains(&"cherry"),
            "already bought in training: {got:?}"
        );
        assert!(
            got.contains(&"apple"),
            "the unbought fruit completes the cart: {got:?}"
        );
        assert_eq!(got.len(), 4, "8 items − cart − stock − 3 bought: {got:?}");
        assert_eq!(recs[0].source, ModelKind::Als);
        assert_eq!(got[0], "apple", "{got:?}");
    }

    #[test]
    fn consumables_allow_repurchase() {
        let model = trained(true);
        let mut request = RecommendationRequest::for_cart(vec!["banana".into()], 3);
        request.user_id = Some("f0".into());
        let got: Vec<String> = model
            .recommend(&request)
            .unwrap()
            .into_iter()
            .map(|r| r.item_id)
            .collect();
        assert!(
            got.iter()
                .all(|i| ["apple", "cherry", "grape"].contains(&i.as_str())),
            "{got:?}"
        );
    }

    #[test]
    fn anonymous_carts_fall_back_to_cooccurrence_then_popularity() {
        let model = trained(false);
        let recs = model
            .recommend(&RecommendationRequest::for_cart(
                vec!["flour".into(), "unknown-sku".into()],
                8,
            ))
            .unwrap();
        let got = ids(&recs);
        assert_eq!(recs[0].source, ModelKind::Cooccurrence);
        assert!(["sugar", "yeast", "butter"].contains(&got[0]), "{got:?}");
        assert!(
            recs.iter().any(|r| r.source == ModelKind::Popularity),
            "filled up from popularity: {recs:?}"
        );
        assert!(!got.contains(&"flour"));
        let empty = model
            .recommend(&RecommendationRequest::for_cart(vec![], 2))
            .unwrap();
        assert!(empty.iter().all(|r| r.source == ModelKind::Popularity) && empty.len() == 2);
    }

    #[test]
    fn saves_and_loads() {
        let model = trained(false);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        model.save(&path).unwrap();
        let back = TrainedRecommender::load(&path).unwrap();
        let mut request = RecommendationRequest::for_cart(vec!["sugar".into()], 5);
        request.user_id = Some("b1".into());
        assert_eq!(
            model.recommend(&request).unwrap(),
            back.recommend(&request).unwrap()
        );
        std::fs::write(&path, "{}").unwrap();
        assert!(TrainedRecommender::load(&path).is_err());
    }
}
