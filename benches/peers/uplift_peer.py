"""Peer side of benches/peers/uplift.sh.

Reads the experiment CSV, the exact train/test split cartback used (`cartback uplift
--export-split`), and cartback's reports and test-side predictions (`--json`,
`--export-scores`). Then:

1. recomputes uplift@10/20/30 %, the Qini coefficient and AUUC of cartback's own predictions
   with scikit-uplift's functions, to check that both sides measure the same way;
2. fits scikit-uplift's ClassTransformation, SoloModel and TwoModels (LightGBM base, and a
   logistic-regression TwoModels) on the same train rows, with the same features (every column
   but the treatment, the outcome and the excluded ones; text columns one-hot), scores the same
   test rows and measures them the same way;
3. prints one table (metrics, fit+predict seconds, ratios to the best sklift model).
"""

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
from sklift.metrics import qini_auc_score, uplift_at_k, uplift_auc_score
from sklift.models import ClassTransformation, SoloModel, TwoModels


def metrics(y, uplift, treatment):
    return {
        "uplift_at_10": float(uplift_at_k(y, uplift, treatment, strategy="overall", k=0.1)),
        "uplift_at_20": float(uplift_at_k(y, uplift, treatment, strategy="overall", k=0.2)),
        "uplift_at_30": float(uplift_at_k(y, uplift, treatment, strategy="overall", k=0.3)),
        "qini": float(qini_auc_score(y, uplift, treatment)),
        "auuc": float(uplift_auc_score(y, uplift, treatment)),
    }


def lgbm(seed):
    # The same tree shape as `cartback uplift --base gbdt`'s defaults (depth 4, 15 leaves,
    # 100 rows per leaf, λ = 1, shrinkage 0.05); a fixed 100 trees instead of early stopping.
    return LGBMClassifier(
        n_estimators=100,
        learning_rate=0.05,
        max_depth=4,
        num_leaves=15,
        min_child_samples=100,
        reg_lambda=1.0,
        random_state=seed,
        verbose=-1,
    )


def logistic():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def main():
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*valid feature names.*")
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--treatment", required=True)
    parser.add_argument("--treated", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--outcome", required=True)
    parser.add_argument("--exclude", default="")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--cartback",
        action="append",
        default=[],
        help="NAME=REPORT.json:SCORES.csv for each cartback run",
    )
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    split = pd.read_csv(args.split)
    rows_train = split.loc[split["split"] == 1, "row"].to_numpy()
    rows_test = split.loc[split["split"] == 0, "row"].to_numpy()
    arm = frame[args.treatment].astype(str).str.strip()
    kept = arm.isin([args.treated, args.control]).to_numpy()
    assert kept[rows_train].all() and kept[rows_test].all(), "the split holds rows of other arms"
    assert kept.sum() == len(split), f"{kept.sum()} rows in the two arms, {len(split)} in the split"

    excluded = [c for c in args.exclude.split(",") if c]
    features = frame.drop(columns=[args.treatment, args.outcome, *excluded])
    features = pd.get_dummies(features, dtype=float)
    x = features.to_numpy(dtype=float)
    y = frame[args.outcome].to_numpy().astype(int)
    t = (arm == args.treated).to_numpy().astype(int)
    x_train, y_train, t_train = x[rows_train], y[rows_train], t[rows_train]
    x_test, y_test, t_test = x[rows_test], y[rows_test], t[rows_test]

    rows = []
    for spec in args.cartback:
        name, paths = spec.split("=", 1)
        report_path, scores_path = paths.split(":", 1)
        report = json.load(open(report_path))
        scores = pd.read_csv(scores_path)
        assert (scores["row"].to_numpy() == rows_test).all(), f"{name}: other test rows"
        assert (scores["treatment"].to_numpy() == t_test).all(), f"{name}: other treatment flags"
        assert (scores["outcome"].to_numpy() == y_test).all(), f"{name}: other outcomes"
        recomputed = metrics(y_test, scores["uplift"].to_numpy(), t_test)
        difference = max(abs(recomputed[k] - report[k]) for k in recomputed)
        rows.append(
            {
                "model": f"cartback {name}",
                **{k: report[k] for k in recomputed},
                "seconds": report["fit_seconds"] + report["predict_seconds"],
                "sklift_metric_difference": difference,
            }
        )

    peers = [
        ("sklift ClassTransformation (LightGBM)", lambda: ClassTransformation(estimator=lgbm(args.seed))),
        ("sklift SoloModel (LightGBM)", lambda: SoloModel(estimator=lgbm(args.seed))),
        (
            "sklift TwoModels (LightGBM)",
            lambda: TwoModels(estimator_trmnt=lgbm(args.seed), estimator_ctrl=lgbm(args.seed)),
        ),
        (
            "sklift TwoModels (logistic)",
            lambda: TwoModels(estimator_trmnt=logistic(), estimator_ctrl=logistic()),
        ),
    ]
    for name, make in peers:
        model = make()
        started = time.perf_counter()
        model.fit(x_train, y_train, t_train)
        uplift = model.predict(x_test)
        seconds = time.perf_counter() - started
        rows.append({"model": name, **metrics(y_test, uplift, t_test), "seconds": seconds})

    best_peer = max((r for r in rows if r["model"].startswith("sklift")), key=lambda r: r["uplift_at_30"])
    print(
        f"train {len(rows_train)} rows, test {len(rows_test)} rows "
        f"({t_test.sum()} treated, {len(t_test) - t_test.sum()} control); "
        f"test ATE {y_test[t_test == 1].mean() - y_test[t_test == 0].mean():+.4f}"
    )
    print(
        f"{'model':<40} {'u@10':>7} {'u@20':>7} {'u@30':>7} {'Qini':>7} {'AUUC':>7} "
        f"{'seconds':>8} {'u@30/best':>9} {'Qini/best':>9} {'|Δ sklift|':>10}"
    )
    for r in rows:
        check = r.get("sklift_metric_difference")
        print(
            f"{r['model']:<40} {r['uplift_at_10']:>7.4f} {r['uplift_at_20']:>7.4f} "
            f"{r['uplift_at_30']:>7.4f} {r['qini']:>7.4f} {r['auuc']:>7.4f} {r['seconds']:>8.2f} "
            f"{r['uplift_at_30'] / best_peer['uplift_at_30']:>9.2f} {r['qini'] / best_peer['qini']:>9.2f} "
            f"{'' if check is None else f'{check:.1e}':>10}"
        )
    print(
        f"best sklift model by uplift@30: {best_peer['model']}; '|Δ sklift|' = largest difference "
        "between cartback's metrics and sklift's on cartback's own predictions"
    )


if __name__ == "__main__":
    main()
