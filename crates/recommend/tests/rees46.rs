//! End-to-end on real data: the REES46 sample in `testdata/` (views, cart adds and
//! purchases of 2019-10-01 00:00–02:50 UTC) is loaded, split by each user's last session,
//! evaluated, trained into a model file and asked for recommendations.

use cartback_recommend::evaluate::evaluate;
use cartback_recommend::{
    AlsParams, EvaluationConfig, EventWeights, ModelKind, ModelOptions, RecommendationRequest,
    Recommender, SplitMethod, TrainConfig, TrainedRecommender,
};
use std::path::PathBuf;

fn rees46() -> cartback_recommend::InteractionLog {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rees46-2019-Oct-head.csv");
    cartback_recommend::load::load_interactions_csv(&path, &EventWeights::default())
        .expect("testdata/rees46-2019-Oct-head.csv")
}

fn small_als() -> ModelOptions {
    ModelOptions {
        als: AlsParams {
            factors: 8,
            iterations: 3,
            threads: 2,
            ..Default::default()
        },
        max_row_items: 500,
    }
}

#[test]
fn collaborative_models_beat_popularity_on_rees46_last_sessions() {
    let log = rees46();
    assert_eq!(
        log.records.len(),
        17_434,
        "every view, cart and purchase row is one interaction"
    );
    let config = EvaluationConfig::new(small_als(), 10, SplitMethod::LastBasket).unwrap();
    let report = evaluate(&log, &config).unwrap();
    assert!(report.test_users > 100, "{}", report.test_users);
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
        ndcg(ModelKind::Cooccurrence) > 1.5 * ndcg(ModelKind::Popularity),
        "{:?}",
        report.models
    );
    assert!(
        ndcg(ModelKind::Als) > ndcg(ModelKind::Popularity),
        "{:?}",
        report.models
    );
    let json = report.to_json();
    assert!(json["models"][0]["precision_at_10"].is_f64());
    assert!(
        ModelKind::ALL
            .iter()
            .any(|k| json["selected"] == k.as_str())
    );
}

#[test]
fn trained_model_serves_known_and_anonymous_shoppers() {
    let log = rees46();
    let config = TrainConfig {
        models: small_als(),
        selection_split: Some(SplitMethod::LastBasket),
        ..Default::default()
    };
    let model = TrainedRecommender::fit(&log, &config).unwrap();
    assert!(
        model.selection().how.starts_with("validation"),
        "{}",
        model.selection().how
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    model.save(&path).unwrap();
    let model = TrainedRecommender::load(&path).unwrap();

    // A user who bought in the sample: their purchases are never recommended back.
    let buyer = log
        .records
        .iter()
        .find(|r| r.kind == cartback_recommend::InteractionKind::Purchase)
        .unwrap();
    let user = log.users.name(buyer.user).to_owned();
    let bought: Vec<&str> = log
        .records
        .iter()
        .filter(|r| r.user == buyer.user && r.kind == cartback_recommend::InteractionKind::Purchase)
        .map(|r| log.items.name(r.item))
        .collect();
    let mut request = RecommendationRequest::for_cart(vec![], 10);
    request.user_id = Some(user);
    let recs = model.recommend(&request).unwrap();
    assert_eq!(recs.len(), 10);
    assert!(
        recs.iter().all(|r| !bought.contains(&r.item_id.as_str())),
        "{recs:?} vs bought {bought:?}"
    );

    // An anonymous cart with one popular product.
    let cart_item = log.items.name(log.records[0].item).to_owned();
    let recs = model
        .recommend(&RecommendationRequest::for_cart(vec![cart_item.clone()], 5))
        .unwrap();
    assert_eq!(recs.len(), 5);
    assert!(
        recs.iter()
            .all(|r| r.item_id != cart_item && r.source != ModelKind::Als)
    );
}
