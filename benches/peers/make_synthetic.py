"""Writes the generated propensity benchmark set: 1,000,000 rows x 30 numeric features and
a 0/1 label drawn from a logistic model with linear terms, two interactions and a step
(seeded, so every run writes the same file)."""

import sys

import numpy as np
import pandas as pd


def main(path, rows=1_000_000, features=30, seed=42):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    weights = rng.normal(scale=0.5, size=features)
    weights[10:] = 0.0  # 20 noise features
    margin = x @ weights + 0.8 * x[:, 0] * x[:, 1] - 0.6 * x[:, 2] * x[:, 3] + 1.0 * (x[:, 4] > 0.5) - 1.5
    y = (rng.uniform(size=rows) < 1.0 / (1.0 + np.exp(-margin))).astype(np.int8)
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(features)])
    frame["label"] = y
    frame.to_csv(path, index=False, float_format="%.5f")


if __name__ == "__main__":
    main(sys.argv[1])
