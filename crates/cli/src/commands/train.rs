//! `cartback train`: evaluate a purchase-propensity model (stratified k-fold, stratified or
//! time-ordered hold-out), optionally calibrate it, fit it on all rows and write the model
//! file. Prints a summary table, or with `--json` the full report.

use anyhow::{Context, Result, bail};
use cartback_ml::calibration::CalibrationMethod;
use cartback_ml::dataset::CsvTable;
use cartback_ml::gbdt::GbdtParams;
use cartback_ml::linear::{ClassWeight, LbfgsParams, LogisticParams, LogisticSolver};
use cartback_ml::training::{
    EstimatorSpec, Evaluation, TrainOptions, TrainingReport, evaluation_splits, split_ids, train,
};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ModelChoice {
    /// Logistic regression fitted by L-BFGS to full convergence.
    Logistic,
    /// Logistic regression fitted by mini-batch SGD.
    LogisticSgd,
    /// Histogram gradient-boosted trees.
    Gbdt,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum CalibrationChoice {
    Isotonic,
    Platt,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ClassWeightChoice {
    /// Every row weighs 1.
    Uniform,
    /// Both classes weigh the same in total.
    Balanced,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// CSV file with a header row (an episodes file or any table).
    #[arg(long)]
    pub data: PathBuf,
    /// Name of the 0/1 (or true/false) label column.
    #[arg(long)]
    pub label: String,
    /// Which model to fit.
    #[arg(long, value_enum)]
    pub model: ModelChoice,
    /// Stratified k-fold cross-validation with K folds (the default, K = 5).
    #[arg(long, conflicts_with = "test_fraction")]
    pub folds: Option<usize>,
    /// Hold out this fraction of rows for the test instead of k-fold.
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// Make the hold-out the latest rows by this column (numbers or ISO 8601 text); needs --test-fraction.
    #[arg(long, requires = "test_fraction")]
    pub time_column: Option<String>,
    /// Seed of the splits and of every random step of the fit.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Calibrate probabilities, fitted on out-of-fold scores.
    #[arg(long, value_enum)]
    pub calibrate: Option<CalibrationChoice>,
    /// Where to write the model file (JSON). Without it only the evaluation runs.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the full report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Comma-separated columns to one-hot even though they hold numbers (codes, ids of regions).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Comma-separated columns to leave out (ids, free text).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Class weighting of the loss.
    #[arg(long, value_enum, default_value = "uniform")]
    pub class_weight: ClassWeightChoice,
    /// L2 penalty (logistic: λ on the mean loss; gbdt: λ on leaf values). Default 1e-4 / 1.0.
    #[arg(long)]
    pub l2: Option<f64>,
    /// SGD epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// SGD mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// SGD initial step, or GBDT shrinkage. Default 0.1 / 0.05.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// GBDT: most trees.
    #[arg(long, default_value_t = 500)]
    pub trees: usize,
    /// GBDT: deepest leaf.
    #[arg(long, default_value_t = 6)]
    pub max_depth: usize,
    /// GBDT: most leaves per tree.
    #[arg(long, default_value_t = 31)]
    pub max_leaves: usize,
    /// GBDT: fewest rows in a leaf.
    #[arg(long, default_value_t = 20)]
    pub min_samples_leaf: usize,
    /// GBDT: share of inputs offered to each tree.
    #[arg(long, default_value_t = 1.0)]
    pub feature_fraction: f64,
    /// GBDT: share of training rows held out for early stopping (0: no early stopping).
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// GBDT: stop after this many trees without improvement on the validation rows.
    #[arg(long, default_value_t = 30)]
    pub early_stopping_rounds: usize,
    /// GBDT: most histogram bins per input (2..=255).
    #[arg(long, default_value_t = 255)]
    pub max_bins: usize,
    /// Write each row's split (k-fold: its test fold; hold-out: 0 test, 1 train) to this CSV,
    /// so other tools can be evaluated on exactly the same splits.
    #[arg(long)]
    pub export_splits: Option<PathBuf>,
}

fn estimator_spec(args: &TrainArgs) -> EstimatorSpec {
    let class_weight = match args.class_weight {
        ClassWeightChoice::Uniform => ClassWeight::Uniform,
        ClassWeightChoice::Balanced => ClassWeight::Balanced,
    };
    match args.model {
        ModelChoice::Logistic | ModelChoice::LogisticSgd => {
            let solver = if args.model == ModelChoice::Logistic {
                LogisticSolver::Lbfgs(LbfgsParams::default())
            } else {
                LogisticSolver::Sgd {
                    epochs: args.epochs,
                    batch_size: args.batch_size,
                    learning_rate: args.learning_rate.unwrap_or(0.1),
                }
            };
            EstimatorSpec::Logistic {
                name: if args.model == ModelChoice::Logistic {
                    "logistic"
                } else {
                    "logistic-sgd"
                }
                .to_string(),
                params: LogisticParams {
                    l2: args.l2.unwrap_or(1e-4),
                    class_weight,
                    solver,
                    seed: args.seed,
                },
            }
        }
        ModelChoice::Gbdt => EstimatorSpec::Gbdt(GbdtParams {
            n_trees: args.trees,
            learning_rate: args.learning_rate.unwrap_or(0.05),
            max_depth: args.max_depth,
            max_leaves: args.max_leaves,
            min_samples_leaf: args.min_samples_leaf,
            l2: args.l2.unwrap_or(1.0),
            min_split_gain: 0.0,
            feature_fraction: args.feature_fraction,
            max_bins: args.max_bins,
            validation_fraction: args.validation_fraction,
            early_stopping_rounds: args.early_stopping_rounds,
            class_weight,
            seed: args.seed,
        }),
    }
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let evaluation = match (args.folds, args.test_fraction, &args.time_column) {
        (Some(folds), None, None) => Evaluation::KFold { folds },
        (None, Some(test_fraction), Some(time_column)) => Evaluation::TimeHoldout {
            time_column: time_column.clone(),
            test_fraction,
        },
        (None, Some(test_fraction), None) => Evaluation::Holdout { test_fraction },
        (None, None, None) => Evaluation::KFold { folds: 5 },
        _ => bail!("--time-column needs --test-fraction and cannot be used with --folds"),
    };
    let table = CsvTable::from_path(&args.data, &args.categorical)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let options = TrainOptions {
        label: args.label.clone(),
        excluded: args.exclude.clone(),
        estimator: estimator_spec(&args),
        evaluation,
        calibration: args.calibrate.map(|choice| match choice {
            CalibrationChoice::Isotonic => CalibrationMethod::Isotonic,
            CalibrationChoice::Platt => CalibrationMethod::Platt,
        }),
        seed: args.seed,
        fit_final: args.out.is_some(),
    };
    if let Some(path) = &args.export_splits {
        let labels = table
            .binary_labels(&args.label)
            .with_context(|| format!("reading {}", args.data.display()))?;
        let splits =
            evaluation_splits(&table, &labels, &options).context("making the evaluation splits")?;
        let ids = split_ids(&splits, labels.len());
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        writeln!(out, "row,split")?;
        for (row, id) in ids.iter().enumerate() {
            writeln!(out, "{row},{id}")?;
        }
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let (model, report) =
        train(&table, &options).with_context(|| format!("training on {}", args.data.display()))?;
    if let Some(path) = &args.out {
        model
            .save(path)
            .with_context(|| format!("writing the model to {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_summary(&report, args.out.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(report: &TrainingReport, out: Option<&PathBuf>) {
    println!(
        "{}: {} rows ({} positive), {} inputs; evaluation: {}",
        report.model, report.rows, report.positives, report.inputs, report.evaluation
    );
    if !report.folds.is_empty() {
        println!(
            "fold  ROC-AUC  PR-AUC  log-loss  Brier   acc@.5  F1@.5   best-F1 (thr)    train s"
        );
        for fold in &report.folds {
            let m = &fold.metrics;
            println!(
                "{:>4}  {:.4}   {:.4}  {:.4}    {:.4}  {:.4}  {:.4}  {:.4} ({:.3})  {:>7.3}",
                fold.fold,
                m.roc_auc,
                m.pr_auc,
                m.log_loss,
                m.brier,
                m.accuracy_at_half,
                m.f1_at_half,
                m.best_f1,
                m.best_f1_threshold,
                fold.train_seconds
            );
        }
    }
    for (title, mean) in [
        ("mean", &report.mean),
        ("calibrated mean", &report.calibrated_mean),
    ] {
        if let Some(m) = mean {
            println!(
                "{title}: ROC-AUC {:.4}  PR-AUC {:.4}  log-loss {:.4}  Brier {:.4}  acc@.5 {:.4}  F1@.5 {:.4}  best F1 {:.4}",
                m.roc_auc,
                m.pr_auc,
                m.log_loss,
                m.brier,
                m.accuracy_at_half,
                m.f1_at_half,
                m.best_f1
            );
        }
    }
    if !report.calibration_table.is_empty() {
        println!("calibration (out-of-fold): bin  rows  predicted  observed");
        for bin in report.calibration_table.iter().filter(|bin| bin.count > 0) {
            println!(
                "  {:.1}-{:.1}  {:>6}  {:.3}  {:.3}",
                bin.lower, bin.upper, bin.count, bin.mean_predicted, bin.observed_rate
            );
        }
    }
    println!("importance (mean |log-odds contribution|):");
    for (column, value) in report.importance.iter().take(10) {
        println!("  {column:<28} {value:.4}");
    }
    match out {
        Some(path) => println!(
            "final model ({} {}, {:.2} s) written to {}",
            report.final_size,
            if report.model == "gbdt" {
                "trees"
            } else {
                "iterations"
            },
            report.final_train_seconds,
            path.display()
        ),
        None => println!("no --out given: evaluation only"),
    }
}
