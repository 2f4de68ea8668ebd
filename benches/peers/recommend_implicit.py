"""Peer side of benches/peers/recommend.sh: fits the `implicit` library's ALS (and its raw
item-item co-occurrence recommender, plus a popularity ranking) on exactly the split that
`cartback recommend evaluate --export-split DIR` wrote, measures them with implicit's own
`ranking_metrics_at_k`, and prints a comparison table against cartback's JSON report.

usage: recommend_implicit.py DATASET SPLIT_DIR CARTBACK_JSON [CARTBACK_ALPHA_JSON]
       --factors F --regularization R --alpha A --iterations I --threads T --k K
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.evaluation import ranking_metrics_at_k
from implicit.nearest_neighbours import ItemItemRecommender


def load_split(directory):
    shape = json.load(open(f"{directory}/shape.json"))
    users, items = shape["users"], shape["items"]
    train = np.loadtxt(f"{directory}/train.csv", delimiter=",", skiprows=1, ndmin=2)
    test = np.loadtxt(f"{directory}/test.csv", delimiter=",", skiprows=1, ndmin=2)
    train_m = sp.csr_matrix(
        (train[:, 2].astype(np.float32), (train[:, 0].astype(np.int64), train[:, 1].astype(np.int64))),
        shape=(users, items),
    )
    test_m = sp.csr_matrix(
        (np.ones(len(test), dtype=np.float32), (test[:, 0].astype(np.int64), test[:, 1].astype(np.int64))),
        shape=(users, items),
    )
    return train_m, test_m


class Popularity:
    """Distinct users per item, as cartback's popularity model; exposes implicit's recommend()."""

    def __init__(self, train):
        self.scores = np.asarray((train > 0).sum(axis=0)).ravel().astype(np.float64)

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, **_):
        userid = np.atleast_1d(userid)
        ids, scores = [], []
        for row in range(len(userid)):
            s = self.scores.copy()
            if filter_already_liked_items:
                s[user_items[row].indices] = -np.inf
            order = np.lexsort((np.arange(len(s)), -s))[:N]
            ids.append(order.astype(np.int32))
            scores.append(s[order].astype(np.float32))
        return np.array(ids), np.array(scores)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dataset")
    p.add_argument("split_dir")
    p.add_argument("cartback_json")
    p.add_argument("cartback_alpha_json", nargs="?")
    p.add_argument("--factors", type=int, required=True)
    p.add_argument("--regularization", type=float, required=True)
    p.add_argument("--alpha", type=float, required=True)
    p.add_argument("--iterations", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()

    train, test = load_split(a.split_dir)
    k = a.k
    peer = {}

    per_iteration = []
    for repeat in range(a.repeats):
        model = AlternatingLeastSquares(
            factors=a.factors,
            regularization=a.regularization,
            alpha=a.alpha,
            iterations=a.iterations,
            num_threads=a.threads,
            random_state=42 + repeat,
        )
        times = []
        model.fit(train, show_progress=False, callback=lambda it, elapsed, loss: times.append(elapsed))
        per_iteration.append(sum(times) / len(times))
        if repeat == 0:
            metrics = ranking_metrics_at_k(model, train, test, K=k, show_progress=False, num_threads=a.threads)
    peer["als"] = dict(metrics, seconds_per_iteration=statistics.median(per_iteration))

    cooc = ItemItemRecommender(K=train.shape[1], num_threads=a.threads)
    cooc.fit((train > 0).astype(np.float64), show_progress=False)
    peer["cooccurrence"] = ranking_metrics_at_k(cooc, train, test, K=k, show_progress=False, num_threads=a.threads)
    peer["popularity"] = ranking_metrics_at_k(Popularity(train), train, test, K=k, show_progress=False, num_threads=1)

    ours = {m["name"]: m for m in json.load(open(a.cartback_json))["models"]}
    report = json.load(open(a.cartback_json))
    ours_alpha = None
    if a.cartback_alpha_json:
        ours_alpha = {m["name"]: m for m in json.load(open(a.cartback_alpha_json))["models"]}.get("als")

    print(f"\n## {a.dataset}: {report['split']} split, {report['test_users']} test users, "
          f"{report['users']} users x {report['items']} items; factors={a.factors} reg={a.regularization} "
          f"alpha={a.alpha} iterations={a.iterations} threads={a.threads}")
    print(f"cartback picks by validation: {report['selected']} ({report['selected_by']})")
    header = f"| model | cartback P@{k} | implicit P@{k} | cartback NDCG@{k} | implicit NDCG@{k} | cartback s/iter | implicit s/iter | time ratio |"
    print(header)
    print("|" + "---|" * 8)
    rows = [("als (c = 1 + α·r)", ours.get("als"), peer["als"])]
    if ours_alpha:
        rows.append(("als (c = α·r, implicit's)", ours_alpha, peer["als"]))
    rows += [("cooccurrence", ours.get("cooccurrence"), peer["cooccurrence"]), ("popularity", ours.get("popularity"), peer["popularity"])]
    summary = {}
    for name, mine, theirs in rows:
        if mine is None:
            continue
        my_spi = mine.get("seconds_per_iteration")
        their_spi = theirs.get("seconds_per_iteration")
        ratio = f"{my_spi / their_spi:.2f}x" if my_spi and their_spi else "-"
        fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "-"
        print(f"| {name} | {mine[f'precision_at_{k}']:.4f} | {theirs['precision']:.4f} | {mine[f'ndcg_at_{k}']:.4f} | "
              f"{theirs['ndcg']:.4f} | {fmt(my_spi)} | {fmt(their_spi)} | {ratio} |")
        summary[name] = {"cartback": mine, "implicit": theirs}
    json.dump(summary, open(f"{a.split_dir}/comparison.json", "w"), indent=1, default=float)


if __name__ == "__main__":
    sys.exit(main())
