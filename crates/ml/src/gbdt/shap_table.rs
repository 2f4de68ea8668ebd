//! Precomputed TreeSHAP tables for fast explanations (the idea of Fast TreeSHAP v2, Yang
//! 2021). For path-dependent SHAP a leaf l with distinct path inputs P, value v, per-input
//! cover fraction zⱼ (product over the path's splits on j) and "x satisfies every split on j"
//! flag oⱼ ∈ {0, 1} adds to input i ∈ P
//!   v · (oᵢ − zᵢ) · Σ_{S ⊆ A∖{i}} |S|!(|P|−|S|−1)!/|P|! · Π_{j ∈ P∖S∖{i}} zⱼ,
//! where A = {j ∈ P : oⱼ = 1}. It depends on the row only through A, so every (A, i) is
//! computed once per leaf; explaining a row is then O(leaves × depth) table look-ups.
//! Trees with a leaf of more than [`MAX_TABLE_INPUTS`] distinct path inputs fall back to
//! the recursive algorithm.

use super::tree::{PathElement, Tree};

/// Leaves with more distinct path inputs than this are not tabulated (2^k · k entries).
pub const MAX_TABLE_INPUTS: usize = 10;

struct LeafTable {
    /// Distinct path inputs, with the interval (lower, upper] x must fall in to satisfy them.
    inputs: Vec<(u32, f64, f64)>,
    /// `values[mask * k + b]`: contribution to input `inputs[b]` when the satisfied set is `mask`.
    values: Vec<f64>,
}

/// One tabulated leaf inside the flat arrays of [`ShapTables`].
#[derive(Debug, Clone, PartialEq)]
struct LeafEntry {
    inputs_start: u32,
    input_count: u32,
    values_start: u32,
}

#[derive(Debug, Clone, PartialEq)]
enum TreeTable {
    /// Leaves `first..first + count` of the flat arrays.
    Leaves { first: usize, count: usize },
    /// Too deep to tabulate: use the recursive algorithm on this tree.
    Recursive,
}

/// Per-leaf SHAP tables of a whole booster, stored in flat arrays so that explaining a row
/// streams through memory instead of chasing one allocation per leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapTables {
    trees: Vec<TreeTable>,
    leaves: Vec<LeafEntry>,
    inputs: Vec<(u32, f64, f64)>,
    values: Vec<f64>,
}

fn shapley_weight(subset: usize, players: usize) -> f64 {
    // |S|! (k − |S| − 1)! / k!
    let mut weight = 1.0 / players as f64;
    // 1/k · 1 / C(k−1, |S|)
    let mut binomial = 1.0;
    for step in 0..subset {
        binomial *= (players - 1 - step) as f64 / (step + 1) as f64;
    }
    weight /= binomial;
    weight
}

fn tabulate_leaf(value: f64, inputs: Vec<(u32, f64, f64)>, zero_fractions: &[f64]) -> LeafTable {
    let k = inputs.len();
    let weights: Vec<f64> = (0..k).map(|size| shapley_weight(size, k)).collect();
    let mut values = vec![0.0; (1usize << k) * k];
    let mut symmetric = vec![0.0; k + 1];
    for mask in 0usize..(1 << k) {
        for i in 0..k {
            let satisfied = mask & (1 << i) != 0;
            // Elementary symmetric polynomials of z over A∖{i}; product of z over the rest.
            symmetric.iter_mut().for_each(|e| *e = 0.0);
            symmetric[0] = 1.0;
            let mut in_a = 0;
            let mut rest_product = 1.0;
            for (j, &z) in zero_fractions.iter().enumerate() {
                if j == i {
                    continue;
                }
                if mask & (1 << j) != 0 {
                    in_a += 1;
                    for r in (1..=in_a).rev() {
                        symmetric[r] += z * symmetric[r - 1];
                    }
                } else {
                    rest_product *= z;
                }
            }
            let sum: f64 = (0..=in_a)
                .map(|size| weights[size] * symmetric[in_a - size])
                .sum();
            let one = if satisfied { 1.0 } else { 0.0 };
            values[mask * k + i] = value * (one - zero_fractions[i]) * rest_product * sum;
        }
    }
    LeafTable { inputs, values }
}

/// A distinct input on the path to a node: (input, lower, upper, product of cover fractions).
type PathInput = (u32, f64, f64, f64);

fn tabulate_tree(tree: &Tree) -> Option<Vec<LeafTable>> {
    let mut leaves = Vec::new();
    // Depth-first walk carrying, per distinct input: (input, lower, upper, zero fraction).
    let mut stack: Vec<(usize, Vec<PathInput>)> = vec![(0, Vec::new())];
    while let Some((index, path)) = stack.pop() {
        let node = &tree.nodes[index];
        if node.is_leaf {
            if path.len() > MAX_TABLE_INPUTS {
                return None;
            }
            let zero_fractions: Vec<f64> = path.iter().map(|entry| entry.3).collect();
            let inputs = path
                .iter()
                .map(|&(input, lower, upper, _)| (input, lower, upper))
                .collect();
            leaves.push(tabulate_leaf(node.value, inputs, &zero_fractions));
            continue;
        }
        for (child, goes_left) in [(node.left as usize, true), (node.right as usize, false)] {
            let fraction = if node.cover > 0.0 {
                tree.nodes[child].cover / node.cover
            } else {
                0.5
            };
            let mut child_path = path.clone();
            let entry = match child_path.iter().position(|entry| entry.0 == node.feature) {
                Some(position) => &mut child_path[position],
                None => {
                    child_path.push((node.feature, f64::NEG_INFINITY, f64::INFINITY, 1.0));
                    child_path.last_mut().expect("just pushed")
                }
            };
            if goes_left {
                entry.2 = entry.2.min(node.threshold);
            } else {
                entry.1 = entry.1.max(node.threshold);
            }
            entry.3 *= fraction;
            stack.push((child, child_path));
        }
    }
    Some(leaves)
}

impl ShapTables {
    /// Tabulates every tree.
    pub fn new(trees: &[Tree]) -> Self {
        let mut tables = Self {
            trees: Vec::with_capacity(trees.len()),
            leaves: Vec::new(),
            inputs: Vec::new(),
            values: Vec::new(),
        };
        for tree in trees {
            match tabulate_tree(tree) {
                None => tables.trees.push(TreeTable::Recursive),
                Some(leaves) => {
                    tables.trees.push(TreeTable::Leaves {
                        first: tables.leaves.len(),
                        count: leaves.len(),
                    });
                    for leaf in leaves {
                        tables.leaves.push(LeafEntry {
                            inputs_start: tables.inputs.len() as u32,
                            input_count: leaf.inputs.len() as u32,
                            values_start: tables.values.len() as u32,
                        });
                        tables.inputs.extend(leaf.inputs);
                        tables.values.extend(leaf.values);
                    }
                }
            }
        }
        tables
    }

    /// Adds the SHAP values of `row` over all `trees` (the same trees the tables were built
    /// from) into `contributions`.
    pub fn add_shap_values(
        &self,
        trees: &[Tree],
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut Vec<PathElement>,
    ) {
        for (table, tree) in self.trees.iter().zip(trees) {
            match *table {
                TreeTable::Recursive => tree.add_shap_values(row, contributions, scratch),
                TreeTable::Leaves { first, count } => {
                    for leaf in &self.leaves[first..first + count] {
                        let k = leaf.input_count as usize;
                        let inputs = &self.inputs
                            [leaf.inputs_start as usize..leaf.inputs_start as usize + k];
                        let mut mask = 0usize;
                        for (bit, &(input, lower, upper)) in inputs.iter().enumerate() {
                            let x = row[input as usize];
                            if x > lower && x <= upper {
                                mask |= 1 << bit;
                            }
                        }
                        let start = leaf.values_start as usize + mask * k;
                        for (&(input, _, _), value) in
                            inputs.iter().zip(&self.values[start..start + k])
                        {
                            contributions[input as usize] += value;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapley_weights_match_factorials() {
        let factorial = |n: usize| (1..=n).product::<usize>() as f64;
        for players in 1..8 {
            for size in 0..players {
                let expected = factorial(size) * factorial(players - size - 1) / factorial(players);
                assert!((shapley_weight(size, players) - expected).abs() < 1e-15);
            }
        }
    }
}
