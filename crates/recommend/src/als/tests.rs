//! Tests of the ALS solvers and fit: CG against Cholesky, monotone loss, planted blocks,
//! determinism across thread counts.

use super::model::loss;
use super::solver::{RowProblem, Scratch, solve_cholesky, solve_conjugate_gradient};
use super::*;
use crate::matrix::{Factors, SparseMatrix};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Users in `blocks` groups, each interacting with a random `density` share of its own
/// group's items and nothing else. Returns the matrix and each user's block.
fn planted_blocks(
    blocks: usize,
    users_per_block: usize,
    items_per_block: usize,
    density: f64,
    seed: u64,
) -> SparseMatrix {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut triples = Vec::new();
    for b in 0..blocks {
        for u in 0..users_per_block {
            for i in 0..items_per_block {
                if rng.random::<f64>() < density {
                    triples.push((
                        (b * users_per_block + u) as u32,
                        (b * items_per_block + i) as u32,
                        1.0,
                    ));
                }
            }
        }
    }
    SparseMatrix::from_triples(blocks * users_per_block, blocks * items_per_block, triples)
}

#[test]
fn conjugate_gradient_matches_cholesky_to_1e_6() {
    let k = 8;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let other =
        Factors::from_rows(k, (0..30 * k).map(|_| rng.random::<f64>() - 0.5).collect()).unwrap();
    let mut gram = other.gram();
    for d in 0..k {
        gram[d * k + d] += 0.1;
    }
    let columns = [1u32, 4, 9, 17, 22, 29];
    let confidences = [2.0, 11.0, 41.0, 1.5, 6.0, 3.0];
    let problem = RowProblem {
        regularised_gram: &gram,
        other: &other,
        columns: &columns,
        confidences: &confidences,
    };
    let mut scratch = Scratch::new(k);
    let mut exact = vec![0.0; k];
    assert!(solve_cholesky(&problem, &mut exact, &mut scratch));
    let mut iterative = vec![0.3; k];
    solve_conjugate_gradient(&problem, &mut iterative, 2 * k, &mut scratch);
    for (a, b) in exact.iter().zip(&iterative) {
        assert!(
            (a - b).abs() < 1e-6,
            "cholesky {exact:?} vs cg {iterative:?}"
        );
    }
    // Three steps (implicit's default) do not converge on this problem: the test can fail.
    let mut rough = vec![0.3; k];
    solve_conjugate_gradient(&problem, &mut rough, 3, &mut scratch);
    assert!(exact.iter().zip(&rough).any(|(a, b)| (a - b).abs() > 1e-6));
}

#[test]
fn full_fits_with_converged_cg_and_cholesky_agree() {
    let matrix = planted_blocks(2, 6, 5, 0.6, 3);
    let base = AlsParams {
        factors: 4,
        iterations: 5,
        regularization: 0.1,
        alpha: 5.0,
        ..Default::default()
    };
    let cg = AlsParams {
        solver: Solver::ConjugateGradient { steps: 16 },
        ..base.clone()
    }
    .validate()
    .unwrap()
    .fit(&matrix)
    .unwrap();
    let exact = AlsParams {
        solver: Solver::Cholesky,
        ..base
    }
    .validate()
    .unwrap()
    .fit(&matrix)
    .unwrap();
    for (a, b) in cg
        .item_factors()
        .as_slice()
        .iter()
        .zip(exact.item_factors().as_slice())
    {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn loss_decreases_monotonically_for_both_solvers() {
    let matrix = planted_blocks(3, 20, 10, 0.4, 11);
    for solver in [Solver::Cholesky, Solver::ConjugateGradient { steps: 3 }] {
        let params = AlsParams {
            factors: 6,
            iterations: 12,
            solver,
            track_loss: true,
            ..Default::default()
        };
        let model = params.validate().unwrap().fit(&matrix).unwrap();
        let losses = &model.report().loss;
        assert_eq!(losses.len(), 12);
        for pair in losses.windows(2) {
            assert!(
                pair[1] <= pair[0] * (1.0 + 1e-12),
                "{solver:?}: loss rose {losses:?}"
            );
        }
        assert!(
            losses[11] < 0.5 * losses[0],
            "{solver:?}: loss barely moved {losses:?}"
        );
        let confidences = matrix.map_values(|_, _, w| params.confidence_of(w));
        let recomputed = loss(
            &params,
            &confidences,
            model.user_factors(),
            model.item_factors(),
        );
        assert!((recomputed - losses[11]).abs() <= 1e-9 * recomputed.abs());
    }
}

#[test]
fn planted_block_structure_is_recovered() {
    let (blocks, users, items) = (3, 30, 12);
    let matrix = planted_blocks(blocks, users, items, 0.5, 5);
    let model = AlsParams {
        factors: blocks,
        iterations: 15,
        regularization: 0.1,
        alpha: 1.0,
        ..Default::default()
    }
    .validate()
    .unwrap()
    .fit(&matrix)
    .unwrap();
    let mut scores = Vec::new();
    for user in 0..blocks * users {
        let block = user / users;
        model.score_user(user as u32, &mut scores);
        let seen = matrix.row_indices(user);
        let mut unseen: Vec<usize> = (0..blocks * items)
            .filter(|i| !seen.contains(&(*i as u32)))
            .collect();
        unseen.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let own_unseen = unseen.iter().filter(|&&i| i / items == block).count();
        assert!(
            unseen[..own_unseen].iter().all(|&i| i / items == block),
            "user {user} (block {block}): ranking {unseen:?}"
        );
    }
    // A cart of two block-1 items folded in ranks block-1 items first.
    let folded = model.fold_in(&[(items as u32, 1.0), (items as u32 + 1, 1.0)]);
    model.score_vector(&folded, &mut scores);
    let mut ranked: Vec<usize> = (0..blocks * items).collect();
    ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    assert!(
        ranked[..items].iter().all(|&i| i / items == 1),
        "{ranked:?}"
    );
}

#[test]
fn fits_are_identical_for_any_thread_count_and_depend_on_the_seed() {
    let matrix = planted_blocks(4, 40, 15, 0.3, 9);
    let fit = |threads, seed| {
        AlsParams {
            factors: 10,
            iterations: 4,
            threads,
            seed,
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit(&matrix)
        .unwrap()
    };
    let one = fit(1, 1);
    let two = fit(2, 1);
    assert_eq!(one.user_factors(), two.user_factors());
    assert_eq!(one.item_factors(), two.item_factors());
    assert_ne!(one.item_factors(), fit(2, 2).item_factors());
}

#[test]
fn weighting_options_fit() {
    let matrix = planted_blocks(2, 10, 6, 0.5, 1);
    for weighting in [crate::Weighting::BM25_DEFAULT, crate::Weighting::TfIdf] {
        let model = AlsParams {
            factors: 4,
            iterations: 3,
            weighting,
            ..Default::default()
        }
        .validate()
        .unwrap()
        .fit(&matrix);
        assert!(
            model
                .unwrap()
                .item_factors()
                .as_slice()
                .iter()
                .all(|v| v.is_finite())
        );
    }
}
