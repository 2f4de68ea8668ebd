//! Gradient-boosted decision trees for the log-loss (and, for regression stages such as the
//! uplift learners', the squared error): histogram-based, leaf-wise growth bounded by a leaf
//! count and a depth, L2-regularised leaf values, minimum rows per leaf, per-tree feature
//! subsampling, early stopping on a (stratified) validation split, and histograms built in
//! parallel (rayon) with the sibling-subtraction trick.

use super::binning::{BinEdges, BinnedMatrix};
use super::explainer::{ShapExplainer, ShapScratch};
use super::tree::{Node, PathElement, Tree};
use crate::dataset::{FeatureMatrix, seeded_rng, stratified_holdout};
use crate::error::{MlError, Result, invalid_parameter};
use crate::linear::{ClassWeight, sigmoid};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Hyper-parameters of the booster, validated by [`GbdtParams::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtParams {
    /// Most trees to grow (fewer when early stopping triggers).
    pub n_trees: usize,
    pub learning_rate: f64,
    /// Deepest a leaf may be (root = depth 0).
    pub max_depth: usize,
    /// Most leaves a tree may have.
    pub max_leaves: usize,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty λ on leaf values: value = −G / (H + λ).
    pub l2: f64,
    /// Smallest loss reduction a split must bring.
    pub min_split_gain: f64,
    /// Share of inputs offered to each tree (1 = all).
    pub feature_fraction: f64,
    /// At most this many histogram bins per input (2..=255).
    pub max_bins: usize,
    /// Share of training rows held out (stratified) to decide when to stop; 0 disables
    /// early stopping.
    pub validation_fraction: f64,
    /// Stop after this many trees without a better validation log-loss.
    pub early_stopping_rounds: usize,
    pub class_weight: ClassWeight,
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            n_trees: 500,
            learning_rate: 0.05,
            max_depth: 6,
            max_leaves: 31,
            min_samples_leaf: 20,
            l2: 1.0,
            min_split_gain: 0.0,
            feature_fraction: 1.0,
            max_bins: 255,
            validation_fraction: 0.1,
            early_stopping_rounds: 30,
            class_weight: ClassWeight::Uniform,
            seed: 42,
        }
    }
}

/// A fitted booster: margin = base_margin + Σ trees.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GbdtModel {
    pub base_margin: f64,
    pub trees: Vec<Tree>,
    pub n_inputs: usize,
    /// Total split gain of every input.
    pub gain_by_input: Vec<f64>,
    /// Validation loss after each kept tree (empty without early stopping): the log-loss, or
    /// the mean squared error for a booster fitted by [`GbdtParams::fit_squared_error`].
    pub validation_log_loss: Vec<f64>,
    /// The TreeSHAP explainer and the expected margin, built on first use (not saved).
    #[serde(skip)]
    explainer: std::sync::OnceLock<Box<(ShapExplainer, f64)>>,
}

impl PartialEq for GbdtModel {
    /// Equal when the saved parts are equal (the lazily built explainer is ignored).
    fn eq(&self, other: &Self) -> bool {
        self.base_margin == other.base_margin
            && self.trees == other.trees
            && self.n_inputs == other.n_inputs
            && self.gain_by_input == other.gain_by_input
            && self.validation_log_loss == other.validation_log_loss
    }
}

/// The loss a booster minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Objective {
    /// Binary log-loss on 0/1 labels; the margin is the log-odds.
    LogLoss,
    /// Half the squared error on continuous targets; the margin is the prediction.
    SquaredError,
}

#[derive(Debug, Clone, Copy, Default)]
struct BinStat {
    gradient: f64,
    hessian: f64,
    count: u32,
}

#[derive(Debug, Clone, Copy)]
struct SplitChoice {
    gain: f64,
    input: usize,
    bin: u8,
    left_gradient: f64,
    left_hessian: f64,
}

struct OpenLeaf {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    histogram: Vec<BinStat>,
    gradient: f64,
    hessian: f64,
    best: Option<SplitChoice>,
}

/// Histogram layout: input `i` owns `BINS_PER_INPUT` slots from `i * BINS_PER_INPUT`, of
/// which the first `bin_counts[i]` are used.
struct HistogramLayout {
    bin_counts: Vec<usize>,
}

const BINS_PER_INPUT: usize = 256;

impl HistogramLayout {
    fn total(&self) -> usize {
        self.bin_counts.len() * BINS_PER_INPUT
    }

    fn bins_of<'a>(&self, histogram: &'a [BinStat], input: usize) -> &'a [BinStat] {
        &histogram[input * BINS_PER_INPUT..input * BINS_PER_INPUT + self.bin_counts[input]]
    }
}

/// Builds the histogram of `rows` for the allowed inputs: the rows' gradients are gathered
/// once in row order, then every input's column is scanned on its own (in parallel).
fn build_histogram(
    binned: &BinnedMatrix,
    rows: &[u32],
    gradients: &[[f64; 2]],
    layout: &HistogramLayout,
    allowed: &[bool],
    ordered: &mut Vec<[f64; 2]>,
) -> Vec<BinStat> {
    ordered.clear();
    ordered.extend(rows.iter().map(|&row| gradients[row as usize]));
    let ordered: &[[f64; 2]] = ordered;
    let mut histogram = vec![BinStat::default(); layout.total()];
    let fill = |(input, slots): (usize, &mut [BinStat])| {
        if !allowed[input] {
            return;
        }
        let column = binned.column(input);
        for (&row, &[gradient, hessian]) in rows.iter().zip(ordered) {
            let stat = &mut slots[column[row as usize] as usize];
            stat.gradient += gradient;
            stat.hessian += hessian;
            stat.count += 1;
        }
    };
    if rows.len() >= 2_048 {
        histogram
            .par_chunks_mut(BINS_PER_INPUT)
            .enumerate()
            .for_each(fill);
    } else {
        histogram
            .chunks_mut(BINS_PER_INPUT)
            .enumerate()
            .for_each(fill);
    }
    histogram
}

fn leaf_objective(gradient: f64, hessian: f64, l2: f64) -> f64 {
    gradient * gradient / (hessian + l2)
}

impl GbdtParams {
    /// Checks every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        if self.n_trees == 0 {
            return Err(invalid_parameter("n_trees", "must be at least 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(invalid_parameter(
                "learning_rate",
                format!("must be in (0, 1], got {}", self.learning_rate),
            ));
        }
        if self.max_depth == 0 || self.max_depth > 32 {
            return Err(invalid_parameter(
                "max_depth",
                format!("must be in 1..=32, got {}", self.max_depth),
            ));
        }
        if self.max_leaves < 2 {
            return Err(invalid_parameter("max_leaves", "must be at least 2"));
        }
        if self.min_samples_leaf == 0 {
            return Err(invalid_parameter("min_samples_leaf", "must be at least 1"));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(invalid_parameter("l2", "must be a finite number ≥ 0"));
        }
        if !(self.min_split_gain >= 0.0 && self.min_split_gain.is_finite()) {
            return Err(invalid_parameter(
                "min_split_gain",
                "must be a finite number ≥ 0",
            ));
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return Err(invalid_parameter("feature_fraction", "must be in (0, 1]"));
        }
        if !(2..=255).contains(&self.max_bins) {
            return Err(invalid_parameter("max_bins", "must be in 2..=255"));
        }
        if !(0.0..0.5).contains(&self.validation_fraction) {
            return Err(invalid_parameter(
                "validation_fraction",
                "must be in [0, 0.5)",
            ));
        }
        if self.validation_fraction > 0.0 && self.early_stopping_rounds == 0 {
            return Err(invalid_parameter(
                "early_stopping_rounds",
                "must be at least 1 with a validation split",
            ));
        }
        Ok(())
    }

    /// Fits a booster to encoded features and 0/1 labels.
    pub fn fit(&self, features: &FeatureMatrix, labels: &[f64]) -> Result<GbdtModel> {
        self.fit_objective(features, labels, Objective::LogLoss)
    }

    /// Fits a regression booster to continuous targets by least squares (gradient ŷ − y,
    /// hessian 1, first margin = mean target); early stopping watches the mean squared error on
    /// a random validation split. [`GbdtModel::margin`] is then the prediction. Class weights
    /// belong to the log-loss: anything but `Uniform` is an error.
    pub fn fit_squared_error(
        &self,
        features: &FeatureMatrix,
        targets: &[f64],
    ) -> Result<GbdtModel> {
        self.fit_objective(features, targets, Objective::SquaredError)
    }

    fn fit_objective(
        &self,
        features: &FeatureMatrix,
        labels: &[f64],
        objective: Objective,
    ) -> Result<GbdtModel> {
        self.validate()?;
        if features.n_rows != labels.len() {
            return Err(MlError::InvalidData(format!(
                "{} feature rows but {} labels",
                features.n_rows,
                labels.len()
            )));
        }
        if objective == Objective::LogLoss
            && let Some(position) = labels
                .iter()
                .position(|&label| label != 0.0 && label != 1.0)
        {
            return Err(MlError::InvalidData(format!(
                "label of row {position} is not 0 or 1"
            )));
        }
        if objective == Objective::SquaredError {
            if let Some(position) = labels.iter().position(|target| !target.is_finite()) {
                return Err(MlError::InvalidData(format!(
                    "target of row {position} is not a finite number"
                )));
            }
            if self.class_weight != ClassWeight::Uniform {
                return Err(invalid_parameter(
                    "class_weight",
                    "class weights apply to the log-loss only, not to regression",
                ));
            }
        }
        if let Some(position) = features.values.iter().position(|value| value.is_nan()) {
            return Err(MlError::InvalidData(format!(
                "feature {} of row {} is NaN",
                position % features.n_cols.max(1),
                position / features.n_cols.max(1)
            )));
        }
        let (train_rows, validation_rows) = if self.validation_fraction > 0.0 {
            // Regression targets have no classes: one stratum makes it a plain random hold-out.
            let single_stratum;
            let strata = match objective {
                Objective::LogLoss => labels,
                Objective::SquaredError => {
                    single_stratum = vec![0.0; labels.len()];
                    &single_stratum[..]
                }
            };
            let split = stratified_holdout(
                strata,
                self.validation_fraction,
                self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15),
            )?;
            (split.train, split.test)
        } else {
            ((0..features.n_rows).collect(), Vec::new())
        };
        if train_rows.len() < 2 * self.min_samples_leaf {
            return Err(MlError::InvalidData(format!(
                "{} training rows cannot make two leaves of {} rows",
                train_rows.len(),
                self.min_samples_leaf
            )));
        }
        let train_labels: Vec<f64> = train_rows.iter().map(|&row| labels[row]).collect();
        let validation_labels: Vec<f64> = validation_rows.iter().map(|&row| labels[row]).collect();
        let (negative_weight, positive_weight) = self.class_weight.resolve(labels)?;
        let row_weight = |label: f64| {
            if label >= 0.5 {
                positive_weight
            } else {
                negative_weight
            }
        };

        let edges = BinEdges::fit(features, &train_rows, self.max_bins);
        let binned = edges.transform(features, &train_rows);
        let layout = HistogramLayout {
            bin_counts: edges.bin_counts(),
        };

        let weight_total: f64 = train_labels.iter().map(|&label| row_weight(label)).sum();
        let positive_total: f64 = train_labels
            .iter()
            .filter(|&&label| label >= 0.5)
            .map(|&label| row_weight(label))
            .sum();
        let base_margin = match objective {
            Objective::LogLoss => {
                let base_rate = (positive_total / weight_total).clamp(1e-6, 1.0 - 1e-6);
                (base_rate / (1.0 - base_rate)).ln()
            }
            Objective::SquaredError => train_labels.iter().sum::<f64>() / train_labels.len() as f64,
        };

        let mut margins = vec![base_margin; train_rows.len()];
        let mut validation_margins = vec![base_margin; validation_rows.len()];
        let mut gradients = vec![[0.0f64; 2]; train_rows.len()];
        let mut row_order: Vec<u32> = (0..train_rows.len() as u32).collect();
        let mut rng = seeded_rng(self.seed);
        let mut all_inputs: Vec<usize> = (0..features.n_cols).collect();
        let inputs_per_tree = ((features.n_cols as f64 * self.feature_fraction).ceil() as usize)
            .clamp(1, features.n_cols.max(1));

        let mut trees = Vec::new();
        let mut gain_by_input = vec![0.0; features.n_cols];
        let mut gains_per_tree: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut validation_log_loss = Vec::new();
        let (mut best_loss, mut best_trees) = (f64::INFINITY, 0usize);
        for _ in 0..self.n_trees {
            gradients
                .par_iter_mut()
                .zip(margins.par_iter().zip(train_labels.par_iter()))
                .for_each(|(pair, (&margin, &label))| {
                    *pair = match objective {
                        Objective::LogLoss => {
                            let probability = sigmoid(margin);
                            let weight = row_weight(label);
                            [
                                weight * (probability - label),
                                (weight * probability * (1.0 - probability)).max(1e-16),
                            ]
                        }
                        Objective::SquaredError => [margin - label, 1.0],
                    };
                });
            let allowed: Vec<bool> = if inputs_per_tree < features.n_cols {
                all_inputs.shuffle(&mut rng);
                let mut mask = vec![false; features.n_cols];
                all_inputs[..inputs_per_tree]
                    .iter()
                    .for_each(|&input| mask[input] = true);
                mask
            } else {
                vec![true; features.n_cols]
            };
            let (tree, leaf_ranges, gains) = self.grow_tree(
                &binned,
                &edges,
                &layout,
                &gradients,
                &mut row_order,
                &allowed,
            );
            for &(node, start, end) in &leaf_ranges {
                let value = tree.nodes[node].value;
                for &row in &row_order[start..end] {
                    margins[row as usize] += value;
                }
            }
            if !validation_rows.is_empty() {
                validation_margins
                    .par_iter_mut()
                    .zip(validation_rows.par_iter())
                    .for_each(|(margin, &row)| {
                        *margin += tree.predict(features.row(row));
                    });
                let loss = match objective {
                    Objective::LogLoss => {
                        weighted_log_loss(&validation_labels, &validation_margins)
                    }
                    Objective::SquaredError => {
                        mean_squared_error(&validation_labels, &validation_margins)
                    }
                };
                validation_log_loss.push(loss);
                trees.push(tree);
                gains_per_tree.push(gains);
                if loss < best_loss - 1e-12 {
                    best_loss = loss;
                    best_trees = trees.len();
                } else if trees.len() - best_trees >= self.early_stopping_rounds {
                    break;
                }
            } else {
                trees.push(tree);
                gains_per_tree.push(gains);
                best_trees = trees.len();
            }
        }
        trees.truncate(best_trees.max(1));
        validation_log_loss.truncate(trees.len());
        for gains in gains_per_tree.iter().take(trees.len()) {
            for &(input, gain) in gains {
                gain_by_input[input] += gain;
            }
        }
        Ok(GbdtModel {
            base_margin,
            trees,
            n_inputs: features.n_cols,
            gain_by_input,
            validation_log_loss,
            explainer: std::sync::OnceLock::new(),
        })
    }

    fn best_split(
        &self,
        histogram: &[BinStat],
        layout: &HistogramLayout,
        allowed: &[bool],
        gradient: f64,
        hessian: f64,
        count: usize,
    ) -> Option<SplitChoice> {
        if count < 2 * self.min_samples_leaf {
            return None;
        }
        let parent_objective = leaf_objective(gradient, hessian, self.l2);
        let mut best: Option<SplitChoice> = None;
        for (input, _) in allowed.iter().enumerate().filter(|(_, allowed)| **allowed) {
            let bins = layout.bins_of(histogram, input);
            let (mut left_gradient, mut left_hessian, mut left_count) = (0.0, 0.0, 0u32);
            for (bin, stat) in bins.iter().enumerate().take(bins.len().saturating_sub(1)) {
                left_gradient += stat.gradient;
                left_hessian += stat.hessian;
                left_count += stat.count;
                if (left_count as usize) < self.min_samples_leaf {
                    continue;
                }
                let right_count = count - left_count as usize;
                if right_count < self.min_samples_leaf {
                    break;
                }
                let gain = 0.5
                    * (leaf_objective(left_gradient, left_hessian, self.l2)
                        + leaf_objective(
                            gradient - left_gradient,
                            hessian - left_hessian,
                            self.l2,
                        )
                        - parent_objective);
                if gain > self.min_split_gain && best.is_none_or(|choice| gain > choice.gain) {
                    best = Some(SplitChoice {
                        gain,
                        input,
                        bin: bin as u8,
                        left_gradient,
                        left_hessian,
                    });
                }
            }
        }
        best
    }

    #[allow(clippy::type_complexity)]
    fn grow_tree(
        &self,
        binned: &BinnedMatrix,
        edges: &BinEdges,
        layout: &HistogramLayout,
        gradients: &[[f64; 2]],
        row_order: &mut [u32],
        allowed: &[bool],
    ) -> (Tree, Vec<(usize, usize, usize)>, Vec<(usize, f64)>) {
        let n_rows = row_order.len();
        let mut ordered = Vec::with_capacity(n_rows);
        let histogram =
            build_histogram(binned, row_order, gradients, layout, allowed, &mut ordered);
        let (gradient, hessian) = gradients
            .iter()
            .fold((0.0, 0.0), |(g, h), pair| (g + pair[0], h + pair[1]));
        let leaf_value =
            |gradient: f64, hessian: f64| -self.learning_rate * gradient / (hessian + self.l2);
        let mut nodes = vec![Node::leaf(leaf_value(gradient, hessian), hessian)];
        let best = self.best_split(&histogram, layout, allowed, gradient, hessian, n_rows);
        let mut open = vec![OpenLeaf {
            node: 0,
            start: 0,
            end: n_rows,
            depth: 0,
            histogram,
            gradient,
            hessian,
            best,
        }];
        let mut closed: Vec<(usize, usize, usize)> = Vec::new();
        let mut gains = Vec::new();
        let mut depth = 0;
        let mut scratch: Vec<u32> = Vec::new();
        while open.len() + closed.len() < self.max_leaves {
            let Some(position) = open
                .iter()
                .enumerate()
                .filter_map(|(position, leaf)| leaf.best.map(|choice| (position, choice.gain)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(position, _)| position)
            else {
                break;
            };
            let leaf = open.swap_remove(position);
            let choice = leaf.best.expect("chosen leaf has a split");
            // Partition the leaf's rows: bin <= choice.bin goes left (stable).
            let rows = &mut row_order[leaf.start..leaf.end];
            let split_column = binned.column(choice.input);
            scratch.clear();
            let mut write = 0;
            for index in 0..rows.len() {
                let row = rows[index];
                if split_column[row as usize] <= choice.bin {
                    rows[write] = row;
                    write += 1;
                } else {
                    scratch.push(row);
                }
            }
            rows[write..].copy_from_slice(&scratch);
            let middle = leaf.start + write;
            let (right_gradient, right_hessian) = (
                leaf.gradient - choice.left_gradient,
                leaf.hessian - choice.left_hessian,
            );
            let left_node = nodes.len();
            nodes.push(Node::leaf(
                leaf_value(choice.left_gradient, choice.left_hessian),
                choice.left_hessian,
            ));
            nodes.push(Node::leaf(
                leaf_value(right_gradient, right_hessian),
                right_hessian,
            ));
            nodes[leaf.node] = Node {
                is_leaf: false,
                feature: choice.input as u32,
                threshold: edges.edges[choice.input][choice.bin as usize],
                left: left_node as u32,
                right: left_node as u32 + 1,
                value: 0.0,
                cover: leaf.hessian,
            };
            gains.push((choice.input, choice.gain));
            let child_depth = leaf.depth + 1;
            depth = depth.max(child_depth);
            let left_count = middle - leaf.start;
            let right_count = leaf.end - middle;
            let can_split = child_depth < self.max_depth;
            // Build the smaller child's histogram; the sibling is parent − smaller.
            let (left_histogram, right_histogram) = if can_split {
                let left_is_smaller = left_count <= right_count;
                let small_rows = if left_is_smaller {
                    &row_order[leaf.start..middle]
                } else {
                    &row_order[middle..leaf.end]
                };
                let small =
                    build_histogram(binned, small_rows, gradients, layout, allowed, &mut ordered);
                let mut large = leaf.histogram;
                for (x, y) in large.iter_mut().zip(&small) {
                    x.gradient -= y.gradient;
                    x.hessian -= y.hessian;
                    x.count -= y.count;
                }
                if left_is_smaller {
                    (small, large)
                } else {
                    (large, small)
                }
            } else {
                (Vec::new(), Vec::new())
            };
            for (node, start, end, gradient, hessian, histogram) in [
                (
                    left_node,
                    leaf.start,
                    middle,
                    choice.left_gradient,
                    choice.left_hessian,
                    left_histogram,
                ),
                (
                    left_node + 1,
                    middle,
                    leaf.end,
                    right_gradient,
                    right_hessian,
                    right_histogram,
                ),
            ] {
                if can_split {
                    let best = self.best_split(
                        &histogram,
                        layout,
                        allowed,
                        gradient,
                        hessian,
                        end - start,
                    );
                    if best.is_some() {
                        open.push(OpenLeaf {
                            node,
                            start,
                            end,
                            depth: child_depth,
                            histogram,
                            gradient,
                            hessian,
                            best,
                        });
                        continue;
                    }
                }
                closed.push((node, start, end));
            }
        }
        closed.extend(open.iter().map(|leaf| (leaf.node, leaf.start, leaf.end)));
        (Tree { nodes, depth }, closed, gains)
    }
}

fn weighted_log_loss(labels: &[f64], margins: &[f64]) -> f64 {
    let total: f64 = labels
        .iter()
        .zip(margins)
        .map(|(&label, &margin)| {
            let softplus = if margin > 0.0 {
                margin + (-margin).exp().ln_1p()
            } else {
                margin.exp().ln_1p()
            };
            softplus - label * margin
        })
        .sum();
    total / labels.len().max(1) as f64
}

fn mean_squared_error(targets: &[f64], predictions: &[f64]) -> f64 {
    let total: f64 = targets
        .iter()
        .zip(predictions)
        .map(|(target, prediction)| (target - prediction).powi(2))
        .sum();
    total / targets.len().max(1) as f64
}

impl GbdtModel {
    /// The log-odds of one encoded row (the prediction, for a regression booster).
    pub fn margin(&self, row: &[f64]) -> f64 {
        self.base_margin + self.trees.iter().map(|tree| tree.predict(row)).sum::<f64>()
    }

    /// The margins of every row (rows scored in parallel): log-odds for a classifier, the
    /// predictions for a booster fitted by [`GbdtParams::fit_squared_error`].
    pub fn predict_margins(&self, features: &FeatureMatrix) -> Vec<f64> {
        (0..features.n_rows)
            .into_par_iter()
            .map(|row| self.margin(features.row(row)))
            .collect()
    }

    /// Purchase probabilities of every row (rows scored in parallel).
    pub fn predict_probabilities(&self, features: &FeatureMatrix) -> Vec<f64> {
        (0..features.n_rows)
            .into_par_iter()
            .map(|row| sigmoid(self.margin(features.row(row))))
            .collect()
    }

    /// The margin when nothing is known about the row: base + each tree's expected value.
    pub fn expected_margin(&self) -> f64 {
        self.explainer().1
    }

    fn explainer(&self) -> &(ShapExplainer, f64) {
        self.explainer.get_or_init(|| {
            let expected =
                self.base_margin + self.trees.iter().map(Tree::expected_value).sum::<f64>();
            Box::new((ShapExplainer::new(&self.trees, self.n_inputs), expected))
        })
    }

    /// Exact TreeSHAP values by the recursive algorithm (slower; the reference for
    /// [`GbdtModel::contributions`]).
    pub fn contributions_recursive(&self, row: &[f64], scratch: &mut Vec<PathElement>) -> Vec<f64> {
        let mut contributions = vec![0.0; self.n_inputs];
        for tree in &self.trees {
            tree.add_shap_values(row, &mut contributions, scratch);
        }
        contributions
    }

    /// Exact TreeSHAP values of one row (one per input); with [`GbdtModel::expected_margin`]
    /// they sum to [`GbdtModel::margin`]. Allocates; [`GbdtModel::explain_into`] does not.
    pub fn contributions(&self, row: &[f64], scratch: &mut Vec<PathElement>) -> Vec<f64> {
        let mut contributions = vec![0.0; self.n_inputs];
        let mut explain_scratch = ShapScratch::default();
        explain_scratch.path = std::mem::take(scratch);
        self.explain_into(row, &mut contributions, &mut explain_scratch);
        *scratch = explain_scratch.path;
        contributions
    }

    /// Scores and explains one row without allocating (once `scratch` has grown): writes the
    /// exact TreeSHAP value of every input into `contributions` (length `n_inputs`) and
    /// returns the margin, identical to [`GbdtModel::margin`]; with
    /// [`GbdtModel::expected_margin`] the contributions sum to it. The first call builds the
    /// explainer (once per model).
    ///
    /// # Panics
    /// When `contributions` is not `n_inputs` long or `row` is shorter than an input a
    /// split reads.
    pub fn explain_into(
        &self,
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> f64 {
        let output = self
            .explainer()
            .0
            .explain_into(&self.trees, row, contributions, scratch);
        self.base_margin + output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn learns_xor_which_no_linear_model_can() {
        let mut rng = seeded_rng(1);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..4_000 {
            let (a, b): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            values.extend([a, b]);
            labels.push(if (a > 0.0) != (b > 0.0) { 1.0 } else { 0.0 });
        }
        let features = FeatureMatrix::new(4_000, 2, values).unwrap();
        let model = GbdtParams {
            n_trees: 100,
            learning_rate: 0.3,
            ..GbdtParams::default()
        }
        .fit(&features, &labels)
        .unwrap();
        let probabilities = model.predict_probabilities(&features);
        let correct = probabilities
            .iter()
            .zip(&labels)
            .filter(|&(&p, &y)| (p >= 0.5) == (y == 1.0))
            .count();
        assert!(
            correct as f64 / 4_000.0 > 0.97,
            "accuracy {}",
            correct as f64 / 4_000.0
        );
        for (row, expected) in [
            ([0.5, 0.5], 0.0),
            ([-0.5, 0.5], 1.0),
            ([0.5, -0.5], 1.0),
            ([-0.5, -0.5], 0.0),
        ] {
            let probability = sigmoid(model.margin(&row));
            assert!(
                (probability - expected).abs() < 0.2,
                "{row:?} → {probability}"
            );
        }
    }

    fn small_model() -> (GbdtModel, FeatureMatrix) {
        let mut rng = seeded_rng(3);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..3_000 {
            let x: Vec<f64> = (0..4).map(|_| rng.random_range(-1.0..1.0)).collect();
            let margin = 2.0 * x[0] - x[1] + 3.0 * x[2] * x[3];
            labels.push(if rng.random::<f64>() < sigmoid(margin) {
                1.0
            } else {
                0.0
            });
            values.extend(x);
        }
        let features = FeatureMatrix::new(3_000, 4, values).unwrap();
        let model = GbdtParams {
            n_trees: 60,
            feature_fraction: 0.75,
            ..GbdtParams::default()
        }
        .fit(&features, &labels)
        .unwrap();
        (model, features)
    }

    #[test]
    fn tree_shap_contributions_sum_to_the_margin() {
        let (model, features) = small_model();
        let mut scratch = Vec::new();
        for row in 0..50 {
            let x = features.row(row);
            let contributions = model.contributions(x, &mut scratch);
            let total = model.expected_margin() + contributions.iter().sum::<f64>();
            assert!(
                (total - model.margin(x)).abs() < 1e-9,
                "row {row}: {total} vs {}",
                model.margin(x)
            );
            let recursive = model.contributions_recursive(x, &mut scratch);
            for (fast, slow) in contributions.iter().zip(&recursive) {
                assert!(
                    (fast - slow).abs() < 1e-9,
                    "row {row}: table {fast} vs recursive {slow}"
                );
            }
        }
    }

    #[test]
    fn tree_shap_matches_brute_force_shapley_values_on_one_tree() {
        // Exact Shapley values with the path-dependent (cover-weighted) value function.
        let (model, features) = small_model();
        let tree = &model.trees[0];
        fn conditional(tree: &Tree, node: usize, row: &[f64], known: &[bool]) -> f64 {
            let n = &tree.nodes[node];
            if n.is_leaf {
                return n.value;
            }
            let feature = n.feature as usize;
            if known[feature] {
                let next = if row[feature] <= n.threshold {
                    n.left
                } else {
                    n.right
                };
                conditional(tree, next as usize, row, known)
            } else {
                let (l, r) = (n.left as usize, n.right as usize);
                (tree.nodes[l].cover * conditional(tree, l, row, known)
                    + tree.nodes[r].cover * conditional(tree, r, row, known))
                    / n.cover
            }
        }
        let factorial = |k: usize| (1..=k).product::<usize>() as f64;
        let n_inputs = 4;
        for row in 0..10 {
            let x = features.row(row);
            let mut scratch = Vec::new();
            let mut fast = vec![0.0; n_inputs];
            tree.add_shap_values(x, &mut fast, &mut scratch);
            for input in 0..n_inputs {
                let mut exact = 0.0;
                for subset in 0u32..(1 << n_inputs) {
                    if subset & (1 << input) != 0 {
                        continue;
                    }
                    let known: Vec<bool> = (0..n_inputs).map(|i| subset & (1 << i) != 0).collect();
                    let mut with = known.clone();
                    with[input] = true;
                    let size = subset.count_ones() as usize;
                    let weight =
                        factorial(size) * factorial(n_inputs - size - 1) / factorial(n_inputs);
                    exact +=
                        weight * (conditional(tree, 0, x, &with) - conditional(tree, 0, x, &known));
                }
                assert!(
                    (exact - fast[input]).abs() < 1e-12,
                    "row {row} input {input}: {exact} vs {}",
                    fast[input]
                );
            }
        }
    }

    #[test]
    fn early_stopping_and_determinism() {
        let (model, features) = small_model();
        assert!(model.trees.len() <= 60);
        assert_eq!(model.validation_log_loss.len(), model.trees.len());
        let (again, _) = small_model();
        assert_eq!(model, again);
        assert!(
            model
                .trees
                .iter()
                .all(|tree| tree.nodes.iter().filter(|node| node.is_leaf).count() <= 31)
        );
        assert!(model.gain_by_input[0] > 0.0 && model.gain_by_input[2] > 0.0);
        let _ = features;
        let error = GbdtParams {
            max_bins: 1,
            ..GbdtParams::default()
        }
        .validate()
        .unwrap_err();
        assert!(error.to_string().contains("`max_bins`"));
    }

    /// y = sin(3·x₀) + x₁² − x₀·x₂ + noise(σ = 0.1), x uniform in [−1, 1]³.
    fn regression_data(rows: usize, seed: u64) -> (FeatureMatrix, Vec<f64>, Vec<f64>) {
        let mut rng = seeded_rng(seed);
        let (mut values, mut targets, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rows {
            let x: Vec<f64> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mean = (3.0 * x[0]).sin() + x[1] * x[1] - x[0] * x[2];
            let noise: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
            truth.push(mean);
            targets.push(mean + 0.1 * noise);
            values.extend(x);
        }
        (FeatureMatrix::new(rows, 3, values).unwrap(), targets, truth)
    }

    #[test]
    fn squared_error_booster_learns_a_nonlinear_function() {
        let (features, targets, _) = regression_data(4_000, 5);
        let model = GbdtParams {
            n_trees: 300,
            learning_rate: 0.1,
            ..GbdtParams::default()
        }
        .fit_squared_error(&features, &targets)
        .unwrap();
        let (test, _, truth) = regression_data(2_000, 6);
        let predictions = model.predict_margins(&test);
        let mse = mean_squared_error(&truth, &predictions);
        let mean = truth.iter().sum::<f64>() / truth.len() as f64;
        let variance = truth.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / truth.len() as f64;
        // Against the noiseless truth: R² well above what any constant or linear fit reaches.
        assert!(1.0 - mse / variance > 0.95, "R² {}", 1.0 - mse / variance);
        // Early stopping watched the validation MSE, which must have fallen far below the
        // variance of the targets.
        let first = model.validation_log_loss[0];
        let best = model
            .validation_log_loss
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        assert!(best < 0.1 * first, "validation MSE {first} → {best}");
    }

    #[test]
    fn squared_error_starts_from_the_mean_and_checks_its_inputs() {
        // A constant target: no split gains anything, every prediction is the constant.
        let features = FeatureMatrix::new(100, 1, (0..100).map(f64::from).collect()).unwrap();
        let constant = vec![2.5; 100];
        let model = GbdtParams {
            n_trees: 5,
            validation_fraction: 0.0,
            ..GbdtParams::default()
        }
        .fit_squared_error(&features, &constant)
        .unwrap();
        assert_eq!(model.base_margin, 2.5);
        assert!(
            model
                .predict_margins(&features)
                .iter()
                .all(|&p| (p - 2.5).abs() < 1e-12)
        );
        // Targets outside {0, 1} are fine for regression but not for the log-loss.
        let steps: Vec<f64> = (0..100)
            .map(|row| if row < 50 { -3.0 } else { 7.0 })
            .collect();
        let params = GbdtParams {
            n_trees: 50,
            learning_rate: 0.5,
            l2: 0.0,
            validation_fraction: 0.0,
            ..GbdtParams::default()
        };
        let model = params.fit_squared_error(&features, &steps).unwrap();
        assert!(
            (model.margin(&[10.0]) + 3.0).abs() < 1e-6,
            "{}",
            model.margin(&[10.0])
        );
        assert!(
            (model.margin(&[90.0]) - 7.0).abs() < 1e-6,
            "{}",
            model.margin(&[90.0])
        );
        assert!(params.fit(&features, &steps).is_err());
        let mut bad = steps.clone();
        bad[3] = f64::INFINITY;
        let error = params.fit_squared_error(&features, &bad).unwrap_err();
        assert!(error.to_string().contains("row 3"), "{error}");
        let weighted = GbdtParams {
            class_weight: ClassWeight::Balanced,
            ..params
        };
        let error = weighted.fit_squared_error(&features, &steps).unwrap_err();
        assert!(error.to_string().contains("`class_weight`"), "{error}");
    }
}
