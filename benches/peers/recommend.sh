#!/usr/bin/env bash
# Peer benchmark of `cartback recommend` against the Python `implicit` library.
#
# One command: benches/peers/recommend.sh
# For each dataset, cartback splits the data (and writes the split), fits ALS, item
# co-occurrence and popularity and reports P@10 / NDCG@10 / seconds per ALS iteration; then
# implicit's ALS (same factors, regularisation, alpha, iterations and threads), implicit's
# item-item co-occurrence and a popularity ranking are fitted on the very same split and
# measured with implicit's ranking_metrics_at_k. Prints one table per dataset.
#
# Settings (environment): FACTORS=32 REGULARIZATION=0.05 ALPHA=10 ITERATIONS=15 THREADS=2
# DATA=../shared/data (relative to the repository). CARTBACK_BIN=path to skip the build.
# The Groceries data is GPL-3 and read in place, never copied into the repository.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${DATA:-$ROOT/../shared/data}"
FACTORS="${FACTORS:-32}"
REGULARIZATION="${REGULARIZATION:-0.05}"
ALPHA="${ALPHA:-10}"
ITERATIONS="${ITERATIONS:-15}"
THREADS="${THREADS:-2}"
VENV="$ROOT/benches/.venv"
OUT="${OUT:-$(mktemp -d)}"

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import implicit" 2>/dev/null; then
  echo "installing implicit into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet implicit numpy scipy
fi

if [[ -z "${CARTBACK_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release -p cartback >&2)
  CARTBACK_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/cartback"
fi

export OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
MODEL=(--factors "$FACTORS" --regularization "$REGULARIZATION" --alpha "$ALPHA" --iterations "$ITERATIONS" --threads "$THREADS")

run() { # name file format split
  local name="$1" file="$2" format="$3" split="$4"
  if [[ ! -f "$file" ]]; then
    echo "SKIP $name: $file is absent (set DATA=/path/to/shared/data)"
    return
  fi
  local dir="$OUT/$name"
  mkdir -p "$dir"
  "$CARTBACK_BIN" recommend evaluate --data "$file" --format "$format" --split "$split" "${MODEL[@]}" \
    --export-split "$dir/split" --json >"$dir/cartback.json"
  "$CARTBACK_BIN" recommend evaluate --data "$file" --format "$format" --split "$split" "${MODEL[@]}" \
    --confidence alpha --models als --json >"$dir/cartback-alpha.json"
  "$VENV/bin/python" "$ROOT/benches/peers/recommend_implicit.py" "$name" "$dir/split" \
    "$dir/cartback.json" "$dir/cartback-alpha.json" "${MODEL[@]}" --k 10
}

run groceries "$DATA/groceries/groceries.csv" baskets leave-one-out
run rees46-oct-head-loo "$DATA/rees46/2019-Oct-head.csv" interactions leave-one-out
run rees46-oct-head-last-session "$DATA/rees46/2019-Oct-head.csv" interactions last-basket
echo
echo "raw reports: $OUT"
