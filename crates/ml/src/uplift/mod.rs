//! Uplift modelling: who buys *because* of a contact. The experiment's data and its
//! (treatment, outcome)-stratified splits ([`data`]); T-, X- and DR-learners on the propensity
//! models' estimators ([`learners`]); the Qini and uplift curves, Qini coefficient, AUUC and
//! uplift@k as scikit-uplift defines them ([`metrics`]); and the train/test pipeline behind
//! `cartback uplift` ([`evaluate()`]).

pub mod data;
pub mod evaluate;
pub mod learners;
pub mod metrics;

pub use data::{ExperimentData, ExperimentSpec, stratified_folds_by, stratified_holdout_by};
pub use evaluate::{UpliftEvaluation, UpliftOptions, UpliftReport, evaluate};
pub use learners::{
    BaseLearner, FitDiagnostics, Learner, PropensitySource, UpliftModel, UpliftParams,
};
pub use metrics::{
    Curve, UpliftMetrics, perfect_qini_curve, perfect_uplift_curve, qini_auc_score, qini_curve,
    uplift_at_k, uplift_auc_score, uplift_curve,
};
