//! Offline evaluation: split the log, fit every model on the training part, rank for each
//! held-out user (training items filtered out, as `implicit` does, unless the shop sells
//! consumables), measure, and pick the best model by NDCG on a validation split carved
//! out of the training part — never by the test figures.

use crate::als::AlsParams;
use crate::dataset::InteractionLog;
use crate::error::RecommendError;
use crate::metrics::{MetricsAccumulator, RankingMetrics};
use crate::models::{FittedModels, ModelOptions, ScoringContext};
use crate::recommender::{ModelKind, top_k};
use crate::split::{Split, SplitMethod, split};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// Everything `recommend evaluate` is told.
#[derive(Clone, Debug)]
pub struct EvaluationConfig {
    pub models: ModelOptions,
    pub k: usize,
    pub split: SplitMethod,
    pub seed: u64,
    /// Keep training items eligible (repurchase) instead of filtering them out.
    pub consumables: bool,
    pub kinds: Vec<ModelKind>,
    /// Tune ALS's factors, regularisation and alpha on the validation split ([`als_grid`]).
    pub tune_als: bool,
}

/// The ALS settings tried by tuning: factors {4, 16, 64} × λ {0.05, 1} × α {2, 10}, plus
/// the given settings; everything else (iterations, solver, seed, threads) as given.
pub fn als_grid(base: &AlsParams) -> Vec<AlsParams> {
    let mut grid = vec![base.clone()];
    for factors in [4, 16, 64] {
        for regularization in [0.05, 1.0] {
            for alpha in [2.0, 10.0] {
                let candidate = AlsParams {
                    factors,
                    regularization,
                    alpha,
                    ..base.clone()
                };
                if !grid.contains(&candidate) {
                    grid.push(candidate);
                }
            }
        }
    }
    grid
}

impl EvaluationConfig {
    pub fn new(models: ModelOptions, k: usize, split: SplitMethod) -> Result<Self, RecommendError> {
        if !(1..=1000).contains(&k) {
            return Err(RecommendError::invalid(
                "k",
                format!("{k} must be within 1..=1000"),
            ));
        }
        models.als.validate()?;
        Ok(EvaluationConfig {
            models,
            k,
            split,
            seed: 42,
            consumables: false,
            kinds: ModelKind::ALL.to_vec(),
            tune_als: false,
        })
    }
}

/// One model's figures on one split.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEvaluation {
    pub model: ModelKind,
    pub metrics: RankingMetrics,
    pub train_seconds: f64,
    /// ALS only.
    pub seconds_per_iteration: Option<f64>,
}

/// Which model won on validation, and the validation figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub selected: ModelKind,
    pub validation: Vec<ModelEvaluation>,
    /// The ALS settings to use: the given ones, or the best of the tuning grid.
    pub als: AlsParams,
    /// Every tried ALS setting with its validation NDCG (empty without tuning).
    pub tuning: Vec<(AlsParams, f64)>,
}

impl Selection {
    pub const METRIC: &'static str = "ndcg";

    /// The highest validation NDCG; ties go to the simpler model.
    pub fn pick(
        validation: Vec<ModelEvaluation>,
        als: AlsParams,
        tuning: Vec<(AlsParams, f64)>,
    ) -> Result<Self, RecommendError> {
        let selected = validation
            .iter()
            .max_by(|a, b| {
                a.metrics
                    .ndcg
                    .total_cmp(&b.metrics.ndcg)
                    .then(a.model.simplicity().cmp(&b.model.simplicity()))
            })
            .map(|e| e.model)
            .ok_or_else(|| RecommendError::invalid("models", "no model to select from"))?;
        Ok(Selection {
            selected,
            validation,
            als,
            tuning,
        })
    }
}

/// The full result of `recommend evaluate`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationReport {
    pub split: SplitMethod,
    pub k: usize,
    pub users: usize,
    pub items: usize,
    pub train_interactions: usize,
    pub test_users: usize,
    pub held_out_items: usize,
    pub models: Vec<ModelEvaluation>,
    pub selection: Selection,
}

/// Fits every configured model on `train` and measures it on `test`.
pub fn evaluate_split(
    train: &InteractionLog,
    test: &[(u32, Vec<u32>)],
    config: &EvaluationConfig,
) -> Result<Vec<ModelEvaluation>, RecommendError> {
    let user_items = train.user_item_matrix();
    let models = FittedModels::fit(&user_items, &config.models, &config.kinds)?;
    let items = user_items.cols();
    let mut results = Vec::new();
    for &kind in &config.kinds {
        let rankings: Vec<Vec<u32>> = test
            .par_iter()
            .map_init(Vec::new, |scores, (user, _)| {
                let (columns, weights) = user_items.row(*user as usize);
                let context = ScoringContext {
                    user: Some(*user),
                    history: columns
                        .iter()
                        .copied()
                        .zip(weights.iter().copied())
                        .collect(),
                    ..Default::default()
                };
                if !models.score(kind, &context, scores) {
                    scores.clear();
                    scores.resize(items, 0.0);
                }
                let excluded =
                    |item: u32| !config.consumables && columns.binary_search(&item).is_ok();
                top_k(
                    scores,
                    models.popularity.scores(),
                    config.k,
                    excluded,
                    false,
                )
                .into_iter()
                .map(|(i, _)| i)
                .collect()
            })
            .collect();
        let mut accumulator = MetricsAccumulator::new(config.k, items);
        for (ranking, (_, relevant)) in rankings.iter().zip(test) {
            accumulator.add(ranking, relevant);
        }
        results.push(ModelEvaluation {
            model: kind,
            metrics: accumulator.finish(),
            train_seconds: models.fit_seconds(kind),
            seconds_per_iteration: (kind == ModelKind::Als)
                .then(|| {
                    models
                        .als
                        .as_ref()
                        .map(|m| m.report().seconds_per_iteration())
                })
                .flatten(),
        });
    }
    Ok(results)
}

/// Splits the training part of `log` again the same way and picks the best model on it.
pub fn select_by_validation(
    train: &InteractionLog,
    config: &EvaluationConfig,
) -> Result<Selection, RecommendError> {
    let inner = split(train, config.split, config.seed.wrapping_add(1)).map_err(|e| match e {
        RecommendError::Split(reason) => {
            RecommendError::Split(format!("validation split of the training data: {reason}"))
        }
        other => other,
    })?;
    if !(config.tune_als && config.kinds.contains(&ModelKind::Als)) {
        let validation = evaluate_split(&inner.train, &inner.test, config)?;
        return Selection::pick(validation, config.models.als.clone(), Vec::new());
    }
    let mut tuning = Vec::new();
    let mut best: Option<(AlsParams, ModelEvaluation)> = None;
    for candidate in als_grid(&config.models.als) {
        let trial = EvaluationConfig {
            models: ModelOptions {
                als: candidate.clone(),
                ..config.models.clone()
            },
            kinds: vec![ModelKind::Als],
            ..config.clone()
        };
        let evaluation = evaluate_split(&inner.train, &inner.test, &trial)?.remove(0);
        tuning.push((candidate.clone(), evaluation.metrics.ndcg));
        if best
            .as_ref()
            .is_none_or(|(_, b)| evaluation.metrics.ndcg > b.metrics.ndcg)
        {
            best = Some((candidate, evaluation));
        }
    }
    let (als, als_evaluation) =
        best.ok_or_else(|| RecommendError::invalid("tune", "empty grid"))?;
    let others = EvaluationConfig {
        kinds: config
            .kinds
            .iter()
            .copied()
            .filter(|&k| k != ModelKind::Als)
            .collect(),
        ..config.clone()
    };
    let mut validation = vec![als_evaluation];
    validation.extend(evaluate_split(&inner.train, &inner.test, &others)?);
    Selection::pick(validation, als, tuning)
}

/// Splits, selects by validation, and measures every model on the test part.
pub fn evaluate(
    log: &InteractionLog,
    config: &EvaluationConfig,
) -> Result<EvaluationReport, RecommendError> {
    let outer = split(log, config.split, config.seed)?;
    evaluate_prepared(log, &outer, config)
}

/// As [`evaluate`] with a split made by the caller (e.g. to export it for a peer).
pub fn evaluate_prepared(
    log: &InteractionLog,
    outer: &Split,
    config: &EvaluationConfig,
) -> Result<EvaluationReport, RecommendError> {
    let selection = select_by_validation(&outer.train, config)?;
    let tuned = EvaluationConfig {
        models: ModelOptions {
            als: selection.als.clone(),
            ..config.models.clone()
        },
        ..config.clone()
    };
    let models = evaluate_split(&outer.train, &outer.test, &tuned)?;
    Ok(EvaluationReport {
        split: config.split,
        k: config.k,
        users: log.users.len(),
        items: log.items.len(),
        train_interactions: outer.train.records.len(),
        test_users: outer.test.len(),
        held_out_items: outer.held_out_interactions(),
        models,
        selection,
    })
}

impl ModelEvaluation {
    fn to_json(&self) -> Value {
        let k = self.metrics.k;
        let mut object = serde_json::Map::new();
        object.insert("name".into(), json!(self.model.as_str()));
        object.insert(format!("precision_at_{k}"), json!(self.metrics.precision));
        object.insert(format!("recall_at_{k}"), json!(self.metrics.recall));
        object.insert(format!("ndcg_at_{k}"), json!(self.metrics.ndcg));
        object.insert(format!("map_at_{k}"), json!(self.metrics.map));
        object.insert("coverage".into(), json!(self.metrics.coverage));
        object.insert("train_seconds".into(), json!(self.train_seconds));
        if let Some(s) = self.seconds_per_iteration {
            object.insert("seconds_per_iteration".into(), json!(s));
        }
        object.insert("users".into(), json!(self.metrics.users));
        Value::Object(object)
    }
}

impl EvaluationReport {
    /// `{"models": [{"name", "precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10",
    /// "coverage", "train_seconds", …}], "selected": …, "validation": [...], …}`.
    pub fn to_json(&self) -> Value {
        json!({
            "models": self.models.iter().map(ModelEvaluation::to_json).collect::<Vec<_>>(),
            "selected": self.selection.selected.as_str(),
            "selected_by": format!("{}_at_{} on a validation split of the training data", Selection::METRIC, self.k),
            "validation": self.selection.validation.iter().map(ModelEvaluation::to_json).collect::<Vec<_>>(),
            "als_params": als_settings_json(&self.selection.als),
            "als_tuning": self.selection.tuning.iter().map(|(p, ndcg)| {
                let mut settings = als_settings_json(p);
                settings[format!("validation_ndcg_at_{}", self.k)] = json!(ndcg);
                settings
            }).collect::<Vec<_>>(),
            "split": self.split.name(),
            "k": self.k,
            "users": self.users,
            "items": self.items,
            "train_interactions": self.train_interactions,
            "test_users": self.test_users,
            "held_out_items": self.held_out_items,
        })
    }
}

fn als_settings_json(p: &AlsParams) -> Value {
    json!({"factors": p.factors, "regularization": p.regularization, "alpha": p.alpha, "iterations": p.iterations})
}

/// Writes a split for a peer implementation: `train.csv` (`user,item,weight`, summed raw
/// weights), `test.csv` (`user,item`) over dense indices, and `shape.json`.
pub fn export_split(outer: &Split, directory: &Path) -> Result<(), RecommendError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RecommendError::Io {
            path: path.clone(),
            cause: source,
        }
    };
    std::fs::create_dir_all(directory).map_err(io(directory))?;
    let matrix = outer.train.user_item_matrix();
    let train_path = directory.join("train.csv");
    let mut train =
        std::io::BufWriter::new(std::fs::File::create(&train_path).map_err(io(&train_path))?);
    writeln!(train, "user,item,weight").map_err(io(&train_path))?;
    for (u, i, w) in matrix.triples() {
        writeln!(train, "{u},{i},{w}").map_err(io(&train_path))?;
    }
    train.flush().map_err(io(&train_path))?;
    let test_path = directory.join("test.csv");
    let mut test =
        std::io::BufWriter::new(std::fs::File::create(&test_path).map_err(io(&test_path))?);
    writeln!(test, "user,item").map_err(io(&test_path))?;
    for (u, items) in &outer.test {
        for i in items {
            writeln!(test, "{u},{i}").map_err(io(&test_path))?;
        }
    }
    test.flush().map_err(io(&test_path))?;
    let shape_path = directory.join("shape.json");
    let shape = json!({"users": matrix.rows(), "items": matrix.cols()});
    std::fs::write(&shape_path, shape.to_string()).map_err(io(&shape_path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::InteractionKind::Purchase;

    /// Two groups of shoppers buying from two disjoint halves of the catalogue.
    fn two_tastes() -> InteractionLog {
        let mut log = InteractionLog::new();
        for user in 0..40 {
            let offset = if user % 2 == 0 { 0 } else { 6 };
            for item in 0..6 {
                if (user * 7 + item * 3) % 5 != 0 {
                    log.push(
                        &format!("u{user}"),
                        &format!("i{}", offset + item),
                        1.0,
                        Purchase,
                        None,
                        None,
                    );
                }
            }
        }
        log
    }

    fn evaluation(metrics_ndcg: f64, model: ModelKind) -> ModelEvaluation {
        ModelEvaluation {
            model,
            metrics: RankingMetrics {
                ndcg: metrics_ndcg,
                ..Default::default()
            },
            train_seconds: 0.0,
            seconds_per_iteration: None,
        }
    }

    #[test]
    fn selection_takes_the_best_validation_ndcg_and_ties_go_to_the_simpler_model() {
        let pick = |v| {
            Selection::pick(v, AlsParams::default(), vec![])
                .unwrap()
                .selected
        };
        assert_eq!(
            pick(vec![
                evaluation(0.3, ModelKind::Als),
                evaluation(0.2, ModelKind::Popularity)
            ]),
            ModelKind::Als
        );
        assert_eq!(
            pick(vec![
                evaluation(0.2, ModelKind::Als),
                evaluation(0.2, ModelKind::Popularity)
            ]),
            ModelKind::Popularity
        );
    }

    #[test]
    fn collaborative_models_beat_popularity_when_tastes_differ() {
        let als = AlsParams {
            factors: 2,
            iterations: 10,
            alpha: 2.0,
            ..Default::default()
        };
        let config = EvaluationConfig::new(
            ModelOptions {
                als,
                max_row_items: 100,
            },
            3,
            SplitMethod::LeaveOneOut,
        )
        .unwrap();
        let report = evaluate(&two_tastes(), &config).unwrap();
        let ndcg = |kind| {
            report
                .models
                .iter()
                .find(|m| m.model == kind)
                .unwrap()
                .metrics
                .ndcg
        };
        assert!(
            ndcg(ModelKind::Als) > ndcg(ModelKind::Popularity) + 0.2,
            "{:?}",
            report.models
        );
        assert!(
            ndcg(ModelKind::Cooccurrence) > ndcg(ModelKind::Popularity) + 0.2,
            "{:?}",
            report.models
        );
        assert_ne!(report.selection.selected, ModelKind::Popularity);
        assert_eq!(report.to_json()["models"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn tuning_tries_the_grid_and_keeps_the_best_validation_setting() {
        let als = AlsParams {
            factors: 2,
            iterations: 3,
            ..Default::default()
        };
        let mut config = EvaluationConfig::new(
            ModelOptions {
                als: als.clone(),
                max_row_items: 100,
            },
            3,
            SplitMethod::LeaveOneOut,
        )
        .unwrap();
        config.tune_als = true;
        let outer = split(&two_tastes(), config.split, config.seed).unwrap();
        let selection = select_by_validation(&outer.train, &config).unwrap();
        assert_eq!(selection.tuning.len(), als_grid(&als).len());
        assert_eq!(selection.tuning.len(), 13);
        let best = selection
            .tuning
            .iter()
            .map(|(_, n)| *n)
            .fold(f64::MIN, f64::max);
        let chosen = selection
            .tuning
            .iter()
            .find(|(p, _)| *p == selection.als)
            .unwrap()
            .1;
        assert_eq!(chosen, best);
        let als_validation = selection
            .validation
            .iter()
            .find(|m| m.model == ModelKind::Als)
            .unwrap();
        assert_eq!(als_validation.metrics.ndcg, best);
    }
}
