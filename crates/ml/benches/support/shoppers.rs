//! Shared by `benches/score_one_cart.rs` and `examples/score_latency.rs`: the UCI
//! online-shoppers data in `testdata/`, the models trained on it, and its rows as raw carts
//! (typed cells) with the schema transform that turns one into model inputs.

use cartback_ml::PropensityModel;
use cartback_ml::dataset::{CsvTable, RawColumn};
use cartback_ml::gbdt::GbdtParams;
use cartback_ml::linear::LogisticParams;
use cartback_ml::training::{EstimatorSpec, Evaluation, TrainOptions, train};
use std::path::Path;

/// The online-shoppers table (12,330 rows; label `Revenue`).
pub fn table() -> CsvTable {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/online_shoppers_intention.csv");
    CsvTable::from_path(&path, &[]).expect("testdata/online_shoppers_intention.csv")
}

fn trained(table: &CsvTable, estimator: EstimatorSpec) -> PropensityModel {
    let options = TrainOptions {
        label: "Revenue".to_string(),
        excluded: Vec::new(),
        estimator,
        evaluation: Evaluation::None,
        calibration: None,
        seed: 42,
        fit_final: true,
    };
    train(table, &options)
        .expect("training on online shoppers")
        .0
}

/// A GBDT of exactly 200 trees (no early stopping) of the given shape.
pub fn gbdt_200_trees(table: &CsvTable, max_depth: usize, max_leaves: usize) -> PropensityModel {
    trained(
        table,
        EstimatorSpec::Gbdt(GbdtParams {
            n_trees: 200,
            max_depth,
            max_leaves,
            validation_fraction: 0.0,
            ..GbdtParams::default()
        }),
    )
}

/// The L-BFGS logistic regression.
pub fn logistic(table: &CsvTable) -> PropensityModel {
    trained(
        table,
        EstimatorSpec::Logistic {
            name: "logistic".to_string(),
            params: LogisticParams::default(),
        },
    )
}

/// One raw cart: the typed cells of one row, by column.
#[derive(Clone)]
pub struct RawRow {
    headers: Vec<String>,
    cells: Vec<Cell>,
}

#[derive(Clone)]
enum Cell {
    Number(f64),
    Text(String),
}

/// `count` rows spread over the table, as raw carts.
pub fn raw_rows(table: &CsvTable, count: usize) -> Vec<RawRow> {
    let stride = (table.n_rows() / count.max(1)).max(1);
    (0..table.n_rows())
        .step_by(stride)
        .take(count)
        .map(|row| RawRow {
            headers: table.headers().to_vec(),
            cells: table
                .headers()
                .iter()
                .map(
                    |name| match table.column(name).expect("header names a column") {
                        RawColumn::Numeric(values) => Cell::Number(values[row]),
                        RawColumn::Text { codes, dictionary } => {
                            Cell::Text(dictionary[codes[row] as usize].clone())
                        }
                    },
                )
                .collect(),
        })
        .collect()
}

/// The schema transform of one raw cart, as an in-process caller does it with the public
/// API: a one-row table, encoded by the model's schema (standardised numbers, one-hot
/// categories).
pub fn encode(model: &PropensityModel, raw: &RawRow) -> Vec<f64> {
    let columns = raw
        .cells
        .iter()
        .map(|cell| match cell {
            Cell::Number(value) => RawColumn::Numeric(vec![*value]),
            Cell::Text(value) => RawColumn::Text {
                codes: vec![0],
                dictionary: vec![value.clone()],
            },
        })
        .collect();
    let table = CsvTable::from_columns(raw.headers.clone(), columns).expect("one-row table");
    model.schema.encode(&table).expect("encoding").values
}
