//! One regression tree of the booster: flat nodes, prediction, and exact path-dependent
//! TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2) for per-input contributions.

use serde::{Deserialize, Serialize};

/// A node: a split (`x[feature] <= threshold` goes left) or a leaf with a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub is_leaf: bool,
    pub feature: u32,
    pub threshold: f64,
    pub left: u32,
    pub right: u32,
    /// Leaf output (already scaled by the learning rate); 0 for splits.
    pub value: f64,
    /// Sum of training hessians that reached the node (TreeSHAP's "cover").
    pub cover: f64,
}

impl Node {
    /// A leaf.
    pub fn leaf(value: f64, cover: f64) -> Self {
        Self {
            is_leaf: true,
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
            cover,
        }
    }
}

/// A regression tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
    /// Depth of the deepest leaf (root alone = 0).
    pub depth: usize,
}

/// One step of a TreeSHAP path; a `Vec` of them is scratch space reusable across rows and trees.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathElement {
    feature: i64,
    zero_fraction: f64,
    one_fraction: f64,
    weight: f64,
}

fn extend_path(
    path: &mut [PathElement],
    depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: i64,
) {
    path[depth] = PathElement {
        feature,
        zero_fraction,
        one_fraction,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let depth_f = depth as f64;
    for index in (0..depth).rev() {
        path[index + 1].weight +=
            one_fraction * path[index].weight * (index as f64 + 1.0) / (depth_f + 1.0);
        path[index].weight =
            zero_fraction * path[index].weight * (depth_f - index as f64) / (depth_f + 1.0);
    }
}

fn unwind_path(path: &mut [PathElement], depth: usize, path_index: usize) {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[depth].weight;
    let depth_f = depth as f64;
    for index in (0..depth).rev() {
        if one_fraction != 0.0 {
            let kept = path[index].weight;
            path[index].weight =
                next_one_portion * (depth_f + 1.0) / ((index as f64 + 1.0) * one_fraction);
            next_one_portion = kept
                - path[index].weight * zero_fraction * (depth_f - index as f64) / (depth_f + 1.0);
        } else {
            path[index].weight =
                path[index].weight * (depth_f + 1.0) / (zero_fraction * (depth_f - index as f64));
        }
    }
    for index in path_index..depth {
        path[index].feature = path[index + 1].feature;
        path[index].zero_fraction = path[index + 1].zero_fraction;
        path[index].one_fraction = path[index + 1].one_fraction;
    }
}

fn unwound_path_sum(path: &[PathElement], depth: usize, path_index: usize) -> f64 {
    let one_fraction = path[path_index].one_fraction;
    let zero_fraction = path[path_index].zero_fraction;
    let mut next_one_portion = path[depth].weight;
    let depth_f = depth as f64;
    let mut total = 0.0;
    for index in (0..depth).rev() {
        if one_fraction != 0.0 {
            let share = next_one_portion * (depth_f + 1.0) / ((index as f64 + 1.0) * one_fraction);
            total += share;
            next_one_portion = path[index].weight
                - share * zero_fraction * ((depth_f - index as f64) / (depth_f + 1.0));
        } else {
            total +=
                (path[index].weight / zero_fraction) / ((depth_f - index as f64) / (depth_f + 1.0));
        }
    }
    total
}

impl Tree {
    /// Index of the leaf `row` lands in.
    #[inline]
    pub fn leaf_index(&self, row: &[f64]) -> usize {
        let mut index = 0;
        loop {
            let node = &self.nodes[index];
            if node.is_leaf {
                return index;
            }
            index = if row[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            } as usize;
        }
    }

    /// The tree's output for one row.
    #[inline]
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.nodes[self.leaf_index(row)].value
    }

    /// The cover-weighted mean output: what the tree predicts when nothing is known.
    pub fn expected_value(&self) -> f64 {
        let root_cover = self.nodes[0].cover;
        if root_cover <= 0.0 {
            return 0.0;
        }
        self.nodes
            .iter()
            .filter(|node| node.is_leaf)
            .map(|node| node.value * node.cover)
            .sum::<f64>()
            / root_cover
    }

    /// Length of the scratch buffer [`Tree::add_shap_values`] needs.
    pub fn shap_scratch_len(&self) -> usize {
        let depth = self.depth + 2;
        depth * (depth + 1) / 2 + depth
    }

    /// Adds this tree's exact SHAP values for `row` into `contributions` (one per input).
    /// With [`Tree::expected_value`] they sum to [`Tree::predict`].
    pub fn add_shap_values(
        &self,
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut Vec<PathElement>,
    ) {
        let needed = self.shap_scratch_len();
        if scratch.len() < needed {
            scratch.resize(needed, PathElement::default());
        }
        self.shap_recurse(
            row,
            contributions,
            &mut scratch[..needed],
            0,
            0,
            0,
            1.0,
            1.0,
            -1,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn shap_recurse(
        &self,
        row: &[f64],
        contributions: &mut [f64],
        buffer: &mut [PathElement],
        node_index: usize,
        parent_offset: usize,
        mut depth: usize,
        parent_zero_fraction: f64,
        parent_one_fraction: f64,
        parent_feature: i64,
    ) {
        let offset = parent_offset + depth + 1;
        buffer.copy_within(parent_offset..parent_offset + depth + 1, offset);
        let path = &mut buffer[offset..];
        extend_path(
            path,
            depth,
            parent_zero_fraction,
            parent_one_fraction,
            parent_feature,
        );
        let node = &self.nodes[node_index];
        if node.is_leaf {
            for index in 1..=depth {
                let weight = unwound_path_sum(path, depth, index);
                let element = path[index];
                contributions[element.feature as usize] +=
                    weight * (element.one_fraction - element.zero_fraction) * node.value;
            }
            return;
        }
        let goes_left = row[node.feature as usize] <= node.threshold;
        let (hot, cold) = if goes_left {
            (node.left, node.right)
        } else {
            (node.right, node.left)
        };
        let (hot, cold) = (hot as usize, cold as usize);
        let cover = node.cover;
        let hot_zero_fraction = if cover > 0.0 {
            self.nodes[hot].cover / cover
        } else {
            0.5
        };
        let cold_zero_fraction = if cover > 0.0 {
            self.nodes[cold].cover / cover
        } else {
            0.5
        };
        let (mut incoming_zero_fraction, mut incoming_one_fraction) = (1.0, 1.0);
        let split_feature = node.feature as i64;
        if let Some(path_index) = (0..=depth).find(|&index| path[index].feature == split_feature) {
            incoming_zero_fraction = path[path_index].zero_fraction;
            incoming_one_fraction = path[path_index].one_fraction;
            unwind_path(path, depth, path_index);
            depth -= 1;
        }
        self.shap_recurse(
            row,
            contributions,
            buffer,
            hot,
            offset,
            depth + 1,
            hot_zero_fraction * incoming_zero_fraction,
            incoming_one_fraction,
            split_feature,
        );
        self.shap_recurse(
            row,
            contributions,
            buffer,
            cold,
            offset,
            depth + 1,
            cold_zero_fraction * incoming_zero_fraction,
            0.0,
            split_feature,
        );
    }
}
