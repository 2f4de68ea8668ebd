//! The propensity model as the engine uses it: a model file written by `cartback train`
//! scores one cart's features (from the adapter) into a predicted purchase probability.
//! The model's own feature schema encodes the row, exactly as at training time; columns the
//! engine cannot compute are passed as missing values and named once at load time.

use super::adapter::FeatureValue;
use cartback_ml::PropensityModel;
use cartback_ml::dataset::table::category_key;
use cartback_ml::dataset::{CsvTable, RawColumn};
use std::path::Path;

/// Episode columns the adapter computes (with a value or as missing on purpose): the
/// feature columns of `Episode::COLUMNS`, from `cart_value` on (before it come ids, times and
/// the label).
fn adapter_columns() -> &'static [&'static str] {
    let columns = cartback_core::episodes::Episode::COLUMNS;
    let first = columns
        .iter()
        .position(|c| *c == "cart_value")
        .expect("episode columns include cart_value");
    &columns[first..]
}

/// A loaded propensity model.
pub struct CartScorer {
    model: PropensityModel,
    unknown_columns: Vec<String>,
}

impl CartScorer {
    /// Reads and checks a model file.
    pub fn load(path: &Path) -> Result<CartScorer, cartback_ml::MlError> {
        Ok(CartScorer::new(PropensityModel::load(path)?))
    }

    pub fn new(model: PropensityModel) -> CartScorer {
        let unknown_columns = model
            .schema
            .columns
            .iter()
            .filter(|c| !adapter_columns().contains(&c.name.as_str()))
            .map(|c| c.name.clone())
            .collect();
        CartScorer {
            model,
            unknown_columns,
        }
    }

    /// Input columns of the model the engine does not know (always passed as missing).
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown_columns
    }

    pub fn model_name(&self) -> &str {
        &self.model.model_name
    }

    /// The predicted purchase probability of one cart. A value of the wrong type for the
    /// model's schema (e.g. text where it was trained on numbers) is an error naming the
    /// column.
    pub fn score(&self, features: &[(&str, FeatureValue)]) -> Result<f64, cartback_ml::MlError> {
        let mut headers = Vec::with_capacity(self.model.schema.columns.len());
        let mut columns = Vec::with_capacity(self.model.schema.columns.len());
        for spec in &self.model.schema.columns {
            let value = features
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map_or(&FeatureValue::Missing, |(_, v)| v);
            headers.push(spec.name.clone());
            columns.push(match value {
                FeatureValue::Number(x) => RawColumn::Numeric(vec![*x]),
                FeatureValue::Missing => RawColumn::Numeric(vec![f64::NAN]),
                FeatureValue::Text(text) => RawColumn::Text {
                    codes: vec![0],
                    dictionary: vec![category_key(text)],
                },
            });
        }
        let table = CsvTable::from_columns(headers, columns)?;
        let row = self.model.schema.encode(&table)?;
        Ok(self.model.probability(row.row(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_ml::dataset::{ColumnEncoding, ColumnSpec, FeatureSchema};
    use cartback_ml::linear::LogisticModel;
    use cartback_ml::model::FittedEstimator;

    /// log-odds = 2 × standardised cart value − 1 + 0.5 × (timezone = Europe/Berlin).
    fn model() -> PropensityModel {
        let schema = FeatureSchema {
            label: "label".into(),
            columns: vec![
                ColumnSpec {
                    name: "cart_value".into(),
                    encoding: ColumnEncoding::Numeric {
                        mean: 50.0,
                        std: 25.0,
                    },
                },
                ColumnSpec {
                    name: "timezone".into(),
                    encoding: ColumnEncoding::Categorical {
                        categories: vec!["Europe/Berlin".into()],
                    },
                },
                ColumnSpec {
                    name: "loyalty_tier".into(),
                    encoding: ColumnEncoding::Numeric {
                        mean: 1.0,
                        std: 1.0,
                    },
                },
            ],
        };
        let estimator = FittedEstimator::Logistic(LogisticModel {
            weights: vec![2.0, 0.5, 3.0],
            intercept: -1.0,
            iterations: 1,
            converged: true,
        });
        PropensityModel::new("logistic", schema, estimator, None)
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn scores_with_the_models_own_encoding_and_names_unknown_columns() {
        let scorer = CartScorer::new(model());
        assert_eq!(scorer.unknown_columns(), ["loyalty_tier"]);
        let p = scorer
            .score(&[
                ("cart_value", FeatureValue::Number(100.0)),
                ("timezone", FeatureValue::Text("Europe/Berlin".into())),
            ])
            .unwrap();
        // (100 − 50) / 25 = 2 → 2 × 2 − 1 + 0.5; loyalty_tier missing → its mean → 0.
        assert!((p - sigmoid(3.5)).abs() < 1e-12, "{p}");
        let p = scorer
            .score(&[
                ("cart_value", FeatureValue::Missing),
                ("timezone", FeatureValue::Text("Asia/Tokyo".into())),
            ])
            .unwrap();
        assert!((p - sigmoid(-1.0)).abs() < 1e-12, "{p}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_column() {
        let scorer = CartScorer::new(model());
        let err = scorer
            .score(&[("cart_value", FeatureValue::Text("lots".into()))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cart_value"), "{err}");
    }
}
