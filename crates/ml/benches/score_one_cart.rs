//! Scoring one cart in-process: encoded features → probability + explanation, for a
//! 200-tree GBDT (TreeSHAP) and a logistic regression, both trained on the UCI
//! online-shoppers data in testdata/. Criterion measures the mean; afterwards the bench
//! times 20,000 single calls and prints p50 / p99 / p99.9.

use cartback_ml::PropensityModel;
use cartback_ml::dataset::CsvTable;
use cartback_ml::gbdt::GbdtParams;
use cartback_ml::linear::LogisticParams;
use cartback_ml::model::ExplainScratch;
use cartback_ml::training::{EstimatorSpec, Evaluation, TrainOptions, train};
use criterion::Criterion;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

fn trained(estimator: EstimatorSpec) -> (PropensityModel, Vec<Vec<f64>>) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/online_shoppers_intention.csv");
    let table = CsvTable::from_path(&path, &[]).expect("testdata/online_shoppers_intention.csv");
    let options = TrainOptions {
        label: "Revenue".to_string(),
        excluded: Vec::new(),
        estimator,
        evaluation: Evaluation::None,
        calibration: None,
        seed: 42,
        fit_final: true,
    };
    let (model, _) = train(&table, &options).expect("training");
    let features = model.schema.encode(&table).expect("encoding");
    let rows = (0..features.n_rows)
        .step_by(7)
        .map(|row| features.row(row).to_vec())
        .collect();
    (model, rows)
}

/// 200 trees of the default shape (depth ≤ 6, ≤ 31 leaves) or a smaller one.
fn gbdt_200_trees(max_depth: usize, max_leaves: usize) -> EstimatorSpec {
    EstimatorSpec::Gbdt(GbdtParams {
        n_trees: 200,
        max_depth,
        max_leaves,
        validation_fraction: 0.0,
        ..GbdtParams::default()
    })
}

fn logistic() -> EstimatorSpec {
    EstimatorSpec::Logistic {
        name: "logistic".to_string(),
        params: LogisticParams::default(),
    }
}

fn percentiles(name: &str, model: &PropensityModel, rows: &[Vec<f64>]) {
    let sources = model.schema.input_sources();
    let mut scratch = ExplainScratch::default();
    let mut nanos: Vec<u128> = Vec::with_capacity(20_000);
    for call in 0..20_000 {
        let row = &rows[call % rows.len()];
        let started = Instant::now();
        black_box(model.explain(black_box(row), &sources, &mut scratch));
        nanos.push(started.elapsed().as_nanos());
    }
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
    println!(
        "{name}: score + explain one cart: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs",
        at(0.5),
        at(0.99),
        at(0.999)
    );
}

fn main() {
    let (gbdt, rows) = trained(gbdt_200_trees(6, 31));
    let (small_gbdt, _) = trained(gbdt_200_trees(4, 15));
    let (linear, _) = trained(logistic());
    let trees = match &gbdt.estimator {
        cartback_ml::model::FittedEstimator::Gbdt(model) => model.trees.len(),
        _ => 0,
    };
    let mut criterion = Criterion::default().configure_from_args();
    let sources = gbdt.schema.input_sources();
    let mut scratch = ExplainScratch::default();
    let mut index = 0;
    criterion.bench_function(&format!("gbdt_{trees}_trees/probability"), |bench| {
        bench.iter(|| {
            index = (index + 1) % rows.len();
            black_box(gbdt.probability(black_box(&rows[index])))
        })
    });
    criterion.bench_function(
        &format!("gbdt_{trees}_trees/probability_and_treeshap"),
        |bench| {
            bench.iter(|| {
                index = (index + 1) % rows.len();
                black_box(gbdt.explain(black_box(&rows[index]), &sources, &mut scratch))
            })
        },
    );
    let linear_sources = linear.schema.input_sources();
    criterion.bench_function("logistic/probability_and_explanation", |bench| {
        bench.iter(|| {
            index = (index + 1) % rows.len();
            black_box(linear.explain(black_box(&rows[index]), &linear_sources, &mut scratch))
        })
    });
    let small_sources = small_gbdt.schema.input_sources();
    criterion.bench_function(
        "gbdt_200_trees_depth4_15_leaves/probability_and_treeshap",
        |bench| {
            bench.iter(|| {
                index = (index + 1) % rows.len();
                black_box(small_gbdt.explain(black_box(&rows[index]), &small_sources, &mut scratch))
            })
        },
    );
    criterion.final_summary();
    percentiles(
        &format!("gbdt ({trees} trees, depth ≤ 6, ≤ 31 leaves)"),
        &gbdt,
        &rows,
    );
    percentiles(
        "gbdt (200 trees, depth ≤ 4, ≤ 15 leaves)",
        &small_gbdt,
        &rows,
    );
    percentiles("logistic", &linear, &rows);
}
