"""Peer side of benches/peers/propensity.sh.

Reads a CSV, the exact row splits cartback used (`cartback train --export-splits`) and
cartback's JSON reports, encodes features exactly as cartback's FeatureSchema does
(numeric: standardised with the training side's mean and population deviation, missing -> 0;
true/false columns -> 0/1; text columns -> one-hot of the training side's categories), fits
scikit-learn LogisticRegression (lbfgs) and LightGBM with matching hyper-parameters on every
split, and prints ROC-AUC differences and training-time ratios (fit time only on both sides).
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
import lightgbm as lgb


def encode(frame, label, train_idx, test_idx, categorical):
    """Cartback's encoding, fitted on train_idx."""
    train_parts, test_parts = [], []
    for column in frame.columns:
        if column == label:
            continue
        values = frame[column]
        lowered = values.astype(str).str.strip().str.lower()
        is_boolean = values.dtype == bool or set(lowered[values.notna()].unique()) <= {"true", "false"}
        numeric = pd.to_numeric(values, errors="coerce")
        if column not in categorical and not is_boolean and numeric[values.notna()].notna().all():
            train_values = numeric.iloc[train_idx]
            mean = train_values.mean()
            std = train_values.std(ddof=0)
            std = std if std > 1e-12 else 1.0
            standardised = ((numeric - mean) / std).fillna(0.0).to_numpy()
            train_parts.append(standardised[train_idx, None])
            test_parts.append(standardised[test_idx, None])
        elif is_boolean:
            flags = (lowered == "true").astype(float).to_numpy()
            train_parts.append(flags[train_idx, None])
            test_parts.append(flags[test_idx, None])
        else:
            keys = values.astype(str).str.strip()
            categories = sorted(set(keys.iloc[train_idx]) - {"", "nan"})
            one_hot = np.stack([(keys == category).to_numpy(dtype=float) for category in categories], axis=1)
            train_parts.append(one_hot[train_idx])
            test_parts.append(one_hot[test_idx])
    return np.hstack(train_parts), np.hstack(test_parts)


def labels_of(series):
    lowered = series.astype(str).str.strip().str.lower()
    return lowered.isin(["true", "yes", "1", "1.0"]).to_numpy(dtype=float)


def main():
    # LightGBM 4.6 deprecates eval_set in favour of eval_X/eval_y; the old name works everywhere.
    warnings.filterwarnings("ignore", message=".*eval_set.*")
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--splits", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--cartback-logistic", required=True)
    parser.add_argument("--cartback-gbdt", required=True)
    parser.add_argument("--categorical", default="")
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--max-leaves", type=int, default=31)
    parser.add_argument("--min-samples-leaf", type=int, default=20)
    parser.add_argument("--gbdt-l2", type=float, default=1.0)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--early-stopping-rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--results", required=True, help="append one JSON line per pair here")
    args = parser.parse_args()

    frame = pd.read_csv(args.data, keep_default_na=False, na_values=[""])
    y = labels_of(frame[args.label])
    split_ids = pd.read_csv(args.splits)["split"].to_numpy()
    cartback = {
        "logistic": json.load(open(args.cartback_logistic)),
        "gbdt": json.load(open(args.cartback_gbdt)),
    }
    n_rounds = len(cartback["logistic"]["folds"])
    categorical = {name for name in args.categorical.split(",") if name}

    peer_auc = {"logistic": [], "gbdt": []}
    peer_seconds = {"logistic": 0.0, "gbdt": 0.0}
    for fold in range(n_rounds):
        test_idx = np.flatnonzero(split_ids == fold)
        train_idx = np.flatnonzero(split_ids != fold)
        x_train, x_test = encode(frame, args.label, train_idx, test_idx, categorical)
        y_train, y_test = y[train_idx], y[test_idx]

        model = LogisticRegression(C=1.0 / (args.l2 * len(train_idx)), solver="lbfgs", max_iter=1000)
        started = time.perf_counter()
        model.fit(x_train, y_train)
        peer_seconds["logistic"] += time.perf_counter() - started
        peer_auc["logistic"].append(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))

        booster = lgb.LGBMClassifier(
            n_estimators=args.trees,
            learning_rate=args.learning_rate,
            max_depth=args.max_depth,
            num_leaves=args.max_leaves,
            min_child_samples=args.min_samples_leaf,
            reg_lambda=args.gbdt_l2,
            max_bin=255,
            random_state=args.seed,
            verbose=-1,
        )
        started = time.perf_counter()
        if args.validation_fraction > 0:
            fit_x, val_x, fit_y, val_y = train_test_split(
                x_train, y_train, test_size=args.validation_fraction, stratify=y_train, random_state=args.seed
            )
            booster.fit(
                fit_x,
                fit_y,
                eval_set=[(val_x, val_y)],
                eval_metric="binary_logloss",
                callbacks=[lgb.early_stopping(args.early_stopping_rounds, verbose=False)],
            )
        else:
            booster.fit(x_train, y_train)
        peer_seconds["gbdt"] += time.perf_counter() - started
        peer_auc["gbdt"].append(roc_auc_score(y_test, booster.predict_proba(x_test)[:, 1]))

    peers = {"logistic": "scikit-learn LogisticRegression(lbfgs)", "gbdt": "LightGBM"}
    with open(args.results, "a") as results:
        for model_name in ("logistic", "gbdt"):
            ours = cartback[model_name]
            our_auc = float(np.mean([fold["metrics"]["roc_auc"] for fold in ours["folds"]]))
            our_seconds = float(sum(fold["train_seconds"] for fold in ours["folds"]))
            row = {
                "dataset": args.name,
                "model": model_name,
                "peer": peers[model_name],
                "rounds": n_rounds,
                "cartback_auc": our_auc,
                "peer_auc": float(np.mean(peer_auc[model_name])),
                "auc_difference": our_auc - float(np.mean(peer_auc[model_name])),
                "cartback_seconds": our_seconds,
                "peer_seconds": peer_seconds[model_name],
                "time_ratio": our_seconds / peer_seconds[model_name],
            }
            results.write(json.dumps(row) + "\n")
            print(json.dumps(row), file=sys.stderr)


if __name__ == "__main__":
    main()
