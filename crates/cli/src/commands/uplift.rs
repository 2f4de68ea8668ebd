//! `cartback uplift`: fit a T-, X- or DR-learner on the train side of a randomised test and
//! measure its ranking on the test side (uplift@10/20/30 %, Qini coefficient, AUUC, as
//! scikit-uplift defines them). Rows of arms other than `--treated` and `--control` are left
//! out. Optionally writes the split and the test predictions so peers can be run on exactly
//! the same rows.

use anyhow::{Context, Result, bail};
use cartback_ml::dataset::CsvTable;
use cartback_ml::gbdt::GbdtParams;
use cartback_ml::linear::{LogisticParams, RidgeParams};
use cartback_ml::uplift::{
    BaseLearner, ExperimentSpec, Learner, PropensitySource, UpliftEvaluation, UpliftOptions,
    UpliftParams, UpliftReport, evaluate,
};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LearnerChoice {
    /// Two outcome models; uplift = μ₁(x) − μ₀(x).
    T,
    /// Imputed effects regressed per arm, blended by the propensity.
    X,
    /// Cross-fitted doubly robust pseudo-outcomes regressed on x.
    Dr,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum BaseChoice {
    /// Gradient-boosted trees (log-loss classifiers, squared-error regressions).
    Gbdt,
    /// Logistic regression classifiers, ridge regressions.
    Logistic,
}

#[derive(Args, Debug)]
pub struct UpliftArgs {
    /// CSV file with a header row, one row per subject of the experiment.
    #[arg(long)]
    pub data: PathBuf,
    /// The column naming each row's arm.
    #[arg(long)]
    pub treatment: String,
    /// The treatment column's value of the treated arm.
    #[arg(long)]
    pub treated: String,
    /// The treatment column's value of the control arm.
    #[arg(long)]
    pub control: String,
    /// The 0/1 (true/false, yes/no) outcome column.
    #[arg(long)]
    pub outcome: String,
    /// Which meta-learner to fit.
    #[arg(long, value_enum)]
    pub learner: LearnerChoice,
    /// The estimator of every stage.
    #[arg(long, value_enum, default_value = "gbdt")]
    pub base: BaseChoice,
    /// Share of the rows held out for the test, stratified by (treatment, outcome).
    #[arg(long, default_value_t = 0.5)]
    pub test_fraction: f64,
    /// Seed of the split and of every random step of the fit.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Comma-separated columns to leave out: ids and outcomes other than --outcome (which
    /// would leak it, e.g. Hillstrom's `conversion` and `spend`).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Comma-separated columns to one-hot even though they hold numbers.
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// A known treatment probability (e.g. 0.5 in a 50/50 test) instead of a fitted propensity model.
    #[arg(long)]
    pub propensity: Option<f64>,
    /// Propensities are clipped into [c, 1 − c].
    #[arg(long, default_value_t = 0.01)]
    pub propensity_clip: f64,
    /// Cross-fitting folds of the DR-learner.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// L2 penalty (logistic and ridge: λ on the mean loss; gbdt: λ on leaf values). Default 1e-4 / 1.0.
    #[arg(long)]
    pub l2: Option<f64>,
    /// GBDT: most trees per stage.
    #[arg(long, default_value_t = 300)]
    pub trees: usize,
    /// GBDT: shrinkage.
    #[arg(long, default_value_t = 0.05)]
    pub learning_rate: f64,
    /// GBDT: deepest leaf.
    #[arg(long, default_value_t = 4)]
    pub max_depth: usize,
    /// GBDT: most leaves per tree.
    #[arg(long, default_value_t = 15)]
    pub max_leaves: usize,
    /// GBDT: fewest rows in a leaf.
    #[arg(long, default_value_t = 100)]
    pub min_samples_leaf: usize,
    /// GBDT: share of each stage's rows held out for early stopping (0: no early stopping).
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// Write every kept row's side (`row,split`: 0-based data row of the file, 0 test / 1 train).
    #[arg(long, alias = "write-split")]
    pub export_split: Option<PathBuf>,
    /// Write the test rows' predictions (`row,treatment,outcome,uplift`).
    #[arg(long)]
    pub export_scores: Option<PathBuf>,
}

fn params(args: &UpliftArgs) -> UpliftParams {
    let base = match args.base {
        BaseChoice::Gbdt => BaseLearner::Gbdt(GbdtParams {
            n_trees: args.trees,
            learning_rate: args.learning_rate,
            max_depth: args.max_depth,
            max_leaves: args.max_leaves,
            min_samples_leaf: args.min_samples_leaf,
            validation_fraction: args.validation_fraction,
            l2: args.l2.unwrap_or(1.0),
            seed: args.seed,
            ..GbdtParams::default()
        }),
        BaseChoice::Logistic => BaseLearner::Linear {
            logistic: LogisticParams {
                l2: args.l2.unwrap_or(1e-4),
                seed: args.seed,
                ..LogisticParams::default()
            },
            ridge: RidgeParams {
                l2: args.l2.unwrap_or(1e-4),
                ..RidgeParams::default()
            },
        },
    };
    let learner = match args.learner {
        LearnerChoice::T => Learner::T,
        LearnerChoice::X => Learner::X,
        LearnerChoice::Dr => Learner::Dr,
    };
    UpliftParams {
        propensity: args
            .propensity
            .map_or(PropensitySource::Fitted, PropensitySource::Known),
        propensity_clip: args.propensity_clip,
        folds: args.folds,
        seed: args.seed,
        ..UpliftParams::new(learner, base)
    }
}

pub fn run(args: UpliftArgs) -> Result<ExitCode> {
    // Read the treatment column as text so that its values compare as written.
    let headers = CsvTable::read_headers(&args.data)
        .with_context(|| format!("reading {}", args.data.display()))?;
    for (column, role) in [(&args.treatment, "treatment"), (&args.outcome, "outcome")] {
        if !headers.contains(column) {
            bail!(
                "unknown {role} column `{column}` in {} (its columns: {})",
                args.data.display(),
                headers.join(", ")
            );
        }
    }
    let mut text_columns = args.categorical.clone();
    text_columns.push(args.treatment.clone());
    let table = CsvTable::from_path(&args.data, &text_columns)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let options = UpliftOptions {
        experiment: ExperimentSpec {
            treatment_column: args.treatment.clone(),
            treated_value: args.treated.clone(),
            control_value: args.control.clone(),
            outcome_column: args.outcome.clone(),
        },
        excluded: args.exclude.clone(),
        test_fraction: args.test_fraction,
        seed: args.seed,
        params: params(&args),
    };
    let evaluation = evaluate(&table, &options)
        .with_context(|| format!("uplift model on {}", args.data.display()))?;
    if let Some(path) = &args.export_split {
        write_split(path, &evaluation)?;
    }
    if let Some(path) = &args.export_scores {
        write_scores(path, &evaluation)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&evaluation.report)?);
    } else {
        print_summary(&evaluation.report);
    }
    Ok(ExitCode::SUCCESS)
}

fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    Ok(std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    ))
}

fn write_split(path: &Path, evaluation: &UpliftEvaluation) -> Result<()> {
    let mut rows: Vec<(usize, u8)> = evaluation
        .split
        .test
        .iter()
        .map(|&row| (row, 0))
        .chain(evaluation.split.train.iter().map(|&row| (row, 1)))
        .collect();
    rows.sort_unstable();
    let mut out = create(path)?;
    writeln!(out, "row,split")?;
    for (row, side) in rows {
        writeln!(out, "{row},{side}")?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

fn write_scores(path: &Path, evaluation: &UpliftEvaluation) -> Result<()> {
    let mut out = create(path)?;
    writeln!(out, "row,treatment,outcome,uplift")?;
    for (position, &row) in evaluation.split.test.iter().enumerate() {
        writeln!(
            out,
            "{row},{},{},{:?}",
            u8::from(evaluation.test_treated[position]),
            evaluation.test_outcome[position],
            evaluation.test_uplift[position]
        )?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

fn print_summary(report: &UpliftReport) {
    println!(
        "{}-learner on {}: {} rows ({} treated, {} control), {} inputs; {}",
        report.learner.to_uppercase(),
        report.base,
        report.rows,
        report.treated_rows,
        report.control_rows,
        report.inputs,
        report.split
    );
    println!(
        "test side: {} rows; response {:.4} treated vs {:.4} control (ATE {:+.4})",
        report.test_rows, report.test_treated_rate, report.test_control_rate, report.test_ate
    );
    let m = &report.metrics;
    println!(
        "uplift@10% {:+.4}  uplift@20% {:+.4}  uplift@30% {:+.4}  Qini {:+.4}  AUUC {:+.4}",
        m.uplift_at_10, m.uplift_at_20, m.uplift_at_30, m.qini, m.auuc
    );
    println!("Qini curve (share targeted: incremental responders):");
    for point in &report.qini_curve {
        println!(
            "  {:>4.0} %  {:+.1}",
            point.share * 100.0,
            point.incremental
        );
    }
    let d = &report.diagnostics;
    if let (Some(low), Some(high)) = (d.propensity_min, d.propensity_max) {
        println!(
            "propensity on the train side: {low:.3}..{high:.3} ({} rows clipped)",
            d.propensity_clipped_rows
        );
    }
    if let Some(ate) = d.aipw_ate {
        println!("cross-fitted AIPW estimate of the ATE on the train side: {ate:+.4}");
    }
    println!(
        "fit {:.2} s, predict {:.3} s",
        report.fit_seconds, report.predict_seconds
    );
}
