//! Fast exact path-dependent TreeSHAP for the booster: the per-leaf Shapley sums written
//! as integrals of polynomials, evaluated at Gauss–Legendre points (the idea of Linear
//! TreeSHAP, Yu et al. 2022), over flattened split arrays, allocation-free per row.
//!
//! For a leaf l with value v, distinct path inputs P (|P| = k), cover fraction zⱼ (product
//! over the path's splits on j) and oⱼ ∈ {0, 1} ("x satisfies every split on j"), the
//! path-dependent Shapley value it adds to input i ∈ P is
//!   v · (oᵢ − zᵢ) · Σ_{S ⊆ P∖{i}} |S|!(k−|S|−1)!/k! · Π_{j∈S} oⱼ · Π_{j∈P∖S∖{i}} zⱼ
//!   = v · (oᵢ − zᵢ) · ∫₀¹ Π_{j∈P∖{i}} fⱼ(t) dt,   fⱼ(t) = zⱼ + (oⱼ − zⱼ)·t,
//! because the Shapley weight is the Beta integral ∫₀¹ t^|S| (1−t)^(k−|S|−1) dt. The
//! integrand has degree k − 1, so n ≥ k/2 Gauss–Legendre points integrate it exactly: every
//! quantity below is a vector of n values, one per point t_q, and a contribution is its dot
//! product with the weights w_q.
//!
//! Give each edge into a child c the factor R_c = f_c / f_prev (f of the edge's input with
//! the cover fractions and conditions down to c, over the same at the nearest earlier split
//! on that input, 1 if none). Per row, a top-down pass computes at every split the path
//! product P (P_c = P_parent·R_c) and a bottom-up pass the subtree sums
//! D_p = Σ_children R_c·D_c (D of a leaf = its value), so that a leaf's integrand is a term
//! of P_c·D_c. A split p adds to its input ⟨P_p · Σ_c Q_c·D_c, w⟩ with
//!   Q_c = (o_c − z_c)/f_prev − f_c·(o_prev − z_prev)/f_prev²,
//! its own children's share minus what the earlier split on the input counted for them
//! (Q_c = o_c − z_c for a first split; 0 when the row failed an earlier split on the input,
//! where R_c is the cover fraction). That is O(splits × n) per tree instead of the
//! recursive algorithm's O(leaves × depth²), with no division at run time (1/f_prev of a
//! repeated input is precomputed per split).
//!
//! Layout: trees are processed in batches whose scratch is about an L1 cache; within a
//! batch the splits are ordered by depth and then by kind (first or repeated input; which
//! children are splits), so that each pass is a few tight loops without per-split branching
//! on the kind. Leaves take no slot (a leaf child's value is its subtree sum), and a split of
//! two leaves is finished in the top-down pass. Trees with more than [`MAX_PATH_INPUTS`] distinct inputs on a path
//! fall back to the recursive algorithm of [`Tree::add_shap_values`], which the tests use as
//! the oracle. The same code is compiled for AVX-512 and for AVX2 and picked at run time
//! (identical results: same operations in the same order, no fused multiply-add).

use super::tree::{PathElement, Tree};

/// Most distinct inputs on one root-to-leaf path handled by quadrature (16 points); trees
/// with more use the recursive algorithm.
pub const MAX_PATH_INPUTS: usize = 32;

/// At most this many lanes × splits per batch: the scratch of a batch (2 vectors per split)
/// is then about 64 KiB, the size of a level-1 data cache, and batches are long enough
/// that the per-group loops are few (measured: 1,024 splits of 4 lanes beat 256 and 512).
const BATCH_LANES: usize = 4_096;

/// Split kinds: bit 0, the input was split on higher on the path; bits 1 and 2, the left
/// and the right child is a split (not a leaf).
const REPEATED: u8 = 1;
const LEFT_SPLIT: u8 = 2;
const RIGHT_SPLIT: u8 = 4;

/// [`ShapScratch`] state bits of a split: the row goes right; the row failed an earlier
/// split on the input (the split contributes nothing).
const GOES_RIGHT: u8 = 1;
const FAILED_EARLIER: u8 = 2;

/// One internal node. Children that are splits are indices within the batch; a leaf
/// child's index is the batch's split count (it has no slot: its value is its subtree sum).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    threshold: f64,
    /// Cover fraction of the left and the right child (cover(child) / cover(node)).
    fraction: [f64; 2],
    /// Value of the left and the right child when it is a leaf (0 for a split).
    leaf_value: [f64; 2],
    feature: u32,
    children: [u32; 2],
    /// For a repeated input: index into `ShapExplainer::earlier` and of the vector
    /// 1/f_prev (the factor of the earlier splits on the input when the row passed them).
    earlier: u32,
}

/// Whether the row passed every earlier split on a repeated input: `x <= upper` for the
/// splits it went left at and `!(x <= lower)` for those it went right at (NaN goes right,
/// as in prediction).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Earlier {
    lower: f64,
    upper: f64,
    has_lower: bool,
    has_upper: bool,
    /// Cumulative cover fraction of the input over the earlier splits.
    zero_fraction: f64,
}

impl Earlier {
    #[inline(always)]
    fn passed(&self, x: f64) -> bool {
        let (left_of_upper, left_of_lower) = (x <= self.upper, x <= self.lower);
        (!self.has_upper || left_of_upper) & (!self.has_lower || !left_of_lower)
    }
}

/// Splits of one kind at one depth of a batch: batch indices `start..end`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Group {
    kind: u8,
    start: u32,
    end: u32,
}

/// Trees explained together.
#[derive(Debug, Clone, PartialEq)]
struct Batch {
    /// First split in `ShapExplainer::splits`; the batch's splits follow.
    first_split: u32,
    splits: u32,
    /// Groups in `ShapExplainer::groups`, by increasing depth.
    groups: (u32, u32),
    /// (tree index, batch index of its root), in tree order; the roots are the batch's
    /// first splits.
    roots: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
enum TreePlan {
    /// Explained in a batch.
    Batched,
    /// A single leaf: no contributions.
    Leaf(f64),
    /// Too many distinct inputs on a path: the recursive algorithm.
    Recursive,
}

/// Everything needed to explain rows of one booster quickly; built once per model.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapExplainer {
    /// Quadrature points (lanes of every vector).
    lanes: usize,
    /// Gauss–Legendre points t and weights w on [0, 1].
    points: Vec<f64>,
    weights: Vec<f64>,
    trees: Vec<TreePlan>,
    batches: Vec<Batch>,
    groups: Vec<Group>,
    splits: Vec<Split>,
    earlier: Vec<Earlier>,
    vectors: Vec<f64>,
    n_inputs: usize,
    /// Splits of the largest batch.
    max_batch: usize,
}

/// Reusable working memory for [`ShapExplainer::explain_into`]; grows on first use only.
#[derive(Debug, Clone, Default)]
pub struct ShapScratch {
    /// Path products P and subtree sums D, by batch index.
    products: Vec<f64>,
    sums: Vec<f64>,
    /// Per split: [`GOES_RIGHT`] and [`FAILED_EARLIER`] bits.
    states: Vec<u8>,
    totals: Vec<f64>,
    /// Every tree's output for the row.
    outputs: Vec<f64>,
    /// Scratch of the recursive algorithm (trees it handles, and the reference API).
    pub(super) path: Vec<PathElement>,
}

/// Gauss–Legendre points and weights on [0, 1]: `n` points integrate polynomials of degree
/// ≤ 2n − 1 exactly. Newton's method on the Legendre polynomial, to rounding accuracy.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let legendre = |x: f64| {
        // (P_n(x), P_n'(x))
        let (mut previous, mut current) = (1.0, x);
        for k in 2..=n {
            let k = k as f64;
            let next = ((2.0 * k - 1.0) * x * current - (k - 1.0) * previous) / k;
            previous = current;
            current = next;
        }
        let derivative = n as f64 * (x * current - previous) / (x * x - 1.0);
        (current, derivative)
    };
    let (mut points, mut weights) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n.div_ceil(2) {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (value, derivative) = legendre(x);
            let step = value / derivative;
            x -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        let (_, derivative) = legendre(x);
        let weight = 1.0 / ((1.0 - x * x) * derivative * derivative);
        // On [−1, 1]: ±x with weight 2·weight; mapped to [0, 1]: (1 ± x)/2 with `weight`.
        points[i] = 0.5 * (1.0 - x);
        points[n - 1 - i] = 0.5 * (1.0 + x);
        weights[i] = weight;
        weights[n - 1 - i] = weight;
    }
    (points, weights)
}

/// The quadrature sizes compiled in (lanes of the vectors) for paths of `path_inputs`.
fn lanes_for(path_inputs: usize) -> usize {
    match path_inputs.div_ceil(2) {
        0 | 1 => 1,
        2 => 2,
        3 | 4 => 4,
        5..=8 => 8,
        _ => 16,
    }
}

/// Most distinct inputs on any root-to-leaf path of `tree`.
fn max_path_inputs(tree: &Tree) -> usize {
    let mut most = 0;
    let mut stack: Vec<(usize, Vec<u32>)> = vec![(0, Vec::new())];
    while let Some((index, inputs)) = stack.pop() {
        let node = &tree.nodes[index];
        if node.is_leaf {
            most = most.max(inputs.len());
            continue;
        }
        let mut below = inputs;
        if !below.contains(&node.feature) {
            below.push(node.feature);
        }
        stack.push((node.left as usize, below.clone()));
        stack.push((node.right as usize, below));
    }
    most
}

/// What the walk down a tree knows about one input on the path: its cumulative cover
/// fraction and the interval the row must lie in to pass its splits.
#[derive(Debug, Clone, Copy)]
struct PathInput {
    feature: u32,
    zero_fraction: f64,
    interval: Earlier,
}

/// A node to visit while listing a tree's splits: (node, depth, parent split and side, path
/// inputs).
type Visit = (usize, usize, Option<(usize, usize)>, Vec<PathInput>);

/// A split of one tree before batching: its record (children as tree split numbers, or
/// `None` for leaves), depth, kind, and its earlier-split data.
struct TreeSplit {
    split: Split,
    children: [Option<usize>; 2],
    depth: usize,
    kind: u8,
    earlier: Option<(Earlier, Vec<f64>)>,
}

/// f(z, o) at every point: the factor of an input with cumulative cover fraction z that
/// the row satisfies (o = 1) or not (o = 0).
fn factor(points: &[f64], z: f64, o: f64) -> Vec<f64> {
    points.iter().map(|t| z + (o - z) * t).collect()
}

/// The splits of `tree` with their kinds, depths and repeated-input vectors.
fn tree_splits(tree: &Tree, points: &[f64]) -> Vec<TreeSplit> {
    let mut splits: Vec<TreeSplit> = Vec::new();
    // (node, depth, parent split and side, path inputs)
    let mut stack: Vec<Visit> = vec![(0, 0, None, Vec::new())];
    while let Some((index, depth, parent, path)) = stack.pop() {
        let node = &tree.nodes[index];
        if node.is_leaf {
            continue;
        }
        let number = splits.len();
        if let Some((parent, side)) = parent {
            splits[parent].children[side] = Some(number);
            splits[parent].kind |= if side == 0 { LEFT_SPLIT } else { RIGHT_SPLIT };
        }
        let (left, right) = (node.left as usize, node.right as usize);
        let fraction = |child: usize| {
            if node.cover > 0.0 {
                tree.nodes[child].cover / node.cover
            } else {
                0.5
            }
        };
        let fractions = [fraction(left), fraction(right)];
        let earlier_position = path.iter().position(|entry| entry.feature == node.feature);
        let earlier = earlier_position.map(|position| {
            // When the row passed the earlier splits, f_prev = f(z_prev, 1): its inverse.
            let mut interval = path[position].interval;
            interval.zero_fraction = path[position].zero_fraction;
            let inverse = factor(points, interval.zero_fraction, 1.0)
                .iter()
                .map(|factor| 1.0 / factor)
                .collect();
            (interval, inverse)
        });
        let leaf_value = [left, right].map(|child| {
            let child = &tree.nodes[child];
            if child.is_leaf { child.value } else { 0.0 }
        });
        splits.push(TreeSplit {
            split: Split {
                threshold: node.threshold,
                fraction: fractions,
                leaf_value,
                feature: node.feature,
                children: [0, 0],
                earlier: 0,
            },
            children: [None, None],
            depth,
            kind: if earlier.is_some() { REPEATED } else { 0 },
            earlier,
        });
        for (side, child) in [(1, right), (0, left)] {
            let mut below = path.clone();
            let entry = match earlier_position {
                Some(position) => &mut below[position],
                None => {
                    below.push(PathInput {
                        feature: node.feature,
                        zero_fraction: 1.0,
                        interval: Earlier {
                            lower: f64::NEG_INFINITY,
                            upper: f64::INFINITY,
                            has_lower: false,
                            has_upper: false,
                            zero_fraction: 1.0,
                        },
                    });
                    below.last_mut().expect("just pushed")
                }
            };
            entry.zero_fraction *= fractions[side];
            if side == 0 {
                entry.interval.upper = entry.interval.upper.min(node.threshold);
                entry.interval.has_upper = true;
            } else {
                entry.interval.lower = entry.interval.lower.max(node.threshold);
                entry.interval.has_lower = true;
            }
            stack.push((child, depth + 1, Some((number, side)), below));
        }
    }
    splits
}

impl ShapExplainer {
    /// Prepares the explainer of `trees` over `n_inputs` inputs.
    pub fn new(trees: &[Tree], n_inputs: usize) -> Self {
        let path_inputs: Vec<usize> = trees.iter().map(max_path_inputs).collect();
        let widest = path_inputs
            .iter()
            .copied()
            .filter(|&inputs| inputs <= MAX_PATH_INPUTS)
            .max()
            .unwrap_or(0);
        let lanes = lanes_for(widest);
        let (points, weights) = gauss_legendre(lanes);
        let mut explainer = Self {
            lanes,
            points,
            weights,
            trees: Vec::with_capacity(trees.len()),
            batches: Vec::new(),
            groups: Vec::new(),
            splits: Vec::new(),
            earlier: Vec::new(),
            vectors: Vec::new(),
            n_inputs,
            max_batch: 0,
        };
        let mut pending: Vec<(usize, Vec<TreeSplit>)> = Vec::new();
        for (index, (tree, &inputs)) in trees.iter().zip(&path_inputs).enumerate() {
            // A split on an input the model does not have (a damaged file) is left to the
            // recursive algorithm, which fails like prediction does.
            let unknown_input = tree
                .nodes
                .iter()
                .any(|node| !node.is_leaf && node.feature as usize >= n_inputs);
            if inputs > MAX_PATH_INPUTS || unknown_input {
                explainer.trees.push(TreePlan::Recursive);
            } else if tree.nodes[0].is_leaf {
                explainer.trees.push(TreePlan::Leaf(tree.nodes[0].value));
            } else {
                explainer.trees.push(TreePlan::Batched);
                let splits = tree_splits(tree, &explainer.points);
                let pending_splits: usize = pending.iter().map(|(_, splits)| splits.len()).sum();
                if !pending.is_empty() && (pending_splits + splits.len()) * lanes > BATCH_LANES {
                    explainer.add_batch(std::mem::take(&mut pending));
                }
                pending.push((index, splits));
            }
        }
        if !pending.is_empty() {
            explainer.add_batch(pending);
        }
        explainer
    }

    /// Orders the splits of `trees` by (depth, kind) and appends them as one batch.
    fn add_batch(&mut self, trees: Vec<(usize, Vec<TreeSplit>)>) {
        // (depth, kind, tree position, split number) of every split, sorted.
        let mut order: Vec<(usize, u8, usize, usize)> = trees
            .iter()
            .enumerate()
            .flat_map(|(position, (_, splits))| {
                splits
                    .iter()
                    .enumerate()
                    .map(move |(number, split)| (split.depth, split.kind, position, number))
            })
            .collect();
        order.sort_unstable();
        let count = order.len();
        let mut batch_index: Vec<Vec<u32>> = trees.iter().map(|(_, s)| vec![0; s.len()]).collect();
        for (index, &(_, _, position, number)) in order.iter().enumerate() {
            batch_index[position][number] = index as u32;
        }
        let spare = count as u32;
        let first_split = self.splits.len() as u32;
        let first_group = self.groups.len() as u32;
        for (index, &(depth, kind, position, number)) in order.iter().enumerate() {
            let tree_split = &trees[position].1[number];
            let mut split = tree_split.split;
            split.children = tree_split
                .children
                .map(|child| child.map_or(spare, |child| batch_index[position][child]));
            if let Some((interval, vectors)) = &tree_split.earlier {
                split.earlier = self.earlier.len() as u32;
                self.earlier.push(*interval);
                self.vectors.extend(vectors);
            }
            self.splits.push(split);
            let same_group = index > 0 && {
                let (previous_depth, previous_kind, _, _) = order[index - 1];
                (previous_depth, previous_kind) == (depth, kind)
            };
            if same_group {
                self.groups.last_mut().expect("a group is open").end += 1;
            } else {
                self.groups.push(Group {
                    kind,
                    start: index as u32,
                    end: index as u32 + 1,
                });
            }
        }
        self.max_batch = self.max_batch.max(count);
        self.batches.push(Batch {
            first_split,
            splits: count as u32,
            groups: (first_group, self.groups.len() as u32),
            roots: trees
                .iter()
                .enumerate()
                .map(|(position, (tree, _))| (*tree as u32, batch_index[position][0]))
                .collect(),
        });
    }

    /// Writes the exact SHAP value of every input for `row` into `contributions` (length
    /// `n_inputs`) and returns the sum of the trees' outputs (the margin without the base),
    /// summed in tree order like [`Tree::predict`] over the trees. `trees` are the trees the
    /// explainer was built from. Allocates nothing once `scratch` has grown.
    ///
    /// # Panics
    /// When `contributions` is not `n_inputs` long, `row` is shorter, or `trees` are not the
    /// explainer's.
    pub fn explain_into(
        &self,
        trees: &[Tree],
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> f64 {
        assert_eq!(
            contributions.len(),
            self.n_inputs,
            "contributions buffer length must be the number of inputs"
        );
        assert_eq!(
            trees.len(),
            self.trees.len(),
            "the explainer was built from other trees"
        );
        assert!(
            row.len() >= self.n_inputs,
            "a row of {} inputs for a model of {}",
            row.len(),
            self.n_inputs
        );
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                // SAFETY: the CPU has the features `explain_avx512` is compiled for.
                return unsafe { self.explain_avx512(trees, row, contributions, scratch) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, the only requirement of `explain_avx2`.
                return unsafe { self.explain_avx2(trees, row, contributions, scratch) };
            }
        }
        self.explain_any(trees, row, contributions, scratch)
    }

    /// [`ShapExplainer::explain_any`] compiled for AVX-512 (F, VL, DQ): the same 4-lane
    /// vectors, but 32 vector registers and mask registers, so the passes spill less and
    /// the side selection is branch-free (measured 20–25 % faster than the AVX2 build on
    /// Zen 4). Same operations in the same order, no fused multiply-add: identical results.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2")]
    fn explain_avx512(
        &self,
        trees: &[Tree],
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> f64 {
        self.explain_any(trees, row, contributions, scratch)
    }

    /// [`ShapExplainer::explain_any`] compiled for AVX2: 4 lanes per instruction. It runs
    /// the same operations in the same order, so the results are identical.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn explain_avx2(
        &self,
        trees: &[Tree],
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> f64 {
        self.explain_any(trees, row, contributions, scratch)
    }

    #[inline(always)]
    fn explain_any(
        &self,
        trees: &[Tree],
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> f64 {
        match self.lanes {
            1 => self.explain_lanes::<1>(trees, row, contributions, scratch),
            2 => self.explain_lanes::<2>(trees, row, contributions, scratch),
            4 => self.explain_lanes::<4>(trees, row, contributions, scratch),
            8 => self.explain_lanes::<8>(trees, row, contributions, scratch),
            _ => self.explain_lanes::<16>(trees, row, contributions, scratch),
        }
    }

    #[inline(always)]
    fn explain_lanes<const N: usize>(
        &self,
        trees: &[Tree],
        row: &[f64],
        contributions: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> f64 {
        debug_assert_eq!(N, self.lanes);
        let slots = self.max_batch;
        for (buffer, length) in [
            (&mut scratch.products, slots * N),
            (&mut scratch.sums, slots * N),
            (&mut scratch.totals, self.n_inputs * N),
            (&mut scratch.outputs, self.trees.len()),
        ] {
            if buffer.len() < length {
                buffer.resize(length, 0.0);
            }
        }
        if scratch.states.len() < slots {
            scratch.states.resize(slots, 0);
        }
        let ShapScratch {
            products,
            sums,
            states,
            totals,
            outputs,
            path,
        } = scratch;
        let (products, _) = products[..slots * N].as_chunks_mut::<N>();
        let (sums, _) = sums[..slots * N].as_chunks_mut::<N>();
        let states = &mut states[..slots];
        let (totals, _) = totals[..self.n_inputs * N].as_chunks_mut::<N>();
        let outputs = &mut outputs[..self.trees.len()];
        totals.fill([0.0; N]);
        contributions.fill(0.0);
        let mut buffers = Buffers {
            products,
            sums,
            totals,
        };
        let pass = Pass {
            points: self.points[..].try_into().expect("N lanes"),
            vectors: self.vectors.as_chunks::<N>().0,
            earlier: &self.earlier,
            row,
        };
        for batch in &self.batches {
            let splits = &self.splits
                [batch.first_split as usize..(batch.first_split + batch.splits) as usize];
            let groups = &self.groups[batch.groups.0 as usize..batch.groups.1 as usize];
            buffers.products[..batch.roots.len()].fill([1.0; N]);
            for group in groups {
                let range = group.start as usize..group.end as usize;
                let (splits, states) = (&splits[range.clone()], &mut states[range.clone()]);
                let first = range.start;
                match group.kind {
                    0 => pass.down::<false, false, false>(splits, first, states, &mut buffers),
                    1 => pass.down::<true, false, false>(splits, first, states, &mut buffers),
                    2 => pass.down::<false, true, false>(splits, first, states, &mut buffers),
                    3 => pass.down::<true, true, false>(splits, first, states, &mut buffers),
                    4 => pass.down::<false, false, true>(splits, first, states, &mut buffers),
                    5 => pass.down::<true, false, true>(splits, first, states, &mut buffers),
                    6 => pass.down::<false, true, true>(splits, first, states, &mut buffers),
                    _ => pass.down::<true, true, true>(splits, first, states, &mut buffers),
                }
            }
            // The row's leaf in every tree of the batch.
            for &(tree, root) in &batch.roots {
                let mut index = root as usize;
                outputs[tree as usize] = loop {
                    let split = &splits[index];
                    let side = usize::from(states[index] & GOES_RIGHT);
                    let child = split.children[side] as usize;
                    if child == splits.len() {
                        break split.leaf_value[side];
                    }
                    index = child;
                };
            }
            for group in groups.iter().rev() {
                let range = group.start as usize..group.end as usize;
                let (splits, states) = (&splits[range.clone()], &states[range.clone()]);
                let first = range.start;
                match group.kind {
                    // Splits of two leaves were finished top-down.
                    0 | 1 => {}
                    2 => pass.up::<false, true, false>(splits, first, states, &mut buffers),
                    3 => pass.up::<true, true, false>(splits, first, states, &mut buffers),
                    4 => pass.up::<false, false, true>(splits, first, states, &mut buffers),
                    5 => pass.up::<true, false, true>(splits, first, states, &mut buffers),
                    6 => pass.up::<false, true, true>(splits, first, states, &mut buffers),
                    _ => pass.up::<true, true, true>(splits, first, states, &mut buffers),
                }
            }
        }
        for ((plan, tree), output) in self.trees.iter().zip(trees).zip(outputs.iter_mut()) {
            match *plan {
                TreePlan::Batched => {}
                TreePlan::Leaf(value) => *output = value,
                TreePlan::Recursive => {
                    tree.add_shap_values(row, contributions, path);
                    *output = tree.predict(row);
                }
            }
        }
        let weights: [f64; N] = self.weights[..].try_into().expect("N lanes");
        for (contribution, total) in contributions.iter_mut().zip(buffers.totals.iter()) {
            let mut dot = 0.0;
            for q in 0..N {
                dot += total[q] * weights[q];
            }
            *contribution += dot;
        }
        outputs.iter().fold(-0.0, |sum, output| sum + output)
    }
}

/// Whether the CPU has the AVX-512 features `ShapExplainer::explain_avx512` is built for.
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512dq")
}

/// The scratch vectors of a batch by batch index (path products P, subtree sums D), and the
/// contributions per input (per lane).
struct Buffers<'s, const N: usize> {
    products: &'s mut [[f64; N]],
    sums: &'s mut [[f64; N]],
    totals: &'s mut [[f64; N]],
}

/// What both passes over a batch share for one row.
struct Pass<'a, const N: usize> {
    points: [f64; N],
    vectors: &'a [[f64; N]],
    earlier: &'a [Earlier],
    row: &'a [f64],
}

/// o − z of both children of a first split on an input: the coefficient Q of each child,
/// and the slope of its factor z + (o − z)·t.
#[inline(always)]
fn first_split_slopes(split: &Split, goes_right: bool) -> (f64, f64) {
    slopes(split.fraction[0], split.fraction[1], goes_right)
}

/// o − z of two children with cover fractions (z of the left, z of the right). (A table,
/// not a branch: the side is random.)
#[inline(always)]
fn slopes(left_z: f64, right_z: f64, goes_right: bool) -> (f64, f64) {
    const SATISFIED: [[f64; 2]; 2] = [[1.0, 0.0], [0.0, 1.0]];
    let [left_o, right_o] = SATISFIED[usize::from(goes_right)];
    (left_o - left_z, right_o - right_z)
}

impl<const N: usize> Pass<'_, N> {
    /// For a repeated input the row passed: R of the left and right child, then Q. With
    /// z_prev and 1/f_prev of the earlier splits and z = z_prev·fraction:
    /// R = f(z, o)/f_prev and Q = (o − z)/f_prev − f(z, o)·(1 − z_prev)/f_prev².
    #[inline(always)]
    fn repeated_factors(&self, split: &Split, goes_right: bool) -> [[f64; N]; 4] {
        let earlier = &self.earlier[split.earlier as usize];
        let inverse = &self.vectors[split.earlier as usize];
        let before = earlier.zero_fraction;
        let (left_z, right_z) = (before * split.fraction[0], before * split.fraction[1]);
        let (left_m, right_m) = slopes(left_z, right_z, goes_right);
        let mut factors = [[0.0; N]; 4];
        for q in 0..N {
            let left = left_z + left_m * self.points[q];
            let right = right_z + right_m * self.points[q];
            let squared = (1.0 - before) * inverse[q] * inverse[q];
            factors[0][q] = left * inverse[q];
            factors[1][q] = right * inverse[q];
            factors[2][q] = left_m * inverse[q] - left * squared;
            factors[3][q] = right_m * inverse[q] - right * squared;
        }
        factors
    }

    /// Top-down over splits of one kind at one depth (batch indices from `first`): the row's
    /// side, and the path products of the children that are splits. A split with two
    /// leaves is finished here (its subtree sum and contribution need nothing below it).
    #[inline(always)]
    fn down<const REPEATED: bool, const LEFT: bool, const RIGHT: bool>(
        &self,
        splits: &[Split],
        first: usize,
        states: &mut [u8],
        buffers: &mut Buffers<'_, N>,
    ) {
        let count = splits.len().min(states.len());
        for index in 0..count {
            let split = &splits[index];
            let x = self.row[split.feature as usize];
            // As in prediction: `x <= threshold` goes left, anything else (NaN too) right.
            let goes_left = x <= split.threshold;
            let goes_right = !goes_left;
            let failed_earlier = REPEATED && !self.earlier[split.earlier as usize].passed(x);
            let state =
                (u8::from(goes_right) * GOES_RIGHT) | (u8::from(failed_earlier) * FAILED_EARLIER);
            states[index] = state;
            if !(LEFT || RIGHT) {
                self.finish::<REPEATED, false, false>(split, state, first + index, buffers);
                continue;
            }
            let parent = buffers.products[first + index];
            let (mut left, mut right) = ([0.0; N], [0.0; N]);
            if !REPEATED {
                let [left_z, right_z] = split.fraction;
                let (left_m, right_m) = first_split_slopes(split, goes_right);
                for q in 0..N {
                    left[q] = parent[q] * (left_z + left_m * self.points[q]);
                    right[q] = parent[q] * (right_z + right_m * self.points[q]);
                }
            } else if failed_earlier {
                let [left_z, right_z] = split.fraction;
                for q in 0..N {
                    left[q] = parent[q] * left_z;
                    right[q] = parent[q] * right_z;
                }
            } else {
                let [left_r, right_r, _, _] = self.repeated_factors(split, goes_right);
                for q in 0..N {
                    left[q] = parent[q] * left_r[q];
                    right[q] = parent[q] * right_r[q];
                }
            }
            if LEFT {
                buffers.products[split.children[0] as usize] = left;
            }
            if RIGHT {
                buffers.products[split.children[1] as usize] = right;
            }
        }
    }

    /// Bottom-up over splits of one kind at one depth, with a split child: subtree sums,
    /// and each split's contribution to its input.
    #[inline(always)]
    fn up<const REPEATED: bool, const LEFT: bool, const RIGHT: bool>(
        &self,
        splits: &[Split],
        first: usize,
        states: &[u8],
        buffers: &mut Buffers<'_, N>,
    ) {
        let count = splits.len().min(states.len());
        for index in 0..count {
            self.finish::<REPEATED, LEFT, RIGHT>(
                &splits[index],
                states[index],
                first + index,
                buffers,
            );
        }
    }

    /// The subtree sum of one split (batch index `node`) and its contribution to its input,
    /// from its children's subtree sums (a leaf's is its value).
    #[inline(always)]
    fn finish<const REPEATED: bool, const LEFT: bool, const RIGHT: bool>(
        &self,
        split: &Split,
        state: u8,
        node: usize,
        buffers: &mut Buffers<'_, N>,
    ) {
        let Buffers {
            products,
            sums,
            totals,
        } = buffers;
        let goes_right = state & GOES_RIGHT != 0;
        let [left_z, right_z] = split.fraction;
        let [left_value, right_value] = split.leaf_value;
        let total = &mut totals[split.feature as usize];
        if !REPEATED && !LEFT && !RIGHT {
            // Two leaves: D = A + C·t with A = Σ z·v and the contribution C = Σ (o − z)·v.
            let (left_m, right_m) = first_split_slopes(split, goes_right);
            let base = left_z * left_value + right_z * right_value;
            let slope = left_m * left_value + right_m * right_value;
            let parent = products[node];
            let (mut sum, mut updated) = ([0.0; N], *total);
            for q in 0..N {
                sum[q] = base + slope * self.points[q];
                updated[q] += parent[q] * slope;
            }
            sums[node] = sum;
            *total = updated;
            return;
        }
        let left_sum = if LEFT {
            sums[split.children[0] as usize]
        } else {
            [left_value; N]
        };
        let right_sum = if RIGHT {
            sums[split.children[1] as usize]
        } else {
            [right_value; N]
        };
        let mut sum = [0.0; N];
        let mut coefficient = [0.0; N];
        if !REPEATED {
            // D = Σ z·D_c + t·C with C = Σ (o − z)·D_c.
            let (left_m, right_m) = first_split_slopes(split, goes_right);
            for q in 0..N {
                coefficient[q] = left_m * left_sum[q] + right_m * right_sum[q];
                sum[q] =
                    left_z * left_sum[q] + right_z * right_sum[q] + self.points[q] * coefficient[q];
            }
        } else if state & FAILED_EARLIER != 0 {
            for q in 0..N {
                sum[q] = left_z * left_sum[q] + right_z * right_sum[q];
            }
            sums[node] = sum;
            return;
        } else {
            let [left_r, right_r, left_q, right_q] = self.repeated_factors(split, goes_right);
            for q in 0..N {
                sum[q] = left_r[q] * left_sum[q] + right_r[q] * right_sum[q];
                coefficient[q] = left_q[q] * left_sum[q] + right_q[q] * right_sum[q];
            }
        }
        sums[node] = sum;
        let parent = products[node];
        let mut updated = *total;
        for q in 0..N {
            updated[q] += parent[q] * coefficient[q];
        }
        *total = updated;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::seeded_rng;
    use crate::gbdt::Node;
    use rand::RngExt;
    use rand::rngs::Xoshiro256PlusPlus;

    /// Thresholds and row values come from one grid, so rows often sit exactly on a split.
    fn grid_value(rng: &mut Xoshiro256PlusPlus) -> f64 {
        f64::from(rng.random_range(-8i32..=8)) / 8.0
    }

    /// A random tree: inputs drawn from `n_inputs` (few inputs → repeated inputs on paths),
    /// covers split at random fractions, sometimes extreme, sometimes a zero-cover child.
    fn random_tree(
        rng: &mut Xoshiro256PlusPlus,
        n_inputs: u32,
        max_depth: usize,
        leaf_chance: f64,
    ) -> Tree {
        random_tree_with(rng, n_inputs, max_depth, leaf_chance, false)
    }

    fn random_tree_with(
        rng: &mut Xoshiro256PlusPlus,
        n_inputs: u32,
        max_depth: usize,
        leaf_chance: f64,
        zero_covers: bool,
    ) -> Tree {
        fn grow(
            nodes: &mut Vec<Node>,
            rng: &mut Xoshiro256PlusPlus,
            n_inputs: u32,
            (depth, max_depth, leaf_chance, zero_covers): (usize, usize, f64, bool),
            cover: f64,
        ) -> (u32, usize) {
            let index = nodes.len();
            nodes.push(Node::leaf(rng.random_range(-1.0..1.0), cover));
            if depth == max_depth || (depth > 0 && rng.random::<f64>() < leaf_chance) {
                return (index as u32, depth);
            }
            // The recursive algorithm divides by cover fractions: zero only when asked.
            let fraction = match rng.random_range(0..20) {
                0 if zero_covers => 0.0,
                0 | 1 => 1e-9,
                2 => 1.0 - 1e-9,
                _ => rng.random_range(0.05..0.95),
            };
            let shape = (depth + 1, max_depth, leaf_chance, zero_covers);
            let (left, left_depth) = grow(nodes, rng, n_inputs, shape, cover * fraction);
            let (right, right_depth) = grow(nodes, rng, n_inputs, shape, cover - cover * fraction);
            nodes[index] = Node {
                is_leaf: false,
                feature: rng.random_range(0..n_inputs),
                threshold: grid_value(rng),
                left,
                right,
                value: 0.0,
                cover,
            };
            (index as u32, left_depth.max(right_depth))
        }
        let mut nodes = Vec::new();
        let root_cover = rng.random_range(1.0..100.0);
        let (_, depth) = grow(
            &mut nodes,
            rng,
            n_inputs,
            (0, max_depth, leaf_chance, zero_covers),
            root_cover,
        );
        Tree { nodes, depth }
    }

    /// A comb: every split has a leaf on one side, on `inputs` distinct inputs in a row.
    fn comb(rng: &mut Xoshiro256PlusPlus, inputs: u32) -> Tree {
        let mut nodes = Vec::new();
        let mut cover = 1_000.0;
        for input in 0..inputs {
            let index = nodes.len() as u32;
            let leaf_cover = cover * rng.random_range(0.1..0.6);
            nodes.push(Node {
                is_leaf: false,
                feature: input,
                threshold: grid_value(rng),
                left: index + 1,
                right: index + 2,
                value: 0.0,
                cover,
            });
            nodes.push(Node::leaf(rng.random_range(-1.0..1.0), leaf_cover));
            cover -= leaf_cover;
        }
        nodes.push(Node::leaf(rng.random_range(-1.0..1.0), cover));
        // Every split's right child is the next split (or the last leaf).
        for split in 0..inputs as usize {
            nodes[2 * split].right = if split + 1 < inputs as usize {
                2 * split as u32 + 2
            } else {
                nodes.len() as u32 - 1
            };
        }
        Tree {
            nodes,
            depth: inputs as usize,
        }
    }

    fn random_row(rng: &mut Xoshiro256PlusPlus, n_inputs: usize) -> Vec<f64> {
        (0..n_inputs)
            .map(|_| match rng.random_range(0..10) {
                0 => f64::NAN,
                1..=4 => grid_value(rng),
                _ => rng.random_range(-1.1..1.1),
            })
            .collect()
    }

    /// Compares the explainer with the recursive algorithm on `rows`: every contribution
    /// within 1e-9 relative (of the contribution, or of the row's largest one when it is
    /// tiny), and the margin identical to the sum of the trees' predictions.
    fn assert_matches_reference(trees: &[Tree], n_inputs: usize, rows: &[Vec<f64>]) -> f64 {
        let explainer = ShapExplainer::new(trees, n_inputs);
        let mut scratch = ShapScratch::default();
        let mut path = Vec::new();
        let mut fast = vec![f64::NAN; n_inputs];
        let mut worst: f64 = 0.0;
        for (index, row) in rows.iter().enumerate() {
            let output = explainer.explain_into(trees, row, &mut fast, &mut scratch);
            let predicted: f64 = trees.iter().map(|tree| tree.predict(row)).sum();
            assert_eq!(output.to_bits(), predicted.to_bits(), "row {index}");
            let mut reference = vec![0.0; n_inputs];
            for tree in trees {
                tree.add_shap_values(row, &mut reference, &mut path);
            }
            let largest = reference
                .iter()
                .fold(0.0f64, |most, value| most.max(value.abs()));
            for (input, (a, b)) in fast.iter().zip(&reference).enumerate() {
                let error = (a - b).abs() / b.abs().max(1e-6 * largest).max(1e-300);
                worst = worst.max(error);
                assert!(
                    error <= 1e-9,
                    "row {index} input {input}: explainer {a:e} vs reference {b:e}"
                );
            }
        }
        worst
    }

    #[test]
    fn matches_the_recursive_algorithm_on_random_trees() {
        let mut rng = seeded_rng(7);
        let mut worst: f64 = 0.0;
        // (inputs, depth, leaf chance): few inputs repeat on paths; many need more lanes.
        for (n_inputs, max_depth, leaf_chance) in [
            (1, 5, 0.1),
            (2, 6, 0.1),
            (3, 8, 0.2),
            (6, 6, 0.0),
            (8, 4, 0.0),
            (30, 12, 0.3),
            // About a thousand splits: a tree bigger than a batch.
            (8, 10, 0.0),
        ] {
            for _ in 0..10 {
                let trees: Vec<Tree> = (0..5)
                    .map(|_| random_tree(&mut rng, n_inputs, max_depth, leaf_chance))
                    .collect();
                let rows: Vec<Vec<f64>> = (0..40)
                    .map(|_| random_row(&mut rng, n_inputs as usize))
                    .collect();
                worst = worst.max(assert_matches_reference(&trees, n_inputs as usize, &rows));
            }
        }
        eprintln!("largest relative difference from the recursive algorithm: {worst:e}");
        assert!(worst > 0.0, "some rounding difference is expected");
    }

    /// The tree's output when only the inputs in `known` are known: the path-dependent
    /// value function (unknown splits average their children by cover).
    fn conditional(tree: &Tree, node: usize, row: &[f64], known: u32) -> f64 {
        let n = &tree.nodes[node];
        if n.is_leaf {
            return n.value;
        }
        let (left, right) = (n.left as usize, n.right as usize);
        if known & (1 << n.feature) != 0 {
            let next = if row[n.feature as usize] <= n.threshold {
                left
            } else {
                right
            };
            return conditional(tree, next, row, known);
        }
        let fraction = |child: usize| {
            if n.cover > 0.0 {
                tree.nodes[child].cover / n.cover
            } else {
                0.5
            }
        };
        fraction(left) * conditional(tree, left, row, known)
            + fraction(right) * conditional(tree, right, row, known)
    }

    #[test]
    fn matches_brute_force_shapley_values_with_zero_covers() {
        // The recursive algorithm divides by zero there; the definition does not.
        let mut rng = seeded_rng(13);
        let factorial = |k: usize| (1..=k).product::<usize>() as f64;
        let n_inputs = 5;
        let mut zero_cover_trees = 0;
        for _ in 0..40 {
            let tree = random_tree_with(&mut rng, n_inputs as u32, 6, 0.1, true);
            if tree
                .nodes
                .iter()
                .any(|node| !node.is_leaf && node.cover == 0.0)
            {
                zero_cover_trees += 1;
            }
            let trees = [tree];
            let explainer = ShapExplainer::new(&trees, n_inputs);
            let mut fast = vec![0.0; n_inputs];
            for _ in 0..10 {
                let row = random_row(&mut rng, n_inputs);
                explainer.explain_into(&trees, &row, &mut fast, &mut ShapScratch::default());
                for (input, &fast) in fast.iter().enumerate() {
                    let mut exact = 0.0;
                    for known in 0u32..(1 << n_inputs) {
                        if known & (1 << input) != 0 {
                            continue;
                        }
                        let size = known.count_ones() as usize;
                        let weight =
                            factorial(size) * factorial(n_inputs - size - 1) / factorial(n_inputs);
                        exact += weight
                            * (conditional(&trees[0], 0, &row, known | (1 << input))
                                - conditional(&trees[0], 0, &row, known));
                    }
                    assert!(
                        (exact - fast).abs() <= 1e-12 * exact.abs().max(1.0),
                        "input {input}: brute force {exact} vs explainer {fast}"
                    );
                }
            }
        }
        assert!(
            zero_cover_trees > 5,
            "{zero_cover_trees} trees with a zero cover"
        );
    }

    #[test]
    fn wide_paths_use_more_points_and_the_widest_fall_back() {
        let mut rng = seeded_rng(11);
        // 20 distinct inputs on a path: 16 points; 40: the recursive algorithm.
        for inputs in [9, 20, 40] {
            let trees = vec![
                comb(&mut rng, inputs),
                random_tree(&mut rng, 5, 6, 0.0),
                comb(&mut rng, inputs / 2),
            ];
            let explainer = ShapExplainer::new(&trees, inputs as usize);
            let recursive = explainer
                .trees
                .iter()
                .filter(|plan| **plan == TreePlan::Recursive)
                .count();
            assert_eq!(recursive, usize::from(inputs as usize > MAX_PATH_INPUTS));
            assert_eq!(explainer.lanes, if inputs == 9 { 8 } else { 16 });
            let rows: Vec<Vec<f64>> = (0..30)
                .map(|_| random_row(&mut rng, inputs as usize))
                .collect();
            assert_matches_reference(&trees, inputs as usize, &rows);
        }
    }

    #[test]
    fn contributions_sum_to_the_margin_and_scratch_is_reusable() {
        let mut rng = seeded_rng(5);
        let trees: Vec<Tree> = (0..50).map(|_| random_tree(&mut rng, 6, 6, 0.1)).collect();
        // Zero covers break the cover-weighted expectation; the others must add up.
        let consistent: Vec<Tree> = trees
            .into_iter()
            .filter(|tree| tree.nodes.iter().all(|node| node.cover > 0.0))
            .collect();
        assert!(consistent.len() > 10);
        let explainer = ShapExplainer::new(&consistent, 6);
        let expected: f64 = consistent.iter().map(Tree::expected_value).sum();
        let wide = [comb(&mut rng, 12)];
        let wide_explainer = ShapExplainer::new(&wide, 12);
        let mut scratch = ShapScratch::default();
        let (mut contributions, mut wide_contributions) = (vec![0.0; 6], vec![0.0; 12]);
        for _ in 0..100 {
            let row = random_row(&mut rng, 12);
            let output =
                explainer.explain_into(&consistent, &row[..6], &mut contributions, &mut scratch);
            let total = expected + contributions.iter().sum::<f64>();
            assert!((total - output).abs() < 1e-9, "{total} vs {output}");
            // The same scratch serves a model with other lanes in between, then a fresh one
            // gives the very same numbers.
            wide_explainer.explain_into(&wide, &row, &mut wide_contributions, &mut scratch);
            let mut fresh = vec![0.0; 6];
            explainer.explain_into(
                &consistent,
                &row[..6],
                &mut fresh,
                &mut ShapScratch::default(),
            );
            assert_eq!(contributions, fresh);
        }
    }

    #[test]
    fn matches_the_recursive_algorithm_on_a_model_of_online_shoppers() {
        use crate::dataset::CsvTable;
        use crate::gbdt::GbdtParams;
        use crate::model::FittedEstimator;
        use crate::training::{EstimatorSpec, Evaluation, TrainOptions, train};
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/online_shoppers_intention.csv");
        let table = CsvTable::from_path(&path, &[]).unwrap();
        let options = TrainOptions {
            label: "Revenue".to_string(),
            excluded: Vec::new(),
            estimator: EstimatorSpec::Gbdt(GbdtParams {
                n_trees: 80,
                max_depth: 6,
                max_leaves: 31,
                validation_fraction: 0.0,
                ..GbdtParams::default()
            }),
            evaluation: Evaluation::None,
            calibration: None,
            seed: 42,
            fit_final: true,
        };
        let (model, _) = train(&table, &options).unwrap();
        let features = model.schema.encode(&table).unwrap();
        let FittedEstimator::Gbdt(booster) = &model.estimator else {
            panic!("a GBDT was trained");
        };
        assert_eq!(booster.trees.len(), 80);
        // One-hot inputs (Month, VisitorType) are split on, and paths repeat inputs.
        let names = model.schema.input_names();
        assert!(booster.trees.iter().any(|tree| {
            tree.nodes
                .iter()
                .any(|node| !node.is_leaf && names[node.feature as usize].contains('='))
        }));
        let explainer = ShapExplainer::new(&booster.trees, booster.n_inputs);
        assert_eq!(explainer.lanes, 4);
        let rows: Vec<Vec<f64>> = (0..features.n_rows)
            .step_by(41)
            .map(|row| features.row(row).to_vec())
            .collect();
        let worst = assert_matches_reference(&booster.trees, booster.n_inputs, &rows);
        eprintln!("largest relative difference from the recursive algorithm: {worst:e}");
        let mut scratch = ShapScratch::default();
        let mut contributions = vec![0.0; booster.n_inputs];
        for row in &rows {
            let margin = booster.explain_into(row, &mut contributions, &mut scratch);
            assert_eq!(margin.to_bits(), booster.margin(row).to_bits());
            let total = booster.expected_margin() + contributions.iter().sum::<f64>();
            assert!((total - margin).abs() < 1e-9, "{total} vs {margin}");
        }
    }

    #[test]
    fn quadrature_is_exact_up_to_degree_2n_minus_1() {
        for n in [1, 2, 3, 4, 8, 16] {
            let (points, weights) = gauss_legendre(n);
            assert!(points.iter().all(|&t| t > 0.0 && t < 1.0), "{points:?}");
            for degree in 0..2 * n {
                let integral: f64 = points
                    .iter()
                    .zip(&weights)
                    .map(|(t, w)| w * t.powi(degree as i32))
                    .sum();
                let exact = 1.0 / (degree as f64 + 1.0);
                assert!(
                    (integral - exact).abs() < 1e-14,
                    "n = {n}, degree {degree}: {integral} vs {exact}"
                );
            }
            // One degree more is not integrated exactly: the points are really n.
            if n <= 4 {
                let degree = 2 * n as i32;
                let integral: f64 = points
                    .iter()
                    .zip(&weights)
                    .map(|(t, w)| w * t.powi(degree))
                    .sum();
                assert!((integral - 1.0 / (degree as f64 + 1.0)).abs() > 1e-6);
            }
        }
    }

    #[test]
    fn the_portable_code_gives_the_same_numbers_as_the_vectorised_ones() {
        let mut rng = seeded_rng(17);
        let trees: Vec<Tree> = (0..40).map(|_| random_tree(&mut rng, 5, 6, 0.1)).collect();
        let explainer = ShapExplainer::new(&trees, 5);
        let mut scratch = ShapScratch::default();
        let mut builds_compared = 0;
        for _ in 0..50 {
            let row = random_row(&mut rng, 5);
            let mut portable = vec![0.0; 5];
            let margin = explainer.explain_any(&trees, &row, &mut portable, &mut scratch);
            let mut dispatched = vec![0.0; 5];
            let a = explainer.explain_into(&trees, &row, &mut dispatched, &mut scratch);
            assert_eq!(a.to_bits(), margin.to_bits());
            assert_eq!(dispatched, portable);
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    let mut avx2 = vec![0.0; 5];
                    // SAFETY: the CPU has AVX2.
                    let b =
                        unsafe { explainer.explain_avx2(&trees, &row, &mut avx2, &mut scratch) };
                    assert_eq!((b.to_bits(), &avx2), (margin.to_bits(), &portable));
                    builds_compared += 1;
                }
                if has_avx512() {
                    let mut avx512 = vec![0.0; 5];
                    // SAFETY: the CPU has the AVX-512 features the build needs.
                    let c = unsafe {
                        explainer.explain_avx512(&trees, &row, &mut avx512, &mut scratch)
                    };
                    assert_eq!((c.to_bits(), &avx512), (margin.to_bits(), &portable));
                    builds_compared += 1;
                }
            }
        }
        eprintln!("vectorised builds compared with the portable one: {builds_compared} row-builds");
    }

    #[test]
    fn lanes_cover_the_path_inputs() {
        for inputs in 0..=MAX_PATH_INPUTS {
            let lanes = lanes_for(inputs);
            assert!(2 * lanes >= inputs, "{inputs} inputs, {lanes} lanes");
            assert!([1, 2, 4, 8, 16].contains(&lanes));
        }
    }
}
