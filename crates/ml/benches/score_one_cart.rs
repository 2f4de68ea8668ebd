//! Scoring one cart in-process, measured by criterion (mean and median per call): for
//! 200-tree GBDTs of depth ≤ 6 (≤ 31 leaves) and depth ≤ 4 (≤ 15 leaves) and a logistic
//! regression, all trained on the UCI online-shoppers data in `testdata/`:
//!
//! - `schema_transform`: a raw cart (typed cells) → model inputs (standardised numbers,
//!   one-hot categories);
//! - `probability`: inputs → probability;
//! - `explain_into`: inputs → probability + exact TreeSHAP value of every input, with the
//!   allocation-free [`GbdtModel::explain_into`];
//! - `probability_and_explanation`: inputs → [`PropensityModel::explain`] (contributions
//!   summed per column, largest first);
//! - `raw_cart_to_explanation`: the full path, raw cart → schema transform → explanation.
//!
//! Percentiles of single calls (p50, p99) come from `examples/score_latency.rs`.

#[path = "support/shoppers.rs"]
mod shoppers;

use cartback_ml::PropensityModel;
use cartback_ml::gbdt::{GbdtModel, ShapScratch};
use cartback_ml::linear::sigmoid;
use cartback_ml::model::{ExplainScratch, FittedEstimator};
use criterion::Criterion;
use std::hint::black_box;

fn booster(model: &PropensityModel) -> &GbdtModel {
    match &model.estimator {
        FittedEstimator::Gbdt(booster) => booster,
        FittedEstimator::Logistic(_) => panic!("a GBDT was trained"),
    }
}

fn bench_model(
    criterion: &mut Criterion,
    name: &str,
    model: &PropensityModel,
    raw: &[shoppers::RawRow],
) {
    let rows: Vec<Vec<f64>> = raw.iter().map(|row| shoppers::encode(model, row)).collect();
    let sources = model.schema.input_sources();
    let mut scratch = ExplainScratch::default();
    let mut index = 0;
    let mut next = |length: usize| {
        index = (index + 1) % length;
        index
    };
    criterion.bench_function(&format!("{name}/schema_transform"), |bench| {
        bench.iter(|| black_box(shoppers::encode(model, black_box(&raw[next(raw.len())]))))
    });
    criterion.bench_function(&format!("{name}/probability"), |bench| {
        bench.iter(|| black_box(model.probability(black_box(&rows[next(rows.len())]))))
    });
    if let FittedEstimator::Gbdt(_) = model.estimator {
        let booster = booster(model);
        let mut contributions = vec![0.0; booster.n_inputs];
        let mut shap_scratch = ShapScratch::default();
        criterion.bench_function(&format!("{name}/explain_into"), |bench| {
            bench.iter(|| {
                let row = black_box(&rows[next(rows.len())]);
                let margin = booster.explain_into(row, &mut contributions, &mut shap_scratch);
                black_box((sigmoid(margin), &contributions));
            })
        });
    }
    criterion.bench_function(&format!("{name}/probability_and_explanation"), |bench| {
        bench.iter(|| {
            let row = black_box(&rows[next(rows.len())]);
            black_box(model.explain(row, &sources, &mut scratch))
        })
    });
    criterion.bench_function(&format!("{name}/raw_cart_to_explanation"), |bench| {
        bench.iter(|| {
            let row = shoppers::encode(model, black_box(&raw[next(raw.len())]));
            black_box(model.explain(&row, &sources, &mut scratch))
        })
    });
}

fn main() {
    let table = shoppers::table();
    let raw = shoppers::raw_rows(&table, 1_000);
    let mut criterion = Criterion::default().configure_from_args();
    for (name, max_depth, max_leaves) in [
        ("gbdt_200_trees_depth6", 6, 31),
        ("gbdt_200_trees_depth4", 4, 15),
    ] {
        let model = shoppers::gbdt_200_trees(&table, max_depth, max_leaves);
        assert_eq!(booster(&model).trees.len(), 200);
        bench_model(&mut criterion, name, &model, &raw);
    }
    bench_model(
        &mut criterion,
        "logistic",
        &shoppers::logistic(&table),
        &raw,
    );
    criterion.final_summary();
}
