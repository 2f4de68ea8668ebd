//! Meta-learners of the conditional average treatment effect τ(x) = E[Y | x, treated] −
//! E[Y | x, control] for a binary outcome, built on the propensity models' estimators
//! (logistic regression or gradient-boosted trees; their regression stages use ridge
//! regression or squared-error trees):
//!
//! - **T-learner**: outcome models μ₁ on treated rows and μ₀ on controls; τ̂ = μ₁ − μ₀.
//! - **X-learner** (Künzel et al. 2019): μ₀, μ₁ as above; imputed effects D₁ = Y − μ₀(x) on
//!   treated rows and D₀ = μ₁(x) − Y on controls (each outcome model scores only rows it never
//!   saw); regressions τ₁ on D₁ and τ₀ on D₀; τ̂ = e(x)·τ₀ + (1 − e(x))·τ₁ with the propensity
//!   e(x) = P(treated | x).
//! - **DR-learner** (Kennedy 2023), cross-fitted: in K folds stratified by (treatment,
//!   outcome), μ₀, μ₁ and e are fitted on the other folds and score this one; the
//!   doubly robust pseudo-outcome φ = μ₁ − μ₀ + T·(Y − μ₁)/e − (1 − T)·(Y − μ₀)/(1 − e) is
//!   then regressed on x over all rows. The mean of φ is the AIPW estimate of the average
//!   effect.
//!
//! Propensities are either fitted (a classifier of treatment) or a known constant (the
//! assignment share of a randomised test), and always clipped into [c, 1 − c].

use super::data::stratified_folds_by;
use crate::dataset::FeatureMatrix;
use crate::error::{MlError, Result, invalid_parameter};
use crate::gbdt::{GbdtModel, GbdtParams};
use crate::linear::{LogisticModel, LogisticParams, RidgeModel, RidgeParams, sigmoid};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The estimator every stage of a learner is fitted with.
#[derive(Debug, Clone, PartialEq)]
pub enum BaseLearner {
    /// Logistic regression for the outcome and propensity classifiers, ridge regression for
    /// the regression stages (X: imputed effects; DR: pseudo-outcomes).
    Linear {
        logistic: LogisticParams,
        ridge: RidgeParams,
    },
    /// Gradient-boosted trees: log-loss for the classifiers, squared error for the
    /// regression stages; the same hyper-parameters for both.
    Gbdt(GbdtParams),
}

/// A fitted stage: a classifier (predicts a probability) or a regressor (predicts a value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FittedBase {
    Logistic(LogisticModel),
    Ridge(RidgeModel),
    // Boxed: a booster is far larger than a linear model.
    GbdtClassifier(Box<GbdtModel>),
    GbdtRegressor(Box<GbdtModel>),
}

impl FittedBase {
    /// The probability (classifiers) or value (regressors) of one encoded row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        match self {
            FittedBase::Logistic(model) => sigmoid(model.margin(row)),
            FittedBase::Ridge(model) => model.predict(row),
            FittedBase::GbdtClassifier(model) => sigmoid(model.margin(row)),
            FittedBase::GbdtRegressor(model) => model.margin(row),
        }
    }

    /// Predictions for the given rows of `features` (scored in parallel).
    fn predict_rows(&self, features: &FeatureMatrix, rows: &[usize]) -> Vec<f64> {
        rows.par_iter()
            .map(|&row| self.predict(features.row(row)))
            .collect()
    }
}

/// Prefixes an error with the stage it came from.
fn in_stage(stage: &str) -> impl Fn(MlError) -> MlError + '_ {
    move |error| match error {
        MlError::InvalidData(message) => MlError::InvalidData(format!("{stage}: {message}")),
        other => other,
    }
}

impl BaseLearner {
    /// `logistic` or `gbdt`.
    pub fn name(&self) -> &'static str {
        match self {
            BaseLearner::Linear { .. } => "logistic",
            BaseLearner::Gbdt(_) => "gbdt",
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            BaseLearner::Linear { logistic, ridge } => {
                logistic.validate()?;
                ridge.validate()
            }
            BaseLearner::Gbdt(params) => params.validate(),
        }
    }

    /// Fits a classifier of 0/1 `labels` on `rows` of `features`; `stage` varies the seed.
    fn fit_classifier(
        &self,
        features: &FeatureMatrix,
        rows: &[usize],
        labels: &[f64],
        stage: u64,
        name: &str,
    ) -> Result<FittedBase> {
        let positives = labels.iter().filter(|&&label| label == 1.0).count();
        if positives == 0 || positives == labels.len() {
            return Err(MlError::InvalidData(format!(
                "{name}: {positives} of {} rows are positive; a classifier needs both classes",
                labels.len()
            )));
        }
        let subset = features.select_rows(rows);
        match self {
            BaseLearner::Linear { logistic, .. } => LogisticParams {
                seed: logistic.seed.wrapping_add(stage),
                ..logistic.clone()
            }
            .fit(&subset, labels)
            .map(FittedBase::Logistic),
            BaseLearner::Gbdt(params) => GbdtParams {
                seed: params.seed.wrapping_add(stage),
                ..params.clone()
            }
            .fit(&subset, labels)
            .map(|model| FittedBase::GbdtClassifier(Box::new(model))),
        }
        .map_err(in_stage(name))
    }

    /// Fits a regressor of continuous `targets` on `rows` of `features`.
    fn fit_regressor(
        &self,
        features: &FeatureMatrix,
        rows: &[usize],
        targets: &[f64],
        stage: u64,
        name: &str,
    ) -> Result<FittedBase> {
        let subset = features.select_rows(rows);
        match self {
            BaseLearner::Linear { ridge, .. } => ridge.fit(&subset, targets).map(FittedBase::Ridge),
            BaseLearner::Gbdt(params) => GbdtParams {
                seed: params.seed.wrapping_add(stage),
                ..params.clone()
            }
            .fit_squared_error(&subset, targets)
            .map(|model| FittedBase::GbdtRegressor(Box::new(model))),
        }
        .map_err(in_stage(name))
    }
}

/// Which meta-learner to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    T,
    X,
    Dr,
}

impl Learner {
    /// `t`, `x` or `dr`.
    pub fn name(self) -> &'static str {
        match self {
            Learner::T => "t",
            Learner::X => "x",
            Learner::Dr => "dr",
        }
    }
}

/// Where the propensity e(x) = P(treated | x) comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PropensitySource {
    /// A classifier of treatment, fitted with the base learner (cross-fitted for DR).
    Fitted,
    /// A known assignment probability (a randomised test's treated share).
    Known(f64),
}

/// Everything needed to fit an uplift model.
#[derive(Debug, Clone, PartialEq)]
pub struct UpliftParams {
    pub learner: Learner,
    pub base: BaseLearner,
    pub propensity: PropensitySource,
    /// Propensities are clipped into [clip, 1 − clip] (0 < clip < 0.5).
    pub propensity_clip: f64,
    /// Cross-fitting folds of the DR-learner (≥ 2).
    pub folds: usize,
    /// Seed of the folds and of every stage (each stage offsets it).
    pub seed: u64,
}

impl UpliftParams {
    /// Sensible defaults for a learner and base: fitted propensity clipped to [0.01, 0.99],
    /// 5 cross-fitting folds, seed 42.
    pub fn new(learner: Learner, base: BaseLearner) -> Self {
        Self {
            learner,
            base,
            propensity: PropensitySource::Fitted,
            propensity_clip: 0.01,
            folds: 5,
            seed: 42,
        }
    }
}

/// The propensity of a fitted model: a constant or a classifier, clipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Propensity {
    Known { probability: f64 },
    Model { model: FittedBase },
}

/// What the fit saw, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitDiagnostics {
    /// Smallest and largest propensity on the training rows, before clipping (the constant
    /// itself when it is known; `null` for the T-learner, which needs none).
    pub propensity_min: Option<f64>,
    pub propensity_max: Option<f64>,
    /// Training rows whose propensity was clipped.
    pub propensity_clipped_rows: usize,
    /// DR-learner: the mean pseudo-outcome, i.e. the cross-fitted AIPW estimate of the
    /// average treatment effect on the training rows.
    pub aipw_ate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "learner", rename_all = "snake_case")]
enum Stages {
    T {
        treated: FittedBase,
        control: FittedBase,
    },
    X {
        /// τ₁, fitted on treated rows' imputed effects Y − μ₀(x).
        effect_treated: FittedBase,
        /// τ₀, fitted on control rows' imputed effects μ₁(x) − Y.
        effect_control: FittedBase,
        propensity: Propensity,
        clip: f64,
    },
    Dr {
        effect: FittedBase,
    },
}

/// A fitted uplift model: predicts τ̂(x) for encoded rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpliftModel {
    pub learner: Learner,
    pub diagnostics: FitDiagnostics,
    stages: Stages,
}

fn clip(probability: f64, clip: f64) -> f64 {
    probability.clamp(clip, 1.0 - clip)
}

impl UpliftParams {
    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        self.base.validate()?;
        if !(self.propensity_clip > 0.0 && self.propensity_clip < 0.5) {
            return Err(invalid_parameter(
                "propensity_clip",
                format!("must be in (0, 0.5), got {}", self.propensity_clip),
            ));
        }
        if let PropensitySource::Known(probability) = self.propensity
            && !(probability > 0.0 && probability < 1.0)
        {
            return Err(invalid_parameter(
                "propensity",
                format!("a known propensity must be in (0, 1), got {probability}"),
            ));
        }
        if self.folds < 2 {
            return Err(invalid_parameter(
                "folds",
                format!("cross-fitting needs at least 2 folds, got {}", self.folds),
            ));
        }
        Ok(())
    }

    /// Fits the learner to encoded features, treatment flags and 0/1 outcomes.
    pub fn fit(
        &self,
        features: &FeatureMatrix,
        treated: &[bool],
        outcome: &[f64],
    ) -> Result<UpliftModel> {
        self.validate()?;
        if features.n_rows != treated.len() || features.n_rows != outcome.len() {
            return Err(MlError::InvalidData(format!(
                "{} feature rows, {} treatment flags and {} outcomes",
                features.n_rows,
                treated.len(),
                outcome.len()
            )));
        }
        if let Some(position) = outcome.iter().position(|&y| y != 0.0 && y != 1.0) {
            return Err(MlError::InvalidData(format!(
                "outcome of row {position} is {}, not 0 or 1",
                outcome[position]
            )));
        }
        let all: Vec<usize> = (0..features.n_rows).collect();
        let (treated_rows, control_rows): (Vec<usize>, Vec<usize>) =
            all.iter().partition(|&&row| treated[row]);
        if treated_rows.is_empty() || control_rows.is_empty() {
            return Err(MlError::InvalidData(format!(
                "{} treated and {} control rows: an uplift model needs both",
                treated_rows.len(),
                control_rows.len()
            )));
        }
        let (stages, diagnostics) = match self.learner {
            Learner::T => {
                let (treated_model, control_model) =
                    self.outcome_models(features, &treated_rows, &control_rows, outcome, 0)?;
                (
                    Stages::T {
                        treated: treated_model,
                        control: control_model,
                    },
                    FitDiagnostics {
                        propensity_min: None,
                        propensity_max: None,
                        propensity_clipped_rows: 0,
                        aipw_ate: None,
                    },
                )
            }
            Learner::X => self.fit_x(features, treated, outcome, &treated_rows, &control_rows)?,
            Learner::Dr => self.fit_dr(features, treated, outcome)?,
        };
        Ok(UpliftModel {
            learner: self.learner,
            diagnostics,
            stages,
        })
    }

    /// μ₁ on `treated_rows`, μ₀ on `control_rows`.
    fn outcome_models(
        &self,
        features: &FeatureMatrix,
        treated_rows: &[usize],
        control_rows: &[usize],
        outcome: &[f64],
        stage: u64,
    ) -> Result<(FittedBase, FittedBase)> {
        let labels = |rows: &[usize]| rows.iter().map(|&row| outcome[row]).collect::<Vec<f64>>();
        let treated_model = self.base.fit_classifier(
            features,
            treated_rows,
            &labels(treated_rows),
            stage,
            "the outcome model of the treated rows",
        )?;
        let control_model = self.base.fit_classifier(
            features,
            control_rows,
            &labels(control_rows),
            stage + 1,
            "the outcome model of the control rows",
        )?;
        Ok((treated_model, control_model))
    }

    /// The propensity model fitted on `rows`, or the known constant.
    fn propensity_model(
        &self,
        features: &FeatureMatrix,
        rows: &[usize],
        treated: &[bool],
        stage: u64,
    ) -> Result<Propensity> {
        match self.propensity {
            PropensitySource::Known(probability) => Ok(Propensity::Known { probability }),
            PropensitySource::Fitted => {
                let labels: Vec<f64> = rows
                    .iter()
                    .map(|&row| f64::from(u8::from(treated[row])))
                    .collect();
                Ok(Propensity::Model {
                    model: self.base.fit_classifier(
                        features,
                        rows,
                        &labels,
                        stage,
                        "the propensity model",
                    )?,
                })
            }
        }
    }

    fn fit_x(
        &self,
        features: &FeatureMatrix,
        treated: &[bool],
        outcome: &[f64],
        treated_rows: &[usize],
        control_rows: &[usize],
    ) -> Result<(Stages, FitDiagnostics)> {
        let (mu1, mu0) = self.outcome_models(features, treated_rows, control_rows, outcome, 0)?;
        // Each outcome model scores only the other arm's rows, which it never saw.
        let imputed_treated: Vec<f64> = mu0
            .predict_rows(features, treated_rows)
            .iter()
            .zip(treated_rows)
            .map(|(mu0, &row)| outcome[row] - mu0)
            .collect();
        let imputed_control: Vec<f64> = mu1
            .predict_rows(features, control_rows)
            .iter()
            .zip(control_rows)
            .map(|(mu1, &row)| mu1 - outcome[row])
            .collect();
        let effect_treated = self.base.fit_regressor(
            features,
            treated_rows,
            &imputed_treated,
            2,
            "the effect model of the treated rows",
        )?;
        let effect_control = self.base.fit_regressor(
            features,
            control_rows,
            &imputed_control,
            3,
            "the effect model of the control rows",
        )?;
        let all: Vec<usize> = (0..features.n_rows).collect();
        let propensity = self.propensity_model(features, &all, treated, 4)?;
        let scores = propensity_scores(&propensity, features, &all);
        Ok((
            Stages::X {
                effect_treated,
                effect_control,
                propensity,
                clip: self.propensity_clip,
            },
            self.propensity_diagnostics(&scores, None),
        ))
    }

    fn fit_dr(
        &self,
        features: &FeatureMatrix,
        treated: &[bool],
        outcome: &[f64],
    ) -> Result<(Stages, FitDiagnostics)> {
        let strata: Vec<usize> = treated
            .iter()
            .zip(outcome)
            .map(|(&t, &y)| 2 * usize::from(t) + usize::from(y == 1.0))
            .collect();
        let fold_of = stratified_folds_by(&strata, self.folds, self.seed)?;
        let mut pseudo = vec![0.0; features.n_rows];
        let mut propensities = vec![0.0; features.n_rows];
        for fold in 0..self.folds {
            let (held_out, fit_rows): (Vec<usize>, Vec<usize>) =
                (0..features.n_rows).partition(|&row| fold_of[row] == fold);
            let (treated_rows, control_rows): (Vec<usize>, Vec<usize>) =
                fit_rows.iter().partition(|&&row| treated[row]);
            let stage = 10 * (fold as u64 + 1);
            let (mu1, mu0) = self
                .outcome_models(features, &treated_rows, &control_rows, outcome, stage)
                .map_err(in_stage(&format!("cross-fitting fold {fold}")))?;
            let propensity = self
                .propensity_model(features, &fit_rows, treated, stage + 2)
                .map_err(in_stage(&format!("cross-fitting fold {fold}")))?;
            let mu1 = mu1.predict_rows(features, &held_out);
            let mu0 = mu0.predict_rows(features, &held_out);
            let scores = propensity_scores(&propensity, features, &held_out);
            for (position, &row) in held_out.iter().enumerate() {
                let e = clip(scores[position], self.propensity_clip);
                let (m1, m0, y) = (mu1[position], mu0[position], outcome[row]);
                pseudo[row] = if treated[row] {
                    m1 - m0 + (y - m1) / e
                } else {
                    m1 - m0 - (y - m0) / (1.0 - e)
                };
                propensities[row] = scores[position];
            }
        }
        let all: Vec<usize> = (0..features.n_rows).collect();
        let effect = self.base.fit_regressor(
            features,
            &all,
            &pseudo,
            1,
            "the effect model of the pseudo-outcomes",
        )?;
        let ate = pseudo.iter().sum::<f64>() / pseudo.len() as f64;
        Ok((
            Stages::Dr { effect },
            self.propensity_diagnostics(&propensities, Some(ate)),
        ))
    }

    fn propensity_diagnostics(&self, scores: &[f64], aipw_ate: Option<f64>) -> FitDiagnostics {
        let (low, high) = (self.propensity_clip, 1.0 - self.propensity_clip);
        FitDiagnostics {
            propensity_min: scores.iter().copied().reduce(f64::min),
            propensity_max: scores.iter().copied().reduce(f64::max),
            propensity_clipped_rows: scores
                .iter()
                .filter(|&&score| score < low || score > high)
                .count(),
            aipw_ate,
        }
    }
}

/// Unclipped propensities of the given rows.
fn propensity_scores(
    propensity: &Propensity,
    features: &FeatureMatrix,
    rows: &[usize],
) -> Vec<f64> {
    match propensity {
        Propensity::Known { probability } => vec![*probability; rows.len()],
        Propensity::Model { model } => model.predict_rows(features, rows),
    }
}

impl UpliftModel {
    /// The predicted uplift τ̂(x) of one encoded row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        match &self.stages {
            Stages::T { treated, control } => treated.predict(row) - control.predict(row),
            Stages::X {
                effect_treated,
                effect_control,
                propensity,
                clip: bound,
            } => {
                let e = clip(
                    match propensity {
                        Propensity::Known { probability } => *probability,
                        Propensity::Model { model } => model.predict(row),
                    },
                    *bound,
                );
                e * effect_control.predict(row) + (1.0 - e) * effect_treated.predict(row)
            }
            Stages::Dr { effect } => effect.predict(row),
        }
    }

    /// Predicted uplifts of every row (scored in parallel).
    pub fn predict_matrix(&self, features: &FeatureMatrix) -> Vec<f64> {
        (0..features.n_rows)
            .into_par_iter()
            .map(|row| self.predict(features.row(row)))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dataset::seeded_rng;
    use crate::uplift::metrics::qini_auc_score;
    use rand::RngExt;

    /// A randomised test (P(treated) = 0.5) with known heterogeneous effects on 4 inputs:
    /// base purchase log-odds −1 + 0.8·x₁ − 0.5·x₃; treatment adds 1.6·[x₀ > 0.3]
    /// (persuadables) and −1.2·[x₀ < −0.6]·[x₂ > 0] (sleeping dogs). Returns the features,
    /// treatment flags, outcomes and the true τ(x) of every row.
    pub(crate) fn synthetic_rct(
        rows: usize,
        seed: u64,
    ) -> (FeatureMatrix, Vec<bool>, Vec<f64>, Vec<f64>) {
        let mut rng = seeded_rng(seed);
        let (mut values, mut treated, mut outcome, mut truth) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rows {
            let x: Vec<f64> = (0..4).map(|_| rng.random_range(-1.0..1.0)).collect();
            let base = -1.0 + 0.8 * x[1] - 0.5 * x[3];
            let lift = 1.6 * f64::from(u8::from(x[0] > 0.3))
                - 1.2 * f64::from(u8::from(x[0] < -0.6 && x[2] > 0.0));
            let t = rng.random::<f64>() < 0.5;
            let p = sigmoid(base + if t { lift } else { 0.0 });
            outcome.push(f64::from(u8::from(rng.random::<f64>() < p)));
            truth.push(sigmoid(base + lift) - sigmoid(base));
            treated.push(t);
            values.extend(x);
        }
        (
            FeatureMatrix::new(rows, 4, values).unwrap(),
            treated,
            outcome,
            truth,
        )
    }

    fn gbdt() -> BaseLearner {
        BaseLearner::Gbdt(GbdtParams {
            n_trees: 200,
            learning_rate: 0.1,
            max_depth: 4,
            max_leaves: 15,
            min_samples_leaf: 50,
            ..GbdtParams::default()
        })
    }

    fn linear() -> BaseLearner {
        BaseLearner::Linear {
            logistic: LogisticParams::default(),
            ridge: RidgeParams::default(),
        }
    }

    fn correlation(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    #[test]
    fn every_learner_ranks_the_persuadables_first() {
        let (train, treated, outcome, _) = synthetic_rct(8_000, 1);
        let (test, test_treated, test_outcome, truth) = synthetic_rct(8_000, 2);
        let flags: Vec<f64> = test_treated
            .iter()
            .map(|&t| f64::from(u8::from(t)))
            .collect();
        // The oracle's Qini coefficient on this test set: the ceiling for any model.
        let oracle = qini_auc_score(&test_outcome, &truth, &flags).unwrap();
        for (base, base_name) in [(gbdt(), "gbdt"), (linear(), "logistic")] {
            for learner in [Learner::T, Learner::X, Learner::Dr] {
                let model = UpliftParams::new(learner, base.clone())
                    .fit(&train, &treated, &outcome)
                    .unwrap();
                let predicted = model.predict_matrix(&test);
                let qini = qini_auc_score(&test_outcome, &predicted, &flags).unwrap();
                let rho = correlation(&predicted, &truth);
                // A random ranking scores 0 on average; these get close to the oracle.
                assert!(
                    qini > 0.8 * oracle && rho > 0.75,
                    "{base_name} {learner:?}: Qini {qini:.3} (oracle {oracle:.3}), ρ {rho:.3}"
                );
                // The rows with the largest true effect are predicted above the sleeping dogs.
                let mean_where = |keep: &dyn Fn(f64) -> bool| {
                    let picked: Vec<f64> = (0..truth.len())
                        .filter(|&row| keep(truth[row]))
                        .map(|row| predicted[row])
                        .collect();
                    picked.iter().sum::<f64>() / picked.len() as f64
                };
                let persuadable = mean_where(&|tau| tau > 0.2);
                let sleeping = mean_where(&|tau| tau < -0.1);
                assert!(
                    persuadable > 0.15 && sleeping < persuadable - 0.2,
                    "{base_name} {learner:?}: persuadables {persuadable:.3}, sleeping dogs {sleeping:.3}"
                );
            }
        }
    }

    #[test]
    fn dr_learner_estimates_the_average_effect_and_is_deterministic() {
        let (train, treated, outcome, truth) = synthetic_rct(8_000, 3);
        let params = UpliftParams::new(Learner::Dr, gbdt());
        let model = params.fit(&train, &treated, &outcome).unwrap();
        let true_ate = truth.iter().sum::<f64>() / truth.len() as f64;
        let aipw = model.diagnostics.aipw_ate.unwrap();
        assert!((aipw - true_ate).abs() < 0.03, "AIPW {aipw} vs {true_ate}");
        // Randomised at 0.5: the fitted propensity (trees fitting noise) stays around it and
        // nothing is clipped.
        let (low, high) = (
            model.diagnostics.propensity_min.unwrap(),
            model.diagnostics.propensity_max.unwrap(),
        );
        assert!(low > 0.2 && high < 0.8, "propensity {low}..{high}");
        assert_eq!(model.diagnostics.propensity_clipped_rows, 0);
        let again = params.fit(&train, &treated, &outcome).unwrap();
        assert_eq!(model, again);
        // A known propensity gives the same kind of estimate.
        let known = UpliftParams {
            propensity: PropensitySource::Known(0.5),
            ..params.clone()
        }
        .fit(&train, &treated, &outcome)
        .unwrap();
        assert_eq!(known.diagnostics.propensity_min, Some(0.5));
        assert!((known.diagnostics.aipw_ate.unwrap() - true_ate).abs() < 0.03);
    }

    #[test]
    fn bad_inputs_and_parameters_are_errors() {
        let (features, treated, outcome, _) = synthetic_rct(400, 4);
        let params = UpliftParams::new(Learner::X, linear());
        let all_treated = vec![true; 400];
        let error = params
            .fit(&features, &all_treated, &outcome)
            .unwrap_err()
            .to_string();
        assert!(error.contains("0 control rows"), "{error}");
        let mut bad = outcome.clone();
        bad[7] = 2.0;
        let error = params
            .fit(&features, &treated, &bad)
            .unwrap_err()
            .to_string();
        assert!(error.contains("row 7"), "{error}");
        // No responder among the controls: the control outcome model cannot be fitted.
        let no_control_responders: Vec<f64> = outcome
            .iter()
            .zip(&treated)
            .map(|(&y, &t)| if t { y } else { 0.0 })
            .collect();
        let error = params
            .fit(&features, &treated, &no_control_responders)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("outcome model of the control rows"),
            "{error}"
        );
        for wrong in [
            UpliftParams {
                propensity_clip: 0.5,
                ..params.clone()
            },
            UpliftParams {
                propensity: PropensitySource::Known(1.0),
                ..params.clone()
            },
            UpliftParams {
                folds: 1,
                ..params.clone()
            },
        ] {
            assert!(wrong.fit(&features, &treated, &outcome).is_err());
        }
    }
}
