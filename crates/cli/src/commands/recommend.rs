//! `cartback recommend`: train the recommender (`train`), evaluate ALS, item co-occurrence
//! and popularity offline (`evaluate`), and ask a trained model for items
//! (`recommend --model MODEL --user U | --cart ITEMS`). Thin wiring of `cartback-recommend`.

use anyhow::{Context, Result, bail};
use cartback_recommend::{
    AlsParams, Confidence, DataFormat, EvaluationConfig, EventInteractions, EventWeights,
    ExclusionPolicy, InteractionLog, ModelKind, ModelOptions, RecommendationRequest, Recommender,
    Solver, SplitMethod, TrainConfig, TrainedRecommender, Weighting,
};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RecommendArgs {
    #[command(subcommand)]
    command: Option<RecommendCommand>,
    #[command(flatten)]
    query: QueryArgs,
}

#[derive(Subcommand)]
enum RecommendCommand {
    /// Fit ALS, item co-occurrence and popularity, pick the best on a validation split, save a model.
    Train(TrainArgs),
    /// Split the data, fit every model, report P@k, recall, NDCG, MAP and coverage, and say which validation picks.
    Evaluate(EvaluateArgs),
}

/// Ask a trained model for items.
#[derive(Args)]
struct QueryArgs {
    /// Model file written by `cartback recommend train`.
    #[arg(long, value_name = "MODEL")]
    model: Option<PathBuf>,
    /// The shopper's user id.
    #[arg(long, value_name = "U")]
    user: Option<String>,
    /// Product ids in the cart, comma-separated.
    #[arg(long, value_name = "ITEMS", value_delimiter = ',')]
    cart: Vec<String>,
    /// Product ids that are out of stock, comma-separated.
    #[arg(long, value_name = "ITEMS", value_delimiter = ',')]
    out_of_stock: Vec<String>,
    /// Product ids the shopper bought (besides those the model saw), comma-separated.
    #[arg(long, value_name = "ITEMS", value_delimiter = ',')]
    bought: Vec<String>,
    /// Number of items.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Where training data comes from and how it is read.
#[derive(Args)]
struct DataArgs {
    /// Interactions CSV or baskets file.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// `interactions` (CSV with user_id, item_id, optional event_type/weight and timestamp/order) or `baskets` (one basket a line).
    #[arg(long, default_value = "interactions")]
    format: String,
    /// Weights of event types, e.g. `view=1,cart=4,purchase=8`.
    #[arg(long, value_name = "WEIGHTS")]
    event_weights: Option<String>,
}

/// Model settings shared by `train` and `evaluate`.
#[derive(Args)]
struct ModelArgs {
    /// ALS latent factors.
    #[arg(long, default_value_t = 64)]
    factors: usize,
    /// ALS sweeps.
    #[arg(long, default_value_t = 15)]
    iterations: usize,
    /// L2 regularisation λ.
    #[arg(long, default_value_t = 0.05)]
    regularization: f64,
    /// Confidence scale α.
    #[arg(long, default_value_t = 10.0)]
    alpha: f64,
    /// `one-plus-alpha` (c = 1 + α·r, the paper) or `alpha` (c = α·r, as the implicit library).
    #[arg(long, default_value = "one-plus-alpha")]
    confidence: String,
    /// `cg` (conjugate gradient, as implicit) or `cholesky` (exact).
    #[arg(long, default_value = "cg")]
    solver: String,
    /// Conjugate-gradient steps per row.
    #[arg(long, default_value_t = 3)]
    cg_steps: usize,
    /// Re-weighting before ALS: none, bm25 or tfidf.
    #[arg(long, default_value = "none")]
    weighting: String,
    /// Seed of the initial factors and of random splits.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Worker threads (0 = all cores); results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Users with more distinct items are left out of co-occurrence counts.
    #[arg(long, default_value_t = 500)]
    max_row_items: usize,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Event store to train from instead of a file (SQLite path or postgres:// URL).
    #[arg(long, value_name = "PATH", conflicts_with = "data")]
    db: Option<String>,
    #[command(flatten)]
    model: ModelArgs,
    /// Split used to pick the serving model: last-basket, time, leave-one-out, or none (keep --default-model).
    #[arg(long, value_name = "SPLIT")]
    select_by: Option<String>,
    /// Model served when no validation is made or possible.
    #[arg(long, default_value = "als")]
    default_model: String,
    /// The shop sells consumables: items already bought may be recommended again.
    #[arg(long)]
    consumables: bool,
    /// Weight of a cart item when folded into the shopper's ALS factors.
    #[arg(long, default_value_t = 4.0)]
    cart_weight: f64,
    /// Tune ALS factors, regularisation and alpha on the validation split (12 extra fits).
    #[arg(long)]
    tune: bool,
    /// Where to write the model.
    #[arg(long, value_name = "MODEL")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvaluateArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// last-basket, time or leave-one-out (default: leave-one-out for baskets, last-basket for interactions).
    #[arg(long)]
    split: Option<String>,
    /// Share of interactions held out by the time split.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Cut-off of the ranking metrics.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Keep training items eligible (repurchase) instead of filtering them out.
    #[arg(long)]
    consumables: bool,
    /// Tune ALS factors, regularisation and alpha on the validation split (12 extra fits).
    #[arg(long)]
    tune: bool,
    /// Models to evaluate, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "als,cooccurrence,popularity"
    )]
    models: Vec<String>,
    /// Also write the split (train.csv, test.csv, shape.json) to this directory for peer tools.
    #[arg(long, value_name = "DIR")]
    export_split: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: RecommendArgs) -> Result<ExitCode> {
    match args.command {
        Some(RecommendCommand::Train(train)) => run_train(train),
        Some(RecommendCommand::Evaluate(evaluate)) => run_evaluate(evaluate),
        None => run_query(args.query),
    }
}

impl ModelArgs {
    fn options(&self) -> Result<ModelOptions> {
        let solver = match self.solver.as_str() {
            "cg" => Solver::ConjugateGradient {
                steps: self.cg_steps,
            },
            "cholesky" => Solver::Cholesky,
            other => bail!("--solver: `{other}` is not cg or cholesky"),
        };
        let confidence = match self.confidence.as_str() {
            "one-plus-alpha" => Confidence::OnePlusAlpha,
            "alpha" => Confidence::Alpha,
            other => bail!("--confidence: `{other}` is not one-plus-alpha or alpha"),
        };
        let als = AlsParams {
            factors: self.factors,
            regularization: self.regularization,
            alpha: self.alpha,
            iterations: self.iterations,
            solver,
            confidence,
            weighting: Weighting::parse(&self.weighting)?,
            seed: self.seed,
            threads: self.threads,
            track_loss: false,
        };
        als.validate()?;
        if self.max_row_items < 2 {
            bail!("--max-row-items: {} must be at least 2", self.max_row_items);
        }
        Ok(ModelOptions {
            als,
            max_row_items: self.max_row_items,
        })
    }
}

impl DataArgs {
    fn format(&self) -> Result<DataFormat> {
        self.format
            .parse::<DataFormat>()
            .map_err(|e| anyhow::anyhow!("--format: {e}"))
    }

    fn weights(&self) -> Result<EventWeights> {
        Ok(match &self.event_weights {
            Some(text) => EventWeights::parse(text)?,
            None => EventWeights::default(),
        })
    }

    fn load(&self) -> Result<InteractionLog> {
        let path = self.data.as_ref().context("give --data FILE")?;
        cartback_recommend::load::load(path, self.format()?, &self.weights()?)
            .with_context(|| format!("reading {}", path.display()))
    }
}

fn default_split(format: DataFormat, log: &InteractionLog) -> SplitMethod {
    match format {
        DataFormat::Baskets => SplitMethod::LeaveOneOut,
        DataFormat::Interactions if log.has_baskets() || log.has_times() => SplitMethod::LastBasket,
        DataFormat::Interactions => SplitMethod::LeaveOneOut,
    }
}

fn load_from_store(location: &str, weights: EventWeights) -> Result<InteractionLog> {
    let mut store = cartback_store::open(location)
        .with_context(|| format!("opening the event store {location}"))?;
    let mut interactions = EventInteractions::new(weights);
    store
        .scan_events(&mut |event| interactions.observe(&event))
        .with_context(|| format!("reading events from {location}"))?;
    if interactions.log.records.is_empty() {
        bail!("{location}: no product views, cart adds or orders to train on");
    }
    Ok(interactions.log)
}

fn run_train(args: TrainArgs) -> Result<ExitCode> {
    let options = args.model.options()?;
    let (log, format) = match (&args.db, &args.data.data) {
        (Some(location), _) => (
            load_from_store(location, args.data.weights()?)?,
            DataFormat::Interactions,
        ),
        (None, Some(_)) => (args.data.load()?, args.data.format()?),
        (None, None) => bail!("give --data FILE or --db PATH"),
    };
    let selection_split = match args.select_by.as_deref() {
        Some("none") => None,
        Some(text) => Some(SplitMethod::parse(text, 0.2)?),
        None => Some(default_split(format, &log)),
    };
    let default_model: ModelKind = args
        .default_model
        .parse()
        .map_err(|e| anyhow::anyhow!("--default-model: {e}"))?;
    let config = TrainConfig {
        models: options.clone(),
        policy: ExclusionPolicy {
            consumables: args.consumables,
        },
        selection_split,
        default_model,
        k: 10,
        seed: options.als.seed,
        cart_weight: args.cart_weight,
        tune_als: args.tune,
    };
    let trained = TrainedRecommender::fit(&log, &config)?;
    trained
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let selection = trained.selection();
    let als_report = trained.models().als.as_ref().map(|m| m.report().clone());
    if args.json {
        let out = json!({
            "model": args.out.display().to_string(),
            "users": trained.users(),
            "items": trained.items(),
            "interactions": log.records.len(),
            "selected": selection.selected.as_str(),
            "selected_by": selection.how,
            "validation_ndcg_at_10": selection.validation_ndcg.iter().map(|(k, v)| (k.as_str().to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "als_train_seconds": als_report.as_ref().map(|r| r.total_seconds()),
            "als_seconds_per_iteration": als_report.as_ref().map(|r| r.seconds_per_iteration()),
            "als_params": {
                "factors": selection.als.factors,
                "regularization": selection.als.regularization,
                "alpha": selection.als.alpha,
                "iterations": selection.als.iterations,
            },
        });
        println!("{out}");
    } else {
        println!(
            "trained on {} interactions ({} users, {} items); wrote {}",
            log.records.len(),
            trained.users(),
            trained.items(),
            args.out.display()
        );
        for (kind, ndcg) in &selection.validation_ndcg {
            println!("  validation ndcg@10 {kind:<13} {ndcg:.4}");
        }
        println!(
            "serving model: {} (picked by {})",
            selection.selected, selection.how
        );
        if let Some(report) = als_report {
            println!(
                "  ALS (factors {}, regularization {}, alpha {}): {:.3} s, {:.4} s per iteration",
                selection.als.factors,
                selection.als.regularization,
                selection.als.alpha,
                report.total_seconds(),
                report.seconds_per_iteration()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_evaluate(args: EvaluateArgs) -> Result<ExitCode> {
    let options = args.model.options()?;
    let format = args.data.format()?;
    let log = args.data.load()?;
    let split = match &args.split {
        Some(text) => SplitMethod::parse(text, args.test_fraction)?,
        None => default_split(format, &log),
    };
    if format == DataFormat::Baskets && split != SplitMethod::LeaveOneOut {
        bail!(
            "--split {}: a baskets file has one basket per user and no times; use --split leave-one-out",
            split.name()
        );
    }
    let mut config = EvaluationConfig::new(options, args.k, split)?;
    config.seed = args.model.seed;
    config.consumables = args.consumables;
    config.tune_als = args.tune;
    config.kinds = args
        .models
        .iter()
        .map(|m| {
            m.parse::<ModelKind>()
                .map_err(|e| anyhow::anyhow!("--models: {e}"))
        })
        .collect::<Result<_>>()?;
    let outer = cartback_recommend::split::split(&log, split, config.seed)?;
    if let Some(dir) = &args.export_split {
        cartback_recommend::evaluate::export_split(&outer, dir)
            .with_context(|| format!("writing the split to {}", dir.display()))?;
    }
    let report = cartback_recommend::evaluate::evaluate_prepared(&log, &outer, &config)?;
    if args.json {
        println!("{}", report.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} users, {} items, {} training interactions; {} split holds out {} items of {} users",
        report.users,
        report.items,
        report.train_interactions,
        split.name(),
        report.held_out_items,
        report.test_users
    );
    let k = report.k;
    println!(
        "{:<13} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10}",
        "model",
        format!("P@{k}"),
        format!("R@{k}"),
        format!("NDCG@{k}"),
        format!("MAP@{k}"),
        "coverage",
        "train s",
        "s/iter"
    );
    for m in &report.models {
        println!(
            "{:<13} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>9.3} {:>9.3} {:>10}",
            m.model.as_str(),
            m.metrics.precision,
            m.metrics.recall,
            m.metrics.ndcg,
            m.metrics.map,
            m.metrics.coverage,
            m.train_seconds,
            m.seconds_per_iteration
                .map_or_else(|| "-".to_owned(), |s| format!("{s:.4}"))
        );
    }
    let validation: Vec<String> = report
        .selection
        .validation
        .iter()
        .map(|m| format!("{} {:.4}", m.model, m.metrics.ndcg))
        .collect();
    println!(
        "selected: {} (best NDCG@{k} on a validation split of the training data: {})",
        report.selection.selected,
        validation.join(", ")
    );
    if !report.selection.tuning.is_empty() {
        let als = &report.selection.als;
        println!(
            "ALS tuned on validation: factors {}, regularization {}, alpha {} (best of {} settings)",
            als.factors,
            als.regularization,
            als.alpha,
            report.selection.tuning.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_query(args: QueryArgs) -> Result<ExitCode> {
    let Some(path) = &args.model else {
        bail!(
            "give --model MODEL with --user U and/or --cart ITEMS, or a subcommand (train, evaluate)"
        );
    };
    if args.user.is_none() && args.cart.is_empty() {
        bail!("give --user U and/or --cart ITEMS");
    }
    if args.k == 0 || args.k > 1000 {
        bail!("--k: {} must be within 1..=1000", args.k);
    }
    let model =
        TrainedRecommender::load(path).with_context(|| format!("loading {}", path.display()))?;
    let request = RecommendationRequest {
        user_id: args.user.clone(),
        cart: args
            .cart
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        k: args.k,
        out_of_stock: args
            .out_of_stock
            .iter()
            .map(|s| s.trim().to_owned())
            .collect(),
        bought: args.bought.iter().map(|s| s.trim().to_owned()).collect(),
    };
    let recommendations = model.recommend(&request)?;
    if args.json {
        println!(
            "{}",
            json!({ "user": args.user, "cart": request.cart, "items": recommendations })
        );
    } else {
        for (rank, r) in recommendations.iter().enumerate() {
            println!(
                "{:>3}. {}  (score {:.4}, {})",
                rank + 1,
                r.item_id,
                r.score,
                r.source
            );
        }
        if recommendations.is_empty() {
            println!("no items left to recommend after exclusions");
        }
    }
    Ok(ExitCode::SUCCESS)
}
