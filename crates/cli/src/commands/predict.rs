//! `cartback predict`: score a CSV file with a saved propensity model and write one CSV row
//! per input row to standard output; `--explain` adds each row's top contributions to the
//! log-odds (exact for logistic regression, TreeSHAP for trees).

use anyhow::{Context, Result};
use cartback_ml::PropensityModel;
use cartback_ml::dataset::{CsvTable, RawColumn};
use cartback_ml::model::ExplainScratch;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Model file written by `cartback train --out`.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV file with the model's input columns (others are ignored).
    #[arg(long)]
    pub data: PathBuf,
    /// Add each row's largest contributions to the log-odds.
    #[arg(long)]
    pub explain: bool,
    /// How many contributions to print with --explain.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Copy this column (e.g. a cart id) into the output.
    #[arg(long)]
    pub id_column: Option<String>,
}

fn cell(column: &RawColumn, row: usize) -> String {
    match column {
        RawColumn::Numeric(values) if values[row].is_nan() => String::new(),
        RawColumn::Numeric(values) => values[row].to_string(),
        RawColumn::Text { codes, dictionary } => dictionary[codes[row] as usize].clone(),
    }
}

fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn run(args: PredictArgs) -> Result<ExitCode> {
    match write_predictions(&args) {
        // A closed pipe (`cartback predict … | head`) is the reader's choice, not a failure.
        Err(error)
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}

fn write_predictions(args: &PredictArgs) -> Result<ExitCode> {
    let model = PropensityModel::load(&args.model)
        .with_context(|| format!("loading the model {}", args.model.display()))?;
    // Columns the model one-hots are read as text so that numeric-looking codes keep their keys.
    let text_columns: Vec<String> = model
        .schema
        .columns
        .iter()
        .filter(|column| {
            matches!(
                column.encoding,
                cartback_ml::dataset::ColumnEncoding::Categorical { .. }
            )
        })
        .map(|column| column.name.clone())
        .collect();
    let headers = CsvTable::read_headers(&args.data)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let present_text: Vec<String> = text_columns
        .into_iter()
        .filter(|name| headers.contains(name))
        .collect();
    let table = CsvTable::from_path(&args.data, &present_text)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let id_column = match &args.id_column {
        Some(name) => Some(table.column(name).with_context(|| {
            format!(
                "column `{name}` (--id-column) is missing from {}",
                args.data.display()
            )
        })?),
        None => None,
    };
    let features = model
        .schema
        .encode(&table)
        .with_context(|| format!("encoding {} for the model", args.data.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut header = vec!["line".to_string()];
    if let Some(name) = &args.id_column {
        header.push(quoted(name));
    }
    header.push("probability".to_string());
    if args.explain {
        header.push("baseline_log_odds".to_string());
        for rank in 1..=args.top {
            header.push(format!("top{rank}_column"));
            header.push(format!("top{rank}_contribution"));
        }
    }
    writeln!(out, "{}", header.join(","))?;
    let sources = model.schema.input_sources();
    let mut scratch = ExplainScratch::default();
    for row in 0..features.n_rows {
        let mut fields = vec![table.line_of(row).to_string()];
        if let Some(column) = id_column {
            fields.push(quoted(&cell(column, row)));
        }
        if args.explain {
            let explanation = model.explain(features.row(row), &sources, &mut scratch);
            fields.push(format!("{:.6}", explanation.probability));
            fields.push(format!("{:.6}", explanation.baseline));
            for rank in 0..args.top {
                match explanation.contributions.get(rank) {
                    Some(&(column, contribution)) => {
                        fields.push(quoted(&model.schema.columns[column].name));
                        fields.push(format!("{contribution:.6}"));
                    }
                    None => fields.extend([String::new(), String::new()]),
                }
            }
        } else {
            fields.push(format!("{:.6}", model.probability(features.row(row))));
        }
        writeln!(out, "{}", fields.join(","))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
