//! cartback's recommender.
//!
//! Owns implicit-feedback ALS ([`als`]), the item co-occurrence and popularity baselines,
//! cart-aware recommendations with exclusions and cold-start fallbacks behind the
//! [`Recommender`] trait, loading interaction data, train/test splits, ranking metrics and
//! the evaluation that picks the best model by validation. Pure computation plus file
//! loading: no store, no server.

pub mod als;
pub mod cooccurrence;
pub mod dataset;
pub mod error;
pub mod evaluate;
pub mod load;
pub mod matrix;
pub mod metrics;
pub mod models;
pub mod popularity;
pub mod recommender;
pub mod split;
pub mod trained;
pub mod weighting;

pub use als::{AlsModel, AlsParams, Confidence, Solver};
pub use dataset::{EventWeights, Interaction, InteractionKind, InteractionLog, Vocabulary};
pub use error::RecommendError;
pub use evaluate::{EvaluationConfig, EvaluationReport, evaluate};
pub use load::{DataFormat, EventInteractions};
pub use models::ModelOptions;
pub use recommender::{
    ExclusionPolicy, ModelKind, PopularityRecommender, Recommendation, RecommendationRequest,
    Recommender,
};
pub use split::SplitMethod;
pub use trained::{TrainConfig, TrainedRecommender};
pub use weighting::Weighting;
